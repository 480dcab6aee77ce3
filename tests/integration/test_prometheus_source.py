"""PrometheusSource against a real Prometheus over a backfilled synthetic fleet."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.raw import RawAnswers
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import HISTORY_REASK_STEPS as REASK
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import (
    FleetSpec,
    HpaSpec,
    fleet_series,
    main_pods,
    plan_fleet,
    write_fleet_openmetrics,
)
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus
from tests.support.promfleet import prometheus_settings, start_fleets_prometheus

pytestmark = pytest.mark.integration

END = 1_700_000_000.0
WINDOW = 300
BIG = FleetSpec(
    pods=60,
    namespace="llm",
    slow_pods=1,
    fd_near_limit_pods=1,
    other_namespace="llm-staging",
    other_model="mistral",
)
SMALL = FleetSpec(
    pods=3, namespace="small", deployment="small-serve", hpa=HpaSpec(name="small-serve"),
    extra_hpas=("batch-jobs",), seed=11,
)  # fmt: skip
ODD_MODEL = 'lla"ma\\x\ny'
ODD = FleetSpec(pods=2, namespace="odd", model_name=ODD_MODEL, hpa=None, seed=3)


_settings = prometheus_settings


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("prom")
    server = start_fleets_prometheus(work, (BIG, SMALL, ODD), END)
    yield server
    server.stop()


@pytest.fixture
def fetch(prom: PrometheusServer) -> Iterator[Callable[..., RawAnswers]]:
    sources: list[PrometheusSource] = []

    def run(with_history: bool = True, **overrides: Any) -> RawAnswers:
        source = PrometheusSource(_settings(prom.url, **overrides))
        sources.append(source)
        return source.fetch(WINDOW, with_history=with_history, now=END)

    yield run
    for source in sources:
        source.close()


def _by_pod_le(rows: list[dict[str, Any]]) -> dict[str, dict[float, float]]:
    out: dict[str, dict[float, float]] = {}
    for row in rows:
        out.setdefault(row["metric"]["pod"], {})[float(row["metric"]["le"])] = float(
            row["value"][1]
        )
    return out


def _by_pod(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {row["metric"]["pod"]: float(row["value"][1]) for row in rows}


def _all_pods(raw: RawAnswers) -> set[str]:
    pods: set[str] = set()
    for h in raw.histograms.values():
        pods |= set(h.pods)
    for values in (raw.open_fds, raw.max_fds, raw.cpu_cores, raw.cpu_request_cores, raw.in_flight):
        pods |= set(values)
    return pods


def _le_map(rows: list[dict[str, Any]]) -> dict[float, float]:
    return {float(row["metric"]["le"]): float(row["value"][1]) for row in rows}


def test_server_aggregates_equal_prometheus_own_answer(
    prom: PrometheusServer, fetch: Callable[..., RawAnswers]
) -> None:
    """Fleet buckets, per-pod p99 and its overflow inputs, _sum/_count: each equals
    Prometheus's own PromQL for the same selector; no per-pod buckets come back."""
    raw = fetch(namespace="llm", selector='model_name="llama"', with_history=False)
    assert raw.errors == ()
    sel = 'namespace="llm",model_name="llama"'
    for kind, metric in (
        ("ttft", "vllm:time_to_first_token_seconds"),
        ("stream", "vllm:request_decode_time_seconds"),
    ):
        got = raw.histograms[kind]
        assert got.metric == metric
        rate = f"rate({metric}_bucket{{{sel}}}[5m])"
        assert got.fleet == _le_map(prom.query(f"sum by (le) ({rate})", at=END))
        p99 = _by_pod(prom.query(f"histogram_quantile(0.99, sum by (pod, le) ({rate}))", at=END))
        assert len(got.pods) == BIG.pods
        assert {pod: h.p99 for pod, h in got.pods.items()} == p99
        inf = _by_pod(
            prom.query(f'sum by (pod) (rate({metric}_bucket{{{sel},le="+Inf"}}[5m]))', at=END)
        )
        assert {pod: h.count_rate for pod, h in got.pods.items()} == inf
        per_le = _by_pod_le(prom.query(f"sum by (pod, le) ({rate})", at=END))
        top = {pod: max(v for le, v in b.items() if math.isfinite(le)) for pod, b in per_le.items()}
        assert {pod: h.top_finite_rate for pod, h in got.pods.items()} == top
        (count,) = prom.query(f"sum(rate({metric}_count{{{sel}}}[5m]))", at=END)
        (total,) = prom.query(f"sum(rate({metric}_sum{{{sel}}}[5m]))", at=END)
        assert got.count_rate == float(count["value"][1])
        assert got.sum_rate == float(total["value"][1])
    assert set(raw.histograms) == {"ttft", "stream", "itl", "e2e"}
    assert len(raw.histograms["ttft"].fleet or {}) == 23  # 22 + +Inf
    assert raw.histograms["itl"].pods == {}  # fleet-only
    assert math.inf in (raw.histograms["itl"].fleet or {})


