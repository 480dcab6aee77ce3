"""Groups (workload x model) against a real Prometheus over generated fleets.

Namespace ``mix``: two Deployments serving two models (``llama``, and ``mistral`` 8x
slower), one of the llama pods a vLLM 0.10 exporting the old inter-token name.
Namespace ``trt``: Triton pods serving an ensemble and its sub-models, no
kube-state-metrics owner series. Every number equals Prometheus's own PromQL for the
group's selector; every finding names the right group and nowhere else.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.snapshot import Snapshot
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from tests.support.fleet import (
    OLD_ITL_METRIC,
    TRITON_METRIC,
    FleetSpec,
    fleet_series,
    iter_triton_series,
    main_pods,
    plan_fleet,
)
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus
from tests.support.promfleet import fetch_once

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
WINDOW = 300
MIX = FleetSpec(
    pods=4,
    namespace="mix",
    other_model="mistral",
    other_model_pods=3,
    other_model_latency_factor=8.0,
    old_vllm_pods=1,
    hpa=None,
    seed=21,
)
TRT_PODS = ("triton-a", "triton-b")


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    series, types = fleet_series(MIX, END, duration_s=600, step_s=15)
    series += list(iter_triton_series("trt", TRT_PODS, END, duration_s=600, step_s=15))
    server = start_prometheus(
        tmp_path_factory.mktemp("groups"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


def _snapshot(prom: PrometheusServer, **overrides: Any) -> Snapshot:
    overrides.setdefault("preset", load_preset("vllm"))
    settings = Settings(
        prometheus=PrometheusSettings(url=prom.url, timeout_seconds=10.0), **overrides
    )
    raw = fetch_once(settings, WINDOW, END)
    assert raw.errors == ()
    return build_snapshot(raw, settings)


def _q(prom: PrometheusServer, expr: str) -> float | None:
    rows = prom.query(expr, at=END)
    if not rows:
        return None
    value = float(rows[0]["value"][1])
    return None if math.isnan(value) else value


def _p99(prom: PrometheusServer, metric: str, sel: str, unit: float = 1.0) -> float | None:
    value = _q(prom, f"histogram_quantile(0.99, sum by (le) (rate({metric}_bucket{{{sel}}}[5m])))")
    return None if value is None else value * unit


def test_two_deployments_two_models_each_equal_prometheus(prom: PrometheusServer) -> None:
    snap = _snapshot(prom, namespace="mix")
    by_name = {g.name: g for g in snap.groups}
    llama = by_name["Deployment/llama-serve model_name=llama"]
    mistral = by_name["Deployment/mistral-serve model_name=mistral"]
    assert len(snap.groups) == 2
    plans = plan_fleet(MIX)
    assert set(llama.pods) == set(main_pods(MIX))
    assert set(mistral.pods) == {p.pod for p in plans if p.model_name == "mistral"}
    for group, sel in (
        (llama, 'namespace="mix",model_name="llama",pod=~"llama-serve-.*"'),
        (mistral, 'namespace="mix",model_name="mistral",pod=~"mistral-serve-.*"'),
    ):
        for kind, metric in (
            ("ttft", "vllm:time_to_first_token_seconds"),
            ("stream", "vllm:request_decode_time_seconds"),
        ):
            assert group.latency[kind].p99 == _p99(prom, metric, sel), (group.name, kind)
        in_flight = _q(prom, f"sum(vllm:num_requests_running{{{sel}}})")
        assert group.in_flight == pytest.approx(in_flight)
        cpu = _q(
            prom,
            "sum(rate(container_cpu_usage_seconds_total"
            f'{{{sel.split(",model_name")[0]},pod=~"{group.workload}-.*",container!="",'
            'container!="POD"}[5m]))',
        )
        assert group.cpu_cores == pytest.approx(cpu)
    # the fleet row is the whole namespace, as Prometheus sums it; the fleet's buckets
    # are the groups' sum (added in another order than Prometheus's: equal to ~1 ulp)
    fleet_sel = 'namespace="mix"'
    own = _p99(prom, "vllm:request_decode_time_seconds", fleet_sel)
    assert snap.latency["stream"].p99 == pytest.approx(own, rel=1e-12)


def test_old_vllm_pod_keeps_its_inter_token_histogram(prom: PrometheusServer) -> None:
    """The 0.10 pod exports only the old name; it is summed in, never dropped or doubled."""
    snap = _snapshot(prom, namespace="mix")
    old_pods = [p.pod for p in plan_fleet(MIX) if p.old_vllm]
    assert len(old_pods) == 1
    sel = 'namespace="mix"'
    chain = (
        f"rate(vllm:inter_token_latency_seconds_bucket{{{sel}}}[5m]) or on (namespace, pod) "
        f"rate({OLD_ITL_METRIC}_bucket{{{sel}}}[5m])"
    )
    expected = _q(prom, f"histogram_quantile(0.99, sum by (le) ({chain}))")
    assert snap.latency["itl"].p99 == expected
    new_only = _p99(prom, "vllm:inter_token_latency_seconds", sel)
    count_all = _q(
        prom,
        f'sum(rate(vllm:inter_token_latency_seconds_bucket{{{sel},le="+Inf"}}[5m])) + '
        f'sum(rate({OLD_ITL_METRIC}_bucket{{{sel},le="+Inf"}}[5m]))',
    )
    assert snap.latency["itl"].rate_per_s == pytest.approx(count_all)
    assert new_only is not None  # both exist, the chain is what we show


def test_latency_blend_names_the_slow_group_and_nothing_else(prom: PrometheusServer) -> None:
    snap = _snapshot(prom, namespace="mix")
    blends = [f for f in snap.findings if f.id == "latency-blend"]
    assert blends and {f.subject for f in blends} == {"Deployment/mistral-serve model_name=mistral"}
    assert {f.evidence["kind"] for f in blends} == {"ttft", "stream", "itl"}
    # one model only: no blend, one group
    only = _snapshot(prom, namespace="mix", model="llama")
    assert [g.name for g in only.groups] == ["Deployment/llama-serve model_name=llama"]
    assert not [f for f in only.findings if f.id == "latency-blend"]
    assert {p.pod for p in only.pods} == set(main_pods(MIX))
    sel = 'namespace="mix",model_name="llama"'
    assert only.latency["ttft"].p99 == _p99(prom, "vllm:time_to_first_token_seconds", sel)


def test_group_by_without_kube_state_metrics_says_so(prom: PrometheusServer) -> None:
    snap = _snapshot(prom, namespace="trt", preset=load_preset("triton"))
    names = {g.name for g in snap.groups}
    assert names == {f"model={m} version=1" for m in ("ens", "preprocess", "tokenize", "llm")}
    assert any("No kube-state-metrics owner series" in n for n in snap.notes)
    assert any("Triton: 4 models summed" in n for n in snap.notes)
    for group in snap.groups:
        sel = f'namespace="trt",model="{group.labels["model"]}"'
        assert group.latency["ttft"].p99 == pytest.approx(
            _p99(prom, TRITON_METRIC, sel, 0.001), rel=1e-12
        )
        assert set(group.pods) == set(TRT_PODS)


def test_triton_ensemble_fleet_is_the_ensemble_not_the_sum(prom: PrometheusServer) -> None:
    summed = _snapshot(prom, namespace="trt", preset=load_preset("triton"))
    ens = _snapshot(prom, namespace="trt", preset=load_preset("triton"), ensembles=("ens",))
    own = _p99(prom, TRITON_METRIC, 'namespace="trt",model="ens"', 0.001)
    everything = _p99(prom, TRITON_METRIC, 'namespace="trt"', 0.001)
    assert ens.latency["ttft"].p99 == pytest.approx(own, rel=1e-12)
    assert summed.latency["ttft"].p99 == pytest.approx(everything, rel=1e-12)
    assert own is not None and everything is not None and own > 3 * everything
    # the blend names the ensemble (the slowest model), warning: the sum hides it
    (blend,) = [f for f in summed.findings if f.id == "latency-blend"]
    assert blend.subject in {"model=ens version=1", "model=llm version=1"}
    assert blend.severity == "warning"
    assert any("sums only the ensemble" in n for n in ens.notes)


def test_groups_in_json_and_markdown(prom: PrometheusServer) -> None:
    from streamdash.export.json import snapshot_dict
    from streamdash.export.markdown import render_markdown

    snap = _snapshot(prom, namespace="mix")
    doc = snapshot_dict(snap)
    assert [g["name"] for g in doc["groups"]] == [g.name for g in snap.groups]
    assert doc["group_by"] == ["workload", "model_name"]
    assert doc["groups"][0]["latency"]["ttft"]["p99"] == snap.groups[0].latency["ttft"].p99
    text = render_markdown(snap)
    assert "### p99 by group" in text
    assert "Deployment/mistral-serve model\\_name=mistral" in text or (
        "Deployment/mistral-serve model_name=mistral" in text
    )
    single = replace(snap, groups=snap.groups[:1])
    assert "### p99 by group" not in render_markdown(single)


def test_cli_model_flag_reaches_the_promql_prometheus_answers(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    """``streamdash snapshot --model mistral``: the numbers are Prometheus's own for
    ``model_name="mistral"`` (8x slower than llama), and only mistral's pods are listed,
    so the flag reached the queries Prometheus answered, not just the display."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    at = datetime.fromtimestamp(END, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = ["snapshot", "--prometheus-url", prom.url, "-n", "mix", "--at", at, "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-m", "streamdash", *args, "--model", "mistral"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    mistral = {p.pod for p in plan_fleet(MIX) if p.model_name == "mistral"}
    assert {row["pod"] for row in doc["pods"]} == mistral
    stream = "vllm:request_decode_time_seconds"
    own = _p99(prom, stream, 'namespace="mix",model_name="mistral"')
    llama = _p99(prom, stream, 'namespace="mix",model_name="llama"')
    assert own is not None and llama is not None and own > 2 * llama
    assert doc["latency"]["stream"]["p99"] == pytest.approx(own, rel=1e-9)
    buckets = doc["queries"]["stream_buckets"]
    assert 'model_name="mistral"' in buckets and "llama" not in buckets
