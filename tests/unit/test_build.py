"""build_snapshot: pods, autoscaler and findings from hand-made raw answers."""

from __future__ import annotations

import dataclasses

from streamdash.core.build import build_snapshot
from streamdash.core.raw import HpaRaw
from streamdash.presets import load_preset
from streamdash.settings import Settings
from tests.support.raws import STREAM_BOUNDS, TTFT_BOUNDS, cumulative, raw_answers

SETTINGS = Settings(preset=load_preset("vllm"), namespace="llm")

POD_GAUGES = {
    "a": {"open_fds": 100, "max_fds": 1024, "cpu": 0.2, "request": 0.5, "in_flight": 10},
    "b": {"open_fds": 1001, "max_fds": 1024, "cpu": 0.3, "request": 0.5, "in_flight": 40},
    "c": {"open_fds": 850, "max_fds": 1024, "cpu": 0.4, "request": 0.5, "in_flight": 30},
}
TTFT = {
    "a": cumulative(TTFT_BOUNDS, [5, 3, 1, 1, 0, 0, 0]),
    "b": cumulative(TTFT_BOUNDS, [1, 1, 2, 3, 2, 1, 0]),
    "c": cumulative(TTFT_BOUNDS, [4, 4, 1, 1, 0, 0, 0]),
}
STREAM = {p: cumulative(STREAM_BOUNDS, [0, 0, 1, 1, 8]) for p in POD_GAUGES}
HPA = HpaRaw("llama-serve", 12, 12, 2, 64, "vllm:num_requests_running", "average", 30)


def snapshot(**kw):
    raw = raw_answers(POD_GAUGES, ttft=TTFT, stream=STREAM, hpas=(HPA,), **kw)
    return build_snapshot(raw, SETTINGS)


def test_pods_worst_first_with_fd_utilization() -> None:
    s = snapshot()
    assert [p.pod for p in s.pods] == ["b", "c", "a"]
    b = s.pods[0]
    assert b.fd_utilization == 1001 / 1024
    assert b.open_connections is None  # no load balancer configured: unknown, not 0


def test_fd_findings_per_pod_with_thresholds() -> None:
    fd = {f.subject: f.severity for f in snapshot().findings if f.id == "fd-exhaustion"}
    assert fd == {"b": "critical", "c": "warning"}


def test_autoscaler_uses_hpa_formula_and_config_target() -> None:
    a = snapshot().autoscaler
    assert a is not None
    # total CPU 0.9 cores / (0.5 request x 0.7 target) = 2.57 -> 3 replicas
    assert a.cpu_cores is not None and abs(a.cpu_cores - 0.9) < 1e-12
    assert a.cpu_target_source == "config" and a.cpu_target_utilization == 0.7
    assert a.cpu_implied_replicas == 3
    assert a.divergence_ratio == 12 / 3


def test_cpu_target_comes_from_the_hpa_when_it_scales_on_cpu() -> None:
    hpa = dataclasses.replace(HPA, target_metric="cpu", target_type="utilization", target_value=50)
    raw = raw_answers(POD_GAUGES, ttft=TTFT, stream=STREAM, hpas=(hpa,))
    a = build_snapshot(raw, SETTINGS).autoscaler
    assert a is not None and a.cpu_target_source == "hpa" and a.cpu_target_utilization == 0.5
    assert a.cpu_implied_replicas == 4  # ceil(0.9 / (0.5 * 0.5)) = ceil(3.6)


def test_divergence_finding_at_threshold() -> None:
    findings = [f for f in snapshot().findings if f.id == "autoscaler-cpu-divergence"]
    assert len(findings) == 1 and findings[0].subject == "llama-serve"
    assert findings[0].evidence["divergence_ratio"] == 4.0


