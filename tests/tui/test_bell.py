"""``bell_on_critical``: the terminal bell rings once per new critical finding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streamdash.core.snapshot import Finding, Snapshot
from streamdash.tui.app import StreamdashApp
from streamdash.tui.bell import new_criticals
from tests.tui.fixtures import NOW, ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, settings_with, wait_polls

pytestmark = pytest.mark.anyio

NEW_FD = Finding(
    id="fd-exhaustion",
    severity="critical",
    subject="llama-serve-7d9f-abcde",
    summary="Pod llama-serve-7d9f-abcde uses 95 % of its file descriptors",
)


def with_new_critical(now: float) -> Snapshot:
    base = sample_snapshot(now=now)
    return replace(base, findings=(*base.findings, NEW_FD))


def spy_bell(app: StreamdashApp, refresher: ScriptedRefresher) -> list[int]:
    """At which refresh each ring came (the real bell still runs: headless, it writes
    nothing)."""
    rings: list[int] = []
    real = app.bell

    def bell() -> None:
        rings.append(len(refresher.windows))
        real()

    app.bell = bell  # type: ignore[method-assign]
    return rings


async def _run(app: StreamdashApp, refresher: ScriptedRefresher, polls: int) -> list[int]:
    rings = spy_bell(app, refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        for count in range(1, polls + 1):
            if count > 1:
                await pilot.press("r")
            await wait_polls(pilot, refresher, count)
    return rings


def _script() -> ScriptedRefresher:
    return ScriptedRefresher(
        sample_snapshot(),  # two criticals on screen at start: not news
        sample_snapshot(now=NOW + 5),
        with_new_critical(NOW + 10),  # a third critical appears: one ring
        with_new_critical(NOW + 15),  # still there: no ring
        sample_snapshot(now=NOW + 20),  # it cleared: nothing
        with_new_critical(NOW + 25),  # back again: new again, one ring
    )


async def test_bell_rings_once_per_new_critical_when_enabled() -> None:
    refresher = _script()
    app = make_app(refresher, settings_with(bell_on_critical=True))
    assert await _run(app, refresher, 6) == [3, 6]
    assert len(refresher.windows) == 6


async def test_bell_is_off_by_default() -> None:
    refresher = _script()
    app = make_app(refresher)
    assert await _run(app, refresher, 6) == []


def test_new_criticals_by_id_and_subject() -> None:
    first = sample_snapshot().findings
    known, new = new_criticals(None, first)
    assert new == frozenset()
    assert ("fd-exhaustion", NEW_FD.subject) not in known
    known, new = new_criticals(known, (*first, NEW_FD))
    assert new == {("fd-exhaustion", NEW_FD.subject)}
    warning = replace(NEW_FD, subject="other", severity="warning")
    _, new = new_criticals(known, (*first, NEW_FD, warning))
    assert new == frozenset()
