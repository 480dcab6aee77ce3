"""The reference: what a user without streamdash runs to get the same answers.

One ``promtool query instant`` per question, one after another, as a script or a
person at a shell would. The list covers what the snapshot's latency, pods and
autoscaler sections show for TTFT and stream; the snapshot answers more than this
(inter-token and end-to-end histograms, overflow fractions, findings), so the
comparison favours the reference.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from tests.support.fleet import (
    CPU_METRIC,
    CPU_REQUEST_METRIC,
    HPA_PREFIX,
    IN_FLIGHT_METRIC,
    STREAM_METRIC,
    TTFT_METRIC,
)
from tests.support.prom import PROMTOOL

QUERY_TIMEOUT_S = 120


def reference_queries(namespace: str, window: str = "5m") -> list[tuple[str, str]]:
    """(question, PromQL) pairs, one request each."""
    ns = f'namespace="{namespace}"'
    out: list[tuple[str, str]] = []
    for kind, metric in (("ttft", TTFT_METRIC), ("stream", STREAM_METRIC)):
        buckets = f"rate({metric}_bucket{{{ns}}}[{window}])"
        for q in ("0.5", "0.9", "0.99"):
            fleet_q = f"histogram_quantile({q}, sum by (le) ({buckets}))"
            out.append((f"fleet {kind} p{q[2:].ljust(2, '0')}", fleet_q))
        out.append((f"{kind} requests/s", f"sum(rate({metric}_count{{{ns}}}[{window}]))"))
        out.append(
            (f"per-pod {kind} p99", f"histogram_quantile(0.99, sum by (pod, le) ({buckets}))")
        )
    out += [
        (
            "FD utilization per pod",
            f"max by (pod) (process_open_fds{{{ns}}}) / max by (pod) (process_max_fds{{{ns}}})",
        ),
        (
            "CPU cores per pod",
            f'sum by (pod) (rate({CPU_METRIC}{{{ns},container!="",container!="POD"}}[{window}]))',
        ),
        (
            "CPU request per pod",
            f'sum by (pod) ({CPU_REQUEST_METRIC}{{{ns},resource="cpu",unit="core"}})',
        ),
        ("in-flight per pod", f"sum by (pod) ({IN_FLIGHT_METRIC}{{{ns}}})"),
        ("HPA current replicas", f"{HPA_PREFIX}status_current_replicas{{{ns}}}"),
        ("HPA desired replicas", f"{HPA_PREFIX}status_desired_replicas{{{ns}}}"),
        ("HPA CPU target", f'{HPA_PREFIX}spec_target_metric{{{ns},metric_name="cpu"}}'),
    ]
    return out


@dataclass(frozen=True)
class ReferenceRun:
    """One pass over every reference query."""

    seconds: float
    rows: dict[str, int]
    """Question -> result rows promtool printed (0 means the question went unanswered)."""


def run_reference(url: str, queries: list[tuple[str, str]]) -> ReferenceRun:
    """Run every query with ``promtool query instant``, sequentially; raise on a failure."""
    rows: dict[str, int] = {}
    t0 = time.monotonic()
    for name, expr in queries:
        proc = subprocess.run(
            [str(PROMTOOL), "query", "instant", url, expr],
            capture_output=True,
            text=True,
            timeout=QUERY_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"promtool query {name!r} failed: {proc.stderr.strip()[:300]}")
        rows[name] = sum(1 for line in proc.stdout.splitlines() if "=>" in line)
    return ReferenceRun(seconds=time.monotonic() - t0, rows=rows)