def test_overflowed_pod_p99_flag_matches_prometheus(tmp_path: Path) -> None:
    """A pod whose p99 lies in +Inf is flagged from the server's top-bucket and +Inf
    rates; Prometheus then answers the top finite bound for it."""
    from tests.support.fleet import SHORT_STREAM_BUCKETS

    spec = FleetSpec(pods=3, namespace="ovf", stream_buckets=SHORT_STREAM_BUCKETS, hpa=None)
    series, types = fleet_series(spec, END, duration_s=600, step_s=15)
    server = start_prometheus(tmp_path, openmetrics=openmetrics_text(series, types))
    source = PrometheusSource(_settings(server.url, namespace="ovf"))
    try:
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
        server.stop()
    from streamdash.core.histogram import pod_p99

    stream = raw.histograms["stream"]
    assert len(stream.pods) == 3
    for pod in stream.pods.values():
        assert pod.p99 == SHORT_STREAM_BUCKETS[-1]
        assert pod_p99(pod) == (SHORT_STREAM_BUCKETS[-1], True)
    for pod in raw.histograms["ttft"].pods.values():
        assert pod_p99(pod)[1] is False


def test_query_count_is_constant_and_what_prometheus_served(
    prom: PrometheusServer, fetch: Callable[..., RawAnswers]
) -> None:
    counts = []
    for namespace, pods in (("small", SMALL.pods), ("llm", BIG.pods)):
        before = prom.requests_served()
        raw = fetch(namespace=namespace, selector='model_name="llama"')
        served = prom.requests_served() - before
        assert raw.errors == ()
        assert len(raw.histograms["ttft"].pods) == pods
        assert raw.query_count == served == len(raw.queries)
        counts.append(raw.query_count)
    assert counts[0] == counts[1] <= 10


def test_other_namespace_and_other_model_never_leak_in(fetch: Callable[..., RawAnswers]) -> None:
    plans = plan_fleet(BIG)
    staging = {p.pod for p in plans if p.namespace == "llm-staging"}
    mistral = {p.pod for p in plans if p.model_name == "mistral"}
    llama = set(main_pods(BIG))

    raw = fetch(namespace="llm", selector='model_name="llama"')
    assert _all_pods(raw) == llama
    assert set(raw.cpu_cores) == set(raw.open_fds) == set(raw.in_flight) == llama

    namespace_only = fetch(namespace="llm", with_history=False)
    assert _all_pods(namespace_only) == llama | mistral

    # Without a namespace the staging pods do come back: the filter above is real.
    everywhere = fetch(selector='model_name="llama"', with_history=False)
    assert staging <= _all_pods(everywhere)


