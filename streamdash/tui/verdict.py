"""The verdict line under the header, on every screen: ``core.verdict`` in colour.

``verdict_text`` is pure (Verdict + Palette -> Text). ``VerdictLine`` is the widget;
the app calls ``show`` on every mounted one when a snapshot arrives, and a screen
pushed later picks up the app's current snapshot when it mounts.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from streamdash.core.snapshot import Snapshot
from streamdash.core.verdict import Verdict, verdict
from streamdash.tui.palette import Palette, palette_from

SEPARATOR = " · "


def _headline_style(v: Verdict, palette: Palette) -> str:
    if v.state in ("unreachable", "critical"):
        return f"{palette.error} reverse"
    if v.state in ("warning", "no-data", "degraded"):
        return f"{palette.warning} reverse"
    if v.state == "loading":
        return "dim reverse"
    if v.state == "info":
        return f"bold {palette.accent}"
    return f"bold {palette.success}"


def verdict_text(v: Verdict | None, palette: Palette, failure: str | None = None) -> Text:
    """Headline (reversed in the state's colour, so NO_COLOR still shows it), then the
    worst findings, other sources' failures and cautions, each in its own colour. A
    refresh that raised (``failure``) comes first: the verdict after it is the last
    good snapshot's."""
    text = Text()
    if failure is not None:
        text.append(f" refresh failed: {failure} ", style=f"{palette.error} reverse")
        if v is None:
            return text
        text.append(SEPARATOR + "last good: ", style=palette.muted)
    if v is None:
        return waiting_text()
    text.append(f" {v.headline} ", style=_headline_style(v, palette))
    tail: list[tuple[str, str]] = [(w, "bold") for w in v.worst]
    if v.pending and v.state != "loading":
        tail.append((v.waiting_text, palette.muted))
    if v.state == "unreachable" and v.carried:
        tail.append(("numbers shown are from before the failure", palette.warning))
    elif v.no_data and any(v.counts.values()):
        tail.append((v.no_data, palette.warning))
    tail += [(p, palette.warning) for p in v.problems]
    tail += [(c, palette.muted) for c in v.cautions]
    for part, style in tail:
        text.append(SEPARATOR, style=palette.muted)
        text.append(part, style=style)
    return text


def waiting_text() -> Text:
    return Text(" waiting for the first refresh… ", style="dim reverse")


class VerdictLine(Static):
    """One or two lines: the verdict of the snapshot on screen."""

    DEFAULT_CLASSES = "verdict-line"

    def __init__(self) -> None:
        super().__init__(waiting_text())
        self._verdict: Verdict | None = None
        self._failure: str | None = None
        self._shown: tuple[Verdict | None, str | None, str] | None = None

    def on_mount(self) -> None:
        snapshot = getattr(self.app, "snapshot", None)
        failure = getattr(self.app, "failure", None)
        self.show(snapshot if isinstance(snapshot, Snapshot) else None, failure)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw(force=True))

    def show(self, snapshot: Snapshot | None, failure: str | None = None) -> None:
        """Show ``snapshot``'s verdict (after ``failure``, when the last refresh raised);
        draws only when what it shows changed."""
        self._verdict = verdict(snapshot) if snapshot is not None else None
        self._failure = failure
        self._draw()

    def _draw(self, force: bool = False) -> None:
        key = (self._verdict, self._failure, self.app.theme)
        if key == self._shown and not force:
            return
        self._shown = key
        self.update(verdict_text(key[0], palette_from(self.app.theme_variables), key[1]))
