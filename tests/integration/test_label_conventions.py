"""Label conventions against a real Prometheus: a namespace labelled the way Prometheus's
example Kubernetes config does (``kubernetes_namespace`` / ``kubernetes_pod_name`` on the
app's series, cAdvisor and kube-state-metrics keeping ``namespace`` / ``pod``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers
from streamdash.settings import Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import FleetSpec, main_pods
from tests.support.prom import PrometheusServer
from tests.support.promfleet import fetch_once, prometheus_settings, start_fleets_prometheus

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
    work = tmp_path_factory.mktemp("prom")
    server = start_fleets_prometheus(work, (LEGACY, NORMAL), END)
    yield server
    server.stop()


_settings = prometheus_settings


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
    raw = fetch_once(settings, WINDOW, END)
    assert raw.errors == () and not any("kubernetes_namespace" in n for n in raw.notes)
    _check_numbers(prom, raw, settings)


def test_a_namespace_nobody_has_lists_the_ones_that_do(prom: PrometheusServer) -> None:
    raw = fetch_once(_settings(prom.url, namespace="nope"), WINDOW, END)
    (note,) = [n for n in raw.notes if n.startswith("namespace 'nope'")]
    assert "kubernetes_namespace" in note and '"llm"' in note
