"""Pure LB parsers: HAProxy CSV / config / exporter vectors, Envoy admin JSON, nginx
stub_status / config, and the collector's counter rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamdash.core.raw import LbBackendRaw
from streamdash.settings import LoadBalancerSettings
from streamdash.sources.lb import envoy, haproxy, nginx
from streamdash.sources.lb.collect import LoadBalancers, counter_rate, with_rates
from streamdash.sources.lb.common import LbParseError, lb_name, source_name
from tests.support.sse import SseServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "envoy"

# Captured from HAProxy 2.6.12 (Debian) /stats;csv, trimmed to the columns we read plus a
# few others, kept in HAProxy's own order (with its trailing comma).
HAPROXY_CSV = (
    (
        "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
        "wretr,wredis,status,weight,cli_abrt,srv_abrt,addr,\n"
    )
    + """\
fe_llm,FRONTEND,,,0,1,256,3,298,447,0,0,1,,,,,OPEN,,,,,
be_llm,s1,0,0,3,4,10,7,148,204,,0,,0,2,1,0,UP,1,0,2,127.0.0.1:40001,
be_llm,s2,0,0,0,1,,1,150,243,,0,,0,0,0,0,no check,1,1,0,127.0.0.1:40002,
be_llm,BACKEND,0,0,3,4,26,8,298,447,0,0,,0,2,1,0,UP,2,1,2,,
stats,FRONTEND,,,1,1,256,2,0,0,0,0,1,,,,,OPEN,,,,,
"""
)

# A real Prometheus 2.42 /api/v1/query result over HAProxy 2.6's built-in exporter while one
# stream was held open on server llama-0 (maxconn 10).
PROM_CAPTURE = json.loads(
    r"""{
 "haproxy_server_current_sessions": [
  {
   "metric": {
    "__name__": "haproxy_server_current_sessions",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0"
   },
   "value": [
    1795474504.487,
    "1"
   ]
  }
 ],
 "haproxy_server_limit_sessions": [
  {
   "metric": {
    "__name__": "haproxy_server_limit_sessions",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0"
   },
   "value": [
    1795474504.489,
    "10"
   ]
  }
 ],
 "haproxy_server_status": [
  {
   "metric": {
    "__name__": "haproxy_server_status",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0",
    "state": "DOWN"
   },
   "value": [
    1795474504.49,
    "0"
   ]
  },
  {
   "metric": {
    "__name__": "haproxy_server_status",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0",
    "state": "DRAIN"
   },
   "value": [
    1795474504.49,
    "0"
   ]
  },
  {
   "metric": {
    "__name__": "haproxy_server_status",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0",
    "state": "MAINT"
   },
   "value": [
    1795474504.49,
    "0"
   ]
  },
  {
   "metric": {
    "__name__": "haproxy_server_status",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0",
    "state": "NOLB"
   },
   "value": [
    1795474504.49,
    "0"
   ]
  },
  {
   "metric": {
    "__name__": "haproxy_server_status",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0",
    "state": "UP"
   },
   "value": [
    1795474504.49,
    "1"
   ]
  }
 ],
 "haproxy_server_server_aborts_total": [
  {
   "metric": {
    "__name__": "haproxy_server_server_aborts_total",
    "instance": "127.0.0.1:50557",
    "job": "targets",
    "proxy": "be_llm",
    "server": "llama-0"
   },
   "value": [
    1795474504.493,
    "0"
   ]
  }
 ]
}"""
)


def test_haproxy_csv_by_column_name() -> None:
    servers, aggregates = haproxy.parse_stats_csv(HAPROXY_CSV, "edge")
    assert [(s.proxy, s.server) for s in servers] == [("be_llm", "s1"), ("be_llm", "s2")]
    s1, s2 = servers
    assert (s1.current, s1.maximum, s1.limit, s1.total) == (3, 4, 10, 7)
    assert (s1.client_aborts, s1.server_aborts, s1.retries) == (0, 2, 1)
    assert s1.address == "127.0.0.1:40001" and s1.status == "UP" and s1.lb == "edge"
    assert s2.limit is None  # empty slim = no maxconn: unknown, not 0
    assert s1.timeouts is None and s1.resets is None  # HAProxy has no such per-server counter
    assert [(a.proxy, a.server, a.server_aborts) for a in aggregates] == [("be_llm", "BACKEND", 2)]


def test_haproxy_csv_column_order_does_not_matter() -> None:
    text = "# svname,scur,pxname,slim\nweb-1,5,be,20\n"
    (row,), _ = haproxy.parse_stats_csv(text, "lb")
    assert (row.proxy, row.server, row.current, row.limit) == ("be", "web-1", 5, 20)
    assert row.client_aborts is None


@pytest.mark.parametrize(
    "text",
    ["<html>login</html>", "", "pxname,svname\nx,y\n", "# foo,bar\n1,2\n"],
)
def test_haproxy_csv_garbage_is_one_line_error(text: str) -> None:
    with pytest.raises(LbParseError) as info:
        haproxy.parse_stats_csv(text, "lb")
    assert "\n" not in str(info.value)


HAPROXY_CFG = """global
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 30s   # clients
    timeout server 1m
