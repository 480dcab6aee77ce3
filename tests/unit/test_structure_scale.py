"""Structure that keeps streamdash fast at fleet scale, checked without timing anything.

- a refresh costs a constant number of Prometheus requests whatever the pod count
  (counted by a real Prometheus, over a 3-pod and a 60-pod fleet);
- the headless command never imports textual, even while it runs;
- the pure core builds a 5,000-pod Snapshot, and the pods panel renders all its rows.

The timings themselves live in benchmarks/ (see BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.histogram import aggregate
from streamdash.core.raw import HpaRaw, RawAnswers
from streamdash.core.snapshot import PodRow
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import FleetSpec, Series, fleet_series, main_pods
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus

SMALL, BIG = "small", "big"
FLEETS = {SMALL: FleetSpec(pods=3, namespace=SMALL), BIG: FleetSpec(pods=60, namespace=BIG)}
MAX_REQUESTS_PER_REFRESH = 12


def _settings(url: str = "http://127.0.0.1:9", namespace: str | None = SMALL) -> Settings:
    return Settings(
        prometheus=PrometheusSettings(url=url, timeout_seconds=30.0),
        preset=load_preset("vllm"),
        namespace=namespace,
    )


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One real Prometheus holding a 3-pod fleet and a 60-pod fleet in two namespaces."""
    end = float(int(time.time()) - 5)
    series: list[Series] = []
    types: dict[str, str] = {}
    for spec in FLEETS.values():
        s, t = fleet_series(spec, end, duration_s=600, step_s=30)
        series += s
        types |= t
    text = openmetrics_text(series, types)
    server = start_prometheus(tmp_path_factory.mktemp("scale"), openmetrics=text)
    yield server
    server.stop()


# --------------------------------------------------------------------------- queries


@pytest.mark.parametrize("preset", ["vllm", "sglang", "tgi", "triton", "generic"])
def test_query_plan_names_no_pod_and_fits_the_budget(preset: str) -> None:
    """Queries are built from settings alone: never one per pod, never over budget."""
    settings = replace(_settings(), preset=load_preset(preset))
    source = PrometheusSource(settings)
    try:
        queries = source.queries(300, with_history=True)
    finally:
        source.close()
    assert 1 <= len(queries) <= MAX_REQUESTS_PER_REFRESH
    for name, text in queries.items():
        assert not re.search(r"\bpod\s*=~?\s*\"", text), f"{name} selects single pods: {text}"


def test_query_plan_is_the_same_for_every_namespace() -> None:
    plans = []
    for namespace in (SMALL, BIG, None):
        source = PrometheusSource(_settings(namespace=namespace))
        try:
            plans.append(sorted(source.queries(300, with_history=True)))
        finally:
            source.close()
    assert plans[0] == plans[1] == plans[2]


@pytest.mark.integration
def test_prometheus_counts_the_same_requests_for_3_and_60_pods(prom: PrometheusServer) -> None:
    counted: dict[str, float] = {}
    for namespace, spec in FLEETS.items():
        source = PrometheusSource(_settings(prom.url, namespace))
        try:
            before = prom.requests_served()
            raw = source.fetch(300, with_history=True)
            counted[namespace] = prom.requests_served() - before
            expected = len(source.queries(300, with_history=True))
        finally:
            source.close()
        assert raw.errors == ()
        assert set(raw.histograms["ttft"].pods) == set(main_pods(spec))
        assert counted[namespace] == raw.query_count == expected
    assert counted[SMALL] == counted[BIG] <= MAX_REQUESTS_PER_REFRESH


# --------------------------------------------------------------------------- imports


