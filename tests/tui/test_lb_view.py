"""The load-balancer panel's text: stream-cutting timeouts first, judged by the core's
findings; moving abort/timeout counters in severity colour, still ones plain."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text

from streamdash.core.snapshot import Finding, Snapshot
from streamdash.tui.palette import Palette
from streamdash.tui.panels.lb import lb_view
from tests.tui.fixtures import sample_snapshot

PALETTE = Palette(
    warning="bold yellow", error="bold red", success="green", accent="cyan", muted="dim"
)

CUT = Finding(
    id="lb-idle-timeout",
    severity="critical",
    subject="haproxy",
    summary="timeout server [llm] is 30 s and streams last 38 s: the LB cuts them.",
    evidence={"lb": "haproxy", "setting": "timeout server"},
)
DISCONNECTS = Finding(
    id="lb-disconnects",
    severity="critical",
    subject="haproxy",
    summary="LB cuts 1.2 % of streams",
)


def _snapshot(*findings: Finding) -> Snapshot:
    base = sample_snapshot()
    others = tuple(f for f in base.findings if not f.id.startswith("lb-"))
    return replace(base, findings=others + findings)


def _style_of(text: Text, fragment: str) -> str:
    start = text.plain.index(fragment)
    styles = [str(s.style) for s in text.spans if s.start <= start < s.end]
    return " ".join(styles)


def test_timeouts_come_first_in_their_findings_severity() -> None:
    text = lb_view(_snapshot(CUT), PALETTE)
    assert text.plain.startswith("Timeouts that can cut a stream\n")
    assert text.plain.index("timeout server") < text.plain.index("Backends")
    assert "bold red" in _style_of(text, "haproxy: timeout server [llm] = 30 s")
    assert "critical: timeout server [llm] is 30 s" in text.plain  # the core's verdict
    assert text.plain.rstrip().splitlines()[-1].startswith("Sources: ")


def test_an_unjudged_timeout_is_plain() -> None:
    text = lb_view(_snapshot(), PALETTE)
    assert "red" not in _style_of(text, "haproxy: timeout server")
    assert "critical:" not in text.plain


def test_moving_counters_take_the_disconnect_findings_colour() -> None:
    calm = lb_view(_snapshot(), PALETTE)
    assert "bold yellow" in _style_of(calm, "12 (")  # client aborts move: warning
    cutting = lb_view(_snapshot(DISCONNECTS), PALETTE)
    assert "bold red" in _style_of(cutting, "12 (")
    assert "bold red" in _style_of(cutting, "41 (")  # timeouts
    assert "critical: LB cuts 1.2 % of streams" in cutting.plain
    assert "red" not in _style_of(cutting, "0 (0")  # retries still: plain