def test_cpu_excludes_pod_cgroup_and_pause_series(
    prom: PrometheusServer, fetch: Callable[..., RawAnswers]
) -> None:
    raw = fetch(namespace="llm", selector='model_name="llama"', with_history=False)
    per_container = _by_pod(
        prom.query(
            'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="llm",'
            'container=~"vllm|proxy"}[5m]))',
            at=END,
        )
    )
    naive = _by_pod(
        prom.query(
            'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="llm"}[5m]))', at=END
        )
    )
    assert len(raw.cpu_cores) == BIG.pods
    for pod, cores in raw.cpu_cores.items():
        assert cores == pytest.approx(per_container[pod], rel=1e-9)
        assert naive[pod] > 1.9 * cores  # summing every series double counts
    assert list(raw.cpu_request_cores.values()) == [pytest.approx(1.1)] * BIG.pods  # 1 + 0.1


def test_hpa_by_name_the_only_one_or_none_with_a_reason(fetch: Callable[..., RawAnswers]) -> None:
    only = fetch(namespace="llm", selector='model_name="llama"', with_history=False)
    assert len(only.hpas) == 1
    hpa = only.hpas[0]
    assert (hpa.name, hpa.current_replicas, hpa.desired_replicas) == (
        "llama-serve",
        BIG.pods,
        BIG.pods,
    )
    assert (hpa.min_replicas, hpa.max_replicas) == (2, 64)
    assert (hpa.target_metric, hpa.target_type, hpa.target_value) == ("cpu", "utilization", 70)

    # the source reports every HPA in scope; the core picks (the same for every source)
    named = fetch(namespace="small", hpa="batch-jobs", with_history=False)
    assert [h.name for h in named.hpas] == ["batch-jobs", "small-serve"]
    settings = Settings(namespace="small", preset=load_preset("vllm"))
    picked = build_snapshot(named, replace(settings, hpa="batch-jobs"))
    assert [a.name for a in picked.autoscalers] == ["batch-jobs"]
    assert picked.autoscaler is not None and picked.autoscaler.name == "batch-jobs"

    both = build_snapshot(fetch(namespace="small", with_history=False), settings)
    assert both.autoscaler is None
    assert [a.name for a in both.autoscalers] == ["batch-jobs", "small-serve"]

    missing = build_snapshot(named, replace(settings, hpa="nope"))
    assert missing.autoscalers == () and missing.autoscaler is None
    assert any("'nope' was not found" in n and "small-serve" in n for n in missing.notes)


def test_history_series_and_cpu_implied_replicas(fetch: Callable[..., RawAnswers]) -> None:
    raw = fetch(namespace="llm", selector='model_name="llama"')
    assert raw.history is not None
    series = raw.history.series
    assert set(series) == {"ttft_p99", "stream_p99", "replicas", "cpu_implied_replicas"}
    step = raw.history.step_seconds  # the range ends at the last step boundary <= now
    assert END - step < series["replicas"][-1].t <= END
    assert series["replicas"][-1].t % step == 0
    assert series["replicas"][-1].v == BIG.pods
    cpu = sum(raw.cpu_cores.values())
    request = sum(raw.cpu_request_cores.values()) / len(raw.cpu_request_cores)
    assert series["cpu_implied_replicas"][-1].v == math.ceil(cpu / (request * 0.7))
    assert all(p.v is None or p.v > 0 for p in series["ttft_p99"])


def test_chart_history_asks_only_the_new_steps_and_equals_a_full_answer(
    prom: PrometheusServer,
) -> None:
    """A later chart fetch asks Prometheus for the steps since the last one (plus
    ``HISTORY_REASK_STEPS`` again), and the spliced series equal a fresh full answer."""
    settings = _settings(prom.url, namespace="llm", selector='model_name="llama"')
    warm, cold = PrometheusSource(settings), PrometheusSource(settings)
    asked: list[tuple[float, float]] = []
    query_range = warm._query_range

    def spy(text: str, start: float, end: float, step: int) -> Any:
        asked.append((start, end))
        return query_range(text, start, end, step)

    warm._query_range = spy  # type: ignore[method-assign]
    try:
        for at in (END - 240, END - 120, END):
            history, error, _ = warm.fetch_history(WINDOW, None, now=at)
            assert error is None and history is not None
        full, error, _ = cold.fetch_history(WINDOW, None, now=END)
    finally:
        warm.close()
        cold.close()
    assert full is not None and error is None
    step = full.step_seconds
    first, second, last = (math.floor(at / step) * step for at in (END - 240, END - 120, END))
    assert asked[0] == (first - 3600, first)  # the first: the whole hour
    assert asked[2] == (second - REASK * step, last)  # then only what is new
    assert history.series == full.series
    assert history.series["ttft_p99"] and history.series["replicas"]


