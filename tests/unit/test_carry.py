"""Carrying the last good values forward when a part of a refresh fails."""

from __future__ import annotations

import dataclasses
import math

from streamdash.core.carry import carry_forward
from streamdash.core.raw import SourceError
from tests.support.raws import raw_answers
from tests.unit.test_build import HPA, POD_GAUGES, TTFT


def test_failed_part_keeps_last_good_values_and_is_marked_stale() -> None:
    good = raw_answers(POD_GAUGES, ttft=TTFT, hpas=(HPA,), taken_at=100.0)
    first = carry_forward(None, good)
    assert first.stale == ()
    broken = dataclasses.replace(
        raw_answers({}, ttft=TTFT, taken_at=110.0),
        errors=(SourceError("prometheus", "HTTP 503 from Prometheus", "pod_gauges"),),
    )
    second = carry_forward(first, broken)
    assert second.raw.open_fds == good.open_fds  # carried
    assert [(p.part, p.panel, p.last_good_at) for p in second.stale] == [
        ("pod_gauges", "pods", 100.0)
    ]
    assert second.stale[0].reason == "HTTP 503 from Prometheus"
    recovered = carry_forward(second, raw_answers(POD_GAUGES, ttft=TTFT, taken_at=120.0))
    assert recovered.stale == ()


def test_whole_source_down_marks_every_part_and_keeps_values() -> None:
    first = carry_forward(None, raw_answers(POD_GAUGES, ttft=TTFT, hpas=(HPA,), taken_at=100.0))
    down = dataclasses.replace(
        raw_answers({}, taken_at=110.0),
        histograms={},
        errors=(SourceError("prometheus", "connection refused"),),
    )
    carried = carry_forward(first, down)
    assert carried.raw.histograms["ttft"] == first.raw.histograms["ttft"]
    assert carried.raw.hpas == (HPA,)
    panels = {p.panel for p in carried.stale}
    assert {"latency", "pods", "autoscaler"} <= panels
    assert all(p.reason == "connection refused" for p in carried.stale)


def test_never_good_part_stays_unknown() -> None:
    broken = dataclasses.replace(
        raw_answers({}, taken_at=110.0),
        errors=(SourceError("prometheus", "timeout after 10 s", "pod_gauges"),),
    )
    carried = carry_forward(None, broken)
    assert carried.raw.open_fds == {}
    assert carried.stale[0].last_good_at is None


def test_each_failed_part_keeps_its_own_reason() -> None:
    first = carry_forward(None, raw_answers(POD_GAUGES, ttft=TTFT, hpas=(HPA,), taken_at=100.0))
    broken = dataclasses.replace(
        raw_answers(POD_GAUGES, ttft=TTFT, taken_at=110.0),
        errors=(
            SourceError("prometheus", "HTTP 503", "cpu"),
            SourceError("prometheus", "timeout after 10 s", "hpa"),
        ),
    )
    reasons = {p.part: p.reason for p in carry_forward(first, broken).stale}
    assert reasons == {"cpu": "HTTP 503", "hpa": "timeout after 10 s"}


def test_a_failed_load_balancer_keeps_its_last_rows() -> None:
    from streamdash.core.carry import LB_PART, Carried, carry_lb
    from streamdash.core.raw import LbBackendRaw

    row = LbBackendRaw(lb="edge", kind="haproxy", proxy="be", server="a", current=3)
    good = dataclasses.replace(raw_answers(POD_GAUGES, taken_at=100.0), lb_backends=(row,))
    raw, stale, at = carry_lb(None, good, ("haproxy:http://lb/stats",))
    assert stale == () and at == 100.0
    previous = Carried(raw, (), {LB_PART: 100.0})
    down = dataclasses.replace(
        raw_answers(POD_GAUGES, taken_at=110.0),
        errors=(SourceError("haproxy:http://lb/stats", "GET http://lb/stats: timed out", "stats"),),
    )
    raw, stale, at = carry_lb(previous, down, ("haproxy:http://lb/stats",))
    assert raw.lb_backends == (row,)
    assert [(s.part, s.panel, s.last_good_at) for s in stale] == [("lb", "lb", 100.0)]
    assert at == 100.0


def test_a_part_not_asked_this_time_keeps_its_fetch_time() -> None:
    first = carry_forward(None, raw_answers(POD_GAUGES, taken_at=100.0))
    assert first.good_at["hpa"] == 100.0
    queries = {k: v for k, v in first.raw.queries.items() if k != "hpa"}
    later = dataclasses.replace(raw_answers(POD_GAUGES, taken_at=110.0), queries=queries)
    carried = carry_forward(first, later)
    assert carried.good_at["hpa"] == 100.0 and carried.good_at["cpu"] == 110.0


def test_a_failed_histogram_part_carries_every_kind_it_filled() -> None:
    """Kinds sharing one metric share one typed part (SGLang: stream and e2e)."""
    from streamdash.core.carry import Carried, carry_forward
    from streamdash.core.histogram import aggregate
    from streamdash.core.parts import QueryPart
    from streamdash.core.raw import RawAnswers, SourceError

    shared = aggregate("e2e_s", {"a": {1.0: 1.0, math.inf: 2.0}}, part=QueryPart.STREAM)
    ttft = aggregate("ttft_s", {"a": {1.0: 3.0, math.inf: 3.0}}, part=QueryPart.TTFT)
    queries = {QueryPart.STREAM: "q1", QueryPart.TTFT: "q2"}
    before = RawAnswers(
        taken_at=1.0, window_seconds=300, source_kind="prometheus", source_url=None,
        histograms={"stream": shared, "e2e": shared, "ttft": ttft}, queries=queries,
    )  # fmt: skip
    now = RawAnswers(
        taken_at=2.0, window_seconds=300, source_kind="prometheus", source_url=None,
        histograms={"ttft": ttft}, queries=queries,
        errors=(SourceError("prometheus", "boom", QueryPart.STREAM),),
    )  # fmt: skip
    first = carry_forward(None, before)
    carried = carry_forward(Carried(first.raw, (), first.good_at), now)
    assert carried.raw.histograms["stream"] is shared and carried.raw.histograms["e2e"] is shared
    (stale,) = carried.stale
    assert (stale.part, stale.panel, stale.last_good_at) == ("stream_buckets", "latency", 1.0)
