"""Charts: whole-step time ticks, and colours that follow the app's theme."""

from __future__ import annotations

import re

import pytest
from plotext._dict import themes as plotext_themes
from textual.color import Color
from textual_plotext import PlotextPlot

from streamdash.tui.charts import time_ticks
from tests.tui.fixtures import ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, wait_polls, wait_until

WHOLE = re.compile(r"^(0|-[1-9][0-9]*[sm])$")


@pytest.mark.parametrize("span", [0.0, 3.0, 11.0, 59.9, 60.0, 150.0, 181.0, 300.0, 890.0, 3600.0])
@pytest.mark.parametrize("max_ticks", [2, 4, 8])
def test_time_ticks_are_whole_seconds_or_minutes(span: float, max_ticks: int) -> None:
    positions, labels = time_ticks(span, max_ticks)
    assert 2 <= len(labels) <= max_ticks
    assert all(WHOLE.match(label) for label in labels), labels
    assert labels[-1] == "0" and positions[-1] == 0.0
    unit = 1 if span <= 180 else 60
    assert all(p % unit == 0 for p in positions)
    assert all(label.endswith("s" if unit == 1 else "m") for label in labels[:-1])
    assert positions == sorted(positions)
    assert -positions[0] <= max(span, 5.0)  # no tick far beyond the data


def test_five_minutes_read_in_minutes() -> None:
    assert time_ticks(300.0, 8)[1] == ["-5m", "-4m", "-3m", "-2m", "-1m", "0"]
    assert time_ticks(60.0, 7)[1] == ["-60s", "-50s", "-40s", "-30s", "-20s", "-10s", "0"]


@pytest.mark.anyio
async def test_charts_follow_the_theme() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        chart = app.dashboard.query_one("#latency-chart", PlotextPlot)
        assert chart.theme == "streamdash-chart-streamdash-dark"
        while app.theme != "streamdash-light":
            await pilot.press("t")
        await wait_until(
            pilot, lambda: chart.theme == "streamdash-chart-streamdash-light", "light chart"
        )
        canvas, _axes, ticks, _style, _series = plotext_themes[chart.theme]
        assert canvas == Color.parse(app.theme_variables["surface"]).rgb == (255, 255, 255)
        assert ticks == Color.parse(app.theme_variables["foreground"]).rgb


def test_an_empty_chart_says_loading_only_while_prometheus_history_is_on_its_way() -> None:
    from dataclasses import replace

    from streamdash.core.raw import HistoryRaw
    from streamdash.core.snapshot import SourceInfo
    from streamdash.tui.charts import LOADING_HISTORY, NO_HISTORY, NO_POINTS, empty_text

    snap = replace(sample_snapshot(), history=None)
    assert snap.source.kind == "prometheus" and empty_text(snap) == LOADING_HISTORY
    scrape = replace(snap, source=SourceInfo(kind="scrape", url="http://127.0.0.1:8000"))
    assert empty_text(scrape) == NO_HISTORY
    answered = replace(snap, history=HistoryRaw(series={}, step_seconds=15))
    assert empty_text(answered) == NO_POINTS
