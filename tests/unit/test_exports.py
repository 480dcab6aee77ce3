"""JSON (schema v1) and markdown exports of one Snapshot, hostile labels included."""

from __future__ import annotations

import json

from streamdash.core.build import build_snapshot
from streamdash.export.json import render_json
from streamdash.export.markdown import md_code, md_text, render_markdown
from streamdash.presets import load_preset
from streamdash.settings import Settings
from tests.support.raws import STREAM_BOUNDS, TTFT_BOUNDS, cumulative, raw_answers
from tests.unit.test_build import HPA, POD_GAUGES, STREAM, TTFT

HOSTILE = "llama-[bold]x[/bold]|`rm`\n\x1b]8;;http://evil\x07<b>" + "y" * 10_000


def snap(pods=POD_GAUGES, ttft=TTFT, stream=STREAM):
    raw = raw_answers(pods, ttft=ttft, stream=stream, hpas=(HPA,))
    return build_snapshot(raw, Settings(preset=load_preset("vllm"), namespace="llm"))


def test_json_has_every_schema_key() -> None:
    doc = json.loads(render_json(snap()))
    assert doc["schema"] == "streamdash.snapshot/v1"
    assert doc["taken_at"].endswith("Z")
    assert set(doc["source"]) >= {"kind", "url"}
    assert doc["window_seconds"] == 300
    for kind in ("ttft", "stream"):
        assert set(doc["latency"][kind]) >= {
            "metric",
            "p50",
            "p90",
            "p99",
            "rate_per_s",
            "top_finite_bucket",
            "overflow_fraction",
            "overflowed",
        }
    assert set(doc["pods"][0]) >= {
        "pod",
        "open_connections",
        "open_fds",
        "max_fds",
        "fd_utilization",
        "cpu_cores",
        "in_flight",
        "ttft_p99",
        "stream_p99",
    }
    assert set(doc["autoscaler"]) >= {
        "name",
        "current_replicas",
        "desired_replicas",
        "cpu_cores",
        "cpu_request_cores",
        "cpu_target_utilization",
        "cpu_implied_replicas",
        "divergence_ratio",
    }
    assert set(doc["findings"][0]) >= {"id", "severity", "subject", "summary", "evidence"}
    assert doc["errors"] == []


def test_json_unknown_is_null_never_zero() -> None:
    doc = json.loads(render_json(snap(pods={"a": {}}, ttft={"a": TTFT["a"]}, stream={})))
    pod = doc["pods"][0]
    assert pod["open_fds"] is None and pod["open_connections"] is None and pod["cpu_cores"] is None
    assert doc["autoscaler"]["cpu_implied_replicas"] is None


def test_json_overflowed_percentiles_listed() -> None:
    doc = json.loads(render_json(snap()))
    assert doc["latency"]["stream"]["overflowed"] == ["p50", "p90", "p99"]
    assert doc["latency"]["stream"]["p99"] == 5.0
    assert doc["latency"]["ttft"]["overflowed"] == []


def test_json_survives_hostile_labels() -> None:
    pods = {HOSTILE: POD_GAUGES["b"]}
    text = render_json(snap(pods=pods, ttft={HOSTILE: TTFT["b"]}, stream={}))
    doc = json.loads(text)
    assert doc["pods"][0]["pod"] == HOSTILE  # JSON keeps the exact value, escaped by json


def test_markdown_shows_lower_bounds_and_tables() -> None:
    md = render_markdown(snap())
    assert "# streamdash snapshot" in md
    assert "| p99 |" in md and "> 5 s" in md
    assert "## Pods (3, worst first)" in md
    assert md.index("| b |") < md.index("| c |") < md.index("| a |")
    assert "`histogram-overflow`" in md and "`fd-exhaustion`" in md
    assert "## PromQL used" in md


def test_markdown_escapes_hostile_labels() -> None:
    md = render_markdown(
        snap(pods={HOSTILE: POD_GAUGES["b"]}, ttft={HOSTILE: TTFT["b"]}, stream={})
    )
    pods_table = md.split("## Pods", 1)[1].split("##", 1)[0]
    row = next(line for line in pods_table.splitlines() if "llama" in line)
    # the row still has exactly the table's columns: no raw | from the label
    assert row.replace("\\|", "").count("|") == 9
    assert "\x1b" not in md and "\x07" not in md
    assert "<b>" not in md and "\\[bold\\]" in md
    assert len(row) < 1000


def test_md_helpers() -> None:
    assert md_text("a|b*c") == "a\\|b\\*c"
    assert md_code("x`y") == "``x`y``"


def test_markdown_for_ttft_and_stream_side_by_side() -> None:
    md = render_markdown(snap())
    header = next(line for line in md.splitlines() if line.startswith("| | TTFT"))
    assert "Stream (did it finish)" in header


def test_overflow_in_ttft_too() -> None:
    ttft = {p: cumulative(TTFT_BOUNDS, [0, 0, 0, 0, 0, 1, 9]) for p in POD_GAUGES}
    s = snap(ttft=ttft, stream={p: cumulative(STREAM_BOUNDS, [9, 1, 0, 0, 0]) for p in POD_GAUGES})
    subjects = [f.subject for f in s.findings if f.id == "histogram-overflow"]
    assert subjects == ["ttft"]
