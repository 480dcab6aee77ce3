"""Finding detail: severity, summary, evidence, the PromQL behind it, and the advice.

``y`` copies the PromQL and advice (OSC 52), ``a`` opens the finding's artifacts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from streamdash import format as fmt
from streamdash.advise.model import Artifact
from streamdash.core.snapshot import Finding
from streamdash.tui.bindings import DETAIL_BINDINGS
from streamdash.tui.palette import palette_from
from streamdash.tui.panels.findings import copy_finding
from streamdash.tui.verdict import VerdictLine


def evidence_value(value: object) -> str:
    """Evidence values as text; floats compactly, containers one per line."""
    if value is None:
        return fmt.NA
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(evidence_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={evidence_value(v)}" for k, v in value.items())
    return str(value)


FINDING_BINDINGS: list[Binding] = [
    Binding("a", "artifacts", "Artifacts", id="finding_artifacts"),
    Binding("y", "copy_finding", "Copy PromQL / advice", id="finding_copy"),
]
"""On the finding detail screen (listed in help)."""


class DetailBody(VerticalScroll, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[1:]]


class FindingScreen(Screen[None]):
    """One finding in full. Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[:1], *FINDING_BINDINGS]

    def __init__(
        self,
        finding: Finding,
        artifacts: Sequence[Artifact] = (),
        open_artifacts: Callable[[Finding], None] | None = None,
    ) -> None:
        super().__init__(classes="detail")
        self.finding = finding
        self.artifacts = tuple(artifacts)
        """What ``streamdash advise`` writes for this finding (built without asking the
        sources; ``a`` opens them in full)."""
        self.open_artifacts = open_artifacts

    def compose(self) -> ComposeResult:
        f = self.finding
        palette = palette_from(self.app.theme_variables)
        head = Text(f.severity.upper(), style=palette.severity(f.severity))
        head.append(f"  {fmt.safe_label(f.id)} · {fmt.safe_label(f.subject)}", style="bold")
        evidence = Table(box=None, show_header=False, padding=(0, 1))
        evidence.add_column(style="bold", no_wrap=True)
        evidence.add_column()
        for key, value in f.evidence.items():
            evidence.add_row(
                Text(fmt.safe_label(str(key))), Text(fmt.safe_label(evidence_value(value), 2000))
            )
        parts = [
            head,
            Text(fmt.safe_label(f.summary, 2000)),
            Text(""),
            Text("Evidence", style="bold underline"),
            evidence if f.evidence else Text("none recorded", style=palette.muted),
            Text(""),
            Text("PromQL", style="bold underline"),
        ]
        if f.promql:
            parts.extend(Text(q) for q in f.promql)
        else:
            parts.append(Text("none", style=palette.muted))
        parts += [Text(""), Text("Advice", style="bold underline")]
        parts.append(Text(f.advice) if f.advice else Text("none", style=palette.muted))
        parts += [Text(""), Text("Artifacts (streamdash advise)", style="bold underline")]
        if self.artifacts:
            for a in self.artifacts:
                parts.append(Text(f"{a.name} — {a.title}"))
            parts.append(Text("a: open them (why, body, y to copy)", style=palette.muted))
        else:
            parts.append(Text("none for this finding", style=palette.muted))
        yield VerdictLine()
        with DetailBody(id="finding-body"):
            yield Static(Group(*parts), id="finding-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DetailBody).focus()

    def action_artifacts(self) -> None:
        if self.open_artifacts is not None:
            self.open_artifacts(self.finding)

    def action_copy_finding(self) -> None:
        copy_finding(self.app, self.finding)

    def action_close(self) -> None:
        self.dismiss(None)
