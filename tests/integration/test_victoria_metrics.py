"""streamdash against a real VictoriaMetrics holding the generated fleet.

VictoriaMetrics answers the Prometheus HTTP API with its own MetricsQL engine (its
``rate`` does not extrapolate like Prometheus's), so every number is compared with
VictoriaMetrics's own answer to the PromQL a person would type — ``histogram_quantile``
over the right selector — not with Prometheus's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers
from streamdash.core.snapshot import Snapshot
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import FleetSpec, HpaSpec, fleet_series, main_pods
from tests.support.vm import VictoriaMetricsServer, start_victoria_metrics

pytestmark = pytest.mark.integration

END = float(int(time.time()) // 60 * 60 - 600)
"""Recent (VictoriaMetrics refuses samples outside its retention), whole minutes."""
WINDOW = 300
NS = "vm"
SPEC = FleetSpec(
    pods=4,
    namespace=NS,
    other_model="mistral",
    other_model_pods=2,
    fd_near_limit_pods=1,
    sidecar_fds=(50.0, 1048576.0),
    hpa=HpaSpec(name="llama-serve", current_replicas=12),
    other_namespace="vm-staging",
    seed=41,
)


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    server = start_victoria_metrics(tmp_path_factory.mktemp("vm"))
    try:
        series, _ = fleet_series(SPEC, END, duration_s=900, step_s=15)
        server.import_series(series)
        yield server
    finally:
        server.stop()


def _snapshot(
    vm: VictoriaMetricsServer, selector: str | None = None
) -> tuple[RawAnswers, Snapshot]:
    settings = Settings(
        prometheus=PrometheusSettings(url=vm.url, timeout_seconds=10.0),
        preset=load_preset("vllm"),
        namespace=NS,
        selector=selector,
    )
    source = PrometheusSource(settings)
    try:
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    return raw, build_snapshot(raw, settings)


def _one(vm: VictoriaMetricsServer, query: str) -> float:
    (row,) = vm.query(query, at=END)
    return float(row["value"][1])


def test_percentiles_equal_victoria_metrics_own_histogram_quantile(
    vm: VictoriaMetricsServer,
) -> None:
    raw, snap = _snapshot(vm, selector='model_name="llama"')
    assert raw.errors == ()
    sel = f'namespace="{NS}",model_name="llama"'
    for kind, metric in (
        ("ttft", "vllm:time_to_first_token_seconds"),
        ("stream", "vllm:request_decode_time_seconds"),
        ("itl", "vllm:inter_token_latency_seconds"),
    ):
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            own = _one(
                vm,
                f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{sel}}}[{WINDOW}s])))",
            )
            assert getattr(snap.latency[kind], name) == pytest.approx(own, rel=1e-9), (kind, name)
    assert {p.pod for p in snap.pods} == set(main_pods(SPEC))


def test_fds_cpu_and_autoscaler_equal_victoria_metrics_own_answers(
    vm: VictoriaMetricsServer,
) -> None:
    raw, snap = _snapshot(vm)
    assert raw.errors == ()
    ns = f'namespace="{NS}"'
    worst = {
        r["metric"]["pod"]: float(r["value"][1])
        for r in vm.query(
            f"max by (pod) (process_open_fds{{{ns}}} / process_max_fds{{{ns}}})", at=END
        )
    }
    rows = {p.pod: p for p in snap.pods}
    assert {p: r.fd_utilization for p, r in rows.items()} == pytest.approx(worst, rel=1e-12)
    hot = main_pods(SPEC)[0]
    assert [f.subject for f in snap.findings if f.id == "fd-exhaustion"] == [hot]
    (view,) = snap.autoscalers
    cpu = _one(
        vm,
        "sum(rate(container_cpu_usage_seconds_total"
        f'{{{ns},pod=~"llama-serve-.+",container!="",container!="POD"}}[{WINDOW}s]))',
    )
    assert view.cpu_cores == pytest.approx(cpu, rel=1e-9)
    assert view.pod_count == 4 and view.pods_basis == "scale_target"
    assert raw.pod_workloads and {w.name for w in raw.pod_workloads.values()} == {
        "llama-serve",
        "mistral-serve",
    }
    assert [f.subject for f in snap.findings if f.id == "autoscaler-cpu-divergence"] == [
        "llama-serve"
    ]
