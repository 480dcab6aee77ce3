"""Replay: a cursor over recorded Snapshots, and the Refresher that serves it.

``ReplayRefresher`` is an ordinary ``Refresher``: ``refresh`` returns the snapshot at
the cursor, so the dashboard, every panel, drill-down and export run the same code as
live. The snapshot it returns carries the charts' history rebuilt from the frames of
the hour before the cursor, and a note saying it is from a recording and when it was
taken (so an export says so). Moving the cursor never does I/O beyond reading one
snapshot from the file.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from streamdash.core.pod_history import pod_history as core_pod_history
from streamdash.core.raw import HistoryRaw, SeriesPoint
from streamdash.core.snapshot import Snapshot
from streamdash.core.timeline import change_indices, nearest_index
from streamdash.export.json import iso
from streamdash.record.sources import Recorded
from streamdash.record.store import Frame
from streamdash.settings import Settings

HISTORY_SECONDS = 3600
POD_HISTORY_FRAMES = 240
"""Snapshots read from the file for one pod's charts: the hour before the cursor,
evenly thinned to at most this many (each is decompressed and loaded)."""


def recording_note(name: str, snapshot: Snapshot, position: int, total: int) -> str:
    """The note every replayed snapshot carries (exports show it)."""
    return (
        f"From a recording ({name}): this snapshot was recorded at "
        f"{iso(snapshot.taken_at)}, {position} of {total}; it is not live data."
    )


def parse_clock(text: str) -> tuple[int, int, int]:
    """``02:14`` or ``02:14:05`` -> (h, m, s); ValueError when not a clock time."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a time like 02:14 or 02:14:05")
    h, m, s = (int(p) for p in (*parts, "0")[:3])
    if h > 23 or m > 59 or s > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return h, m, s


