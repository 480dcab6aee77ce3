"""Pods panel: one row per pod, worst first; sortable, filterable, Enter for details.

Pod names are label values: they are shown as plain ``Text`` (never markup), made safe
with ``format.safe_label``. The table is a ``RowGrid`` keyed by pod: a refresh whose rows
equal the shown rows changes nothing, a changed row repaints its own line, a new order
moves rows without rebuilding anything, and only the rows on screen are formatted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

from streamdash import format as fmt
from streamdash.core.names import elide, shared_prefix
from streamdash.core.snapshot import PodRow, Snapshot
from streamdash.settings import Thresholds
from streamdash.tui.palette import Palette
from streamdash.tui.panels.base import Panel
from streamdash.tui.panels.latency import PENDING_CELL
from streamdash.tui.panels.rowgrid import GridColumn, RowGrid

BAR_WIDTH = 6
CADVISOR_MARK = "cAdv"
"""After a pod's FD count when it is cAdvisor's container count (no process pair, no
limit); the pod screen says whose figures they are (``fd_origin``)."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort_value: Callable[[PodRow], float | str | None]
    descending_first: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("pod", "pod", lambda r: r.pod, descending_first=False),
    Column("ttft_p99", "TTFT p99", lambda r: r.ttft_p99),
    Column("stream_p99", "stream p99", lambda r: r.stream_p99),
    Column("fd_use", "FD use", lambda r: r.fd_utilization),
    Column("conns", "conns", lambda r: r.open_connections),
    Column("fds", "FDs", lambda r: r.open_fds),
    Column("cpu", "CPU", lambda r: r.cpu_cores),
    Column("in_flight", "in flight", lambda r: r.in_flight),
)
"""The latency p99s right after the name, so an 80-column terminal shows them first."""
_BY_KEY = {c.key: c for c in COLUMNS}
POD_NAME_WIDTH = 63
"""The widest a pod name gets in the table (a Kubernetes name's limit)."""


def grid_columns() -> tuple[GridColumn, ...]:
    """``COLUMNS`` as the grid draws them: the pod name left, every number right."""
    return tuple(
        GridColumn(c.key, c.label, right=c.key != "pod", max_width=POD_NAME_WIDTH) for c in COLUMNS
    )


def sort_rows(rows: tuple[PodRow, ...], column: str | None, descending: bool) -> list[PodRow]:
    """Rows ordered by ``column`` (None: as given, worst first); unknown values last."""
    if column is None:
        return list(rows)
    get = _BY_KEY[column].sort_value
    known = [r for r in rows if get(r) is not None]
    unknown = [r for r in rows if get(r) is None]
    known.sort(key=lambda r: get(r), reverse=descending)  # type: ignore[arg-type, return-value]
    return known + unknown


def filter_rows(rows: tuple[PodRow, ...], text: str) -> tuple[PodRow, ...]:
    """Rows whose pod name contains ``text`` (case-insensitive); all when empty."""
    needle = text.strip().lower()
    if not needle:
        return rows
    return tuple(r for r in rows if needle in r.pod.lower())


def fd_bar(row: PodRow, palette: Palette, thresholds: Thresholds) -> Text:
    """``█████░░░ 62.5 %``: FD utilization as a bar (n/a when unknown)."""
    util = row.fd_utilization
    if util is None:
        return Text(fmt.NA, style=palette.muted)
    filled = max(0, min(BAR_WIDTH, round(util * BAR_WIDTH)))
    style = palette.utilization(util, thresholds.fd_warning, thresholds.fd_critical)
    text = Text("█" * filled, style=style)
    text.append("░" * (BAR_WIDTH - filled), style=palette.muted)
    text.append(f" {fmt.ratio(util)}", style=style)
    return text


def row_cells(
    row: PodRow,
    palette: Palette,
    thresholds: Thresholds,
    prefix: str = "",
    pending: tuple[str, ...] = (),
) -> list[Text]:
    """The cells of one pod row, in ``COLUMNS`` order, all plain text; ``prefix`` (the
    name prefix every pod shares, said once in the caption) is elided from the name;
    a p99 whose histogram is ``pending`` (the early first frame) reads ``…``."""

    def num(text: str, style: str = "") -> Text:
        return Text(text, style=style, justify="right")

    def p99(kind: str, value: float | None, over: bool) -> Text:
        if kind in pending:
            return num(PENDING_CELL, palette.muted)
        return num(fmt.seconds(value, over), palette.warning if over else "")

    if row.open_fds is None and row.max_fds is None:
        fds = fmt.NA
    elif row.fd_source == "cadvisor":  # a container count, not a process's pair: no limit
        fds = f"{fmt.count(row.open_fds)} {CADVISOR_MARK}"
    else:
        fds = f"{fmt.count(row.open_fds)}/{fmt.count_compact(row.max_fds)}"
    return [
        Text(fmt.safe_label(elide(row.pod, prefix))),
        p99("ttft", row.ttft_p99, row.ttft_p99_overflowed),
        p99("stream", row.stream_p99, row.stream_p99_overflowed),
        fd_bar(row, palette, thresholds),
        num(fmt.count(row.open_connections)),
        num(fds),
        num(fmt.cores(row.cpu_cores)),
        num(fmt.count(row.in_flight)),
    ]