def test_overflow_finding_only_on_the_overflowed_subject() -> None:
    s = snapshot()
    overflow = [f for f in s.findings if f.id == "histogram-overflow"]
    assert [f.subject for f in overflow] == ["stream"]
    assert overflow[0].severity == "critical"
    stream = s.latency["stream"]
    assert stream.overflowed == ("p50", "p90", "p99")
    assert stream.p99 == 5.0 and stream.top_finite_bucket == 5.0
    assert stream.overflow_fraction == 0.8
    assert s.latency["ttft"].overflowed == ()
    assert all(p.stream_p99_overflowed for p in s.pods)


def test_findings_sorted_worst_first() -> None:
    sev = [f.severity for f in snapshot().findings]
    assert sev == sorted(sev, key=["critical", "warning", "info"].index)


def test_unknown_stays_none_without_hpa_or_gauges() -> None:
    raw = raw_answers({"a": {}}, ttft={"a": TTFT["a"]})
    s = build_snapshot(raw, SETTINGS)
    assert s.autoscaler is None
    p = s.pods[0]
    assert (p.open_fds, p.max_fds, p.fd_utilization, p.cpu_cores, p.in_flight) == (None,) * 5
    assert p.stream_p99 is None
    assert not s.latency["stream"].available


def test_several_hpas_without_a_name_are_all_shown_and_never_share_the_fleet() -> None:
    other = dataclasses.replace(HPA, name="other")
    raw = raw_answers(POD_GAUGES, ttft=TTFT, hpas=(HPA, other))
    s = build_snapshot(raw, SETTINGS)
    assert s.autoscaler is None
    assert [a.name for a in s.autoscalers] == [HPA.name, "other"]
    # no owner series: the pods of each cannot be told apart, so no CPU-implied number
    assert all(a.pods_basis == "unknown" and a.cpu_implied_replicas is None for a in s.autoscalers)
    assert sum("cannot be told" in n for n in s.notes) == 2
    named = build_snapshot(raw, dataclasses.replace(SETTINGS, hpa="other"))
    assert named.autoscaler is not None and named.autoscaler.name == "other"


def test_tgi_has_no_ttft_and_says_so() -> None:
    s = build_snapshot(raw_answers(POD_GAUGES), Settings(preset=load_preset("tgi")))
    ttft = s.latency["ttft"]
    assert not ttft.available and ttft.metric is None and ttft.note
    assert s.latency["stream"].note and "TTFT" in s.latency["stream"].note


def test_lb_rows_fill_pod_connections_and_lb_findings() -> None:
    from streamdash.core.raw import LbBackendRaw, LbTimeoutRaw

    rows = tuple(
        LbBackendRaw(lb="edge", kind="haproxy", proxy="be", server=p, current=c, limit=64)
        for p, c in (("a", 10), ("b", 60), ("c", 20))
    )
    timeout = LbTimeoutRaw(lb="edge", kind="haproxy", name="timeout server", seconds=2.0)
    raw = dataclasses.replace(
        raw_answers(POD_GAUGES, ttft=TTFT, stream=STREAM, hpas=(HPA,)),
        lb_backends=rows,
        lb_timeouts=(timeout,),
    )
    s = build_snapshot(raw, SETTINGS)
    conns = {p.pod: (p.open_connections, p.connection_limit) for p in s.pods}
    assert conns == {"a": (10, 64), "b": (60, 64), "c": (20, 64)}
    ids = {f.id for f in s.findings}
    assert "lb-idle-timeout" in ids  # streams last > 5 s, the LB cuts silences at 2 s
    assert "connection-ceiling" in ids  # b holds 60 of 64 sessions
    assert s.capacity.per_pod_streams_ceiling is not None


def test_vllm_fd_gap_note_only_when_no_pod_reports_a_process_fd_pair() -> None:
    note = next(iter(load_preset("vllm").fd_gap_notes))
    assert note not in snapshot().notes  # every pod has its process_open/max_fds pair
    no_fds = {p: {k: v for k, v in g.items() if "fds" not in k} for p, g in POD_GAUGES.items()}
    raw = raw_answers(no_fds, ttft=TTFT, stream=STREAM, hpas=(HPA,))
    assert note in build_snapshot(raw, SETTINGS).notes
