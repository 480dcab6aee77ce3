"""FD per process against a real Prometheus: a sidecar with a 1 Mi limit beside a vLLM
near its 64 Ki limit, and a server without process metrics (cAdvisor counts instead).

The same exposition is also scraped directly (a real HTTP server): both sources pick
the same pair per pod.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.lb import pod_ceiling
from streamdash.presets import load_preset
from streamdash.settings import ScrapeTarget, Settings
from streamdash.sources.scrape import ScrapeSource
from tests.support.fleet import FleetSpec, fleet_series, main_pods
from tests.support.prom import PrometheusServer
from tests.support.promfleet import fetch_once, prometheus_settings, start_fleets_prometheus

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
WINDOW = 300
SIDE = FleetSpec(
    pods=3,
    namespace="side",
    fd_near_limit_pods=1,
    near_limit_max_fds=65536,
    near_limit_open_fds=61000,
    sidecar_fds=(50.0, 1048576.0),
    cadvisor_fds=True,
    seed=5,
)
NOPROC = FleetSpec(
    pods=2, namespace="noproc", process_fds=False, cadvisor_fds=True, hpa=None, seed=6
)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("prom")
    server = start_fleets_prometheus(work, (SIDE, NOPROC), END)
    yield server
    server.stop()


def _settings(url: str, namespace: str) -> Settings:
    return prometheus_settings(url, namespace=namespace)


def _snapshot(prom: PrometheusServer, namespace: str) -> Any:
    settings = _settings(prom.url, namespace)
    raw = fetch_once(settings, WINDOW, END)
    assert raw.errors == ()
    return raw, build_snapshot(raw, settings)


def _by_pod(prom: PrometheusServer, query: str) -> dict[str, float]:
    return {r["metric"]["pod"]: float(r["value"][1]) for r in prom.query(query, at=END)}


def test_worst_pair_per_pod_is_the_vllm_at_93_percent(prom: PrometheusServer) -> None:
    _, snap = _snapshot(prom, "side")
    ns = 'namespace="side"'
    expected = _by_pod(prom, f"max by (pod) (process_open_fds{{{ns}}} / process_max_fds{{{ns}}})")
    rows = {p.pod: p for p in snap.pods}
    assert set(rows) == set(expected) == set(main_pods(SIDE))
    for pod, util in expected.items():
        assert rows[pod].fd_utilization == pytest.approx(util, rel=1e-12)
        assert rows[pod].fd_origin == "container vllm" and rows[pod].fd_source == "process"
    hot = main_pods(SIDE)[0]
    own = _by_pod(prom, f'process_open_fds{{{ns},container="vllm"}}')
    assert (rows[hot].open_fds, rows[hot].max_fds) == (own[hot], 65536) == (61000, 65536)
    assert rows[hot].fd_utilization == pytest.approx(61000 / 65536)  # 93 %, not 5.8 %
    sockets = _by_pod(prom, f'container_sockets{{{ns},container="vllm"}}')
    assert rows[hot].sockets == sockets[hot]
    fd = [f for f in snap.findings if f.id == "fd-exhaustion"]
    assert [(f.subject, f.severity) for f in fd] == [(hot, "critical")]
    assert "container vllm" in fd[0].summary
    # capacity counts against the vLLM's own limit, not the sidecar's 1 Mi
    ceiling = pod_ceiling(rows[hot])
    assert rows[hot].in_flight is not None
    assert ceiling.fd_budget == 65536 - (61000 - rows[hot].in_flight)
    assert snap.capacity.per_pod_streams_ceiling == ceiling.ceiling


def test_without_process_metrics_cadvisor_counts_and_no_limit(prom: PrometheusServer) -> None:
    _, snap = _snapshot(prom, "noproc")
    counts = _by_pod(prom, 'container_file_descriptors{namespace="noproc",container="vllm"}')
    rows = {p.pod: p for p in snap.pods}
    assert set(rows) == set(counts)
    for pod, count in counts.items():
        row = rows[pod]
        assert (row.open_fds, row.max_fds, row.fd_utilization) == (count, None, None)
        assert (row.fd_source, row.fd_origin) == ("cadvisor", "cAdvisor container vllm")
    assert not [f for f in snap.findings if f.id == "fd-exhaustion"]
    assert any("FD use of 2 of 2 pods is cAdvisor's" in n for n in snap.notes)


@pytest.mark.parametrize("preset", ["sglang", "tgi", "triton", "vllm"])
def test_presets_without_process_metrics_say_so(preset: str) -> None:
    loaded = load_preset(preset)  # vLLM's only when no pod reports a pair (fd_gap_notes)
    notes = (*loaded.notes, *loaded.fd_gap_notes)
    assert any("process_open_fds" in n and "cAdvisor" in n for n in notes)


class _Static(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _exposition(spec: FleetSpec) -> bytes:
    series, _ = fleet_series(spec, END, duration_s=600, step_s=15)
    lines = []
    for name, labels, points in series:
        if name.startswith(("process_", "container_file", "container_sockets", "vllm:num")):
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{name}{{{text}}} {points[-1][1]!r}")
    return ("\n".join(lines) + "\n").encode()


def test_direct_scrape_picks_the_same_pairs(prom: PrometheusServer) -> None:
    handler = type("Handler", (_Static,), {"body": _exposition(SIDE)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        settings = Settings(
            preset=load_preset("vllm"), namespace="side", scrape=(ScrapeTarget(url=url),)
        )
        source = ScrapeSource(settings, prime_seconds=0.05)
        try:
            scraped = source.fetch(WINDOW)
        finally:
            source.close()
    finally:
        server.shutdown()
        server.server_close()
    raw, _ = _snapshot(prom, "side")
    assert scraped.errors == ()
    assert {p: (f.open_fds, f.max_fds, f.container) for p, f in scraped.fds.items()} == {
        p: (f.open_fds, f.max_fds, f.container) for p, f in raw.fds.items()
    }