frontend fe
    bind :80
    default_backend be_llm
frontend stats
    bind :8404
    stats uri /stats
backend be_llm
    timeout server 1500    # bare number = milliseconds
    timeout tunnel 1h
    server a 10.0.0.1:8000 maxconn 50
backend be_empty
    timeout server 2s
defaults second
    timeout server 10s
listen lst
    bind :81
    server b 10.0.0.2:8000
"""


def test_haproxy_config_timeouts_inherit_and_override() -> None:
    got = {(t.scope, t.name): t.seconds for t in haproxy.parse_config_timeouts(HAPROXY_CFG, "e")}
    assert got == {
        ("frontend fe", "timeout client"): 30.0,
        ("backend be_llm", "timeout server"): 1.5,
        ("backend be_llm", "timeout tunnel"): 3600.0,
        ("listen lst", "timeout server"): 10.0,  # the second defaults starts fresh
    }


def test_haproxy_config_bad_value_names_file_and_line() -> None:
    with pytest.raises(LbParseError, match=r"h\.cfg:3: timeout server"):
        haproxy.parse_config_timeouts(
            "backend b\n  server a x:1\n  timeout server 5parsecs\n", "e", "h.cfg"
        )


def test_haproxy_prometheus_vectors_from_real_capture() -> None:
    vectors = {
        field: PROM_CAPTURE[metric]
        for field, metric in haproxy.PROMETHEUS_FIELDS.items()
        if metric in PROM_CAPTURE
    }
    (row,) = haproxy.backends_from_prometheus(vectors, "edge")
    assert (row.proxy, row.server) == ("be_llm", "llama-0")
    assert (row.current, row.limit, row.server_aborts, row.status) == (1, 10, 0, "UP")
    assert row.client_aborts is None  # not asked for: unknown


def test_haproxy_prometheus_limit_zero_is_no_limit_and_nan_is_unknown() -> None:
    vec = [{"metric": {"proxy": "b", "server": "s"}, "value": [1.0, "0"]}]
    nan = [{"metric": {"proxy": "b", "server": "s"}, "value": [1.0, "NaN"]}]
    (row,) = haproxy.backends_from_prometheus({"limit": vec, "current": vec, "total": nan}, "e")
    assert row.limit is None and row.current == 0 and row.total is None


def test_haproxy_prometheus_queries_one_per_field() -> None:
    queries = haproxy.prometheus_queries(300, 'job="lb"')
    assert queries["current"] == 'haproxy_server_current_sessions{job="lb"}'
    assert queries["server_aborts_rate"] == (
        'rate(haproxy_server_server_aborts_total{job="lb"}[300s])'
    )


def test_haproxy_stats_url() -> None:
    assert haproxy.stats_url("http://h:8404/stats") == "http://h:8404/stats;csv"
    assert haproxy.stats_url("http://h/stats;csv") == "http://h/stats;csv"
    assert haproxy.stats_url("http://h/haproxy?stats") == "http://h/haproxy?stats;csv"
    assert haproxy.stats_url("http://h:8404/") == "http://h:8404/;csv"
    assert haproxy.stats_url("http://h/stats#top") == "http://h/stats;csv"


# ------------------------------------------------------------------------------ Envoy


def test_envoy_clusters_hosts() -> None:
    rows = envoy.parse_clusters_json((FIXTURES / "clusters.json").read_text(), "edge")
    by_server = {r.server: r for r in rows}
    busy = by_server["llama-7d9f-abcde"]
    assert busy.address == "10.1.0.11:8000" and busy.proxy == "llm"
    assert (busy.current, busy.total, busy.timeouts, busy.status) == (38, 421, 9, "HEALTHY")
    idle = by_server["10.1.0.12:8000"]  # no hostname: named by address
    assert idle.current == 0 and idle.timeouts == 0  # listed without value = protobuf zero
    sink = by_server["unix:/var/run/sink.sock"]
    assert sink.current is None and sink.timeouts is None  # not listed at all = unknown


def test_envoy_stats_aggregates_with_dotted_cluster_names() -> None:
    rows = envoy.parse_stats_json((FIXTURES / "stats.json").read_text(), "edge")
    by_proxy = {r.proxy: r for r in rows}
    llm = by_proxy["llm"]
    assert (llm.current, llm.total, llm.timeouts, llm.retries, llm.resets) == (38, 424, 9, 7, 4)
    assert llm.server == "*"
    istio = by_proxy["outbound|8000||llm.prod.svc.cluster.local"]
    assert (istio.timeouts, istio.current) == (1, 2)
    hcm = by_proxy["http.ingress_http"]
    assert (hcm.timeouts, hcm.current, hcm.total) == (3, 40, 430)


def test_envoy_config_dump_timeouts_with_defaults() -> None:
    got = {
        (t.name, t.scope): t.seconds
        for t in envoy.parse_config_dump((FIXTURES / "config_dump.json").read_text(), "edge")
    }
    assert got == {
        ("stream_idle_timeout", "listener ingress (http.ingress_http)"): 300.0,  # default
        ("route timeout", "route local_route/llm /v1/chat -> llm"): 15.0,  # default
        ("route idle_timeout", "route local_route/llm /v1/long -> llm"): 30.0,  # timeout 0s: none
        ("stream_idle_timeout", "listener grpc (http.grpc)"): 45.0,
        ("max_stream_duration", "listener grpc (http.grpc)"): 600.0,
        ("route timeout", "route grpc_routes/grpc / -> llm"): 120.0,
        ("max_stream_duration", "route grpc_routes/grpc / -> llm"): 300.0,
    }


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (envoy.parse_clusters_json, "cluster::llm::10.0.0.1:80::cx_active::3"),
        (envoy.parse_stats_json, '{"nope": []}'),
        (envoy.parse_config_dump, "[1, 2]"),
    ],
)
def test_envoy_garbage_is_one_line_error(parse: object, text: str) -> None:
    with pytest.raises(LbParseError) as info:
        parse(text, "e")  # type: ignore[operator]
    assert "\n" not in str(info.value)


def test_envoy_prometheus_cluster_rows() -> None:
    vec = [{"metric": {"envoy_cluster_name": "llm"}, "value": [1.0, "12"]}]
    rate = [{"metric": {"envoy_cluster_name": "llm"}, "value": [1.0, "0.5"]}]
    (row,) = envoy.clusters_from_prometheus({"current": vec, "timeouts_rate": rate}, "e")
    assert (row.proxy, row.server, row.current, row.timeouts_rate) == ("llm", "*", 12, 0.5)


# ------------------------------------------------------------------------------ nginx

STUB = (
    "Active connections: 291 \nserver accepts handled requests\n"
    " 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"
)


def test_nginx_stub_status() -> None:
    row = nginx.parse_stub_status(STUB, "ingress")
    assert (row.active, row.accepted, row.handled, row.requests) == (
        291,
        16630948,
        16630948,
        31070465,
    )
    assert (row.reading, row.writing, row.waiting) == (6, 179, 106)


def test_nginx_stub_status_garbage() -> None:
    with pytest.raises(LbParseError, match="not an nginx stub_status"):
        nginx.parse_stub_status("<html>404</html>", "i")


NGINX_CONF = """
http {
    proxy_read_timeout 90;   # seconds
    server {
        location /v1/ {
            proxy_pass http://llm;
            proxy_read_timeout 5m;
        }
        location /h { return 200; }
    }
}
"""


def test_nginx_config_timeouts() -> None:
    got = {(t.scope, t.seconds) for t in nginx.parse_config_timeouts(NGINX_CONF, "i")}
    assert got == {("http", 90.0), ("location /v1/", 300.0)}


def test_nginx_config_default_when_proxying_without_setting() -> None:
    (row,) = nginx.parse_config_timeouts(
        "http { server { location / { proxy_pass http://u; } } }", "i"
    )
    assert (row.seconds, row.scope) == (60.0, "default")
    assert nginx.parse_config_timeouts("events {}", "i") == []


def test_nginx_config_bad_value() -> None:
    with pytest.raises(LbParseError, match=r"n\.conf:1: proxy_read_timeout"):
        nginx.parse_config_timeouts("proxy_read_timeout soon;", "i", "n.conf")


# ------------------------------------------------------------------ names and rates


def test_names_never_carry_credentials() -> None:
    lb = LoadBalancerSettings(kind="haproxy", url="http://admin:s3cret@lb.example:8404/stats")
    assert source_name(lb) == "haproxy:http://lb.example:8404/stats"
    assert lb_name(lb) == "lb.example:8404"
    assert lb_name(LoadBalancerSettings(kind="cloud", name="alb")) == "alb"


def test_counter_rate_handles_resets_and_unknowns() -> None:
    assert counter_rate(10, 40, 10) == 3
    assert counter_rate(100, 5, 5) == 1  # reset: counted from 0
    assert counter_rate(None, 5, 5) is None
    assert counter_rate(1, 5, 0) is None


def test_with_rates_only_for_rows_seen_before() -> None:
    before = LbBackendRaw("e", "haproxy", "be", "s1", client_aborts=1, server_aborts=4)
    now = [
        LbBackendRaw("e", "haproxy", "be", "s1", client_aborts=3, server_aborts=2),
        LbBackendRaw("e", "haproxy", "be", "s2", client_aborts=3),
    ]
    s1, s2 = with_rates(now, {("be", "s1"): before}, 2.0)
    assert (s1.client_aborts_rate, s1.server_aborts_rate, s1.timeouts_rate) == (1.0, 1.0, None)
    assert s2.client_aborts_rate is None


def test_collector_down_lb_is_an_error_not_an_exception() -> None:
    # Port 9 on loopback: nothing listens; a refused connection is a real fault.
    settings = [
        LoadBalancerSettings(kind="haproxy", url="http://u:pw@127.0.0.1:9/stats"),
        LoadBalancerSettings(kind="cloud", name="alb", idle_timeout_seconds=60),
        LoadBalancerSettings(kind="f5", url="http://127.0.0.1:9/"),
    ]
    lbs = LoadBalancers(settings, timeout=2.0)
    try:
        answers = lbs.fetch(1000.0)
    finally:
        lbs.close()
    assert answers.sources[0] == "haproxy:http://127.0.0.1:9/stats"
    messages = [(e.source, e.message) for e in answers.errors]
    assert len(messages) == 2
    assert messages[0][0] == "haproxy:http://127.0.0.1:9/stats"
    assert "pw" not in messages[0][1] and "\n" not in messages[0][1]
    assert "unknown load balancer kind 'f5'" in messages[1][1]
    assert [(t.lb, t.name, t.seconds) for t in answers.timeouts] == [("alb", "idle timeout", 60)]


def test_collector_garbage_answer_is_an_error() -> None:
    upstream = SseServer()  # a real HTTP server whose "/" answers "ok", not stub_status
    lbs = LoadBalancers([LoadBalancerSettings(kind="nginx", url=upstream.url + "/")], 2.0)
    try:
        (error,) = lbs.fetch(1.0).errors
    finally:
        lbs.close()
        upstream.stop()
    assert error.part == "stub_status" and "not an nginx stub_status page" in error.message
