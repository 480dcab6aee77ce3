"""The finding detail lists its artifacts; `a` opens them (why, body), `y` copies one;
Alertmanager alerts sit in the findings panel marked ALERT."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streamdash.core.raw import AlertRaw
from streamdash.tui.app import StreamdashApp
from streamdash.tui.panels.findings import FindingsPanel
from streamdash.tui.panels.table import NavTable
from streamdash.tui.screens.artifacts import ArtifactsScreen
from streamdash.tui.screens.finding import FindingScreen
from tests.tui.fixtures import ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, wait_polls, wait_until

pytestmark = pytest.mark.anyio


def screen_text(app: StreamdashApp) -> str:
    return app.export_screenshot().replace("&#160;", " ")


async def test_finding_detail_lists_artifacts_and_a_opens_them_y_copies() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FindingScreen), "finding")
        assert app.screen.finding.id == "histogram-overflow"  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: "buckets-stream.txt" in screen_text(app), "artifacts")
        assert "Artifacts (streamdash advise)" in screen_text(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ArtifactsScreen), "artifacts")
        screen = app.screen
        assert isinstance(screen, ArtifactsScreen)
        await wait_until(pilot, lambda: not screen.loading, "advice built")
        assert screen.artifacts and screen.artifacts[0].name == "buckets-stream.txt"
        await wait_until(pilot, lambda: "land above the top bucket" in screen.shown_text, "why")
        assert "buckets-stream.txt" in screen.shown_text and "1/" in screen.shown_text
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == screen.artifacts[0].body
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FindingScreen), "back")


async def test_a_on_the_findings_panel_opens_the_artifacts() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5", "a")
        await wait_until(pilot, lambda: isinstance(app.screen, ArtifactsScreen), "artifacts")


async def test_alerts_show_in_the_findings_panel_marked_alert() -> None:
    alert = AlertRaw(
        name="StreamdashTTFTBudgetBurnFast",
        severity="critical",
        summary="TTFT [bold]SLO[/bold] burning",
        labels={"namespace": "llm"},
    )
    refresher = ScriptedRefresher(replace(sample_snapshot(), alerts=(alert,)))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5")
        panel = app.dashboard.query_one(FindingsPanel)
        table = panel.query_one(NavTable)
        await wait_until(pilot, lambda: table.row_count == 5, "alert row")
        cells = [str(c) for c in table.get_row_at(4)]
        assert cells[0] == "ALERT" and cells[1] == "StreamdashT…"  # cut to the column
        assert "[alert critical] StreamdashTTFTBudgetBurnFast: TTFT" in cells[2]
        assert "[bold]SLO[/bold]" in cells[2]  # label text is data, not markup
        assert "1 alerts firing" in str(panel.border_title)
