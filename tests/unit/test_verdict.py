"""The verdict: one line every view shows first; never an all-clear without every source."""

from __future__ import annotations

import dataclasses
import json

from streamdash.core.build import build_snapshot
from streamdash.core.names import elide, shared_prefix, short
from streamdash.core.raw import SourceError
from streamdash.core.snapshot import (
    Finding,
    HistogramSummary,
    Snapshot,
    SourceInfo,
    StalePart,
)
from streamdash.core.verdict import phrase, primary_unreachable, verdict
from streamdash.export.json import render_json
from streamdash.export.markdown import render_markdown
from streamdash.settings import Settings
from tests.support.raws import STREAM_BOUNDS, TTFT_BOUNDS, cumulative, raw_answers

PODS = {
    "llama-serve-7d9f8b6c4-fz8lw": {"open_fds": 960.0, "max_fds": 1024.0},
    "llama-serve-7d9f8b6c4-abcde": {"open_fds": 100.0, "max_fds": 1024.0},
}


def _healthy() -> Snapshot:
    ttft = {p: cumulative(TTFT_BOUNDS, [5, 3, 1, 1, 0, 0, 0]) for p in PODS}
    stream = {p: cumulative(STREAM_BOUNDS, [4, 4, 2, 0, 0]) for p in PODS}
    quiet = {p: {"open_fds": 100.0, "max_fds": 1024.0} for p in PODS}
    return build_snapshot(raw_answers(quiet, ttft=ttft, stream=stream), Settings())


def _incident() -> Snapshot:
    ttft = {p: cumulative(TTFT_BOUNDS, [5, 3, 1, 1, 0, 0, 0]) for p in PODS}
    stream = {p: cumulative(STREAM_BOUNDS, [1, 0, 0, 0, 9]) for p in PODS}
    return build_snapshot(raw_answers(PODS, ttft=ttft, stream=stream), Settings())


def _unreachable() -> Snapshot:
    """Every query failed (connection refused), as the Prometheus source reports it."""
    base = _incident()  # carried values from an earlier refresh stay on screen
    errors = tuple(
        SourceError(
            "prometheus",
            f"query {part!r} to http://127.0.0.1:9: connection refused",
            part,
        )
        for part in ("ttft_buckets", "stream_buckets", "pod_gauges")
    )
    return dataclasses.replace(base, errors=errors, query_count=3)


def test_all_clear_only_when_every_source_answered_and_there_was_data() -> None:
    snap = _healthy()
    v = verdict(snap)
    assert (v.state, v.line) == ("clear", "all clear")
    lb_down = dataclasses.replace(
        snap, errors=(SourceError("haproxy:http://lb:8404/stats", "GET …: timed out"),)
    )
    v = verdict(lb_down)
    assert v.state == "degraded"
    assert "all clear" not in v.line
    assert "could not read haproxy:http://lb:8404/stats: GET …: timed out" in v.line


def test_counts_and_worst_findings_in_plain_words() -> None:
    v = verdict(_incident())
    assert v.state == "critical"
    assert v.counts == {"critical": 2, "warning": 0, "info": 0}
    assert v.line == ("2 critical · llama-…fz8lw FDs 94 % · stream buckets hide 90 % of streams")


def test_unreachable_primary_comes_first_even_with_carried_findings() -> None:
    snap = _unreachable()
    assert primary_unreachable(snap)
    v = verdict(snap)
    assert v.state == "unreachable"
    assert v.line.startswith("could not read prometheus http://127.0.0.1:9090: connection refused")
    assert "numbers shown are" not in v.line  # nothing carried: no earlier values
    carried = dataclasses.replace(
        snap, stale=(StalePart("pods", "pods", "connection refused", 1.0),)
    )
    assert "numbers shown are from before the failure" in verdict(carried).line
    assert v.worst == ()  # carried findings are not presented as this refresh's


def test_a_partly_failed_primary_is_not_unreachable_and_not_clear() -> None:
    snap = dataclasses.replace(
        _healthy(),
        errors=(SourceError("prometheus", "query 'hpa' to http://p: HTTP 503", "hpa"),),
        query_count=8,
    )
    v = verdict(snap)
    assert v.state == "degraded"
    assert v.problems == ("could not read prometheus: HTTP 503",)


def test_no_data_for_the_selector_is_never_healthy() -> None:
    snap = Snapshot(
        taken_at=1.0,
        source=SourceInfo("prometheus", "http://p:9090"),
        window_seconds=300,
        preset="vllm",
        namespace="llm",
        latency={"stream": HistogramSummary("stream", "vllm:request_decode_time_seconds", False)},
    )
    v = verdict(snap)
    assert v.state == "no-data"
    assert v.line == 'no data for vllm:request_decode_time_seconds in namespace "llm"'


def test_cautions_ride_along() -> None:
    snap = dataclasses.replace(_healthy(), cautions=("clock skew 40 s",))
    assert verdict(snap).line == "all clear · clock skew 40 s"


def test_unknown_finding_ids_fall_back_to_the_first_clause() -> None:
    f = Finding("latency-blend", "warning", "fleet", "TTFT and stream blended: the p99 lies.")
    assert phrase(f) == "TTFT and stream blended"


def test_shared_pod_prefix_is_elided() -> None:
    names = ["llama-serve-7d9f8b6c4-fz8lw", "llama-serve-7d9f8b6c4-abcde"]
    prefix = shared_prefix(names)
    assert prefix == "llama-serve-7d9f8b6c4-"
    assert elide(names[0], prefix) == "…fz8lw"
    assert short(names[0], prefix) == "llama-…fz8lw"
    assert shared_prefix(["a-1", "a-2"]) == ""  # too short to be worth it
    assert shared_prefix(names[:1]) == ""


def test_json_has_the_verdict_and_markdown_and_check_open_with_it() -> None:
    for snap in (_incident(), _unreachable(), _healthy()):
        v = verdict(snap)
        data = json.loads(render_json(snap))
        assert data["verdict"]["state"] == v.state
        assert data["verdict"]["line"] == v.line
        assert data["verdict"]["counts"] == dict(v.counts)
        md = render_markdown(snap).splitlines()
        assert md[2].startswith(f"**{v.headline}**")
    md = render_markdown(_unreachable())
    assert "nothing here looks wrong" not in md
    assert md.splitlines()[2].startswith("**could not read prometheus")


def test_markdown_summarises_many_scrape_targets_and_rounds_evidence() -> None:
    urls = ", ".join(f"http://10.0.0.{i}:8000/metrics" for i in range(18))
    snap = dataclasses.replace(_incident(), source=SourceInfo("scrape", urls))
    md = render_markdown(snap)
    assert "Source: 18 scrape targets (listed under Sources)" in md
    assert "## Sources" in md and "- http://10.0.0.17:8000/metrics" in md
    assert "fd_utilization`: 93.8 %" in md
    assert "0.9375" not in md


def test_a_span_too_short_for_the_histograms_says_so_on_the_verdict_line() -> None:
    from streamdash.core.span import span_cautions

    snap = _healthy()  # 10 streams/s per pod over the raws' window
    rate = snap.latency["stream"].rate_per_s
    assert rate is not None
    short_span = 10 / rate  # ten streams finished in the span
    cautions = span_cautions(snap, short_span)
    assert cautions and cautions[-1].startswith("only 10 streams in ")
    assert "longer --duration" in cautions[-1]
    judged = verdict(dataclasses.replace(snap, cautions=cautions))
    assert judged.line.startswith("all clear · only ")
    assert span_cautions(snap, 1000 / rate) == ()
