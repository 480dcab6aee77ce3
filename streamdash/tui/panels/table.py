"""The dashboard's DataTable: row cursor, j/k, and keyboard sorting hooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from streamdash.tui.bindings import TABLE_BINDINGS


class NavTable(DataTable[object]):
    """A row-cursor DataTable with j/k; ``s``/``S`` ask the owning panel to sort."""

    BINDINGS: ClassVar[list[BindingType]] = [*TABLE_BINDINGS]

    class SortRequested(Message):
        """``s`` (next column) or ``S`` (reverse order) was pressed."""

        def __init__(self, table: NavTable, reverse_only: bool) -> None:
            super().__init__()
            self.table = table
            self.reverse_only = reverse_only

        @property
        def control(self) -> NavTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def action_sort_next(self) -> None:
        self.post_message(self.SortRequested(self, reverse_only=False))

    def action_sort_reverse(self) -> None:
        self.post_message(self.SortRequested(self, reverse_only=True))

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Textual 8 measures new rows on idle but keeps row renders cached from before
        # (keyed by an update count that measuring does not bump): rows drawn between
        # add_row and the next idle keep header-width columns. Drop the caches here.
        super()._update_dimensions(new_rows)
        self._clear_caches()
