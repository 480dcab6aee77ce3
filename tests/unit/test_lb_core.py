"""core.lb: pod join, lb-idle-timeout / lb-disconnects / connection-ceiling, capacity."""

from __future__ import annotations

import pytest

from streamdash.core.lb import (
    capacity,
    disconnect_rates,
    join_to_pods,
    lb_findings,
    nice_at_least,
    nice_at_most,
    pod_ceiling,
    timeout_sort,
)
from streamdash.core.raw import LbBackendRaw, LbTimeoutRaw
from streamdash.core.snapshot import HistogramSummary, PodRow
from streamdash.settings import Thresholds

T = Thresholds()


def row(server: str, **kw: object) -> LbBackendRaw:
    fields: dict[str, object] = {"lb": "edge", "kind": "haproxy", "proxy": "be", "server": server}
    fields.update(kw)
    return LbBackendRaw(**fields)  # type: ignore[arg-type]


def hist(subject: str, **kw: object) -> HistogramSummary:
    return HistogramSummary(subject=subject, metric=f"m_{subject}", available=True, **kw)  # type: ignore[arg-type]


def timeout(name: str, seconds: float, kind: str = "haproxy", lb: str = "edge") -> LbTimeoutRaw:
    return LbTimeoutRaw(lb, kind, name, seconds, "backend be")


def ids(findings: list[object]) -> list[str]:
    return [f.id for f in findings]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- join


def test_join_by_server_name_exact_or_whole_token() -> None:
    pods = ["llama-1", "llama-10", "llama-1-b"]
    rows = [
        row("llama-10", current=4, limit=50),
        row("be_llm/llama-1", current=2, limit=50),
        row("llama-1-b", current=1),
        row("other", current=9),
    ]
    got = join_to_pods(pods, rows, "server")
    assert got == {"llama-10": (4, 50), "llama-1": (2, 50), "llama-1-b": (1, None)}


def test_join_by_address_and_several_lbs_add_up() -> None:
    pods = ["10.0.0.1:8000", "10.0.0.2"]
    rows = [
        row("s1", address="10.0.0.1:8000", current=3, limit=10),
        row("s1", address="10.0.0.1:8000", current=2, limit=10, lb="edge2"),
        row("s2", address="10.0.0.2:8000", current=None, limit=5),
        row("s3", address="10.0.0.3:8000", current=1),
    ]
    got = join_to_pods(pods, rows, "address")
    assert got == {"10.0.0.1:8000": (5, 20), "10.0.0.2": (None, 5)}


# -------------------------------------------------------------------- lb-idle-timeout


def test_idle_timeout_shorter_than_token_gap_is_critical_with_value_to_set() -> None:
    latency = {
        "ttft": hist("ttft", p99=0.8),
        "itl": hist("itl", p99=2.0),
        "stream": hist("stream", p99=6.0, p90=5.0),
    }
    (f,) = lb_findings(latency, [], [timeout("timeout server", 1.0)], [], T)
    assert (f.id, f.severity, f.subject) == ("lb-idle-timeout", "critical", "edge")
    assert "`timeout server`" in f.summary and "1 s" in f.summary and "2 s" in f.summary
    assert f.evidence["timeout_seconds"] == 1.0 and f.evidence["longest_silence_seconds"] == 2.0
    assert f.evidence["suggested_seconds"] == 5.0
    assert f.advice is not None and "timeout server to at least 5 s" in f.advice
    assert "keep-alive" in f.advice


def test_idle_timeout_longer_than_every_silence_is_fine_even_for_long_streams() -> None:
    latency = {"itl": hist("itl", p99=0.05), "stream": hist("stream", p99=600.0)}
    assert lb_findings(latency, [], [timeout("proxy_read_timeout", 60, "nginx")], [], T) == []


def test_idle_timeout_against_overflowed_gap_lower_bound() -> None:
    latency = {"itl": hist("itl", p99=8.0, overflowed=("p99",))}
    (f,) = lb_findings(latency, [], [timeout("stream_idle_timeout", 5, "envoy")], [], T)
    assert "> 8 s" in f.summary and f.evidence["longest_silence_is_lower_bound"] is True


def test_idle_timeout_with_unknown_gaps_warns_when_streams_outlast_it() -> None:
    latency = {"stream": hist("stream", p99=90.0)}
    (f,) = lb_findings(latency, [], [timeout("idle timeout", 60, "cloud", "alb")], [], T)
    assert f.severity == "warning" and f.subject == "alb" and "unknown" in f.summary


