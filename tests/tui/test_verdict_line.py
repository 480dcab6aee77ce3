"""The verdict line: under the header on every screen and size; never a false all-clear."""

from __future__ import annotations

import pytest

from streamdash.core.raw import SourceError
from streamdash.core.verdict import verdict
from streamdash.tui.app import StreamdashApp
from streamdash.tui.screens.finding import FindingScreen
from streamdash.tui.screens.pod import PodScreen
from streamdash.tui.verdict import VerdictLine
from tests.tui.fixtures import ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, wait_polls, wait_until

pytestmark = pytest.mark.anyio


def line_text(app: StreamdashApp) -> str:
    return str(app.screen.query_one(VerdictLine).render())


def unreachable_snapshot() -> object:
    errors = tuple(
        SourceError("prometheus", f"query {p!r} to http://127.0.0.1:9090: connection refused", p)
        for p in ("ttft_buckets", "stream_buckets")
    )
    return sample_snapshot(errors=errors, query_count=2)


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
async def test_verdict_on_dashboard_pod_and_finding_screens(size: tuple[int, int]) -> None:
    snapshot = sample_snapshot()
    expected = verdict(snapshot)
    refresher = ScriptedRefresher(snapshot)
    app = make_app(refresher)
    async with app.run_test(size=size) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert line_text(app).strip().startswith(expected.headline)
        assert expected.headline.startswith("2 critical")
        line = app.screen.query_one(VerdictLine)
        assert line.region.y == 1  # just under the header, above the panels
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        assert line_text(app).strip().startswith(expected.headline)
        await pilot.press("escape", "5", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FindingScreen), "finding")
        assert line_text(app).strip().startswith(expected.headline)


async def test_unreachable_source_reads_as_a_failure_first_not_all_clear() -> None:
    refresher = ScriptedRefresher(unreachable_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, refresher, 1)
        text = line_text(app).strip()
        assert text.startswith("could not read prometheus http://127.0.0.1:9090: connection")
        assert "all clear" not in text


async def test_verdict_follows_each_new_snapshot() -> None:
    calm = sample_snapshot(findings=(), errors=(), notes=())
    refresher = ScriptedRefresher(sample_snapshot(), calm)
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert "2 critical" in line_text(app)
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        assert line_text(app).strip() == "all clear"


async def test_a_refresh_that_raised_comes_first_then_the_last_good_verdict() -> None:
    refresher = ScriptedRefresher(sample_snapshot(), RuntimeError("connection refused"))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        text = line_text(app).strip()
        assert text.startswith("refresh failed: RuntimeError: connection refused")
        assert "last good:  2 critical" in text
