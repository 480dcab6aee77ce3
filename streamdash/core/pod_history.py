"""One pod's history rebuilt from snapshots a session or recording kept (no I/O).

Contract: ``pod_history(snapshots, pod)`` returns a ``HistoryRaw`` with the series the
pod screen charts (``POD_SERIES``), one point per snapshot at its ``taken_at``, oldest
first; a snapshot without the pod, or without that value, is a gap (None), never 0.
A p99 in +Inf is kept as its lower bound (what the table shows as "> x"). None when no
snapshot has the pod at all. ``step_seconds`` is the median gap between snapshots.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from streamdash.core.raw import HistoryRaw, SeriesPoint
from streamdash.core.snapshot import PodRow, Snapshot

POD_SERIES = ("ttft_p99", "stream_p99", "open_fds", "cpu_cores", "in_flight")
"""The series names ``Refresher.pod_history`` returns, in chart order."""


def _values(row: PodRow | None) -> dict[str, float | None]:
    if row is None:
        return dict.fromkeys(POD_SERIES)
    return {
        "ttft_p99": row.ttft_p99,
        "stream_p99": row.stream_p99,
        "open_fds": row.open_fds,
        "cpu_cores": row.cpu_cores,
        "in_flight": row.in_flight,
    }


def _find(snapshot: Snapshot, pod: str) -> PodRow | None:
    return next((r for r in snapshot.pods if r.pod == pod), None)


def pod_history(snapshots: Sequence[Snapshot], pod: str) -> HistoryRaw | None:
    """``pod``'s series over ``snapshots`` (see module contract)."""
    ordered = sorted(snapshots, key=lambda s: s.taken_at)
    rows = [(s.taken_at, _find(s, pod)) for s in ordered]
    if not any(row is not None for _, row in rows):
        return None
    series: dict[str, list[SeriesPoint]] = {name: [] for name in POD_SERIES}
    for at, row in rows:
        for name, value in _values(row).items():
            series[name].append(SeriesPoint(at, value))
    gaps = sorted(b - a for (a, _), (b, _) in itertools.pairwise(rows))
    step = gaps[len(gaps) // 2] if gaps else 0.0
    return HistoryRaw(series={n: tuple(p) for n, p in series.items()}, step_seconds=step)


@dataclass(frozen=True)
class Span:
    """How far back a history reaches: its first and last point with the pod, and how
    many snapshots had it."""

    first: float
    last: float
    points: int

    @property
    def seconds(self) -> float:
        return self.last - self.first


def span(history: HistoryRaw) -> Span | None:
    """The times of the points with any known value (None when there are none)."""
    times = sorted({p.t for points in history.series.values() for p in points if p.v is not None})
    if not times:
        return None
    return Span(times[0], times[-1], len(times))
