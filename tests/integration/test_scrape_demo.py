"""The direct-scrape source against the simulated fleet, over real HTTP on loopback.

The percentile comparison freezes the fleet (``pause``) so Prometheus and the scrape
source read identical counters at two instants A and B (the model is advanced 60 s of
model time in between). Prometheus's side is
``histogram_quantile(q, sum by (le) (M_bucket @ tB - M_bucket @ tA))``: the raw bucket
deltas between exactly those two samples, no ``rate`` extrapolation. The scrape
source's side is ``bucket_quantile`` over its per-pod bucket rates summed by ``le``;
every target shares one interval, so rates are the same deltas over one constant and
the quantiles agree to float precision.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from streamdash.core.histogram import bucket_quantile
from streamdash.core.raw import RawAnswers
from streamdash.demo import RunningFleet, demo_settings, start_fleet
from streamdash.demo.server import Endpoint
from streamdash.settings import ScrapeTarget, Settings
from streamdash.sources.http import HttpPolicy, HttpxTransport
from streamdash.sources.lb import haproxy
from streamdash.sources.scrape import ScrapeSource
from tests.support.prom import PrometheusServer

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet() -> Iterator[RunningFleet]:
    running = start_fleet("incident", pods=4, seed=1)
    yield running
    running.stop()


def _source(settings: Settings) -> Iterator[ScrapeSource]:
    src = ScrapeSource(settings, prime_seconds=0.2)
    yield src
    src.close()


def _frozen_fetch_pair(fleet: RunningFleet, src: ScrapeSource, seconds: float) -> RawAnswers:
    """Pause, prime the source, advance the model ``seconds``, fetch again."""
    fleet.pause()
    src.fetch(300)
    fleet.advance(seconds)
    return src.fetch(300)


def test_scrape_source_returns_the_fleets_pods_with_every_field(fleet: RunningFleet) -> None:
    settings = demo_settings(fleet, Settings())
    for src in _source(settings):
        fleet.pause()
        first = src.fetch(300)
        assert first.query_count == 2 * len(settings.scrape)  # first call primes itself
        assert any(n.startswith("direct scrape: rates over the last") for n in first.notes)
        fleet.advance(30)
        raw = src.fetch(300)
        assert raw.errors == ()
        assert raw.source_kind == "scrape"
        assert raw.query_count == len(settings.scrape)
        model = fleet.model
        with model.lock:
            pods = {p.name: p for p in model.pods()}
            replicas = model.replicas()
        assert set(raw.open_fds) == set(pods)
        for name, pod in pods.items():
            assert raw.open_fds[name] == pod.open_fds
            assert raw.max_fds[name] == pod.max_fds
            assert raw.in_flight[name] == pod.open_streams
            assert raw.cpu_request_cores[name] == 0.5
            assert raw.cpu_cores[name] > 0
        for kind in ("ttft", "stream", "itl", "e2e"):
            hist = raw.histograms[kind]
            assert hist.fleet and math.inf in hist.fleet
            assert hist.count_rate and hist.sum_rate
            if kind in ("ttft", "stream"):  # shown per pod: per-pod p99 inputs, no buckets
                assert hist.pods and set(hist.pods) <= set(pods)
                assert all(p.count_rate is not None for p in hist.pods.values())
            else:
                assert hist.pods == {}
        (hpa,) = raw.hpas
        assert (hpa.name, hpa.current_replicas) == (fleet.hpa_name, replicas)
        assert hpa.target_metric == "s0-prometheus"


def _free_dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_garbage_and_dead_targets_are_errors_and_the_rest_still_counts(
    fleet: RunningFleet,
) -> None:
    garbage = Endpoint(lambda path: ("text/html", b"<html><body>502 Bad Gateway</body></html>"))
    try:
        dead_url = f"http://127.0.0.1:{_free_dead_port()}/metrics"
        base = demo_settings(fleet, Settings())
        settings = Settings(
            preset=base.preset,
            namespace=base.namespace,
            hpa=base.hpa,
            scrape=(*base.scrape, ScrapeTarget(garbage.url("/metrics")), ScrapeTarget(dead_url)),
        )
        for src in _source(settings):
            raw = _frozen_fetch_pair(fleet, src, 10)
            by_source = {e.source: e for e in raw.errors}
            assert set(by_source) == {
                f"scrape:{garbage.url('/metrics')}",
                f"scrape:{dead_url}",
            }
            assert (
                "not Prometheus text format"
                in by_source[f"scrape:{garbage.url('/metrics')}"].message
            )
            assert "failed" in by_source[f"scrape:{dead_url}"].message
            assert all("\n" not in e.message and e.part == "target" for e in raw.errors)
            with fleet.model.lock:
                names = {p.name for p in fleet.model.pods()}
            assert set(raw.open_fds) == names
            assert raw.histograms["ttft"].pods
            assert raw.query_count == len(settings.scrape)
    finally:
        garbage.stop()


def _wait_for_scrape_after(prom: PrometheusServer, metric: str, after: float, pods: int) -> None:
    """Until every pod's series in Prometheus has a sample taken after ``after``."""
    deadline = time.monotonic() + 20
    query = f"timestamp({metric})"
    while time.monotonic() < deadline:
        result = prom.query(query)
        if len(result) >= pods and min(float(r["value"][1]) for r in result) > after:
            return
        time.sleep(0.2)
    pytest.fail(f"Prometheus did not scrape {metric} of {pods} pods after {after} in 20 s")


