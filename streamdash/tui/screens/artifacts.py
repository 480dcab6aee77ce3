"""A finding's artifacts (``streamdash advise`` for this snapshot): why, file name, body.

The advice is built in a worker thread, because it asks Prometheus for the real ``le``
texts and the loaded rules (``sources.advise_facts``); the screen says so meanwhile.
``n`` / ``N`` move between artifacts, ``y`` copies the current one (OSC 52, through
Textual's ``copy_to_clipboard``). Bodies are shown as plain ``Text``: they may hold
label values.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from streamdash import format as fmt
from streamdash.advise import AdviseFacts, Artifact, advise
from streamdash.advise.build import Advice
from streamdash.core.snapshot import Finding, Snapshot
from streamdash.settings import Settings
from streamdash.tui.bindings import DETAIL_BINDINGS
from streamdash.tui.palette import palette_from
from streamdash.tui.screens.keys import ARTIFACT_BINDINGS


def quick_advice(snapshot: Snapshot, settings: Settings) -> Advice:
    """Advice without asking the sources (no le texts, no rules): for the finding detail."""
    return advise(snapshot, AdviseFacts(), settings)


class ArtifactBody(VerticalScroll, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[1:]]


class ArtifactsScreen(Screen[None]):
    """The artifacts that answer one finding. Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[:1], *ARTIFACT_BINDINGS]

    def __init__(self, finding: Finding, snapshot: Snapshot, settings: Settings) -> None:
        super().__init__(classes="detail")
        self.finding = finding
        self.snapshot = snapshot
        self.settings = settings
        self.artifacts: tuple[Artifact, ...] = ()
        self.notes: tuple[str, ...] = ()
        self.index = 0
        self.loading = True
        self.shown_text = ""
        """The plain text on screen (what ``_redraw`` last showed)."""

    def compose(self) -> ComposeResult:
        with ArtifactBody(id="artifacts-body"):
            yield Static(
                Text("Asking Prometheus for le texts and loaded rules…"), id="artifacts-text"
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ArtifactBody).focus()
        self._build()

    @work(thread=True, exit_on_error=False)
    def _build(self) -> None:
        from streamdash.sources.advise_facts import fetch_facts

        try:
            facts = fetch_facts(self.settings, self.snapshot)
        except ValueError as exc:  # settings that cannot form a query
            facts = AdviseFacts(errors=(str(exc),))
        advice = advise(self.snapshot, facts, self.settings)
        self.app.call_from_thread(self._show, advice)

    def _show(self, advice: Advice) -> None:
        self.artifacts = advice.for_finding(self.finding)
        self.notes = advice.notes
        self.loading = False
        self.index = 0
        self._redraw()

    def _redraw(self) -> None:
        palette = palette_from(self.app.theme_variables)
        f = self.finding
        head = Text(f"Artifacts for {fmt.safe_label(f.id)} · {fmt.safe_label(f.subject)}",
                    style="bold")  # fmt: skip
        parts: list[Text] = [head, Text("")]
        if not self.artifacts:
            parts.append(Text("No artifact answers this finding.", style=palette.muted))
        for i, a in enumerate(self.artifacts):
            mark = "▶ " if i == self.index else "  "
            style = "bold reverse" if i == self.index else "bold"
            parts.append(
                Text(f"{mark}{i + 1}/{len(self.artifacts)} {a.title} — {a.name}", style=style)
            )
            if i == self.index:
                parts += [Text(a.why), Text(""), Text(a.body), Text("")]
        parts += [Text(f"note: {n}", style=palette.muted) for n in self.notes]
        parts.append(
            Text("n/N: next/previous artifact · y: copy it · Esc: back", style=palette.muted)
        )
        self.shown_text = "\n".join(part.plain for part in parts)
        self.query_one("#artifacts-text", Static).update(Group(*parts))

    @property
    def current(self) -> Artifact | None:
        return self.artifacts[self.index] if self.artifacts else None

    def action_step(self, delta: int) -> None:
        if self.artifacts:
            self.index = (self.index + delta) % len(self.artifacts)
            self._redraw()

    def action_copy(self) -> None:
        artifact = self.current
        if artifact is None:
            self.app.bell()
            return
        self.app.copy_to_clipboard(artifact.body)
        self.app.notify(f"{artifact.name} ({len(artifact.body)} chars)", title="Copied")

    def action_close(self) -> None:
        self.dismiss(None)
