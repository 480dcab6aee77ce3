"""Label conventions against a real Prometheus: a namespace labelled the way Prometheus's
example Kubernetes config does (``kubernetes_namespace`` / ``kubernetes_pod_name`` on the
app's series, cAdvisor and kube-state-metrics keeping ``namespace`` / ``pod``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import FleetSpec, fleet_series, main_pods
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
WINDOW = 300
LEGACY = FleetSpec(
    pods=3,
    namespace="legacy",
    app_labels_style="kubernetes_sd",
    fd_near_limit_pods=1,
    seed=31,
)
NORMAL = FleetSpec(pods=2, namespace="llm", hpa=None, seed=32)
TTFT = "vllm:time_to_first_token_seconds"


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    series: list[Any] = []
    types: dict[str, str] = {}
    for spec in (LEGACY, NORMAL):
        s, t = fleet_series(spec, END, duration_s=600, step_s=15)
        series += s
        types.update(t)
    server = start_prometheus(
        tmp_path_factory.mktemp("prom"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


def _settings(url: str, **overrides: Any) -> Settings:
    overrides.setdefault("preset", load_preset("vllm"))
    return Settings(prometheus=PrometheusSettings(url=url, timeout_seconds=5.0), **overrides)


def _check_numbers(prom: PrometheusServer, raw: RawAnswers, settings: Settings) -> None:
    snap = build_snapshot(raw, settings)
    assert {p.pod for p in snap.pods} == set(main_pods(LEGACY))
    (row,) = prom.query(
        f"histogram_quantile(0.99, sum by (le) (rate({TTFT}_bucket"
        f'{{kubernetes_namespace="legacy"}}[{WINDOW}s])))',
        at=END,
    )
    assert snap.latency["ttft"].p99 == pytest.approx(float(row["value"][1]), rel=1e-9)
    cpu = {
        r["metric"]["pod"]: float(r["value"][1])
        for r in prom.query(
            'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="legacy",'
            f'container!="",container!="POD"}}[{WINDOW}s]))',
            at=END,
        )
    }
    assert {p.pod: p.cpu_cores for p in snap.pods} == pytest.approx(cpu, rel=1e-9)
    hot = main_pods(LEGACY)[0]
    fd = [f.subject for f in snap.findings if f.id == "fd-exhaustion"]
    assert fd == [hot]
    assert [a.name for a in snap.autoscalers] == ["llama-serve"]
    assert snap.autoscalers[0].pod_count == 3  # its pods joined through the owner series


def test_kubernetes_sd_labels_are_found_adopted_and_said(prom: PrometheusServer) -> None:
    settings = _settings(prom.url, namespace="legacy")
    source = PrometheusSource(settings)
    try:
        first = source.fetch(WINDOW, with_history=False, now=END)
        later = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    assert first.errors == ()
    note = first.notes[0]
    assert "kubernetes_namespace / kubernetes_pod_name" in note
    assert "namespace_label: kubernetes_namespace and pod_label: kubernetes_pod_name" in note
    # the probe is one query, once: later refreshes cost what they always did
    assert first.query_count == 2 * later.query_count + 1
    assert not any("kubernetes_namespace" in n for n in later.notes)
    for raw in (first, later):
        _check_numbers(prom, raw, settings)


def test_the_config_keys_give_the_same_numbers_without_a_probe(prom: PrometheusServer) -> None:
    settings = _settings(
        prom.url,
        namespace="legacy",
        namespace_label="kubernetes_namespace",
        pod_label="kubernetes_pod_name",
    )
    source = PrometheusSource(settings)
    try:
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    assert raw.errors == () and not any("kubernetes_namespace" in n for n in raw.notes)
    _check_numbers(prom, raw, settings)


def test_a_namespace_nobody_has_lists_the_ones_that_do(prom: PrometheusServer) -> None:
    source = PrometheusSource(_settings(prom.url, namespace="nope"))
    try:
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    (note,) = [n for n in raw.notes if n.startswith("namespace 'nope'")]
    assert "kubernetes_namespace" in note and '"llm"' in note