def test_route_timeout_cuts_long_streams_and_uses_shortest_scope() -> None:
    latency = {"stream": hist("stream", p99=40.0, p90=20.0), "ttft": hist("ttft", p99=1.0, p90=0.5)}
    timeouts = [timeout("route timeout", 15, "envoy"), timeout("route timeout", 120, "envoy")]
    (f,) = lb_findings(latency, [], timeouts, [], T)
    assert f.severity == "critical"  # 15 s < p90 (20.5 s): over 10 % cut
    assert f.evidence["timeout_seconds"] == 15 and f.evidence["scopes_with_this_setting"] == 2
    assert f.evidence["response_p99_seconds"] == 41.0  # stream + TTFT
    assert f.advice is not None and "at least 90 s" in f.advice and "0s" in f.advice


def test_total_timeout_below_p99_only_is_a_warning_and_includes_ttft_flag() -> None:
    latency = {"stream": hist("stream", p99=40.0, p90=10.0), "ttft": hist("ttft", p99=5.0)}
    (f,) = lb_findings(
        latency, [], [timeout("route timeout", 30, "envoy")], [], T, stream_includes_ttft=True
    )
    assert f.severity == "warning" and f.evidence["response_p99_seconds"] == 40.0


def test_tunnel_and_client_timeouts_do_not_cut_sse_pauses() -> None:
    quiet = [timeout("timeout tunnel", 1), timeout("timeout client", 1)]
    assert [timeout_sort(t) for t in quiet] == [None, None]
    latency = {"itl": hist("itl", p99=30.0)}
    assert lb_findings(latency, [], quiet, [], T) == []


def test_nice_durations() -> None:
    assert [nice_at_least(x) for x in (0.3, 4, 61, 3601)] == [1, 5, 90, 7200]
    assert [nice_at_most(x) for x in (0.5, 7, 30)] == [0.5, 5, 30]


# --------------------------------------------------------------------- lb-disconnects


def test_disconnects_relative_to_stream_rate() -> None:
    rows = [
        row("a", client_aborts_rate=0.1, server_aborts_rate=0.3),
        row("b", client_aborts_rate=0.0, server_aborts_rate=0.1),
    ]
    latency = {"stream": hist("stream", rate_per_s=5.0)}
    (f,) = lb_findings(latency, rows, [], [], T)
    assert (f.id, f.severity) == ("lb-disconnects", "critical")  # 10 % >= 10 x 1 %
    assert f.evidence["disconnects_per_s"] == pytest.approx(0.5)
    assert f.evidence["ratio"] == pytest.approx(0.1)
    assert "10.0 %" in f.summary and "retry" in f.summary


def test_disconnects_below_threshold_are_quiet_and_unknown_rates_are_none() -> None:
    latency = {"stream": hist("stream", rate_per_s=100.0)}
    assert lb_findings(latency, [row("a", server_aborts_rate=0.5)], [], [], T) == []
    assert lb_findings(latency, [row("a", server_aborts=5)], [], [], T) == []  # no rate yet


def test_disconnects_with_unknown_stream_rate_is_info() -> None:
    (f,) = lb_findings({}, [row("a", timeouts_rate=1.0)], [], [], T)
    assert f.severity == "info" and f.evidence["ratio"] is None


def test_aggregate_rows_win_over_server_sums() -> None:
    servers = [row("a", timeouts_rate=0.1, kind="envoy"), row("b", timeouts_rate=0.1)]
    cluster = [
        row("*", timeouts_rate=0.5, resets_rate=0.25, retries_rate=1.0),
        row("*", proxy="http.ingress", timeouts_rate=0.25),
    ]
    rates = disconnect_rates(servers, cluster)
    assert rates["timeouts"] == 0.75 and rates["resets"] == 0.25 and rates["retries"] == 1.0
    assert rates["client_aborts"] is None


# ----------------------------------------------------------------- connection-ceiling


def test_connection_ceiling_lb_limit() -> None:
    pods = [
        PodRow("p1", open_connections=9, connection_limit=10),
        PodRow("p2", open_connections=2, connection_limit=10),
        PodRow("p3", open_connections=10, connection_limit=10),
    ]
    (f,) = lb_findings({}, [], [], pods, T)
    assert (f.id, f.severity, f.subject) == ("connection-ceiling", "critical", "p3")
    assert f.evidence["pods_over_threshold"] == 2
    assert "LB session limit" in f.summary


def test_connection_ceiling_fd_budget() -> None:
    # 1024 FDs, 200 of them not connections: 824 for streams, 700 in use = 85 %.
    pod = PodRow("p", in_flight=700, open_fds=900, max_fds=1024)
    c = pod_ceiling(pod)
    assert (c.fd_budget, c.bound) == (824, "FD budget")
    (f,) = lb_findings({}, [], [], [pod], T)
    assert f.severity == "warning" and "FD budget" in f.summary


