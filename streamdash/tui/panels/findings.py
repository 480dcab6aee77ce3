"""Findings panel: every finding worst first, severity-coloured; Enter shows evidence.

Below the table: the refresh's source errors and notes. Summaries may embed label
values, so everything is plain ``Text``.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from streamdash import format as fmt
from streamdash.core.raw import AlertRaw
from streamdash.core.snapshot import Finding, Snapshot
from streamdash.tui.palette import Palette
from streamdash.tui.panels.base import Panel
from streamdash.tui.panels.table import NavTable
from streamdash.tui.textgrid import frozen, lines

SUBJECT_WIDTH = 16
"""Subjects longer than this wrap (the summary names the subject too)."""
MIN_SUMMARY_WIDTH = 24


def finding_cells(finding: Finding, palette: Palette) -> list[Text]:
    style = palette.severity(finding.severity)
    return [
        Text(finding.severity.upper(), style=style),
        Text(fmt.safe_label(finding.subject, 40)),
        Text(fmt.safe_label(finding.summary, 400)),
    ]


def alert_cells(alert: AlertRaw, palette: Palette) -> list[Text]:
    """An Alertmanager alert as a findings row, marked ALERT (it is not our finding)."""
    style = palette.severity(alert.severity or "info")
    summary = Text(f"[alert {fmt.safe_label(alert.severity or 'no severity', 20)}] ")
    summary.append(fmt.safe_label(alert.summary or alert.name, 400))
    return [
        Text("ALERT", style=style),
        Text(fmt.safe_label(alert.name, 40)),
        summary,
    ]


def errors_view(snapshot: Snapshot, palette: Palette) -> Text:
    out: list[Text] = []
    for error in snapshot.errors:
        part = f" [{fmt.safe_label(error.part, 40)}]" if error.part else ""
        line = Text(f"error {fmt.safe_label(error.source, 40)}{part}: ", style=palette.error)
        line.append(fmt.safe_label(error.message, 300))
        out.append(line)
    for note in snapshot.notes:
        out.append(Text(f"note: {fmt.safe_label(note, 300)}", style=palette.muted))
    if not snapshot.findings and not snapshot.errors:
        out.insert(0, Text("No findings: nothing looks wrong in this window.", style=palette.muted))
    return lines(out)


class FindingsPanel(Panel):
    PANEL = "findings"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "artifacts", "Artifacts", id="findings_artifacts"),
    ]

    class FindingChosen(Message):
        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    class ArtifactsChosen(Message):
        """``a`` on a finding row: open what ``streamdash advise`` writes for it."""

        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def action_artifacts(self) -> None:
        row = self.query_one(NavTable).cursor_row
        if self.snapshot is not None and 0 <= row < len(self.snapshot.findings):
            self.post_message(self.ArtifactsChosen(self.snapshot.findings[row]))
        else:
            self.app.bell()

    def compose_body(self) -> ComposeResult:
        yield NavTable(id="findings-table")
        yield Static("", id="findings-errors")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(NavTable)
        table.add_column("severity", key="severity")
        table.add_column("subject", key="subject", width=SUBJECT_WIDTH)
        table.add_column("summary", key="summary", width=self._summary_width())
        self._width = self.size.width

    def focus_target(self) -> Widget:
        return self.query_one(NavTable)

    def _summary_width(self) -> int:
        """What is left of the panel for the summary column (it wraps there)."""
        return max(MIN_SUMMARY_WIDTH, self.size.width - len("CRITICAL") - SUBJECT_WIDTH - 10)

    def on_resize(self) -> None:
        if self.size.width != getattr(self, "_width", None):
            self._width = self.size.width
            if self.snapshot is not None:
                self.render_data(self.snapshot)

    def data_key(self, snapshot: Snapshot) -> object:
        return (snapshot.findings, snapshot.alerts, snapshot.errors, snapshot.notes)

    def render_data(self, snapshot: Snapshot) -> None:
        palette = self.palette
        table = self.query_one(NavTable)
        cursor = table.cursor_row
        table.clear()
        summary = table.columns.get(ColumnKey("summary"))
        if summary is not None:  # summaries wrap in the width the panel has
            summary.width = self._summary_width()
        for index, finding in enumerate(snapshot.findings):
            table.add_row(*finding_cells(finding, palette), key=str(index), height=None)
        for index, alert in enumerate(snapshot.alerts):
            table.add_row(*alert_cells(alert, palette), key=f"alert-{index}", height=None)
        rows = len(snapshot.findings) + len(snapshot.alerts)
        if rows:
            table.move_cursor(row=min(cursor, rows - 1))
        self.query_one("#findings-errors", Static).update(frozen(errors_view(snapshot, palette)))
        counts = {
            s: sum(f.severity == s for f in snapshot.findings) for s in ("critical", "warning")
        }
        alerts = f" · {len(snapshot.alerts)} alerts firing" if snapshot.alerts else ""
        self.border_title = (
            f"5 Findings · {counts['critical']} critical, {counts['warning']} warning{alerts}"
        )

    @on(DataTable.RowSelected, "#findings-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.snapshot is not None and 0 <= event.cursor_row < len(self.snapshot.findings):
            self.post_message(self.FindingChosen(self.snapshot.findings[event.cursor_row]))
