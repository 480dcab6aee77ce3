"""kube-state-metrics shapes against a real Prometheus: owners, several HPAs per namespace.

The fleet: two Deployments in one namespace (``llama-serve``, ``mistral-serve``), an HPA
scaling llama-serve on CPU *and* a custom metric, a KEDA-made HPA scaling mistral-serve
on a custom metric only. Every number is compared with Prometheus's own PromQL for the
right selector (the target's pods only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers, WorkloadRef
from streamdash.export.json import render_json
from streamdash.export.markdown import render_markdown
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources import kube
from streamdash.sources.prometheus import PrometheusSource
from streamdash.sources.promql import eq
from tests.support.fleet import FleetSpec, HpaSpec, deployment_of, fleet_series, plan_fleet
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
WINDOW = 300
NS = "svc"
CUSTOM = ("vllm:num_requests_running", "average", 8.0)
TWO = FleetSpec(
    pods=4,
    namespace=NS,
    deployment="llama-serve",
    other_model="mistral",
    other_model_pods=2,
    hpa=HpaSpec(name="llama-serve", current_replicas=12, more_targets=(CUSTOM,)),
    more_hpas=(
        HpaSpec(
            name="keda-hpa-mistral",
            scale_target="mistral-serve",
            target_metric="s0-prometheus",
            target_type="average",
            target_value=4.0,
        ),
    ),
    other_namespace="svc-staging",
    seed=21,
)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    series, types = fleet_series(TWO, END, duration_s=600, step_s=15)
    server = start_prometheus(
        tmp_path_factory.mktemp("prom"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


def _settings(url: str, **overrides: Any) -> Settings:
    overrides.setdefault("preset", load_preset("vllm"))
    overrides.setdefault("namespace", NS)
    return Settings(prometheus=PrometheusSettings(url=url, timeout_seconds=5.0), **overrides)


@pytest.fixture
def fetch(prom: PrometheusServer) -> Iterator[Callable[..., RawAnswers]]:
    sources: list[PrometheusSource] = []

    def run(**overrides: Any) -> RawAnswers:
        source = PrometheusSource(_settings(prom.url, **overrides))
        sources.append(source)
        return source.fetch(WINDOW, with_history=False, now=END)

    yield run
    for source in sources:
        source.close()


def _value(prom: PrometheusServer, query: str) -> float:
    (row,) = prom.query(query, at=END)
    return float(row["value"][1])


def _expected_workloads(namespace: str) -> dict[str, WorkloadRef]:
    return {
        p.pod: WorkloadRef("Deployment", deployment_of(p.pod))
        for p in plan_fleet(TWO)
        if p.namespace == namespace
    }


def test_join_on_the_server_equals_the_local_reader(prom: PrometheusServer) -> None:
    cluster = (eq("namespace", NS),)
    rows = prom.query(kube.workload_join(cluster), at=END)
    served = kube.read_join([r["metric"] for r in rows])
    series, _ = fleet_series(TWO, END, duration_s=600, step_s=15)
    samples = [(name, labels, points[-1][1]) for name, labels, points in series]
    local = kube.read_owners(
        [s for s in samples if s[1].get("namespace") == NS], lambda labels: labels.get("pod")
    )
    assert served == local == _expected_workloads(NS)
    assert {w.name for w in served.values()} == {"llama-serve", "mistral-serve"}  # old RS: none


def test_by_workload_sums_equal_a_per_deployment_selector(prom: PrometheusServer) -> None:
    cluster = (eq("namespace", NS),)
    rate = f'rate(vllm:time_to_first_token_seconds_count{{namespace="{NS}"}}[{WINDOW}s])'
    rows = prom.query(f"sum by (workload) ({kube.by_workload(rate, cluster)})", at=END)
    got = {r["metric"]["workload"]: float(r["value"][1]) for r in rows}
    for deployment in ("llama-serve", "mistral-serve"):
        own = _value(
            prom,
            f"sum(rate(vllm:time_to_first_token_seconds_count"
            f'{{namespace="{NS}",pod=~"{deployment}-.+"}}[{WINDOW}s]))',
        )
        assert got[deployment] == pytest.approx(own, rel=1e-12)
    assert set(got) == {"llama-serve", "mistral-serve"}


def test_every_hpa_is_compared_with_its_own_target_pods(
    prom: PrometheusServer, fetch: Callable[..., RawAnswers]
) -> None:
    raw = fetch()
    assert raw.errors == ()
    assert raw.pod_workloads == _expected_workloads(NS)
    snap = build_snapshot(raw, _settings(prom.url))
    assert snap.autoscaler is None  # two HPAs, none picked
    views = {a.name: a for a in snap.autoscalers}
    assert set(views) == {"llama-serve", "keda-hpa-mistral"}
    not_pod = 'container!="",container!="POD"'
    for name, deployment in (("llama-serve", "llama-serve"), ("keda-hpa-mistral", "mistral-serve")):
        view = views[name]
        pods = f'namespace="{NS}",pod=~"{deployment}-.+"'
        cpu = _value(
            prom, f"sum(rate(container_cpu_usage_seconds_total{{{pods},{not_pod}}}[{WINDOW}s]))"
        )
        request = _value(
            prom,
            "avg(sum by (pod) (kube_pod_container_resource_requests"
            f'{{{pods},resource="cpu",unit="core"}}))',
        )
        assert view.cpu_cores == pytest.approx(cpu, rel=1e-9)
        assert view.cpu_request_cores == pytest.approx(request, rel=1e-9)
        assert (view.scale_target_kind, view.scale_target_name) == ("Deployment", deployment)
        assert view.pods_basis == "scale_target"
        assert view.pod_count == (4 if deployment == "llama-serve" else 2)
    llama, mistral = views["llama-serve"], views["keda-hpa-mistral"]
    assert [(t.metric, t.target_type, t.value) for t in llama.targets] == [
        ("cpu", "utilization", 70.0),
        CUSTOM,
    ]
    assert llama.scales_on_cpu and llama.cpu_target_source == "hpa"
    assert not mistral.scales_on_cpu and mistral.cpu_target_source == "config"
    assert mistral.keda_scaled_object == "mistral" and llama.keda_scaled_object is None
    # llama runs 12 replicas for what CPU says 3 would do; mistral runs what it needs
    assert llama.current_replicas == 12 and llama.cpu_implied_replicas == 3
    assert mistral.current_replicas == 2 and mistral.cpu_implied_replicas == 2
    divergence = [f for f in snap.findings if f.id == "autoscaler-cpu-divergence"]
    assert [f.subject for f in divergence] == ["llama-serve"]
    assert "cpu (utilization 70) and vllm:num_requests_running (average 8)" in (
        divergence[0].summary
    )
    text = render_markdown(snap)
    assert "HPA llama-serve scales Deployment/llama-serve on cpu (utilization 70)" in text
    assert "KEDA ScaledObject mistral" in text and "(not on CPU)" in text
    exported = json.loads(render_json(snap))
    assert exported["autoscaler"] is None
    assert [a["name"] for a in exported["autoscalers"]] == ["keda-hpa-mistral", "llama-serve"]


def test_history_cpu_implied_replicas_use_the_picked_hpa_target(
    prom: PrometheusServer,
) -> None:
    for hpa, pods, expected in (("llama-serve", 4, 3), ("keda-hpa-mistral", 2, 2)):
        settings = _settings(prom.url, hpa=hpa)
        source = PrometheusSource(settings)
        try:
            raw = source.fetch(WINDOW, now=END)
        finally:
            source.close()
        assert raw.errors == ()
        view = build_snapshot(raw, settings).autoscaler
        assert view is not None and view.pod_count == pods
        assert raw.history is not None
        last = raw.history.series["cpu_implied_replicas"][-1].v
        assert last == view.cpu_implied_replicas == expected


def test_hpa_flag_picks_one(prom: PrometheusServer, fetch: Callable[..., RawAnswers]) -> None:
    settings = _settings(prom.url, hpa="keda-hpa-mistral")
    snap = build_snapshot(fetch(hpa="keda-hpa-mistral"), settings)
    assert [a.name for a in snap.autoscalers] == ["keda-hpa-mistral"]
    assert snap.autoscaler is not None and snap.autoscaler.name == "keda-hpa-mistral"
    assert not [f for f in snap.findings if f.id == "autoscaler-cpu-divergence"]