def clock_target(text: str, first: float, last: float) -> float:
    """The instant a typed time means within a recording from ``first`` to ``last``:
    an RFC 3339 time as given, or a local clock time (``02:14``) on the day within the
    recording (the occurrence nearest it when it spans several days)."""
    if "T" in text or "-" in text.strip()[1:]:
        from streamdash.export.load import parse_time

        return parse_time(text)
    h, m, s = parse_clock(text)
    start = datetime.fromtimestamp(first).astimezone()
    day = start.replace(hour=h, minute=m, second=s, microsecond=0)
    candidates = [
        (day + timedelta(days=d)).timestamp() for d in range(-1, 2 + int((last - first) // 86400))
    ]
    inside = [c for c in candidates if first <= c <= last]
    pool = inside or candidates
    return min(
        pool, key=lambda c: 0.0 if first <= c <= last else min(abs(c - first), abs(c - last))
    )


class Replay:
    """A cursor over a ``Recorded`` (thread-safe: the TUI moves it, a worker reads it)."""

    def __init__(self, recorded: Recorded, name: str) -> None:
        self.recorded = recorded
        self.name = name
        self.frames = recorded.frames
        self.times: list[float] = [f.taken_at for f in self.frames]
        self.changes: tuple[int, ...] = change_indices(self.frames)
        self.index = 0
        self._lock = threading.Lock()
        self._cache: tuple[int, Snapshot] | None = None

    def __len__(self) -> int:
        return len(self.times)

    @property
    def at(self) -> float:
        return self.times[self.index]

    def move_to(self, index: int) -> bool:
        """Put the cursor at ``index`` (clamped); True when it moved."""
        with self._lock:
            index = min(max(index, 0), len(self.times) - 1)
            moved, self.index = index != self.index, index
            return moved

    def step(self, by: int) -> bool:
        return self.move_to(self.index + by)

    def jump_to_time(self, at: float) -> bool:
        return self.move_to(nearest_index(self.times, at))

    def next_change(self) -> bool:
        """To the next frame whose findings differ from the one before; False if none."""
        later = [i for i in self.changes if i > self.index]
        return bool(later) and self.move_to(later[0])

    def previous_change(self) -> bool:
        earlier = [i for i in self.changes if i < self.index]
        return bool(earlier) and self.move_to(earlier[-1])

    def history(self, index: int) -> HistoryRaw:
        """The charts' series over the hour up to frame ``index``, from the frames."""
        end = self.times[index]
        first = nearest_index(self.times, end - HISTORY_SECONDS)
        frames: Sequence[Frame] = self.frames[first : index + 1]
        names = ("ttft_p99", "stream_p99", "replicas", "cpu_implied_replicas")
        series = {
            n: tuple(
                SeriesPoint(f.taken_at, f.chart.get(n))
                for f in frames
                if f.taken_at >= end - HISTORY_SECONDS
            )
            for n in names
        }
        gaps = [
            b - a
            for a, b in zip(self.times[first:index], self.times[first + 1 : index + 1], strict=True)
        ]
        step = sorted(gaps)[len(gaps) // 2] if gaps else 0.0
        return HistoryRaw(series=series, step_seconds=step)

    def pod_history(self, pod: str, index: int | None = None) -> HistoryRaw | None:
        """``pod``'s charts over the hour up to frame ``index`` (default: the cursor),
        from at most ``POD_HISTORY_FRAMES`` recorded snapshots; None when none has it."""
        if index is None:
            with self._lock:
                index = self.index
        end = self.times[index]
        first = nearest_index(self.times, end - HISTORY_SECONDS)
        while first < index and self.times[first] < end - HISTORY_SECONDS:
            first += 1
        indices = list(range(first, index + 1))
        if len(indices) > POD_HISTORY_FRAMES:
            every = (len(indices) - 1) / (POD_HISTORY_FRAMES - 1)
            indices = sorted({indices[round(i * every)] for i in range(POD_HISTORY_FRAMES)})
        return core_pod_history([self.recorded.snapshot(i) for i in indices], pod)

    def snapshot(self) -> Snapshot:
        """The snapshot at the cursor, with its history and the recording note."""
        with self._lock:
            index = self.index
        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        raw = self.recorded.snapshot(index)
        note = recording_note(self.name, raw, index + 1, len(self.times))
        snapshot = dataclasses.replace(
            raw, history=raw.history or self.history(index), notes=(note, *raw.notes)
        )
        self._cache = (index, snapshot)
        return snapshot


class ReplayRefresher:
    """The ``Refresher`` of ``streamdash replay``: the snapshot at the cursor."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    def refresh(self, window_seconds: int) -> Snapshot:
        return self.replay.snapshot()

    pod_history_origin = "recording"
    """Where ``pod_history`` comes from (the pod screen says so)."""

    def pod_history(self, pod: str, window_seconds: int) -> HistoryRaw | None:
        """The pod's series rebuilt from the recorded snapshots up to the cursor."""
        return self.replay.pod_history(pod)

    def describe(self) -> str:
        return f"replay {self.replay.name}"

    def close(self) -> None:
        self.replay.recorded.close()


def run_replay(settings: Settings, path: Path, *, timeline_only: bool = False) -> int:
    """Open the dashboard over the recording, JSON snapshot or directory at ``path``
    (or, ``timeline_only``, print its findings timeline as markdown)."""
    import sys

    from streamdash.record.sources import open_recorded
    from streamdash.record.store import RecordingError

    try:
        recorded = open_recorded(path)
    except RecordingError as exc:
        print(f"streamdash: {exc}", file=sys.stderr)
        return 2
    if timeline_only:
        from streamdash.core.timeline import timeline
        from streamdash.export.timeline_md import render_timeline

        try:
            scope = f"{len(recorded)} recorded snapshots of {path.name}"
            sys.stdout.write(render_timeline(timeline(recorded.frames), scope))
        finally:
            recorded.close()
        return 0
    from streamdash.tui.replay import run_replay_tui

    return run_replay_tui(settings, Replay(recorded, path.name))
