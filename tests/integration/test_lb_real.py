"""Real HAProxy and nginx on loopback in front of a real SSE upstream.

Shows the issue end to end: a short HAProxy ``timeout server`` cuts a stream that pauses
between tokens, HAProxy's own stats count it, and the findings name the setting; per-server
sessions (stats CSV and the built-in Prometheus exporter through a real Prometheus) equal the
streams held open; nginx stub_status counts open streams.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamdash.core.lb import join_to_pods, lb_findings
from streamdash.core.snapshot import HistogramSummary, PodRow
from streamdash.settings import LoadBalancerSettings, Thresholds
from streamdash.sources.lb import haproxy
from streamdash.sources.lb.collect import LbAnswers, LoadBalancers
from tests.conftest import PrometheusFactory
from tests.support.lbservers import HAPROXY, NGINX, RunningLb, start_haproxy, start_nginx
from tests.support.sse import HeldStreams, SseServer, read_stream

pytestmark = pytest.mark.integration

PAUSE_S = 2.0
"""Pause between tokens: twice HAProxy's ``timeout server`` below."""
SLOW = "/stream?tokens=100&pause=0.2"
"""A stream that outlives every check (20 s) while sending a token every 200 ms."""


@pytest.fixture
def upstreams() -> Iterator[tuple[SseServer, SseServer]]:
    servers = (SseServer(), SseServer())
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def lb_servers() -> Iterator[list[RunningLb]]:
    for binary in (HAPROXY, NGINX):
        if not binary.is_file():
            pytest.fail(f"{binary} missing: install haproxy and nginx-light")
    started: list[RunningLb] = []
    yield started
    for lb in started:
        lb.stop()


def fetch_once(settings: LoadBalancerSettings, now: float | None = None) -> LbAnswers:
    lbs = LoadBalancers([settings], timeout=5.0)
    try:
        return lbs.fetch(time.time() if now is None else now)
    finally:
        lbs.close()


def summary(subject: str, **values: object) -> HistogramSummary:
    return HistogramSummary(subject=subject, metric=None, available=True, **values)  # type: ignore[arg-type]


def test_short_timeout_server_cuts_pausing_stream_and_findings_name_it(
    tmp_path: Path, upstreams: tuple[SseServer, SseServer], lb_servers: list[RunningLb]
) -> None:
    upstream, _ = upstreams
    lb = start_haproxy(tmp_path / "haproxy", {"llama-0": upstream.address}, timeout_server="1s")
    lb_servers.append(lb)
    settings = LoadBalancerSettings(
        kind="haproxy", url=lb.stats_url, name="edge", config_file=str(lb.config_file)
    )
    lbs = LoadBalancers([settings], timeout=5.0)
    try:
        started = time.time()
        before = lbs.fetch(started)
        assert before.errors == ()
        (row,) = before.backends
        assert (row.server, row.server_aborts, row.server_aborts_rate) == ("llama-0", 0, None)

        chatty = read_stream(f"{lb.url}/stream?tokens=3&pause=0.2")
        cut = read_stream(f"{lb.url}/stream?tokens=3&pause={PAUSE_S}")
        direct = read_stream(f"{upstream.url}/stream?tokens=3&pause={PAUSE_S}")

        after = lbs.fetch(time.time())
    finally:
        lbs.close()

    # The client sees the stream end early only through the LB, only when it pauses.
    assert chatty.completed and chatty.events == ("tok0", "tok1", "tok2", "[DONE]")
    assert direct.completed
    assert not cut.completed and cut.events == ("tok0",) and cut.error is not None

    # HAProxy's own stats count the cut as a server-side abort (termination sD).
    assert after.errors == ()
    (row,) = after.backends
    assert (row.server_aborts, row.client_aborts, row.total) == (1, 0, 2)
    assert row.server_aborts_rate is not None and row.server_aborts_rate > 0
    (backend,) = after.aggregates
    assert (backend.server, backend.server_aborts) == ("BACKEND", 1)
    timeouts = {(t.name, t.scope): t.seconds for t in after.timeouts}
    assert timeouts[("timeout server", "backend be_llm")] == 1.0

    elapsed = time.time() - started
    latency = {
        "itl": summary("itl", p99=PAUSE_S),  # what the client measured between tokens
        "stream": summary("stream", p99=2 * PAUSE_S, p90=2 * PAUSE_S, rate_per_s=2 / elapsed),
    }
    findings = lb_findings(
        latency, after.backends, after.timeouts, [], Thresholds(), aggregates=after.aggregates
    )
    by_id = {f.id: f for f in findings}
    assert set(by_id) == {"lb-idle-timeout", "lb-disconnects"}
    idle = by_id["lb-idle-timeout"]
    assert idle.evidence["setting"] == "timeout server" and idle.evidence["timeout_seconds"] == 1
    assert idle.advice is not None and "timeout server to at least 5 s" in idle.advice
    cuts = by_id["lb-disconnects"]
    assert cuts.evidence["server_aborts_per_s"] == pytest.approx(
        after.aggregates[0].server_aborts_rate
    )
    assert cuts.severity == "critical"  # half of all streams were cut


