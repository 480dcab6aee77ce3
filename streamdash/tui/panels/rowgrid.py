"""A keyed, virtual table for thousands of rows: only the rows on screen are formatted.

``RowGrid`` is a Line-API widget (``ScrollView``). Rows are values identified by a key
(the pod name); ``set_rows`` takes the whole ordered list on every refresh and repaints
only the screen lines whose key or value changed, so a quiet refresh writes nothing, a
refresh that changes three numbers repaints three lines, and a new worst-first order
moves the cursor with its row instead of rebuilding anything. Cells are formatted by the
caller's ``format_row`` only when a row becomes visible, and the formatted line is
cached per key (bounded by what the screen can show).

Column widths never shrink while rows are shown (a width change repaints the table);
they grow to fit the widest cell formatted so far, so scrolling is stable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from streamdash.tui.bindings import TABLE_BINDINGS

R = TypeVar("R", bound=Hashable)

PAD = 1
"""Blank cells on each side of every cell (as DataTable draws them)."""
CACHE_SLACK = 4
"""Formatted lines kept per line of screen height (bounded cache)."""


@dataclass(frozen=True)
class GridColumn:
    """A column: its key (messages name it), header label, right-justified or not,
    and the widest its cells may get (longer cells are cut with an ellipsis)."""

    key: str
    label: str
    right: bool = False
    max_width: int = 48


class RowGrid(ScrollView, Generic[R], can_focus=True):
    """The keyed virtual table (see module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *TABLE_BINDINGS,
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "select", "Open row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowgrid--header",
        "rowgrid--cursor",
        "rowgrid--cursor-blurred",
        "rowgrid--even-row",
    }

    DEFAULT_CSS = """
    RowGrid {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .rowgrid--header { text-style: bold; background: $panel; color: $foreground; }
        & > .rowgrid--even-row { background: $surface-lighten-1 50%; }
        & > .rowgrid--cursor-blurred {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .rowgrid--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        &:dark > .rowgrid--even-row { background: $surface-darken-1 40%; }
    }
    """

    class RowSelected(Message):
        """Enter (or a click) on a row."""

        def __init__(self, grid: RowGrid[object], index: int, key: str) -> None:
            super().__init__()
            self.grid = grid
            self.index = index
            self.key = key

        @property
        def control(self) -> RowGrid[object]:
            return self.grid

    class HeaderSelected(Message):
        """A click on a column header."""

        def __init__(self, grid: RowGrid[object], column: str) -> None:
            super().__init__()
            self.grid = grid
            self.column = column

        @property
        def control(self) -> RowGrid[object]:
            return self.grid

    class SortRequested(Message):
        """``s`` (next column) or ``S`` (reverse order) was pressed."""

        def __init__(self, grid: RowGrid[object], reverse_only: bool) -> None:
            super().__init__()
            self.grid = grid
            self.reverse_only = reverse_only

        @property
        def control(self) -> RowGrid[object]:
            return self.grid

    def __init__(
        self,
        columns: Sequence[GridColumn],
        format_row: Callable[[R], Sequence[Text]],
        key_of: Callable[[R], str],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self._format_row = format_row
        self._key_of = key_of
        self._keys: list[str] = []
        self._rows: dict[str, R] = {}
        self._index: dict[str, int] = {}
        self._widths = [min(len(c.label), c.max_width) for c in self.columns]
        self._lines: OrderedDict[str, tuple[R, Sequence[Text], Strip]] = OrderedDict()
        """key -> (the row value it was formatted from, its cells, its unstyled line),
        for rows shown lately (bounded: ``CACHE_SLACK`` x the screen height)."""
        self._grew = False
        self.cursor_row = 0
        self.formatted = 0
        """How many rows were formatted so far (tests and benchmarks read it)."""

    # ----- data ---------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def row_at(self, index: int) -> R:
        return self._rows[self._keys[index]]

    def cells_at(self, index: int) -> list[Text]:
        """The formatted cells of row ``index`` (formats it if needed)."""
        return list(self._format_row(self.row_at(index)))

    def set_rows(self, rows: Sequence[R], *, restyle: bool = False) -> None:
        """Show ``rows`` in this order. Repaints only the screen lines whose row (key or
        value) changed; the cursor stays on its row's key when the row moved, and on the
        same line when its row left. ``restyle`` drops every formatted line (theme)."""
        old_keys, old_rows = self._keys, self._rows
        cursor_key = old_keys[self.cursor_row] if 0 <= self.cursor_row < len(old_keys) else None
        keys = _unique([self._key_of(r) for r in rows])
        self._keys = keys
        self._rows = dict(zip(keys, rows, strict=True))
        self._index = {k: i for i, k in enumerate(keys)}
        if restyle:
            self._lines.clear()
        else:
            for key in [k for k in self._lines if k not in self._rows]:
                del self._lines[key]
        if cursor_key is not None and cursor_key in self._index:
            self.cursor_row = self._index[cursor_key]
        self.cursor_row = max(0, min(self.cursor_row, len(keys) - 1))
        resized = len(keys) != len(old_keys)
        if resized:
            self._update_virtual_size()
        if restyle or resized:
            self.refresh()
        else:
            self._refresh_changed(old_keys, old_rows)
        if cursor_key is not None and self._index.get(cursor_key) != old_keys.index(cursor_key):
            self.scroll_to_row(self.cursor_row)

    def _refresh_changed(self, old_keys: Sequence[str], old_rows: dict[str, R]) -> None:
        """Mark dirty only what changed on screen: a line whose row is another key, or
        the cells of a row whose formatted text changed (a new value that formats the
        same, e.g. 0.2031 -> 0.2034 s shown as 203 ms, writes nothing)."""
        top = round(self.scroll_offset.y)
        for line in range(self.size.height - 1):
            index = top + line
            old = old_keys[index] if index < len(old_keys) else None
            new = self._keys[index] if index < len(self._keys) else None
            if old != new:
                self.refresh(Region(0, line + 1, self.size.width, 1))
            elif new is not None and old_rows.get(new) != self._rows[new]:
                cached = self._lines.get(new)
                before = cached[1] if cached is not None else None
                after = self._formatted(new)[1]
                if before is None or self._grew:
                    self.refresh(Region(0, line + 1, self.size.width, 1))
                    continue
                for column in range(len(self.columns)):
                    if before[column] != after[column]:
                        self._refresh_cell(line + 1, column)
        self._grew = False

    def _refresh_cell(self, line: int, column: int) -> None:
        x = sum(self._widths[:column]) + 2 * PAD * column - round(self.scroll_offset.x)
        self.refresh(Region(max(0, x), line, self._widths[column] + 2 * PAD, 1))

    def _update_virtual_size(self) -> None:
        width = sum(self._widths) + 2 * PAD * len(self._widths)
        self.virtual_size = Size(width, len(self._keys) + 1)

    # ----- drawing --------------------------------------------------------------------
    def _cells_line(self, cells: Sequence[Text]) -> Strip:
        segments: list[Segment] = []
        console = self.app.console
        for column, cell, width in zip(self.columns, cells, self._widths, strict=False):
            text = cell.copy()
            text.no_wrap = True
            text.truncate(width, overflow="ellipsis")
            pad = " " * (width - text.cell_len + PAD)
            if column.right:
                segments.append(Segment(pad))
                segments.extend(text.render(console))
                segments.append(Segment(" " * PAD))
            else:
                segments.append(Segment(" " * PAD))
                segments.extend(text.render(console))
                segments.append(Segment(pad))
        return Strip(segments)

    def _grow_widths(self, cells: Sequence[Text]) -> bool:
        grew = False
        for i, (column, cell) in enumerate(zip(self.columns, cells, strict=False)):
            width = min(cell.cell_len, column.max_width)
            if width > self._widths[i]:
                self._widths[i] = width
                grew = True
        return grew

    def _formatted(self, key: str) -> tuple[R, Sequence[Text], Strip]:
        """Row ``key``'s cells and line, formatted now unless cached for its value."""
        row = self._rows[key]
        cached = self._lines.get(key)
        if cached is not None and cached[0] == row:
            self._lines.move_to_end(key)
            return cached
        cells = self._format_row(row)
        self.formatted += 1
        if self._grow_widths(cells):
            self._grew = True
            self._lines.clear()  # every cached line has the old widths
            self._update_virtual_size()
            self.refresh()
        entry = (row, cells, self._cells_line(cells))
        self._lines[key] = entry
        limit = max(64, CACHE_SLACK * self.size.height)
        while len(self._lines) > limit:
            self._lines.popitem(last=False)
        return entry

    def _row_line(self, key: str) -> Strip:
        return self._formatted(key)[2]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = round(self.scroll_offset.x)
        base = self.rich_style
        if y == 0:
            top = round(self.scroll_offset.y)  # the visible rows first: their widths
            for key in self._keys[top : top + max(0, self.size.height - 1)]:
                self._formatted(key)  # (cached) may widen columns the header must match
            header = self._cells_line([Text(c.label) for c in self.columns])
            style = base + self.get_component_rich_style("rowgrid--header")
            return self._finish(header, style, scroll_x, width)
        index = round(self.scroll_offset.y) + y - 1
        if index >= len(self._keys):
            return Strip.blank(width, base)
        line = self._row_line(self._keys[index])
        style = base
        if index % 2:
            style += self.get_component_rich_style("rowgrid--even-row")
        if index == self.cursor_row:
            name = "rowgrid--cursor" if self.has_focus else "rowgrid--cursor-blurred"
            cursor = self.get_component_rich_style(name)
            # Background and underline only: a cell's own colour (a red FD use) shows
            # through the cursor instead of turning the cursor colour.
            keep = Style(bgcolor=cursor.bgcolor, underline=True, bold=self.has_focus)
            return self._finish(line, style, scroll_x, width, keep)
        return self._finish(line, style, scroll_x, width)

    @staticmethod
    def _finish(
        line: Strip, style: Style, scroll_x: int, width: int, over: Style | None = None
    ) -> Strip:
        strip = line.crop(scroll_x, scroll_x + width).extend_cell_length(width)
        strip = strip.apply_style(style)
        if over is None:
            return strip
        return Strip(Segment.apply_style(iter(strip), post_style=over), strip.cell_length)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()

    # ----- cursor ---------------------------------------------------------------------
    def move_cursor(self, row: int) -> None:
        if not self._keys:
            return
        old = self.cursor_row
        self.cursor_row = max(0, min(row, len(self._keys) - 1))
        self._refresh_row(old)
        self._refresh_row(self.cursor_row)
        self.scroll_to_row(self.cursor_row)

    def _refresh_row(self, index: int) -> None:
        line = index - round(self.scroll_offset.y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def scroll_to_row(self, index: int) -> None:
        """Scroll so row ``index`` is on screen (the header line stays above it)."""
        visible = max(1, self.size.height - 1)
        top = round(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self.size.height - 2))

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self.size.height - 2))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def action_select(self) -> None:
        if 0 <= self.cursor_row < len(self._keys):
            key = self._keys[self.cursor_row]
            self.post_message(self.RowSelected(self, self.cursor_row, key))  # type: ignore[arg-type]

    def action_sort_next(self) -> None:
        self.post_message(self.SortRequested(self, reverse_only=False))  # type: ignore[arg-type]

    def action_sort_reverse(self) -> None:
        self.post_message(self.SortRequested(self, reverse_only=True))  # type: ignore[arg-type]

    def on_focus(self) -> None:
        self._refresh_row(self.cursor_row)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor_row)

    def on_click(self, event: events.Click) -> None:
        y = event.y
        if y == 0:
            x = event.x + round(self.scroll_offset.x)
            edge = 0
            for column, width in zip(self.columns, self._widths, strict=True):
                if edge <= x < edge + width + 2 * PAD:
                    self.post_message(self.HeaderSelected(self, column.key))  # type: ignore[arg-type]
                    return
                edge += width + 2 * PAD
            return
        index = round(self.scroll_offset.y) + y - 1
        if 0 <= index < len(self._keys):
            if index == self.cursor_row and event.chain >= 2:
                self.action_select()
            self.move_cursor(index)


def _unique(keys: list[str]) -> list[str]:
    """``keys`` with repeats made distinct (``name``, ``name\x00 2``, ...), in order."""
    if len(set(keys)) == len(keys):
        return keys
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        n = seen[key] = seen.get(key, 0) + 1
        out.append(key if n == 1 else f"{key}\x00{n}")
    return out


__all__ = ["PAD", "GridColumn", "RowGrid"]
