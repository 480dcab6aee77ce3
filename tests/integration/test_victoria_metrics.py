"""streamdash against a real VictoriaMetrics holding the generated fleet.

VictoriaMetrics answers the Prometheus HTTP API with its own MetricsQL engine (its
``rate`` does not extrapolate like Prometheus's), so every number is compared with
VictoriaMetrics's own answer to the PromQL a person would type — ``histogram_quantile``
over the right selector — not with Prometheus's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers
from streamdash.core.snapshot import Snapshot
from streamdash.presets import load_preset
from streamdash.settings import Preset, PrometheusSettings, Settings
from tests.support.fleet import FleetSpec, HpaSpec, fleet_series, main_pods
from tests.support.promfleet import fetch_once
from tests.support.vm import Series, VictoriaMetricsServer, start_victoria_metrics

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
DOTTED = FleetSpec(pods=3, namespace="vmdot", other_model="mistral", hpa=None, seed=43)
"""The same kind of fleet under Prometheus 3 UTF-8 names (``vllm.<x>``, dotted labels)."""


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    server = start_victoria_metrics(tmp_path_factory.mktemp("vm"))
    try:
        series, _ = fleet_series(SPEC, END, duration_s=900, step_s=15)
        server.import_series([*series, *_dotted_series(DOTTED)])
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
    raw = fetch_once(settings, WINDOW, END)
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


def _dotted(name: str) -> str:
    return "vllm." + name.removeprefix("vllm:") if name.startswith("vllm:") else name


def _dotted_series(spec: FleetSpec) -> list[Series]:
    """``spec``'s fleet with every vLLM metric named ``vllm.<x>`` (a Prometheus 3 UTF-8
    name) and a dotted ``gen_ai.request.model`` label beside ``model_name``."""
    series, _ = fleet_series(spec, END, duration_s=900, step_s=15)
    out: list[Series] = []
    for name, labels, points in series:
        extra = {"gen_ai.request.model": labels["model_name"]} if "model_name" in labels else {}
        out.append((_dotted(name), {**labels, **extra}, points))
    return out


def _dotted_preset() -> Preset:
    vllm = load_preset("vllm")
    specs = {
        kind: replace(
            spec,
            metric=_dotted(spec.metric or ""),
            fallbacks=tuple(_dotted(f) for f in spec.fallbacks),
        )
        for kind in ("ttft", "stream", "itl", "e2e")
        if (spec := vllm.histogram(kind))
    }
    return replace(vllm, in_flight=_dotted(vllm.in_flight or ""), **specs)


def test_dotted_utf8_names_are_asked_in_a_form_victoria_metrics_reads(
    vm: VictoriaMetricsServer,
) -> None:
    """Dotted metric names (and series carrying dotted labels) through every query a
    refresh sends: VictoriaMetrics rejects ``{"name"}``, so the names must go as
    ``{__name__="..."}``; the numbers equal VictoriaMetrics's own answers."""
    settings = Settings(
        prometheus=PrometheusSettings(url=vm.url, timeout_seconds=10.0),
        preset=_dotted_preset(),
        namespace=DOTTED.namespace,
        model="llama",
    )
    raw = fetch_once(settings, WINDOW, END)
    assert raw.errors == ()
    snap = build_snapshot(raw, settings)
    assert {p.pod for p in snap.pods} == set(main_pods(DOTTED))
    sel = f'namespace="{DOTTED.namespace}",model_name="llama"'
    for kind, metric in (
        ("ttft", "vllm.time_to_first_token_seconds"),
        ("stream", "vllm.request_decode_time_seconds"),
    ):
        rate = f'rate({{__name__="{metric}_bucket",{sel}}}[{WINDOW}s])'
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            own = _one(vm, f"histogram_quantile({q}, sum by (le) ({rate}))")
            assert getattr(snap.latency[kind], name) == pytest.approx(own, rel=1e-9), (kind, name)
    in_flight = {p.pod: p.in_flight for p in snap.pods}
    assert all(v is not None and v > 0 for v in in_flight.values()), in_flight
    for part, text in raw.queries.items():
        assert '{"vllm.' not in text, part
    assert '__name__="vllm.request_decode_time_seconds_bucket"' in raw.queries["stream_buckets"]