def test_per_server_sessions_equal_held_streams_in_csv_and_prometheus(
    tmp_path: Path,
    upstreams: tuple[SseServer, SseServer],
    lb_servers: list[RunningLb],
    prometheus_factory: PrometheusFactory,
) -> None:
    s0, s1 = upstreams
    lb = start_haproxy(
        tmp_path / "haproxy", {"llama-0": s0.address, "llama-1": s1.address}, maxconn=2
    )
    lb_servers.append(lb)
    assert lb.metrics_url is not None
    prom = prometheus_factory(scrape_targets=[lb.metrics_url])
    held = {"llama-0": 2, "llama-1": 1}
    settings = LoadBalancerSettings(kind="haproxy", url=lb.stats_url)
    with (
        HeldStreams(f"{lb.url}{SLOW}&srv=llama-0", held["llama-0"]),
        HeldStreams(f"{lb.url}{SLOW}&srv=llama-1", held["llama-1"]),
    ):
        answers = fetch_once(settings)
        queries = haproxy.prometheus_queries(60)
        vectors: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until Prometheus has scraped the held streams
            vectors = {f: prom.query(queries[f]) for f in ("current", "limit", "status")}
            seen = {s["metric"]["server"]: float(s["value"][1]) for s in vectors["current"]}
            if seen == held:
                break
            time.sleep(0.5)
        assert (s0.open_streams, s1.open_streams) == (2, 1)

    current = {r.server: r.current for r in answers.backends}
    assert current == held
    pods = ["llama-0", "llama-1", "llama-2"]
    joined = join_to_pods(pods, answers.backends, "server")
    assert joined == {"llama-0": (2, 2), "llama-1": (1, 2)}

    from_prom = haproxy.backends_from_prometheus(vectors, "prom")
    assert {(r.server, r.current, r.limit, r.status) for r in from_prom} == {
        ("llama-0", 2, 2, "UP"),
        ("llama-1", 1, 2, "UP"),
    }

    rows = [PodRow(p, open_connections=c, connection_limit=lim) for p, (c, lim) in joined.items()]
    (ceiling,) = lb_findings({}, answers.backends, [], rows, Thresholds())
    assert (ceiling.id, ceiling.subject, ceiling.severity) == (
        "connection-ceiling",
        "llama-0",
        "critical",
    )


def test_nginx_stub_status_counts_held_streams(
    tmp_path: Path, upstreams: tuple[SseServer, SseServer], lb_servers: list[RunningLb]
) -> None:
    upstream, _ = upstreams
    lb = start_nginx(tmp_path / "nginx", upstream.address, proxy_read_timeout="45s")
    lb_servers.append(lb)
    settings = LoadBalancerSettings(
        kind="nginx", url=lb.stats_url, name="ingress", config_file=str(lb.config_file)
    )
    idle = fetch_once(settings)
    assert idle.errors == ()
    (quiet,) = idle.frontends
    n = 3
    with HeldStreams(f"{lb.url}{SLOW}", n) as streams:
        busy = fetch_once(settings)
        assert upstream.open_streams == n
    assert streams.first_events == ["data: tok0"] * n
    (front,) = busy.frontends
    # The stub_status request itself is one active, writing connection.
    assert (quiet.active, quiet.writing) == (1, 1)
    assert (front.active, front.writing) == (n + 1, n + 1)
    assert front.requests is not None and quiet.requests is not None
    assert front.requests - quiet.requests == n + 1
    assert [(t.name, t.seconds, t.scope) for t in busy.timeouts] == [
        ("proxy_read_timeout", 45.0, "location /")
    ]


