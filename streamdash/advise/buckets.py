"""Bucket advice as each server's own setting, or the client-library change where the
server has none, and what dashboards show while the fleet switches.

Facts checked in the servers' sources (2026-12):
- SGLang: ``--bucket-time-to-first-token``, ``--bucket-inter-token-latency``,
  ``--bucket-e2e-request-latency`` (python/sglang/srt/server_args.py; lists of floats,
  with ``--enable-metrics``).
- vLLM: no flag; the bucket lists are literals in vllm/v1/metrics/loggers.py.
- TensorRT-LLM: no flag; literals in its metrics collector (tensorrt_llm/metrics).
- TGI: no flag; the router sets ``0.0001 * 1.5^k`` buckets in router/src/server.rs.
"""

from __future__ import annotations

from streamdash import format as fmt
from streamdash.advise.model import Artifact
from streamdash.core.snapshot import HistogramSummary, Snapshot
from streamdash.settings import Preset

SGLANG_FLAGS = {
    "ttft": "--bucket-time-to-first-token",
    "itl": "--bucket-inter-token-latency",
    "stream": "--bucket-e2e-request-latency",
}
SOURCE_FILE = {
    "vllm": "vllm/v1/metrics/loggers.py (PrometheusStatLogger)",
    "trtllm": "TensorRT-LLM's Prometheus metrics collector (tensorrt_llm/metrics)",
    "tgi": "TGI's router (router/src/server.rs, PrometheusBuilder set_buckets_for_metric)",
}
TITLE = {"ttft": "TTFT", "stream": "stream duration", "itl": "inter-token latency"}


def _list(values: tuple[float, ...], sep: str = ", ") -> str:
    return sep.join(f"{v:g}" for v in values)


def _server_setting(
    preset: Preset, kind: str, summary: HistogramSummary, new: tuple[float, ...]
) -> str:
    metric = summary.metric or "?"
    unit = preset.histogram(kind).unit_seconds
    in_unit = tuple(round(v / unit, 9) for v in new)
    if preset.name == "sglang" and kind in SGLANG_FLAGS:
        return (
            "# SGLang server flag (with --enable-metrics); one list per histogram\n"
            f"python -m sglang.launch_server ... --enable-metrics \\\n"
            f"    {SGLANG_FLAGS[kind]} {_list(in_unit, ' ')}\n"
        )
    where = SOURCE_FILE.get(preset.name)
    if where is not None and preset.name == "tgi":
        return (
            f"# TGI has no bucket flag: the buckets of {metric} are set in {where}.\n"
            "# Rebuild the router with this list for that metric:\n"
            f"#   [{_list(in_unit)}]\n"
        )
    head = (
        f"# {preset.name} has no bucket flag: the buckets of {metric} are a literal list in\n"
        f"# {where}. Patch that list in your image (or register your own stat logger):\n"
        if where is not None
        else f"# Set the buckets where {metric} is created, in the exporting service's code:\n"
    )
    return (
        head + "\n# Python (prometheus_client)\n"
        f"Histogram({metric!r}, '...', buckets=[{_list(in_unit)}])\n"
        "\n// Go (client_golang)\n"
        f'prometheus.HistogramOpts{{Name: "...", Buckets: []float64{{{_list(in_unit)}}}}}\n'
        "\n# OpenTelemetry SDK: a View with explicit bucket boundaries\n"
        'View(instrument_name="...",\n'
        f"     aggregation=ExplicitBucketHistogramAggregation([{_list(in_unit)}]))\n"
    )


def _during_switch(
    summary: HistogramSummary, old: tuple[float, ...], new: tuple[float, ...]
) -> str:
    kept = [b for b in old if any(abs(b - n) <= 1e-9 * max(1, b) for n in new)]
    dropped = [b for b in old if b not in kept]
    top = fmt.seconds(summary.top_finite_bucket)
    text = (
        "\n# During the switch (pods restart one by one):\n"
        "# - Old pods still report the old buckets, so `sum by (le)` mixes two layouts: the\n"
        "#   new bounds exist only on new pods and the summed counts are not monotonic.\n"
        "#   histogram_quantile then under-reads (Prometheus notes 'bucket counts not\n"
        "#   monotonic') until every pod runs the new list AND one rate window has passed.\n"
        f"# - Old dashboards keep showing p99 flat at {top} for old pods' share; the line\n"
        "#   jumps to the real value (above it) once the rollout is done. That jump is the\n"
        "#   truth arriving, not a regression.\n"
    )
    if dropped:
        text += (
            f"# - Bounds dropped by the new list ({_list(tuple(dropped))}): rules or panels\n"
            "#   matching those le values go empty; the list below keeps every old bound so\n"
            "#   they keep working - drop old bounds only after those rules moved.\n"
        )
    else:
        text += "# - Every old bound is kept, so existing le matchers keep matching.\n"
    return text


def bucket_artifacts(snapshot: Snapshot, preset: Preset) -> list[Artifact]:
    """One artifact per overflowing histogram with bucket advice."""
    out = []
    for f in snapshot.findings:
        if f.id != "histogram-overflow":
            continue
        summary = snapshot.latency.get(f.subject)
        if summary is None or summary.advice is None or summary.metric is None:
            continue
        old = tuple(b for b in summary.bucket_bounds if b != float("inf"))
        advised = summary.advice.buckets
        merged = tuple(sorted(set(advised) | set(old)))
        body = (
            f"# {summary.metric}: new bucket upper bounds (seconds)\n"
            f"# advised: {_list(advised)}\n"
            f"# with the old bounds kept: {_list(merged)}\n\n"
            + _server_setting(preset, f.subject, summary, merged)
            + _during_switch(summary, old, merged)
        )
        why = (
            f"{fmt.ratio(summary.overflow_fraction)} of {TITLE.get(f.subject, f.subject)} "
            f"observations ({summary.metric}) land above the top bucket "
            f"({fmt.seconds(summary.top_finite_bucket)}), so {'/'.join(summary.overflowed)} "
            f"read as that top and are only lower bounds. {summary.advice.basis} No SLO or "
            "percentile on this histogram is trustworthy until the new buckets are deployed."
        )
        out.append(
            Artifact(
                name=f"buckets-{f.subject}.txt",
                kind="buckets",
                title=f"New buckets for {summary.metric}",
                why=why,
                body=body,
                language="text",
                answers=((f.id, f.subject),),
            )
        )
    return out
