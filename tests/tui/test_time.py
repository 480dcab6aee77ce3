"""Pilot tests of the session's past (T, R) and of replay's time cursor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from streamdash.core.snapshot import Finding, Snapshot
from streamdash.record.replay import Replay
from streamdash.record.sources import SnapshotList
from streamdash.record.store import RecordingReader
from streamdash.tui.app import StreamdashApp
from streamdash.tui.help import HelpScreen
from streamdash.tui.panels.table import NavTable
from streamdash.tui.replay import ReplayApp
from streamdash.tui.screens.timeline import TimelineScreen, clock
from tests.tui.fixtures import NOW, ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, settings_with, wait_polls, wait_until

pytestmark = pytest.mark.anyio
OVERFLOW = Finding("histogram-overflow", "critical", "stream", "stream p99 above the top bucket")


def header(app: StreamdashApp) -> str:
    return str(app.dashboard.query_one("#header-line", Static).render())


def night(n: int = 5, step: float = 10.0) -> list[Snapshot]:
    base = sample_snapshot()
    return [
        replace(base, taken_at=NOW + step * i, findings=(OVERFLOW,) if i >= 2 else ())
        for i in range(n)
    ]


async def test_the_session_timeline_opens_a_past_snapshot_and_r_writes_the_session(
    tmp_path: Path,
) -> None:
    snaps = night(3)
    refresher = ScriptedRefresher(*snaps)
    app = make_app(refresher, settings_with(export_dir=str(tmp_path)))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        for count in (2, 3):
            await pilot.press("r")
            await wait_polls(pilot, refresher, count)
        assert len(app.session) == 3
        await pilot.press("T")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        assert [(e.at, e.finding_id, e.change.value) for e in screen.entries] == [
            (NOW + 20, "histogram-overflow", "appeared")
        ]
        table = screen.query_one(NavTable)
        assert clock(NOW + 20) in str(table.get_row_at(0)[0])
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.viewing is not None, "the chosen snapshot")
        assert app.paused and app.snapshot is not None
        assert app.snapshot.taken_at == NOW + 20
        assert f"PAUSED · viewing {clock(NOW + 20)}" in header(app)
        await pilot.press("R")
        await wait_until(pilot, lambda: any(tmp_path.glob("*.sdrec")), "the session file")
    (path,) = tmp_path.glob("streamdash-session-*.sdrec")
    reader = RecordingReader(path)
    assert [f.taken_at for f in reader.frames] == [s.taken_at for s in snaps]


async def test_record_on_quit_writes_the_session(tmp_path: Path) -> None:
    target = tmp_path / "quit.sdrec"
    refresher = ScriptedRefresher(*night(2))
    app = make_app(refresher, settings_with(record_on_quit=str(target)))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("q")
    assert len(RecordingReader(target)) == 1


def replay_app(snaps: list[Snapshot], tmp_path: Path) -> ReplayApp:
    return ReplayApp(
        settings_with(export_dir=str(tmp_path)), Replay(SnapshotList(snaps), "night.sdrec")
    )


async def test_replay_keys_move_the_cursor_and_the_header_says_where(tmp_path: Path) -> None:
    app = replay_app(night(5), tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: "1/5" in header(app), "the first frame")
        assert f"recorded {clock(NOW)} · 1/5" in header(app)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "2/5" in header(app), "the second frame")
        await pilot.press("right_curly_bracket")
        await wait_until(pilot, lambda: "3/5" in header(app), "the change")
        assert app.snapshot is not None and app.snapshot.findings == (OVERFLOW,)
        await pilot.press("left_curly_bracket")  # no earlier change: stays
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "2/5" in header(app), "one back")
        assert app.snapshot is not None and app.snapshot.findings == ()
        await pilot.press("g")
        await pilot.pause()
        await pilot.press(*clock(NOW + 40), "enter")
        await wait_until(pilot, lambda: "5/5" in header(app), "the typed time")
        await pilot.press("e")
        await wait_until(pilot, lambda: any(tmp_path.glob("*.md")), "the export")
    (export,) = tmp_path.glob("*.md")
    assert "From a recording (night.sdrec): this snapshot was recorded at" in export.read_text()
    assert "5 of 5" in export.read_text()


async def test_replay_header_states_the_recordings_interval_not_the_refresh(
    tmp_path: Path,
) -> None:
    snaps = night(4, step=30.0)
    snaps.append(replace(snaps[-1], taken_at=snaps[-1].taken_at + 600))  # a 10 min hole
    app = replay_app(snaps, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: "1/5" in header(app), "the first frame")
        assert "recorded every 30 s" in header(app)
        assert "every 5 s" not in header(app)  # the live refresh interval
        assert "after the one before" not in header(app)
        await pilot.press("g")
        await pilot.pause()
        await pilot.press(*clock(snaps[-1].taken_at), "enter")
        await wait_until(pilot, lambda: "5/5" in header(app), "the frame after the hole")
        assert "recorded every 30 s, 600 s after the one before" in header(app)


async def test_play_at_10x_walks_the_recording_to_its_end(tmp_path: Path) -> None:
    app = replay_app(night(4, step=1.0), tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: "1/4" in header(app), "the first frame")
        await pilot.press("greater_than_sign", "space")
        assert app.playing and app.speed == 10
        await wait_until(pilot, lambda: "▶ 10×" in header(app), "the play mark")
        await wait_until(pilot, lambda: "4/4" in header(app) and not app.playing, "the end")


async def test_help_lists_the_time_keys_with_ids(tmp_path: Path) -> None:
    app = replay_app(night(2), tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = app.export_screenshot().replace("&#160;", " ")
        for word in ("replay_back", "replay_next_change", "replay_goto", "timeline",
                     "record_session", "Play / pause"):  # fmt: skip
            assert word in text


async def test_a_big_fleets_session_keeps_few_whole_snapshots_but_every_findings_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streamdash.tui.time as time_mod

    base = sample_snapshot()
    monkeypatch.setattr(time_mod, "SESSION_POD_ROWS", 2 * len(base.pods))
    app = make_app(ScriptedRefresher(base))
    app.init_time(10)
    for snap in night(6):
        app.note_snapshot(snap)
    assert len(app.session) == 2  # whole snapshots: bounded by the pod-row budget
    assert app.session_rows == 2 * len(base.pods)
    assert len(app.marks) == 6  # the timeline still sees all of them
    assert [(e.at, e.change.value) for e in app.timeline_entries()] == [(NOW + 20, "appeared")]
