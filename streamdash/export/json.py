"""Snapshot -> JSON, schema ``streamdash.snapshot/v1`` (see README "Snapshot JSON").

Contract: keys listed in the schema are always present; unknown is ``null``, never 0;
non-finite floats become ``null`` (JSON has no NaN); label values are plain strings.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from streamdash.core.raw import LbBackendRaw, LbFrontendRaw, LbTimeoutRaw
from streamdash.core.snapshot import (
    AutoscalerView,
    Capacity,
    Finding,
    GroupView,
    HistogramSummary,
    PodRow,
    Snapshot,
)
from streamdash.core.verdict import Verdict, verdict


def _num(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _plain(value: object) -> Any:
    """Evidence values as JSON-safe data."""
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def iso(ts: float) -> str:
    """Unix seconds as ``2026-11-23T22:15:00Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latency(h: HistogramSummary) -> dict[str, Any]:
    return {
        "metric": h.metric,
        "available": h.available,
        "note": h.note,
        "p50": _num(h.p50),
        "p90": _num(h.p90),
        "p99": _num(h.p99),
        "rate_per_s": _num(h.rate_per_s),
        "mean_seconds": _num(h.mean_seconds),
        "top_finite_bucket": _num(h.top_finite_bucket),
        "overflow_fraction": _num(h.overflow_fraction),
        "overflowed": list(h.overflowed),
        "bucket_bounds": [_num(b) for b in h.bucket_bounds],
        "advice": None
        if h.advice is None
        else {"buckets": list(h.advice.buckets), "basis": h.advice.basis},
        "promql": h.promql,
        "per_request_mean": h.per_request_mean,
    }


def _pod(p: PodRow) -> dict[str, Any]:
    return {
        "pod": p.pod,
        "open_connections": _num(p.open_connections),
        "connection_limit": _num(p.connection_limit),
        "open_fds": _num(p.open_fds),
        "max_fds": _num(p.max_fds),
        "fd_utilization": _num(p.fd_utilization),
        "cpu_cores": _num(p.cpu_cores),
        "cpu_request_cores": _num(p.cpu_request_cores),
        "fd_source": p.fd_source,
        "fd_origin": p.fd_origin,
        "sockets": _num(p.sockets),
        "in_flight": _num(p.in_flight),
        "ttft_p99": _num(p.ttft_p99),
        "ttft_p99_overflowed": p.ttft_p99_overflowed,
        "stream_p99": _num(p.stream_p99),
        "stream_p99_overflowed": p.stream_p99_overflowed,
        "stream_rate_per_s": _num(p.stream_rate_per_s),
    }


def _autoscaler(a: AutoscalerView | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "name": a.name,
        "current_replicas": _num(a.current_replicas),
        "desired_replicas": _num(a.desired_replicas),
        "min_replicas": _num(a.min_replicas),
        "max_replicas": _num(a.max_replicas),
        "target_metric": a.target_metric,
        "target_type": a.target_type,
        "target_value": _num(a.target_value),
        "cpu_cores": _num(a.cpu_cores),
        "cpu_request_cores": _num(a.cpu_request_cores),
        "cpu_target_utilization": _num(a.cpu_target_utilization),
        "cpu_target_source": a.cpu_target_source,
        "cpu_implied_replicas": a.cpu_implied_replicas,
        "divergence_ratio": _num(a.divergence_ratio),
        "namespace": a.namespace,
        "scale_target_kind": a.scale_target_kind,
        "scale_target_name": a.scale_target_name,
        "targets": [
            {"metric": t.metric, "target_type": t.target_type, "value": _num(t.value)}
            for t in a.targets
        ],
        "scales_on_cpu": a.scales_on_cpu,
        "keda_scaled_object": a.keda_scaled_object,
        "pod_count": a.pod_count,
        "pods_basis": a.pods_basis,
    }


def _backend(b: LbBackendRaw) -> dict[str, Any]:
    out: dict[str, Any] = {"lb": b.lb, "kind": b.kind, "proxy": b.proxy, "server": b.server}
    out["address"] = b.address
    for key in (
        "current",
        "maximum",
        "limit",
        "total",
        "client_aborts",
        "server_aborts",
        "timeouts",
        "retries",
        "resets",
        "client_aborts_rate",
        "server_aborts_rate",
        "timeouts_rate",
        "retries_rate",
        "resets_rate",
    ):
        out[key] = _num(getattr(b, key))
    out["status"] = b.status
    return out


