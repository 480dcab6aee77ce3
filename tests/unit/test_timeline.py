"""The findings timeline (pure) and the replay cursor over recorded snapshots."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pytest

from streamdash.core.snapshot import Finding
from streamdash.core.timeline import Change, change_indices, nearest_index, timeline
from streamdash.record.replay import Replay, clock_target, parse_clock
from streamdash.record.sources import SnapshotList
from tests.tui.fixtures import NOW, sample_snapshot


@dataclass(frozen=True)
class F:
    taken_at: float
    findings: tuple[Finding, ...]


def fnd(fid: str, sev: str, subject: str = "stream") -> Finding:
    return Finding(fid, sev, subject, f"{fid} {sev}")


def test_appeared_changed_and_cleared_with_their_times() -> None:
    frames = [
        F(100, ()),
        F(105, (fnd("histogram-overflow", "warning"),)),
        F(110, (fnd("histogram-overflow", "critical"), fnd("fd-exhaustion", "critical", "p1"))),
        F(115, (fnd("fd-exhaustion", "critical", "p1"),)),
        F(120, (fnd("fd-exhaustion", "critical", "p1"),)),
    ]
    got = [(e.at, e.since, e.change, e.finding_id, e.severity, e.previous_severity)
           for e in timeline(frames)]  # fmt: skip
    assert got == [
        (105, 100, Change.APPEARED, "histogram-overflow", "warning", None),
        (110, 105, Change.SEVERITY, "histogram-overflow", "critical", "warning"),
        (110, 105, Change.APPEARED, "fd-exhaustion", "critical", None),
        (115, 110, Change.CLEARED, "histogram-overflow", "critical", None),
    ]
    assert change_indices(frames) == (1, 2, 3)


def test_findings_open_at_the_start_appear_at_the_first_frame_and_subjects_are_apart() -> None:
    frames = [
        F(0, (fnd("fd-exhaustion", "critical", "a"),)),
        F(5, (fnd("fd-exhaustion", "critical", "b"),)),
    ]
    got = [(e.at, e.since, e.change, e.subject) for e in timeline(frames)]
    assert got == [
        (0, None, Change.APPEARED, "a"),
        (5, 0, Change.APPEARED, "b"),
        (5, 0, Change.CLEARED, "a"),
    ]
    assert timeline([]) == ()


@pytest.mark.parametrize(("at", "index"), [(-5, 0), (0, 0), (2.5, 0), (2.6, 1), (99, 2)])
def test_nearest_index(at: float, index: int) -> None:
    assert nearest_index([0.0, 5.0, 10.0], at) == index


def _replay(n: int = 6) -> Replay:
    base = sample_snapshot()
    overflow = fnd("histogram-overflow", "critical")
    snaps = [
        replace(base, taken_at=NOW + 10 * i, findings=(overflow,) if 2 <= i < 4 else ())
        for i in range(n)
    ]
    return Replay(SnapshotList(snaps), "night.sdrec")


def test_the_cursor_steps_jumps_and_finds_changes() -> None:
    r = _replay()
    assert r.index == 0 and not r.step(-1)
    assert r.next_change() and r.index == 2
    assert r.next_change() and r.index == 4
    assert not r.next_change() and r.index == 4
    assert r.previous_change() and r.index == 2
    assert r.jump_to_time(NOW + 31) and r.index == 3
    assert r.step(99) and r.index == 5


def test_a_replayed_snapshot_says_it_is_recorded_and_has_charts_from_the_frames() -> None:
    r = _replay()
    r.move_to(3)
    snap = r.snapshot()
    assert snap.taken_at == NOW + 30
    assert snap.notes[0].startswith("From a recording (night.sdrec): this snapshot was recorded")
    assert "4 of 6" in snap.notes[0]
    # the fixture carries its own history; a loaded one has none: rebuilt from frames
    r2 = Replay(SnapshotList([replace(s, history=None) for s in r.recorded.snapshots]), "x")  # type: ignore[attr-defined]
    r2.move_to(3)
    history = r2.snapshot().history
    assert history is not None
    assert [p.t for p in history.series["stream_p99"]] == [NOW, NOW + 10, NOW + 20, NOW + 30]
    assert history.step_seconds == 10


def test_clock_times_mean_the_day_of_the_recording() -> None:
    first = datetime(2026, 12, 1, 23, 50).astimezone().timestamp()
    last = first + 3600  # past midnight
    assert datetime.fromtimestamp(clock_target("00:14", first, last)).strftime("%d %H:%M") == (
        "02 00:14"
    )
    assert datetime.fromtimestamp(clock_target("23:55:30", first, last)).strftime(
        "%d %H:%M:%S"
    ) == ("01 23:55:30")
    assert clock_target("2026-12-01T00:00:00Z", first, last) == 1796083200.0
    with pytest.raises(ValueError, match="not a time like"):
        parse_clock("soon")
    with pytest.raises(ValueError, match="not a time of day"):
        parse_clock("25:00")


def test_the_markdown_section_lists_entries_with_utc_times_and_inert_labels() -> None:
    from streamdash.export.timeline_md import render_timeline

    frames = [F(1_796_083_200, ()), F(1_796_083_260, (fnd("fd-exhaustion", "critical", "a|b"),))]
    text = render_timeline(timeline(frames), "2 snapshots")
    assert text.startswith("## Findings timeline\n\n2 snapshots\n")
    row = text.splitlines()[-1]
    assert row.startswith("| 2026-12-01T00:01:00Z | 2026-12-01T00:00:00Z | appeared (critical) |")
    assert "a\\|b" in row
    assert "No finding appeared" in render_timeline((), "none")


@pytest.mark.parametrize(
    ("pods", "step"), [(0, 60), (10, 60), (1000, 60), (1966, 60), (5000, 180), (20000, 600)]
)
def test_the_backfill_step_grows_with_the_fleet_so_the_rows_built_stay_bounded(
    pods: int, step: int
) -> None:
    from streamdash.record.backfill import BACKFILL_POD_ROWS, BACKFILL_SECONDS, backfill_step

    assert backfill_step(pods) == step
    assert step % 60 == 0
    snapshots = BACKFILL_SECONDS // step + 1
    assert snapshots * pods <= BACKFILL_POD_ROWS + pods  # within one snapshot of the budget


def test_the_kept_backfill_is_the_newest_whole_snapshots_within_the_row_budget() -> None:
    from streamdash.record.backfill import keep_backfill

    base = sample_snapshot()
    per = len(base.pods)
    assert per > 1
    frames = [
        replace(base, taken_at=NOW + i, findings=(fnd(f"f{i}", "warning"),)) for i in range(5)
    ]
    kept = keep_backfill(frames, rows=2 * per + 1)
    assert [s.taken_at for s in kept.snapshots] == [NOW + 3, NOW + 4]
    assert [m.taken_at for m in kept.marks] == [NOW + i for i in range(5)]
    assert [m.findings for m in kept.marks] == [tuple(f.findings) for f in frames]
    assert [s.taken_at for s in keep_backfill(frames, rows=0).snapshots] == [NOW + 4]
    assert keep_backfill([]).snapshots == () and keep_backfill([]).marks == ()