@pytest.mark.integration
def test_headless_snapshot_run_never_imports_textual(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    """The whole run, lazy imports included, against a real Prometheus."""
    args = ["snapshot", "--prometheus-url", prom.url, "-n", BIG, "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "streamdash", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(json.loads(proc.stdout)["pods"]) == FLEETS[BIG].pods
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert "streamdash.sources.prometheus" in imported  # the log is what we think it is
    assert not [m for m in imported if m == "textual" or m.startswith("textual.")]


# --------------------------------------------------------------------------- 5,000 pods

TTFT_LE = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, math.inf)
STREAM_LE = (1.0, 5.0, 10.0, 30.0, 60.0, math.inf)
N_PODS = 5000


def _pod(i: int) -> str:
    return f"llama-serve-{i:05d}"


def _cumulative(bounds: tuple[float, ...], total: float, shift: int) -> dict[float, float]:
    """A per-pod histogram: ``total`` requests/s spread over the buckets, skewed by ``shift``."""
    weights = [1.0 + ((k + shift) % 3) for k in range(len(bounds))]
    scale = total / sum(weights)
    out, acc = {}, 0.0
    for le, w in zip(bounds, weights, strict=True):
        acc += w * scale
        out[le] = acc
    out[math.inf] = total
    return out


def _raw_5000() -> RawAnswers:
    pods = [_pod(i) for i in range(N_PODS)]
    rates = {p: 1.0 + (i % 7) * 0.25 for i, p in enumerate(pods)}
    return RawAnswers(
        taken_at=1_790_000_000.0,
        window_seconds=300,
        source_kind="prometheus",
        source_url="http://127.0.0.1:9090",
        histograms={
            "ttft": aggregate(
                "vllm:time_to_first_token_seconds",
                {p: _cumulative(TTFT_LE, rates[p], i) for i, p in enumerate(pods)},
            ),
            "stream": aggregate(
                "vllm:request_decode_time_seconds",
                {p: _cumulative(STREAM_LE, rates[p], i) for i, p in enumerate(pods)},
            ),
        },
        open_fds={p: 100.0 + i % 900 for i, p in enumerate(pods)},
        max_fds={p: 1024.0 for p in pods},
        cpu_cores={p: 0.2 for p in pods},
        cpu_request_cores={p: 1.0 for p in pods},
        in_flight={p: 3.0 for p in pods},
        hpas=(HpaRaw("llama-serve", current_replicas=N_PODS, desired_replicas=N_PODS),),
    )


def test_core_builds_a_5000_pod_snapshot_whose_fleet_is_the_sum_of_its_pods() -> None:
    raw = _raw_5000()
    snapshot = build_snapshot(raw, _settings())
    assert len(snapshot.pods) == N_PODS
    assert {row.pod for row in snapshot.pods} == {_pod(i) for i in range(N_PODS)}
    expected_rate = sum(p.count_rate or 0.0 for p in raw.histograms["ttft"].pods.values())
    ttft = snapshot.latency["ttft"]
    assert ttft.rate_per_s == pytest.approx(expected_rate)
    assert ttft.p99 is not None and ttft.p99 > 0
    row = next(r for r in snapshot.pods if r.pod == _pod(901))
    assert row.fd_utilization == pytest.approx((100.0 + 901 % 900) / 1024.0)
    assert row.ttft_p99 is not None and row.stream_p99 is not None
    assert snapshot.autoscaler is not None
    assert snapshot.autoscaler.cpu_implied_replicas is not None


# --------------------------------------------------------------------------- TUI


def test_pods_panel_renders_5000_rows() -> None:
    from streamdash.tui.panels.pods import PodsPanel
    from streamdash.tui.panels.rowgrid import RowGrid
    from tests.tui.fixtures import ScriptedRefresher, sample_snapshot
    from tests.tui.helpers import make_app, wait_polls

    rows = tuple(
        PodRow(pod=_pod(i), open_fds=100.0 + i % 900, max_fds=1024.0, cpu_cores=0.2)
        for i in range(N_PODS)
    )
    refresher = ScriptedRefresher(sample_snapshot(pods=rows))
    app = make_app(refresher)

    async def scenario() -> tuple[int, str | None, str]:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_polls(pilot, refresher, 1)
            table = app.dashboard.query_one("#pods-table", RowGrid)
            table.move_cursor(row=N_PODS - 1)
            await pilot.pause()
            last = app.dashboard.query_one(PodsPanel).current_pod()
            shot = app.export_screenshot().replace("&#160;", " ")
            return table.row_count, last, shot

    count, last, shot = asyncio.run(scenario())
    assert count == N_PODS
    assert last is not None
    # the last row scrolls into view and is drawn (the shared name prefix said once)
    assert "…" + last.rsplit("-", 1)[-1] in shot and "llama-serve-…" in shot


def test_generated_fleet_pod_names_are_unique_at_5000() -> None:
    from tests.support.fleet import FleetSpec, main_pods

    names = main_pods(FleetSpec(pods=5000, seed=7))  # seed 7 once produced a duplicate
    assert len(set(names)) == 5000


@pytest.mark.integration
def test_answers_grow_by_a_few_rows_per_pod_never_by_buckets(prom: PrometheusServer) -> None:
    """Prometheus aggregates: a histogram's answer is its buckets x groups (the fleet is
    their sum), two totals and three numbers per pod (p99, top bucket, +Inf) — not
    buckets per pod."""
    rows: dict[str, dict[str, int]] = {}
    for namespace in FLEETS:
        source = PrometheusSource(_settings(namespace=namespace, url=prom.url))
        try:
            for name, text in source.queries(300, with_history=False).items():
                rows.setdefault(name, {})[namespace] = len(prom.query(text))
        finally:
            source.close()
    buckets = 23  # vLLM TTFT: 22 finite + +Inf
    for namespace, spec in FLEETS.items():
        groups = 1  # one Deployment serving one model
        assert rows["ttft_buckets"][namespace] == buckets * groups + 2 + 3 * spec.pods
    growth = rows["ttft_buckets"][BIG] - rows["ttft_buckets"][SMALL]
    assert growth == 3 * (FLEETS[BIG].pods - FLEETS[SMALL].pods)
    assert rows["itl_buckets"][BIG] == rows["itl_buckets"][SMALL]  # fleet-only: no pod rows
