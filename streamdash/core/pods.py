"""Per-pod rows: the fleet's pods joined across every raw answer, worst first."""

from __future__ import annotations

from collections.abc import Mapping

from streamdash.core.histogram import pod_p99
from streamdash.core.raw import RawAnswers
from streamdash.core.snapshot import PodRow
from streamdash.settings import Preset

Connections = Mapping[str, tuple[float | None, float | None]]
"""pod -> (open connections, connection limit) from the load balancer."""


def fleet_pods(raw: RawAnswers) -> list[str]:
    """Pods that export the server's own metrics (histograms, in-flight, FDs).

    cAdvisor and kube-state-metrics answers never add a pod: they are joined onto
    these, so a pod outside the selector cannot appear.
    """
    names: set[str] = set()
    for hist in raw.histograms.values():
        names.update(hist.pods)
    names.update(raw.in_flight)
    names.update(raw.open_fds)
    names.update(raw.max_fds)
    names.update(raw.fds)
    return sorted(names)


def _fd_utilization(open_fds: float | None, max_fds: float | None) -> float | None:
    if open_fds is None or max_fds is None or max_fds <= 0:
        return None
    return open_fds / max_fds


def _p99(raw: RawAnswers, kind: str, pod: str, preset: Preset) -> tuple[float | None, bool]:
    hist = raw.histograms.get(kind)
    if hist is None:
        return None, False
    return pod_p99(hist.pods.get(pod), preset.histogram(kind).unit_seconds)


def _stream_rate(raw: RawAnswers, pod: str) -> float | None:
    hist = raw.histograms.get("stream")
    stats = hist.pods.get(pod) if hist is not None else None
    return stats.count_rate if stats is not None else None


def _pressure(row: PodRow) -> float:
    """The pod's tightest budget: FD utilization or LB session use, whichever is higher."""
    shares = [row.fd_utilization or 0.0]
    if row.open_connections is not None and row.connection_limit:
        shares.append(row.open_connections / row.connection_limit)
    return max(shares)


def worst_first_key(row: PodRow) -> tuple[float, float, float, str]:
    """Sort key: tightest budget, then TTFT p99, then stream p99 (descending), then name."""
    return (-_pressure(row), -(row.ttft_p99 or 0.0), -(row.stream_p99 or 0.0), row.pod)


def pod_rows(raw: RawAnswers, preset: Preset, connections: Connections) -> tuple[PodRow, ...]:
    """One row per fleet pod, worst first; None wherever a source had no value."""
    rows = []
    for pod in fleet_pods(raw):
        ttft, ttft_over = _p99(raw, "ttft", pod, preset)
        stream, stream_over = _p99(raw, "stream", pod, preset)
        conn, limit = connections.get(pod, (None, None))
        open_fds, max_fds = raw.open_fds.get(pod), raw.max_fds.get(pod)
        fd = raw.fds.get(pod)
        rows.append(
            PodRow(
                pod=pod,
                open_connections=conn,
                connection_limit=limit,
                open_fds=open_fds,
                max_fds=max_fds,
                fd_utilization=_fd_utilization(open_fds, max_fds),
                fd_source=fd.kind if fd else None,
                fd_origin=fd.origin if fd else None,
                sockets=fd.sockets if fd else None,
                cpu_cores=raw.cpu_cores.get(pod),
                cpu_request_cores=raw.cpu_request_cores.get(pod),
                in_flight=raw.in_flight.get(pod),
                ttft_p99=ttft,
                ttft_p99_overflowed=ttft_over,
                stream_p99=stream,
                stream_p99_overflowed=stream_over,
                stream_rate_per_s=_stream_rate(raw, pod),
            )
        )
    return tuple(sorted(rows, key=worst_first_key))
