"""Direct scrape of servers that carry no ``pod`` label (a real vLLM's /metrics has none):
the pod name configured per target (``{url, pod}``) is what cAdvisor CPU, kube-state-metrics
owners and the HPA join on. Real HTTP servers serve the generated fleet's series."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streamdash.core.build import build_snapshot
from streamdash.presets import load_preset
from streamdash.settings import ScrapeTarget, Settings
from streamdash.sources.scrape import ScrapeSource
from tests.support.fleet import FleetSpec, fleet_series, fleet_types, main_pods

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
SPEC = FleetSpec(pods=2, namespace="llm", other_model="mistral", other_model_pods=1, seed=61)
APP_PREFIXES = ("vllm:", "process_")
Row = tuple[str, Mapping[str, str], float]


class _Server:
    """Serves a list of bodies: the n-th GET gets body n (the last one from then on)."""

    def __init__(self, bodies: Sequence[bytes]) -> None:
        served = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = bodies[min(served[0], len(bodies) - 1)]
                served[0] += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/metrics"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def _text(rows: Sequence[tuple[str, Mapping[str, str], float]], types: Mapping[str, str]) -> bytes:
    lines = []
    for family, kind in types.items():
        lines.append(f"# TYPE {family} {kind}")
    for name, labels, value in rows:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {value!r}" if text else f"{name} {value!r}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[dict[str, _Server], _Server]]:
    series, _ = fleet_series(SPEC, END, duration_s=600, step_s=15)
    types = {f: k for f, k in fleet_types(SPEC).items() if k == "histogram"}
    pods = main_pods(SPEC)
    by_pod: dict[str, list[list[tuple[str, Mapping[str, str], float]]]] = {
        p: [[], []] for p in pods
    }
    cluster: list[list[tuple[str, Mapping[str, str], float]]] = [[], []]
    for name, labels, points in series:
        if labels.get("namespace") != SPEC.namespace:
            continue
        if name.startswith(APP_PREFIXES):
            pod = labels["pod"]
            if pod not in by_pod:
                continue
            bare = {k: v for k, v in labels.items() if k not in ("pod", "namespace")}
            for i, (_, v) in enumerate(points[-2:]):
                by_pod[pod][i].append((name, bare, v))
        else:  # cAdvisor and kube-state-metrics, as one target
            for i, (_, v) in enumerate(points[-2:]):
                cluster[i].append((name, labels, v))
    apps = {p: _Server([_text(rows, types) for rows in by_pod[p]]) for p in pods}
    ksm = _Server([_text(rows, {"container_cpu_usage_seconds": "counter"}) for rows in cluster])
    yield apps, ksm
    for server in (*apps.values(), ksm):
        server.close()


def test_configured_pod_names_join_cpu_owners_and_the_hpa(
    servers: tuple[dict[str, _Server], _Server],
) -> None:
    apps, ksm = servers
    targets = tuple(ScrapeTarget(url=s.url, pod=pod) for pod, s in apps.items())
    settings = Settings(
        preset=load_preset("vllm"),
        namespace=SPEC.namespace,
        scrape=(*targets, ScrapeTarget(url=ksm.url)),
    )
    source = ScrapeSource(settings, prime_seconds=0.2)
    try:
        raw = source.fetch(300)
    finally:
        source.close()
    assert raw.errors == ()
    snap = build_snapshot(raw, settings)
    rows = {p.pod: p for p in snap.pods}
    assert set(rows) == set(main_pods(SPEC))  # no host:port names, no other-model pods
    for row in rows.values():
        assert row.cpu_cores is not None and row.cpu_cores > 0
        assert row.cpu_request_cores == pytest.approx(1.1)
        assert row.fd_origin == "container vllm"
    assert {w.name for w in raw.pod_workloads.values()} == {"llama-serve"}
    (view,) = snap.autoscalers
    assert (view.name, view.pods_basis, view.pod_count) == ("llama-serve", "scale_target", 2)
    assert view.cpu_cores == pytest.approx(sum(r.cpu_cores or 0 for r in rows.values()))