def test_pod_history(prom: PrometheusServer) -> None:
    source = PrometheusSource(_settings(prom.url, namespace="llm", selector='model_name="llama"'))
    try:
        pod = main_pods(BIG)[0]  # the pod near its FD limit
        history = source.fetch_pod_history(pod, WINDOW, now=END)
    finally:
        source.close()
    assert history is not None
    assert set(history.series) == {"ttft_p99", "stream_p99", "open_fds", "cpu_cores", "in_flight"}
    assert history.series["open_fds"][-1].v == BIG.near_limit_open_fds


def test_label_values_with_quotes_backslashes_and_newlines(
    fetch: Callable[..., RawAnswers],
) -> None:
    escaped = ODD_MODEL.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    raw = fetch(namespace="odd", selector=f'model_name="{escaped}"')
    assert raw.errors == ()
    assert set(raw.histograms["ttft"].pods) == set(main_pods(ODD))


def test_in_flight_with_its_own_matchers(prom: PrometheusServer) -> None:
    preset = load_preset("vllm")
    for engine, expected in (("0", BIG.pods), ("1", 0)):
        settings = _settings(
            prom.url,
            namespace="llm",
            selector='model_name="llama"',
            preset=replace(preset, in_flight=f'vllm:num_requests_running{{engine="{engine}"}}'),
        )
        source = PrometheusSource(settings)
        try:
            raw = source.fetch(WINDOW, with_history=False, now=END)
        finally:
            source.close()
        assert raw.errors == ()
        assert len(raw.in_flight) == expected


def test_stopped_prometheus_gives_errors_not_exceptions(tmp_path: Path) -> None:
    server = start_prometheus(tmp_path / "p")
    url = server.url
    server.stop()
    source = PrometheusSource(_settings(url, namespace="llm"))
    try:
        raw = source.fetch(WINDOW, now=END)
    finally:
        source.close()
    assert raw.query_count == len(raw.queries) > 0
    assert {e.part for e in raw.errors} == set(raw.queries)
    for error in raw.errors:
        assert error.source == "prometheus"
        assert "connection refused" in error.message
        assert url in error.message
        assert "\n" not in error.message
    assert raw.histograms == {} and raw.hpas == () and raw.history is None
    closed = source.fetch(WINDOW, now=END)  # after close(): errors, nothing sent
    assert closed.query_count == 0
    assert {e.part for e in closed.errors} == set(closed.queries)


# --------------------------------------------------------------------------- proxy