def test_percentiles_from_scrape_deltas_equal_prometheus(
    fleet: RunningFleet, prometheus_factory: Callable[..., PrometheusServer]
) -> None:
    targets = [urlsplit(u).netloc for u in fleet.pod_urls]
    prom = prometheus_factory(scrape_targets=targets, scrape_interval="1s")
    settings = demo_settings(fleet, Settings())
    count_metric = "vllm:e2e_request_latency_seconds_count"
    for src in _source(settings):
        fleet.pause()
        with fleet.model.lock:
            pods = len(fleet.model.pods())
        _wait_for_scrape_after(prom, count_metric, time.time(), pods)
        t_a = time.time()
        src.fetch(300)
        fleet.advance(60)
        with fleet.model.lock:
            pods = len(fleet.model.pods())
        _wait_for_scrape_after(prom, count_metric, time.time(), pods)
        t_b = time.time()
        raw = src.fetch(300)
        assert raw.errors == ()
        compared = 0
        for kind in ("ttft", "stream", "itl"):
            metric = settings.preset.histogram(kind).metric  # type: ignore[union-attr]
            delta = f"({metric}_bucket @ {t_b:.3f} - {metric}_bucket @ {t_a:.3f})"
            ours = dict(raw.histograms[kind].fleet or {})
            for q in (0.5, 0.9, 0.99):
                (answer,) = prom.query(f"histogram_quantile({q}, sum by (le) {delta})", at=t_b)
                expected = float(answer["value"][1])
                assert bucket_quantile(q, ours) == pytest.approx(expected, rel=1e-9), (kind, q)
                compared += 1
            if kind == "itl":
                continue  # fleet-only
            per_pod = prom.query(f"histogram_quantile(0.99, sum by (pod, le) {delta})", at=t_b)
            assert len(per_pod) == len(raw.histograms[kind].pods)
            for series in per_pod:
                pod = series["metric"]["pod"]
                mine = raw.histograms[kind].pods[pod].p99
                assert mine == pytest.approx(float(series["value"][1]), rel=1e-9)
        assert compared == 9


def test_fleet_haproxy_csv_parses_with_the_haproxy_source(fleet: RunningFleet) -> None:
    settings = demo_settings(fleet, Settings())
    (lb,) = settings.load_balancers
    fleet.pause()
    client = HttpxTransport(HttpPolicy(timeout_seconds=5))
    try:
        sample = haproxy.fetch(client, lb)
    finally:
        client.close()
    assert sample.errors == ()
    with fleet.model.lock:
        expected = {p.name: p.open_streams for p in fleet.model.pods()}
    assert {b.server: b.current for b in sample.backends} == expected
    assert any(t.seconds == fleet.lb_idle_timeout_seconds for t in sample.timeouts)


@pytest.mark.parametrize(
    "scenario", ["healthy", "overflow", "idle-timeout", "fd-ceiling", "autoscaler", "incident"]
)
def test_each_scenario_raises_exactly_its_findings(scenario: str) -> None:
    from streamdash.live import LiveRefresher

    running = start_fleet(scenario, pods=6, seed=0)
    try:
        settings = demo_settings(running, replace(Settings(), refresh_seconds=2.0))
        # real time: CPU rates need model time == wall time, so no freezing here.
        # The ordinary refresher: direct scrape + the HAProxy source, two refreshes so
        # the load balancer's counters have rates.
        refresher = LiveRefresher(settings, with_history=False)
        expected = {fid for fid, _ in running.expected_findings}
        seen: set[str] = set()
        try:
            # The model runs in real time: a cut or abort may not land between two
            # refreshes, so refresh (bounded) until the expected findings show, while
            # no refresh may ever raise an unexpected one.
            for _ in range(8):
                snap = refresher.refresh(300)
                assert snap.errors == ()
                got = {f.id for f in snap.findings}
                seen |= got
                if got == expected:
                    break
                time.sleep(1.5)
        finally:
            refresher.close()
    finally:
        running.stop()
    assert seen <= expected, [f.summary for f in snap.findings]
    assert got == expected, [f.summary for f in snap.findings]
    for fid, subject in running.expected_findings:
        if subject is not None:
            assert any(f.id == fid and f.subject == subject for f in snap.findings)