def test_which_idle_timeouts_cut_a_pause(
    tmp_path: Path, upstreams: tuple[SseServer, SseServer], lb_servers: list[RunningLb]
) -> None:
    """nginx proxy_read_timeout cuts a pausing stream; HAProxy timeout client does not
    (why core.lb counts only the first as a stream-cutting idle timeout)."""
    upstream, _ = upstreams
    ngx = start_nginx(tmp_path / "nginx", upstream.address, proxy_read_timeout="1s")
    lb_servers.append(ngx)
    hap = start_haproxy(
        tmp_path / "haproxy",
        {"llama-0": upstream.address},
        timeout_server="30s",
        timeout_client="1s",
    )
    lb_servers.append(hap)
    path = f"/stream?tokens=3&pause={PAUSE_S}"
    through_nginx = read_stream(ngx.url + path)
    through_haproxy = read_stream(hap.url + path)
    assert not through_nginx.completed and through_nginx.events == ("tok0",)
    assert through_haproxy.completed
    answers = fetch_once(LoadBalancerSettings(kind="nginx", config_file=str(ngx.config_file)))
    latency = {"itl": summary("itl", p99=PAUSE_S)}
    (finding,) = lb_findings(latency, [], answers.timeouts, [], Thresholds())
    assert finding.evidence["setting"] == "proxy_read_timeout"
    config = haproxy.parse_config_timeouts(hap.config_file.read_text(), "edge")
    assert ("timeout client", 1.0) in {(t.name, t.seconds) for t in config}
    assert (
        lb_findings(
            latency, [], [t for t in config if t.name == "timeout client"], [], Thresholds()
        )
        == []
    )


def test_down_lb_and_wrong_page_are_errors_not_exceptions(
    tmp_path: Path, upstreams: tuple[SseServer, SseServer], lb_servers: list[RunningLb]
) -> None:
    upstream, _ = upstreams
    lb = start_nginx(tmp_path / "nginx", upstream.address)
    lb_servers.append(lb)
    stats_url = lb.stats_url
    wrong = fetch_once(LoadBalancerSettings(kind="haproxy", url=stats_url))
    (error,) = wrong.errors
    assert error.source == f"haproxy:{stats_url}" and "not HAProxy stats CSV" in error.message
    lb.stop()
    down = fetch_once(LoadBalancerSettings(kind="nginx", url=stats_url))
    (error,) = down.errors
    assert error.part == "stub_status" and "\n" not in error.message
    assert down.frontends == ()


@pytest.mark.parametrize("stats_uri", ["/stats", "/haproxy?stats", "/", "/admin/lb/", "/s?x=1"])
def test_every_documented_stats_uri_form_is_read_as_csv(
    tmp_path: Path,
    upstreams: tuple[SseServer, SseServer],
    lb_servers: list[RunningLb],
    stats_uri: str,
) -> None:
    """HAProxy serves the stats for any URI that starts with ``stats uri``; ``;csv`` must
    come after the whole of it (a query included), or the request goes to a backend."""
    upstream, _ = upstreams
    lb = start_haproxy(tmp_path / "haproxy", {"llama-0": upstream.address}, stats_uri=stats_uri)
    lb_servers.append(lb)
    answers = fetch_once(LoadBalancerSettings(kind="haproxy", url=lb.stats_url))
    assert answers.errors == ()
    assert [(b.proxy, b.server) for b in answers.backends] == [("be_llm", "llama-0")]
    if "?" in stats_uri:  # the old rewrite put ;csv before the query: not the stats page
        base, _, query = lb.stats_url.partition("?")
        wrong = httpx.get(f"{base};csv?{query}", timeout=5.0)
        assert not wrong.text.startswith("# pxname")