def _frontend(f: LbFrontendRaw) -> dict[str, Any]:
    out: dict[str, Any] = {"lb": f.lb, "kind": f.kind}
    for key in ("active", "reading", "writing", "waiting", "accepted", "handled", "requests"):
        out[key] = _num(getattr(f, key))
    return out


def _timeout(t: LbTimeoutRaw) -> dict[str, Any]:
    return {
        "lb": t.lb,
        "kind": t.kind,
        "name": t.name,
        "seconds": _num(t.seconds),
        "scope": t.scope,
    }


def _capacity(c: Capacity) -> dict[str, Any]:
    return {
        "arrival_rate_per_s": _num(c.arrival_rate_per_s),
        "mean_stream_seconds": _num(c.mean_stream_seconds),
        "per_pod_streams_ceiling": _num(c.per_pod_streams_ceiling),
        "sustainable_rate_per_s": _num(c.sustainable_rate_per_s),
        "basis": c.basis,
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "severity": f.severity,
        "subject": f.subject,
        "summary": f.summary,
        "evidence": _plain(dict(f.evidence)),
        "advice": f.advice,
        "promql": list(f.promql),
    }


def verdict_dict(v: Verdict) -> dict[str, Any]:
    """The verdict (``core.verdict``) as JSON: ``line`` is what every view shows first."""
    return {
        "state": v.state,
        "line": v.line,
        "counts": dict(v.counts),
        "worst": list(v.worst),
        "failing_source": v.failing_source,
        "reason": v.reason,
        "problems": list(v.problems),
        "no_data": v.no_data,
        "cautions": list(v.cautions),
        "carried": v.carried,
        "pending": list(v.pending),
    }


def _group(g: GroupView) -> dict[str, Any]:
    return {
        "name": g.name,
        "workload_kind": g.workload_kind,
        "workload": g.workload,
        "labels": dict(g.labels),
        "pods": list(g.pods),
        "latency": {k: _latency(v) for k, v in g.latency.items()},
        "fd_worst_pod": g.fd_worst_pod,
        "fd_worst_utilization": _num(g.fd_worst_utilization),
        "in_flight": _num(g.in_flight),
        "cpu_cores": _num(g.cpu_cores),
    }


def snapshot_dict(s: Snapshot) -> dict[str, Any]:
    """The Snapshot as plain JSON-ready data (schema v1)."""
    return {
        "schema": s.schema,
        "taken_at": iso(s.taken_at),
        "taken_at_unix": s.taken_at,
        "source": {"kind": s.source.kind, "url": s.source.url},
        "verdict": verdict_dict(verdict(s)),
        "window_seconds": s.window_seconds,
        "preset": s.preset,
        "namespace": s.namespace,
        "latency": {k: _latency(v) for k, v in s.latency.items()},
        "pods": [_pod(p) for p in s.pods],
        "groups": [_group(g) for g in s.groups],
        "group_by": list(s.group_by),
        "autoscaler": _autoscaler(s.autoscaler),
        "autoscalers": [_autoscaler(a) for a in s.autoscalers],
        "load_balancer": {
            "sources": list(s.load_balancer.sources),
            "backends": [_backend(b) for b in s.load_balancer.backends],
            "frontends": [_frontend(f) for f in s.load_balancer.frontends],
            "timeouts": [_timeout(t) for t in s.load_balancer.timeouts],
        },
        "capacity": _capacity(s.capacity),
        "findings": [_finding(f) for f in s.findings],
        "alerts": [
            {
                "name": a.name,
                "severity": a.severity,
                "summary": a.summary,
                "starts_at": a.starts_at,
                "labels": dict(a.labels),
                "source": a.source,
            }
            for a in s.alerts
        ],
        "errors": [{"source": e.source, "part": e.part, "message": e.message} for e in s.errors],
        "stale": [
            {
                "part": p.part,
                "panel": p.panel,
                "reason": p.reason,
                "last_good_at": None if p.last_good_at is None else iso(p.last_good_at),
            }
            for p in s.stale
        ],
        "queries": dict(s.queries),
        "query_count": s.query_count,
        "notes": list(s.notes),
        "cautions": list(s.cautions),
    }


def render_json(s: Snapshot) -> str:
    """The Snapshot as indented JSON text (strict: no NaN/Infinity), ending in a newline."""
    return json.dumps(snapshot_dict(s), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
