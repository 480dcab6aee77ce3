"""Aligned columns as one plain ``Text`` (no markup, no Rich Table re-layout surprises).

Rich tables inside Textual statics lost their cell padding when re-rendered at a new
size; panels that change size (a stale banner appears) use this instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.content import Content

GAP = "  "


def grid(
    rows: Sequence[Sequence[Text]],
    header: Sequence[str] | None = None,
    right: Sequence[bool] | None = None,
) -> Text:
    """Rows of cells, each column padded to its widest cell; ``right[i]`` right-aligns."""
    table: list[Sequence[Text]] = []
    if header is not None:
        table.append([Text(h, style="bold") for h in header])
    table.extend(rows)
    if not table:
        return Text()
    columns = max(len(r) for r in table)
    widths = [max((r[i].cell_len for r in table if i < len(r)), default=0) for i in range(columns)]
    align = list(right or [False] * columns)
    out = Text()
    for n, row in enumerate(table):
        if n:
            out.append("\n")
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - cell.cell_len)
            if i:
                out.append(GAP)
            if align[i] if i < len(align) else False:
                out.append(pad)
                out.append_text(cell)
            else:
                out.append_text(cell)
                if i < len(row) - 1:
                    out.append(pad)
    return out


def lines(parts: Sequence[Text]) -> Text:
    """``parts`` joined by newlines into one ``Text``."""
    return Text("\n").join(parts)


def frozen(text: Text) -> Content:
    """Immutable Textual content for a ``Static`` (a Rich ``Text`` handed to a Static
    is re-laid-out in place on every resize and lost its padding spaces)."""
    return Content.from_rich_text(text)