class _Proxy(ThreadingHTTPServer):
    """Forwards to Prometheus, recording request headers; ``mode`` injects faults."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.seen: list[dict[str, str]] = []
        self.mode = "forward"
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.seen.append(dict(self.headers.items()))
        mode = self.server.mode
        if mode == "echo-401":
            auth = self.headers.get("Authorization", "")
            tenant = self.headers.get("X-Scope-OrgID", "")
            self._reply(401, f"unauthorized: {auth} tenant {tenant}".encode(), "text/plain")
            return
        if mode == "slow":
            time.sleep(1.5)
            self._reply(200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')
            return
        if mode == "not-json":
            self._reply(200, b"<html>gateway says hi</html>", "text/html")
            return
        if mode == "status-error":
            self._reply(
                200, b'{"status":"error","errorType":"execution","error":"too many samples"}'
            )
            return
        request = urllib.request.Request(
            self.server.upstream + self.path,
            data=body,
            method="POST",
            headers={"Content-Type": self.headers.get("Content-Type", "")},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        if mode == "warn" and status == 200:
            answer = json.loads(payload)
            answer["warnings"] = ["partial response from store-2"]
            payload = json.dumps(answer).encode()
        self._reply(status, payload)


@pytest.fixture
def proxy(prom: PrometheusServer) -> Iterator[_Proxy]:
    server = _Proxy(prom.url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


TOKEN = "tok-9f8e7d6c5b4a"
TENANT = "tenant-secret-42"


def _proxied_source(proxy: _Proxy) -> PrometheusSource:
    prom = PrometheusSettings(
        url=proxy.url, bearer_token=TOKEN, headers={"X-Scope-OrgID": TENANT}, timeout_seconds=5.0
    )
    return PrometheusSource(
        _settings(proxy.url, prometheus=prom, namespace="llm", selector='model_name="llama"')
    )


def test_bearer_token_and_tenant_header_reach_the_server(proxy: _Proxy) -> None:
    source = _proxied_source(proxy)
    try:
        raw = source.fetch(WINDOW, now=END)
    finally:
        source.close()
    assert raw.errors == ()
    assert len(raw.histograms["ttft"].pods) == BIG.pods
    assert len(proxy.seen) == raw.query_count
    for headers in proxy.seen:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["X-Scope-OrgID"] == TENANT
    for text in (repr(raw), repr(source), str(raw.queries)):
        assert TOKEN not in text and TENANT not in text


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("echo-401", "HTTP 401 Unauthorized (check the bearer token or basic auth)"),
        ("not-json", "malformed JSON"),
        ("status-error", '"status":"error": execution: too many samples'),
    ],
)
def test_failures_are_one_line_without_secrets(proxy: _Proxy, mode: str, fragment: str) -> None:
    proxy.mode = mode
    source = _proxied_source(proxy)
    try:
        raw = source.fetch(WINDOW, now=END)
    finally:
        source.close()
    assert {e.part for e in raw.errors} == set(raw.queries)
    for error in raw.errors:
        assert fragment in error.message
        assert "\n" not in error.message
    assert TOKEN not in repr(raw) and TENANT not in repr(raw)


def test_prometheus_warnings_become_notes(proxy: _Proxy) -> None:
    proxy.mode = "warn"
    source = _proxied_source(proxy)
    try:
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    assert raw.errors == ()
    warned = [n for n in raw.notes if "partial response from store-2" in n]
    assert len(warned) == raw.query_count


def test_a_slow_server_times_out_per_query(proxy: _Proxy) -> None:
    proxy.mode = "slow"
    prom = PrometheusSettings(url=proxy.url, timeout_seconds=0.3)
    source = PrometheusSource(_settings(proxy.url, prometheus=prom, namespace="llm"))
    try:
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    assert {e.part for e in raw.errors} == set(raw.queries)
    assert all("timed out after 0.3 s" in e.message for e in raw.errors)


def test_credentials_in_the_url_become_basic_auth_and_never_show(proxy: _Proxy) -> None:
    url = proxy.url.replace("http://", "http://ops:pa55-w0rd-xyz@")
    source = PrometheusSource(_settings(url, namespace="llm", selector='model_name="llama"'))
    try:
        proxy.mode = "echo-401"
        raw = source.fetch(WINDOW, with_history=False, now=END)
    finally:
        source.close()
    assert raw.source_url == proxy.url
    assert all(h["Authorization"].startswith("Basic ") for h in proxy.seen)
    assert raw.errors and all("HTTP 401" in e.message for e in raw.errors)
    basic = base64.b64encode(b"ops:pa55-w0rd-xyz").decode()
    for text in (repr(raw), repr(source)):
        assert "pa55-w0rd-xyz" not in text and "ops:" not in text and basic not in text


def test_streamed_fleet_file_equals_the_rendered_series(tmp_path: Path) -> None:
    spec = FleetSpec(pods=2, other_namespace="b", other_model="m", slow_pods=1, seed=5)
    path = tmp_path / "fleet.om"
    written = write_fleet_openmetrics(spec, path, END, duration_s=60, step_s=15)
    series, types = fleet_series(spec, END, duration_s=60, step_s=15)
    assert written == len(series)
    assert path.read_text() == openmetrics_text(series, types)