def test_connection_ceiling_unknown_is_quiet() -> None:
    assert lb_findings({}, [], [], [PodRow("p", open_connections=100)], T) == []


# ----------------------------------------------------------------------------- capacity


def test_capacity_littles_law() -> None:
    pods = [
        PodRow("a", open_connections=10, connection_limit=50, open_fds=30, max_fds=1024),
        PodRow("b", open_connections=10, open_fds=30, max_fds=40),
        PodRow("c"),
    ]
    latency = {
        "stream": hist("stream", mean_seconds=18.0, rate_per_s=2.0),
        "ttft": hist("ttft", mean_seconds=2.0),
    }
    cap = capacity(pods, latency)
    # a: min(50, 1024 - 20) = 50; b: 40 - 20 = 20; W = 18 + 2 = 20 s.
    assert cap.mean_stream_seconds == 20.0
    assert cap.per_pod_streams_ceiling == 20
    assert cap.sustainable_rate_per_s == pytest.approx(70 / 20)
    assert cap.arrival_rate_per_s == 2.0
    assert cap.basis is not None and "Little's law" in cap.basis and "1 of 3 pods" in cap.basis


def test_capacity_unknowns_stay_none() -> None:
    cap = capacity([PodRow("a")], {})
    assert cap.sustainable_rate_per_s is None and cap.per_pod_streams_ceiling is None
    assert cap.basis is not None
    cap = capacity([PodRow("a", max_fds=100)], {})
    assert cap.per_pod_streams_ceiling == 100 and cap.sustainable_rate_per_s is None
    assert cap.basis is not None and "unknown" in cap.basis


def test_rare_long_pauses_past_an_idle_timeout_are_reported() -> None:
    import dataclasses
    import math

    from streamdash.core.lb import idle_timeout_findings
    from streamdash.core.raw import LbTimeoutRaw
    from streamdash.core.snapshot import HistogramSummary

    itl = HistogramSummary("itl", "itl_metric", True, p99=0.07, longest_observed=(40.0, 80.0))
    ttft = HistogramSummary("ttft", "ttft_metric", True, p99=2.0)
    timeout = LbTimeoutRaw(lb="edge", kind="haproxy", name="timeout server", seconds=60.0)
    found = idle_timeout_findings({"itl": itl, "ttft": ttft}, [timeout])
    assert [(f.id, f.severity) for f in found] == [("lb-idle-timeout", "warning")]
    assert found[0].evidence["longest_gap_bucket_seconds"] == [40.0, 80.0]
    assert "between 40 s and 80 s" in found[0].summary
    certain = dataclasses.replace(itl, longest_observed=(80.0, math.inf))
    found = idle_timeout_findings({"itl": certain, "ttft": ttft}, [timeout])
    assert [f.severity for f in found] == ["critical"]
    calm = dataclasses.replace(itl, longest_observed=(0.05, 0.1))
    assert idle_timeout_findings({"itl": calm, "ttft": ttft}, [timeout]) == []


def test_idle_advice_covers_the_longest_pause_the_itl_histogram_saw() -> None:
    """2x TTFT p99 would say 10 s; the inter-token histogram saw pauses of 20-40 s."""
    latency = {
        "ttft": hist("ttft", p99=5.0),
        "itl": hist("itl", p99=0.05, longest_observed=(20.0, 40.0)),
        "stream": hist("stream", p99=60.0, p90=50.0),
    }
    (f,) = lb_findings(latency, [], [timeout("timeout server", 4.0)], [], T)
    assert f.severity == "critical"
    suggested = f.evidence["suggested_seconds"]
    assert isinstance(suggested, float) and 80.0 <= suggested <= 100.0  # nice, >= 2 x 40 s
    assert f.evidence["longest_gap_bucket_seconds"] == [20.0, 40.0]
    assert f.advice is not None and "longest pause" in f.advice


def test_a_per_request_mean_itl_is_never_a_pause() -> None:
    """TGI / TRT-LLM / OTel: a mean of 30 s per token is not a 30 s silence."""
    latency = {
        "itl": hist("itl", p99=30.0, longest_observed=(20.0, 40.0), per_request_mean=True),
        "stream": hist("stream", p99=60.0, p90=50.0),
    }
    (f,) = lb_findings(latency, [], [timeout("timeout server", 10.0)], [], T)
    assert f.severity == "warning"  # only the response length speaks, not a mean gap
    assert "longest_silence_seconds" not in f.evidence
    assert "longest_gap_bucket_seconds" not in f.evidence
