"""Pilot tests of the pod screen (Enter on a pod row): its charts from the source's
history, from this session's own snapshots, or from a replayed recording; its facts
(FD pair, CPU, LB row) and the PromQL to paste."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from textual_plotext import PlotextPlot

from streamdash.core.snapshot import PodRow, Snapshot
from streamdash.presets import load_preset
from streamdash.record.replay import Replay
from streamdash.record.sources import SnapshotList
from streamdash.settings import Thresholds
from streamdash.tui import charts
from streamdash.tui.app import StreamdashApp
from streamdash.tui.palette import palette_from
from streamdash.tui.panels.pods import row_cells
from streamdash.tui.replay import ReplayApp
from streamdash.tui.screens.pod import CHARTS, PodScreen
from tests.tui.fixtures import NOW, ScriptedRefresher, sample_history, sample_snapshot
from tests.tui.helpers import make_app, settings_with, wait_polls, wait_until

pytestmark = pytest.mark.anyio
SnapCompare = Callable[..., bool]
WORST = "llama-serve-7d9f-abcde"
"""The first (worst) pod of ``sample_snapshot``: the row Enter opens on the pods tab."""


def screen_text(app: StreamdashApp) -> str:
    """The screen's text (SVG runs, entities decoded)."""
    runs = re.findall(r">([^<]*)</text>", app.export_screenshot())
    return html.unescape("".join(runs)).replace("\xa0", " ")


def status(screen: PodScreen) -> str:
    return str(screen.query_one("#pod-status", Static).render())


def charted(screen: PodScreen) -> dict[str, bool]:
    """chart id -> whether it was drawn with points."""
    return {cid: charts._DRAWN[screen.query_one(f"#{cid}", PlotextPlot)][1] for cid, *_ in CHARTS}


def fleet(n: int, step: float = 5.0) -> list[Snapshot]:
    """A session's snapshots with no history of the source's own (like the demo)."""
    base = sample_snapshot(history=None)
    out = []
    for i in range(n):
        pods = tuple(
            replace(p, open_fds=1010 + i, fd_utilization=(1010 + i) / 1024, in_flight=40 + i)
            if p.pod == WORST
            else p
            for p in base.pods
        )
        out.append(replace(base, taken_at=NOW + step * i, pods=pods))
    return out


async def test_without_source_history_the_charts_are_this_sessions_own() -> None:
    snaps = fleet(4)
    refresher = ScriptedRefresher(*snaps, history=None)
    app = make_app(refresher, settings_with(preset=load_preset("vllm"), namespace="llm"))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        for count in (2, 3, 4):
            await pilot.press("r")
            await wait_polls(pilot, refresher, count)
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        screen = app.screen
        assert isinstance(screen, PodScreen) and screen.row.pod == WORST
        await wait_until(pilot, lambda: screen.result is not None, "the pod's history")
        assert screen.result is not None and screen.result.origin == "session"
        history = screen.history
        assert history is not None
        assert [p.v for p in history.series["open_fds"]] == [1010, 1011, 1012, 1013]
        assert charted(screen) == {cid: True for cid, *_ in CHARTS}
        assert "This session's own recording: last 15 s, 4 snapshots" in status(screen)
        text = screen_text(app)
        assert "1013 of 1024 open (98.9 %)" in text  # the row Enter was pressed on
        assert "0.16 cores used, request 0.50 cores, limit n/a" in text
        assert "haproxy haproxy llm/llama-serve-7d9f-abcde: UP · cur 980" in text
        assert "timeouts" in text and "41 (0.1/s) · retries 0" in text
        assert "PromQL for this pod" in text
        assert 'max(process_open_fds{namespace="llm",pod="llama-serve-7d9f-abcde"})' in text


async def test_with_source_history_the_charts_are_the_sources() -> None:
    refresher = ScriptedRefresher(sample_snapshot(), history=sample_history())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        screen = app.screen
        assert isinstance(screen, PodScreen)
        await wait_until(pilot, lambda: screen.result is not None, "the pod's history")
        assert screen.result is not None and screen.result.origin == "source"
        assert refresher.pod_requests == [(WORST, 300)]
        assert status(screen).startswith("From the source: last 1 h, 61 points")
        drawn = charted(screen)
        assert drawn["pod-latency"]  # the sample history has p99s, not the pod gauges
        assert not drawn["pod-fds"]


async def test_a_pod_the_session_never_saw_says_so_and_draws_nothing() -> None:
    refresher = ScriptedRefresher(sample_snapshot(history=None), history=None)
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        app.session.clear()  # as if the row came from a snapshot no longer kept
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        screen = app.screen
        assert isinstance(screen, PodScreen)
        await wait_until(pilot, lambda: screen.result is not None, "the pod's history")
        assert status(screen).startswith("No history: the source keeps none per pod")
        assert not any(charted(screen).values())


async def test_replay_charts_the_pod_from_the_recording(tmp_path: Path) -> None:
    snaps = fleet(5, step=10.0)
    replay = Replay(SnapshotList(snaps), "night.sdrec")
    replay.move_to(3)
    app = ReplayApp(settings_with(export_dir=str(tmp_path)), replay)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "the cursor's snapshot")
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        screen = app.screen
        assert isinstance(screen, PodScreen)
        await wait_until(pilot, lambda: screen.result is not None, "the pod's history")
        assert screen.result is not None and screen.result.origin == "recording"
        history = screen.history
        assert history is not None  # up to the cursor (frame 4 of 5), not past it
        assert [p.t for p in history.series["in_flight"]] == [NOW + 10 * i for i in range(4)]
        assert "From the recording: last 30 s, 4 snapshots up to the cursor" in status(screen)
        assert all(charted(screen).values())


async def test_pods_table_marks_cadvisor_fd_counts() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, refresher, 1)
        palette = palette_from(app.theme_variables)
        counted = PodRow("p", open_fds=40, fd_source="cadvisor", fd_origin="cAdvisor container x")
        paired = PodRow("p", open_fds=40, max_fds=1024, fd_source="process")
        assert str(row_cells(counted, palette, Thresholds())[5]) == "40 cAdv"
        assert str(row_cells(paired, palette, Thresholds())[5]) == "40/1024"


def _session_then_pod(refresher: ScriptedRefresher, polls: int) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_polls(pilot, refresher, 1)
        for count in range(2, polls + 1):
            await pilot.press("r")
            await wait_polls(pilot, refresher, count)
        await pilot.press("2", "enter")
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        screen = app.screen
        assert isinstance(screen, PodScreen)
        await wait_until(pilot, lambda: screen.result is not None, "the pod's history")

    return run_before


@pytest.mark.parametrize("size", [(160, 50), (80, 24)], ids=["160x50", "80x24"])
def test_pod_screen_from_the_session(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    refresher = ScriptedRefresher(*fleet(6), history=None)
    app = make_app(refresher, settings_with(preset=load_preset("vllm"), namespace="llm"))
    assert snap_compare(app, terminal_size=size, run_before=_session_then_pod(refresher, 6))
