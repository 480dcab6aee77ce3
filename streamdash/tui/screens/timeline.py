"""Findings timeline screen: every appearance, severity change and clearing, newest
last; Enter opens the snapshot nearest that entry (the screen returns its time)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from streamdash import format as fmt
from streamdash.core.timeline import Change, TimelineEntry
from streamdash.tui.bindings import DETAIL_BINDINGS
from streamdash.tui.palette import palette_from
from streamdash.tui.panels.table import NavTable

CHANGE_WORDS = {Change.APPEARED: "appeared", Change.SEVERITY: "now", Change.CLEARED: "cleared"}


def clock(at: float) -> str:
    """Local ``HH:MM:SS`` of a Unix time."""
    return datetime.fromtimestamp(at).astimezone().strftime("%H:%M:%S")


def entry_change(entry: TimelineEntry) -> str:
    """``appeared critical`` / ``warning -> critical`` / ``cleared`` (was critical)."""
    if entry.change is Change.SEVERITY:
        return f"{entry.previous_severity} → {entry.severity}"
    if entry.change is Change.CLEARED:
        return f"cleared (was {entry.severity})"
    return f"appeared {entry.severity}"


class TimelineScreen(Screen[float | None]):
    """Lists ``entries``; dismisses with the chosen entry's time (None on Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[:1]]

    def __init__(self, entries: Sequence[TimelineEntry], title: str) -> None:
        super().__init__(id="timeline", classes="detail")
        self.entries = tuple(entries)
        self.title_text = title

    def compose(self) -> ComposeResult:
        title = f"{self.title_text} · Enter opens the nearest snapshot · Esc back"
        yield Static(Text(title, style="bold"), id="timeline-title")
        yield NavTable(id="timeline-table")
        if not self.entries:
            yield Static(
                Text("No finding appeared, changed or cleared in these snapshots."),
                id="timeline-empty",
            )
        yield Footer()

    def on_mount(self) -> None:
        palette = palette_from(self.app.theme_variables)
        table = self.query_one(NavTable)
        for label in ("time", "change", "finding", "subject", "summary"):
            table.add_column(label, key=label)
        for index, e in enumerate(self.entries):
            style = palette.muted if e.change is Change.CLEARED else palette.severity(e.severity)
            table.add_row(
                Text(clock(e.at)),
                Text(entry_change(e), style=style),
                Text(fmt.safe_label(e.finding_id, 40)),
                Text(fmt.safe_label(e.subject, 40)),
                Text(fmt.safe_label(e.summary, 300)),
                key=str(index),
            )
        if self.entries:
            table.move_cursor(row=len(self.entries) - 1)
        table.focus()

    @on(DataTable.RowSelected, "#timeline-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.entries):
            self.dismiss(self.entries[event.cursor_row].at)

    def action_close(self) -> None:
        self.dismiss(None)