class FilterInput(Input):
    """The ``/`` filter; Escape clears it and returns to the table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Clear filter", show=False, id="filter_cancel")
    ]

    class Cancelled(Message):
        pass

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class PodsPanel(Panel):
    PANEL = "pods"

    class PodChosen(Message):
        """Enter on a pod row."""

        def __init__(self, row: PodRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__()
        self.thresholds = thresholds
        self.sort_column: str | None = None
        self.sort_descending = True
        self.filter_text = ""
        self.shown_rows: list[PodRow] = []
        self._palette: Palette | None = None
        self.prefix = ""
        """The name prefix every pod shares: elided in the rows, said in the title."""
        self.pending: tuple[str, ...] = ()
        """Histogram kinds not answered yet (the early first frame): their p99s read ``…``."""

    def compose_body(self) -> ComposeResult:
        yield FilterInput(
            placeholder="filter pods by name (Enter keeps, Esc clears)", id="pods-filter"
        )
        yield RowGrid[PodRow](grid_columns(), self._cells, _pod_key, id="pods-table")

    def _cells(self, row: PodRow) -> list[Text]:
        if self._palette is None:
            self._palette = self.palette
        return row_cells(row, self._palette, self.thresholds, self.prefix, self.pending)

    @property
    def table(self) -> RowGrid[PodRow]:
        return self.query_one("#pods-table", RowGrid)

    def focus_target(self) -> Widget:
        return self.table

    def data_key(self, snapshot: Snapshot) -> object:
        return snapshot.pods, snapshot.pending

    def render_data(self, snapshot: Snapshot) -> None:
        self._apply(force=False)

    def restyle(self) -> None:
        self._apply(force=True)

    def _apply(self, force: bool) -> None:
        rows = self.snapshot.pods if self.snapshot is not None else ()
        prefix = shared_prefix(r.pod for r in rows)
        if prefix != self.prefix:  # every name cell changes: format the rows again
            self.prefix, force = prefix, True
        pending = self.snapshot.pending if self.snapshot is not None else ()
        if pending != self.pending:  # the p99 cells change from "…": format them again
            self.pending, force = pending, True
        wanted = sort_rows(
            filter_rows(rows, self.filter_text), self.sort_column, self.sort_descending
        )
        if wanted == self.shown_rows and not force:
            return
        if force:
            self._palette = self.palette
        self.table.set_rows(wanted, restyle=force)
        self.shown_rows = wanted
        self._update_labels()

    def _update_labels(self) -> None:
        total = len(self.snapshot.pods) if self.snapshot else 0
        title = (
            f"2 Pods · {len(self.shown_rows)} of {total}"
            if self.filter_text
            else f"2 Pods · {total}"
        )
        if self.filter_text:
            title += f" matching '{fmt.safe_label(self.filter_text, 40)}'"
        if self.prefix:
            title += f" · {fmt.safe_label(self.prefix, 60)}…"
        if self.sort_column is None:
            title += " · worst first"
        else:
            arrow = "▼" if self.sort_descending else "▲"
            title += f" · by {_BY_KEY[self.sort_column].label} {arrow}"
        if str(self.border_title) != title:  # an equal title repaints nothing
            self.border_title = Content(title)  # plain: the filter text is user input

    def current_pod(self) -> str | None:
        table = self.table
        if not self.shown_rows or not 0 <= table.cursor_row < table.row_count:
            return None
        return self.shown_rows[table.cursor_row].pod

    def sort_by(self, column: str | None, descending: bool) -> None:
        """Sort by ``column`` (None: worst first, as the snapshot orders them)."""
        self.sort_column = column
        self.sort_descending = descending
        self._apply(force=False)
        self._update_labels()

    def open_filter(self) -> None:
        """Show and focus the filter input."""
        box = self.query_one(FilterInput)
        box.add_class("-open")
        box.focus()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._apply(force=False)

    @on(RowGrid.HeaderSelected, "#pods-table")
    def _header(self, event: RowGrid.HeaderSelected) -> None:
        event.stop()
        key = event.column
        if key == self.sort_column:
            self.sort_by(key, not self.sort_descending)
        else:
            self.sort_by(key, _BY_KEY[key].descending_first)

    @on(RowGrid.SortRequested, "#pods-table")
    def _sort_key(self, event: RowGrid.SortRequested) -> None:
        event.stop()
        if event.reverse_only:
            self.sort_by(self.sort_column, not self.sort_descending)
            return
        keys: list[str | None] = [None, *(c.key for c in COLUMNS)]
        nxt = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_by(nxt, _BY_KEY[nxt].descending_first if nxt else True)

    @on(RowGrid.RowSelected, "#pods-table")
    def _selected(self, event: RowGrid.RowSelected) -> None:
        event.stop()
        index = event.index
        if 0 <= index < len(self.shown_rows):
            self.post_message(self.PodChosen(self.shown_rows[index]))

    @on(Input.Changed, "#pods-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_filter(event.value)

    @on(Input.Submitted, "#pods-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.query_one(FilterInput).remove_class("-open")
        self.table.focus()

    def clear_filter(self) -> bool:
        """Empty and close the filter and focus the table; False when there was none."""
        box = self.query_one(FilterInput)
        had = bool(self.filter_text or box.value or box.has_class("-open"))
        box.value = ""
        box.remove_class("-open")
        self.set_filter("")
        self.table.focus()
        return had

    @on(FilterInput.Cancelled)
    def _filter_cancelled(self, event: FilterInput.Cancelled) -> None:
        event.stop()
        self.clear_filter()


def _pod_key(row: PodRow) -> str:
    return row.pod
