"""Chart history kept across refreshes.

Contract: ``append_point`` (the refresher's own history, when the source has none:
direct scrape) returns a new ``HistoryRaw`` with this snapshot's fleet TTFT p99, stream
p99, replicas and CPU-implied replicas added at ``snapshot.taken_at``, and points older
than ``keep_seconds`` dropped. Unknown values are kept as gaps (None). ``splice`` joins a
range answer for the newest steps onto an earlier answer (Prometheus asked only for what
it has not answered yet).
"""

from __future__ import annotations

from streamdash.core.raw import HistoryRaw, SeriesPoint
from streamdash.core.snapshot import Snapshot

SERIES = ("ttft_p99", "stream_p99", "replicas", "cpu_implied_replicas")


def _values(snapshot: Snapshot) -> dict[str, float | None]:
    ttft, stream = snapshot.latency.get("ttft"), snapshot.latency.get("stream")
    scaler = snapshot.autoscaler
    implied = scaler.cpu_implied_replicas if scaler else None
    return {
        "ttft_p99": ttft.p99 if ttft else None,
        "stream_p99": stream.p99 if stream else None,
        "replicas": scaler.current_replicas if scaler else None,
        "cpu_implied_replicas": float(implied) if implied is not None else None,
    }


def chart_values(snapshot: Snapshot) -> dict[str, float | None]:
    """This snapshot's value of each chart series (``SERIES``); None when unknown."""
    return _values(snapshot)


def append_point(
    history: HistoryRaw | None, snapshot: Snapshot, keep_seconds: float, step_seconds: float
) -> HistoryRaw:
    """``history`` plus this snapshot's point (see module contract)."""
    oldest = snapshot.taken_at - keep_seconds
    old = history.series if history is not None else {}
    series = {}
    for name, value in _values(snapshot).items():
        points = [p for p in old.get(name, ()) if p.t >= oldest and p.t < snapshot.taken_at]
        points.append(SeriesPoint(snapshot.taken_at, value))
        series[name] = tuple(points)
    return HistoryRaw(series=series, step_seconds=step_seconds)


def splice(old: HistoryRaw, new: HistoryRaw, new_from: float, oldest: float) -> HistoryRaw:
    """``old``'s points in ``[oldest, new_from)`` followed by ``new``'s (which answered
    ``[new_from, ...]``), for every series either has. A series ``new`` lacks keeps its
    older points (it had no data in the new range: nothing to correct)."""
    series: dict[str, tuple[SeriesPoint, ...]] = {}
    for name in dict.fromkeys([*old.series, *new.series]):
        kept = [p for p in old.series.get(name, ()) if oldest <= p.t < new_from]
        fresh = [p for p in new.series.get(name, ()) if p.t >= max(new_from, oldest)]
        if kept or fresh:
            series[name] = (*kept, *fresh)
    return HistoryRaw(series=series, step_seconds=new.step_seconds)
