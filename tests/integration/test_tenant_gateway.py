"""A Prometheus reached through a path prefix and a tenant header, as Mimir, Thanos and
Cortex are: a real nginx in front of a real Prometheus, refusing requests without the
header. Every request of the source (its queries and prometheus-api-client's label
lookups) must carry both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import FleetSpec, fleet_series, main_pods
from tests.support.lbservers import RunningLb, start_tenant_gateway
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
WINDOW = 300
SPEC = FleetSpec(pods=3, namespace="llm", seed=51)
TENANT = "tenant-a7Q9"
HEADER = "X-Scope-OrgID"


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    series, types = fleet_series(SPEC, END, duration_s=600, step_s=15)
    server = start_prometheus(
        tmp_path_factory.mktemp("prom"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(
    prom: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningLb]:
    lb = start_tenant_gateway(
        Path(tmp_path_factory.mktemp("gw")),
        f"127.0.0.1:{prom.port}",
        "/prometheus/tenant-a",
        HEADER,
        TENANT,
    )
    yield lb
    lb.stop()


def _fetch(
    url: str, headers: dict[str, str], namespace: str = "llm"
) -> tuple[RawAnswers, Settings]:
    settings = Settings(
        prometheus=PrometheusSettings(url=url, timeout_seconds=5.0, headers=headers),
        preset=load_preset("vllm"),
        namespace=namespace,
    )
    source = PrometheusSource(settings)
    try:
        return source.fetch(WINDOW, with_history=True, now=END), settings
    finally:
        source.close()


def test_numbers_through_the_prefix_and_header_equal_prometheus_direct(
    prom: PrometheusServer, gateway: RunningLb
) -> None:
    raw, settings = _fetch(gateway.url, {HEADER: TENANT})
    assert raw.errors == ()
    snap = build_snapshot(raw, settings)
    assert {p.pod for p in snap.pods} == set(main_pods(SPEC))
    (row,) = prom.query(
        "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket"
        f'{{namespace="llm"}}[{WINDOW}s])))',
        at=END,
    )
    assert snap.latency["ttft"].p99 == pytest.approx(float(row["value"][1]), rel=1e-9)
    assert snap.history is not None and snap.history.series["ttft_p99"]
    assert [a.name for a in snap.autoscalers] == ["llama-serve"]
    assert snap.source.url == gateway.url


def test_label_lookups_go_through_the_gateway_too(gateway: RunningLb) -> None:
    raw, _ = _fetch(gateway.url, {HEADER: TENANT}, namespace="nope")
    notes = [n for n in raw.notes if n.startswith("namespace 'nope'")]
    assert len(notes) == 1 and '"llm"' in notes[0]  # get_label_values answered


def test_without_the_tenant_header_each_part_fails_in_one_line(gateway: RunningLb) -> None:
    raw, _ = _fetch(gateway.url, {HEADER: "someone-else"})
    errors = raw.errors
    assert errors and all("HTTP 401" in e.message for e in errors)
    assert all("\n" not in e.message and "someone-else" not in e.message for e in errors)
