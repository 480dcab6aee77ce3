"""Groups in the pure core: membership, per-group findings on the right subject."""

from __future__ import annotations

import math
from dataclasses import replace

from streamdash.core.build import build_snapshot
from streamdash.core.histogram import aggregate
from streamdash.core.parts import QueryPart
from streamdash.core.raw import RawAnswers, WorkloadRef
from streamdash.presets import load_preset
from streamdash.settings import Settings

INF = math.inf
FAST = {1.0: 99.0, 5.0: 100.0, INF: 100.0}
SLOW_OVERFLOW = {1.0: 0.0, 5.0: 10.0, INF: 100.0}
A, B = (("model_name", "a"),), (("model_name", "b"),)


def _raw() -> RawAnswers:
    ttft = aggregate(
        "vllm:time_to_first_token_seconds",
        {"a-1": FAST, "b-1": SLOW_OVERFLOW},
        groups={A: FAST, B: SLOW_OVERFLOW},
        part=QueryPart.TTFT,
    )
    return RawAnswers(
        taken_at=1.0,
        window_seconds=300,
        source_kind="prometheus",
        source_url=None,
        histograms={"ttft": ttft},
        open_fds={"a-1": 900.0, "b-1": 10.0},
        max_fds={"a-1": 1000.0, "b-1": 1000.0},
        in_flight={"a-1": 3.0, "b-1": 4.0},
        pod_groups={"a-1": (A,), "b-1": (B,)},
        pod_workloads={
            "a-1": WorkloadRef("Deployment", "a"),
            "b-1": WorkloadRef("Deployment", "b"),
        },
        queries={QueryPart.TTFT: "q"},
    )


def test_groups_split_latency_and_name_their_pods() -> None:
    snap = build_snapshot(_raw(), Settings(preset=load_preset("vllm")))
    by_name = {g.name: g for g in snap.groups}
    a, b = by_name["model_name=a"], by_name["model_name=b"]
    assert a.pods == ("a-1",) and b.pods == ("b-1",)
    assert a.latency["ttft"].p99 == 1.0 and a.latency["ttft"].overflowed == ()
    assert b.latency["ttft"].overflowed == ("p50", "p90", "p99")
    assert (a.fd_worst_pod, a.fd_worst_utilization) == ("a-1", 0.9)
    assert (a.in_flight, b.in_flight) == (3.0, 4.0)


def test_overflow_is_named_on_the_overflowing_group_only() -> None:
    snap = build_snapshot(_raw(), Settings(preset=load_preset("vllm")))
    overflow = [f for f in snap.findings if f.id == "histogram-overflow"]
    assert [f.subject for f in overflow] == ["model_name=b"]
    assert overflow[0].evidence["kind"] == "ttft"
    (blend,) = [f for f in snap.findings if f.id == "latency-blend"]
    assert blend.subject == "model_name=b" and blend.evidence["kind"] == "ttft"
    fd = [f for f in snap.findings if f.id == "fd-exhaustion"]
    assert [f.subject for f in fd] == ["a-1"]


def test_a_blend_within_the_factor_is_quiet() -> None:
    raw = _raw()
    ttft = replace(raw.histograms["ttft"], groups={A: FAST, B: FAST})
    snap = build_snapshot(
        replace(raw, histograms={"ttft": ttft}), Settings(preset=load_preset("vllm"))
    )
    assert not [f for f in snap.findings if f.id in ("latency-blend", "histogram-overflow")]


def test_one_group_keeps_the_fleet_findings() -> None:
    raw = _raw()
    ttft = replace(raw.histograms["ttft"], groups={B: SLOW_OVERFLOW})
    snap = build_snapshot(
        replace(raw, histograms={"ttft": ttft}), Settings(preset=load_preset("vllm"))
    )
    overflow = [f for f in snap.findings if f.id == "histogram-overflow"]
    assert [f.subject for f in overflow] == ["ttft"]
