"""The real `streamdash snapshot` / `check` commands against a real Prometheus.

Every number in the JSON must equal what Prometheus itself answers for the same
PromQL at the same instant (``taken_at_unix``).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamdash.sources import promql
from tests.support.fleet import (
    ITL_METRIC,
    STREAM_METRIC,
    TTFT_METRIC,
    FleetSpec,
    HpaSpec,
    main_pods,
    write_fleet_openmetrics,
)
from tests.support.prom import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration

NS = "llm"
# The seed's night: stream buckets end at 5 s while streams last ~15 s; one pod near its
# FD limit; a slow quiet pod; an HPA on concurrency running 8 pods where CPU needs 1.
INCIDENT = FleetSpec(
    pods=4,
    namespace=NS,
    slow_pods=1,
    fd_near_limit_pods=1,
    stream_buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    cpu_cores_per_pod=0.1,
    hpa=HpaSpec(
        current_replicas=8,
        desired_replicas=8,
        target_metric="vllm:num_requests_running",
        target_type="average",
        target_value=4,
    ),
    other_namespace="llm-staging",
    seed=21,
)
HEALTHY = FleetSpec(pods=3, namespace="calm", deployment="calm-serve", hpa=None, seed=5)


def _write_all(path: Path, end: float) -> None:
    parts = []
    for i, spec in enumerate((INCIDENT, HEALTHY)):
        part = path.with_suffix(f".{i}")
        write_fleet_openmetrics(spec, part, end=end, duration_s=900, step_s=15)
        parts.append(part.read_text().removesuffix("# EOF\n"))
    path.write_text("".join(parts) + "# EOF\n")


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("e2e")
    data = work / "fleet.om"
    # Data ends just before now, so the commands (which ask at "now") see it.
    _write_all(data, end=float(int(time.time()) - 5))
    server = start_prometheus(work, openmetrics=data.read_text())
    yield server
    server.stop()


def streamdash(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "streamdash", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def snap(prom: PrometheusServer) -> dict[str, Any]:
    proc = streamdash(
        "snapshot", "--prometheus-url", prom.url, "--preset", "vllm", "-n", NS, "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _scalar(prom: PrometheusServer, promql: str, at: float) -> float | None:
    rows = prom.query(promql, at=at)
    if not rows:
        return None
    value = float(rows[0]["value"][1])
    return None if math.isnan(value) else value


def _by_pod(prom: PrometheusServer, promql: str, at: float) -> dict[str, float]:
    return {r["metric"]["pod"]: float(r["value"][1]) for r in prom.query(promql, at=at)}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("kind", "metric"),
    [("ttft", TTFT_METRIC), ("stream", STREAM_METRIC), ("itl", ITL_METRIC)],  # itl: fleet-only
)
def test_fleet_percentiles_equal_prometheus(
    prom: PrometheusServer, snap: dict[str, Any], kind: str, metric: str
) -> None:
    at = snap["taken_at_unix"]
    rate = f'rate({{__name__="{metric}_bucket",namespace="{NS}"}}[300s])'
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        theirs = _scalar(prom, f"histogram_quantile({q}, sum by (le) ({rate}))", at)
        assert _close(snap["latency"][kind][name], theirs), (kind, name)
    total = _scalar(prom, f"sum({rate.replace('_bucket', '_count')})", at)
    assert _close(snap["latency"][kind]["rate_per_s"], total)


def test_stream_overflow_is_reported_as_lower_bounds(
    prom: PrometheusServer, snap: dict[str, Any]
) -> None:
    stream = snap["latency"]["stream"]
    assert stream["top_finite_bucket"] == 5.0
    assert stream["overflowed"] == ["p50", "p90", "p99"]
    assert stream["p99"] == 5.0  # what histogram_quantile says: the top bound, a lower bound
    at = snap["taken_at_unix"]

    def bucket(le: str) -> float | None:
        sel = f'__name__="{STREAM_METRIC}_bucket",namespace="{NS}",le="{le}"'
        return _scalar(prom, f"sum(rate({{{sel}}}[300s]))", at)

    le5, inf = bucket("5.0"), bucket("+Inf")
    assert le5 is not None and inf
    assert _close(stream["overflow_fraction"], (inf - le5) / inf)
    assert stream["advice"] is not None and max(stream["advice"]["buckets"]) > 15.0
    assert snap["latency"]["ttft"]["overflowed"] == []


def test_per_pod_numbers_equal_prometheus(prom: PrometheusServer, snap: dict[str, Any]) -> None:
    at = snap["taken_at_unix"]
    pods = {p["pod"]: p for p in snap["pods"]}
    assert set(pods) == set(main_pods(INCIDENT))  # llm-staging never leaks in
    sel = f'namespace="{NS}"'
    ttft = f'rate({{__name__="{TTFT_METRIC}_bucket",{sel}}}[300s])'
    p99 = _by_pod(prom, f"histogram_quantile(0.99, sum by (pod, le) ({ttft}))", at)
    fds = _by_pod(prom, f"process_open_fds{{{sel}}} / process_max_fds{{{sel}}}", at)
    containers = f'{sel},container!="",container!="POD"'
    cpu_rate = f"rate(container_cpu_usage_seconds_total{{{containers}}}[300s])"
    cpu = _by_pod(prom, f"sum by (pod) ({cpu_rate})", at)
    for name, row in pods.items():
        assert _close(row["ttft_p99"], p99[name]), name
        assert _close(row["fd_utilization"], fds[name]), name
        assert _close(row["cpu_cores"], cpu[name]), name


def test_cadvisor_pod_cgroup_and_pause_series_are_not_double_counted(
    prom: PrometheusServer, snap: dict[str, Any]
) -> None:
    at = snap["taken_at_unix"]
    naive = _scalar(
        prom, f'sum(rate(container_cpu_usage_seconds_total{{namespace="{NS}"}}[300s]))', at
    )
    ours = snap["autoscaler"]["cpu_cores"]
    assert naive is not None and ours is not None
    assert naive > ours * 1.5  # summing every series would roughly double it


def test_fleet_quantile_is_from_summed_buckets_not_averaged_pods(snap: dict[str, Any]) -> None:
    pod_p99 = [p["ttft_p99"] for p in snap["pods"] if p["ttft_p99"] is not None]
    averaged = sum(pod_p99) / len(pod_p99)
    assert not _close(snap["latency"]["ttft"]["p99"], averaged)


def test_findings_fire_on_the_right_subjects(snap: dict[str, Any]) -> None:
    by_id: dict[str, list[str]] = {}
    for f in snap["findings"]:
        by_id.setdefault(f["id"], []).append(f["subject"])
    assert by_id["histogram-overflow"] == ["stream"]
    near_limit = [p["pod"] for p in snap["pods"] if p["max_fds"] == 1024]
    assert sorted(by_id["fd-exhaustion"]) == sorted(near_limit) and len(near_limit) == 1
    assert by_id["autoscaler-cpu-divergence"] == ["llama-serve"]
    a = snap["autoscaler"]
    assert a["current_replicas"] == 8 and a["cpu_implied_replicas"] == 1
    assert a["divergence_ratio"] == 8.0


def test_markdown_snapshot_reads_well(prom: PrometheusServer) -> None:
    proc = streamdash("snapshot", "--prometheus-url", prom.url, "-n", NS)
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("# streamdash snapshot")
    assert "> 5 s" in md and "| p99 |" in md
    assert "CRITICAL `histogram-overflow`" in md


def test_check_exit_codes(prom: PrometheusServer, tmp_path: Path) -> None:
    critical = streamdash("check", "--prometheus-url", prom.url, "-n", NS)
    assert critical.returncode == 1, critical.stdout + critical.stderr
    assert "histogram-overflow" in critical.stdout
    first = critical.stdout.splitlines()[0]
    assert " critical" in first.split(" · ")[0] and "stream buckets hide" in first, first
    calm = streamdash("check", "--prometheus-url", prom.url, "-n", "calm")
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert calm.stdout.splitlines()[0] == "all clear"
    assert "ok: no findings" in calm.stdout
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = streamdash("check", "--prometheus-url", dead, "-n", NS)
    assert down.returncode == 2
    assert "unreachable" in down.stderr and "Traceback" not in down.stderr
    assert down.stdout.startswith(f"could not read prometheus {dead}: "), down.stdout


def test_snapshot_of_a_dead_prometheus_exits_0_with_errors_and_nulls(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    proc = streamdash("snapshot", "--prometheus-url", dead, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["errors"] and all(e["source"] == "prometheus" for e in doc["errors"])
    assert doc["latency"]["ttft"]["p99"] is None and doc["pods"] == []
    assert doc["autoscaler"] is None
    assert doc["verdict"]["state"] == "unreachable"
    assert doc["verdict"]["line"].startswith(f"could not read prometheus {dead}: ")
    md = streamdash("snapshot", "--prometheus-url", dead).stdout.splitlines()
    assert md[2].startswith(f"**could not read prometheus {dead}: "), md[:4]
    assert not any("nothing here looks wrong" in line for line in md)


def test_snapshot_output_file_is_written_once(prom: PrometheusServer, tmp_path: Path) -> None:
    out = tmp_path / "snap.md"
    first = streamdash("snapshot", "--prometheus-url", prom.url, "-n", NS, "--output", str(out))
    assert first.returncode == 0 and out.read_text().startswith("# streamdash snapshot")
    again = streamdash("snapshot", "--prometheus-url", prom.url, "-n", NS, "--output", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_fleet_only_histograms_are_not_asked_per_pod(snap: dict[str, Any]) -> None:
    queries = snap["queries"]
    for part in ("itl_buckets", "e2e_buckets"):
        assert "sum by (le" in queries[part] and "histogram_quantile" not in queries[part]
        for piece in promql.Piece.POD_P99, promql.Piece.POD_TOP, promql.Piece.POD_COUNT:
            assert f'"{piece}"' not in queries[part]  # nothing per pod comes back
    for part in ("ttft_buckets", "stream_buckets"):  # the server computes per-pod p99
        assert "histogram_quantile(0.99, sum by (pod, le) (" in queries[part]
        assert "max by (pod) (sum by (pod, le) (" in queries[part]
        stripped = queries[part].replace("histogram_quantile(0.99, sum by (pod, le) (", "")
        stripped = stripped.replace("max by (pod) (sum by (pod, le) (", "")
        assert "sum by (pod, le)" not in stripped  # never every pod's buckets
