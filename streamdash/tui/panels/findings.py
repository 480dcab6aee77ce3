"""Findings panel: every finding worst first, severity-coloured; Enter shows evidence.

Below the table: the refresh's source errors and notes. Summaries may embed label
values, so everything is plain ``Text``. ``y`` copies the selected finding's PromQL and
advice to the clipboard (OSC 52: works over SSH and through tmux).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
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

SUBJECT_WIDTH = 12
"""Subjects longer than this are cut with an ellipsis (the summary names the subject
too, and the detail screen shows it whole): the summary gets the width."""
MIN_SUMMARY_WIDTH = 24

FINDINGS_BINDINGS: list[Binding] = [
    Binding("a", "artifacts", "Artifacts", id="findings_artifacts"),
    Binding("y", "copy_finding", "Copy PromQL / advice", id="findings_copy"),
]
"""On the findings table (listed in help)."""


def clipboard_text(finding: Finding) -> str:
    """What ``y`` copies: a comment line naming the finding, the advice as a comment,
    then each PromQL query (``#`` starts a comment in PromQL, so it pastes as is)."""
    out = [f"# {finding.id} · {finding.subject}: {finding.summary}"]
    if finding.advice:
        out.append(f"# Advice: {finding.advice}")
    out.extend(finding.promql)
    return "\n".join(out) + "\n"


def copied_note(finding: Finding) -> str:
    """The notification after ``y``: what went to the clipboard."""
    what = []
    if finding.promql:
        count = len(finding.promql)
        what.append(f"{count} PromQL quer{'y' if count == 1 else 'ies'}")
    if finding.advice:
        what.append("the advice")
    return f"copied {' and '.join(what) or 'the summary'} of {finding.id} (OSC 52)"


def copy_finding(app: App[object], finding: Finding) -> None:
    """Put ``clipboard_text(finding)`` on the clipboard (Textual writes OSC 52) and say so."""
    app.copy_to_clipboard(clipboard_text(finding))
    app.notify(fmt.safe_label(copied_note(finding), 200), title="Clipboard", markup=False)


def _subject(text: str) -> Text:
    label = fmt.safe_label(text, 40)
    if len(label) > SUBJECT_WIDTH:
        label = label[: SUBJECT_WIDTH - 1] + "…"
    return Text(label)


def finding_cells(finding: Finding, palette: Palette) -> list[Text]:
    style = palette.severity(finding.severity)
    return [
        Text(finding.severity.upper(), style=style),
        _subject(finding.subject),
        Text(fmt.safe_label(finding.summary, 400)),
    ]


def alert_cells(alert: AlertRaw, palette: Palette) -> list[Text]:
    """An Alertmanager alert as a findings row, marked ALERT (it is not our finding)."""
    style = palette.severity(alert.severity or "info")
    summary = Text(f"[alert {fmt.safe_label(alert.severity or 'no severity', 20)}] ")
    summary.append(fmt.safe_label(alert.name, 80))  # the subject column cuts it
    if alert.summary:
        summary.append(f": {fmt.safe_label(alert.summary, 400)}")
    return [
        Text("ALERT", style=style),
        _subject(alert.name),
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

    BINDINGS: ClassVar[list[BindingType]] = [*FINDINGS_BINDINGS]

    class FindingChosen(Message):
        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    class ArtifactsChosen(Message):
        """``a`` on a finding row: open what ``streamdash advise`` writes for it."""

        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    @property
    def selected(self) -> Finding | None:
        """The finding under the cursor (None on an alert row or an empty table)."""
        row = self.query_one(NavTable).cursor_row
        if self.snapshot is not None and 0 <= row < len(self.snapshot.findings):
            return self.snapshot.findings[row]
        return None

    def action_artifacts(self) -> None:
        finding = self.selected
        if finding is not None:
            self.post_message(self.ArtifactsChosen(finding))
        else:
            self.app.bell()

    def action_copy_finding(self) -> None:
        finding = self.selected
        if finding is not None:
            copy_finding(self.app, finding)
        else:
            self.app.bell()

    def compose_body(self) -> ComposeResult:
        yield NavTable(id="findings-table")
        yield Static("", id="findings-errors")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(NavTable)
        # The cursor row keeps its severity colour (the cursor's CSS sets only the
        # background and an underline, see app.tcss).
        table.cursor_foreground_priority = "renderable"
        table.add_column("severity", key="severity")
        table.add_column("subject", key="subject", width=SUBJECT_WIDTH)
        table.add_column("summary", key="summary", width=self._summary_width())
        self._width = self.size.width

    def focus_target(self) -> Widget:
        return self.query_one(NavTable)

    def _summary_width(self) -> int:
        """What is left of the panel for the summary column (it wraps there): the
        content width less the other two columns, each column's 2 cells of padding and
        the 2-cell scrollbar."""
        return max(MIN_SUMMARY_WIDTH, self.size.width - len("CRITICAL") - SUBJECT_WIDTH - 8)

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
