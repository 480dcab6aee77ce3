"""Snapshot tests (pytest-textual-snapshot) at 80×24 and 160×50.

Regenerate after an intended change: ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.tui.fixtures import ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, settings_with, wait_polls

SnapCompare = Callable[..., bool]


def _first_poll(refresher: ScriptedRefresher) -> Callable[[Pilot[Any]], object]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_polls(pilot, refresher, 1)

    return run_before


def test_dashboard_160x50(snap_compare: SnapCompare) -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    assert snap_compare(app, terminal_size=(160, 50), run_before=_first_poll(refresher))


def test_dashboard_80x24(snap_compare: SnapCompare) -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_first_poll(refresher))


def test_pods_tab_80x24(snap_compare: SnapCompare) -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    assert snap_compare(app, terminal_size=(80, 24), press=["2"], run_before=_first_poll(refresher))


def test_stale_after_failure_160x50(snap_compare: SnapCompare) -> None:
    refresher = ScriptedRefresher(sample_snapshot(), RuntimeError("connection refused"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)

    app = make_app(refresher)
    assert snap_compare(app, terminal_size=(160, 50), run_before=run_before)


def test_dashboard_light_theme_160x50(snap_compare: SnapCompare) -> None:
    """Charts follow the theme: in streamdash-light they are light, not black."""
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, settings_with(theme="streamdash-light"))
    assert snap_compare(app, terminal_size=(160, 50), run_before=_first_poll(refresher))
