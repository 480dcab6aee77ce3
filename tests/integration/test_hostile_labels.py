"""Hostile input through a real Prometheus: label values and histogram shapes.

Label values are data. Pod and HPA names carrying Rich markup, ANSI/OSC escapes,
``|``, backticks, newlines and a 10 KB string are backfilled into a real Prometheus;
the real ``streamdash snapshot`` / ``check`` commands must give valid JSON with the
exact values, markdown whose tables keep their shape, and no terminal escapes.

Histograms a real exporter can produce but the math must survive (non-monotonic
buckets, no +Inf, NaN samples, counter resets, zero traffic, a single bucket) go the
full path (Prometheus -> source -> core -> JSON): every percentile equals Prometheus's
own ``histogram_quantile`` at the same instant, or is null where Prometheus says NaN.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import CPU_METRIC, CPU_REQUEST_METRIC, HPA_PREFIX, TTFT_METRIC
from tests.support.prom import PrometheusServer, Series, openmetrics_text, start_prometheus

pytestmark = pytest.mark.integration

STREAM_METRIC = "vllm:request_decode_time_seconds"
IN_FLIGHT = "vllm:num_requests_running"
END = float(int(time.time()) - 5)
"""Data ends just before now: the commands ask at "now"."""
STEP = 15
TIMES = [END - (40 - k) * STEP for k in range(41)]  # 10 minutes
WINDOW = 300

HOSTILE_NS = "hostile"
HOSTILE_PODS = (
    "llama-[bold]x[/bold]",
    "llama-[link=http://e]y[/link]",
    "llama-\x1b[31mred\x1b[0m",
    "llama-\x1b]8;;http://evil\x07click\x1b]8;;\x07",
    "llama-a|b|c",
    "llama-`tick`-``two``",
    "llama-line1\nline2",
    "llama-" + "x" * 10240,
)
HOSTILE_HPA = "hpa-[red]|`\x1b[1m\nz"
ESCAPES = ("\x1b", "\x07", "\x9b")


# --------------------------------------------------------------------------- series


def _histogram(
    metric: str, labels: dict[str, str], buckets: dict[str, Callable[[int], float]]
) -> list[Series]:
    """``_bucket`` series for ``le -> f(k)`` plus ``_sum``/``_count`` from +Inf (or the top)."""
    out: list[Series] = []
    for le, f in buckets.items():
        out.append(
            (f"{metric}_bucket", {**labels, "le": le}, [(t, f(k)) for k, t in enumerate(TIMES)])
        )
    top = buckets.get("+Inf") or list(buckets.values())[-1]
    out.append((f"{metric}_count", labels, [(t, top(k)) for k, t in enumerate(TIMES)]))
    out.append((f"{metric}_sum", labels, [(t, 0.4 * top(k)) for k, t in enumerate(TIMES)]))
    return out


def _line(base: float, slope: float) -> Callable[[int], float]:
    """Step ``k`` -> ``base + slope * k`` (a counter growing steadily)."""
    return lambda k: base + slope * k


def _times(f: Callable[[int], float], factor: float) -> Callable[[int], float]:
    return lambda k: f(k) * factor


def _restarting(slope: float) -> Callable[[int], float]:
    """A counter that restarts from 0 at step ``RESET_AT``."""
    return lambda k: slope * (k if k < RESET_AT else k - RESET_AT)


def _gauge(name: str, labels: dict[str, str], value: float) -> Series:
    return name, labels, [(t, value) for t in TIMES]


def _hostile_series() -> list[Series]:
    series: list[Series] = []
    for i, pod in enumerate(HOSTILE_PODS):
        app = {"namespace": HOSTILE_NS, "pod": pod, "container": "vllm", "job": "vllm"}
        n = 10 + i  # requests per step
        series += _histogram(
            TTFT_METRIC,
            app,
            {
                "0.1": _line(100, n * 0.3),
                "0.5": _line(100, n * 0.8),
                "2.5": _line(100, n * 0.95),
                "+Inf": _line(100, n),
            },
        )
        series += _histogram(  # streams overflow the 5 s top bucket: a finding per fleet
            STREAM_METRIC,
            app,
            {"1.0": _line(10, n * 0.1), "5.0": _line(10, n * 0.2), "+Inf": _line(10, n)},
        )
        series.append(_gauge(IN_FLIGHT, app, 3.0 + i))
        series.append(_gauge("process_open_fds", app, 1001.0 if i == 0 else 100.0))
        series.append(_gauge("process_max_fds", app, 1024.0))
        cpu = {"namespace": HOSTILE_NS, "pod": pod, "container": "vllm"}
        series.append(
            (f"{CPU_METRIC}", cpu, [(t, 100 + 0.05 * k * STEP) for k, t in enumerate(TIMES)])
        )
        req = {**cpu, "resource": "cpu", "unit": "core"}
        series.append(_gauge(CPU_REQUEST_METRIC, req, 1.0))
    hpa = {"namespace": HOSTILE_NS, "horizontalpodautoscaler": HOSTILE_HPA}
    for suffix, value in (("status_current_replicas", 8.0), ("status_desired_replicas", 8.0),
                          ("spec_min_replicas", 2.0), ("spec_max_replicas", 16.0)):  # fmt: skip
        series.append(_gauge(HPA_PREFIX + suffix, hpa, value))
    target = {**hpa, "metric_name": "cpu", "metric_target_type": "utilization"}
    series.append(_gauge(HPA_PREFIX + "spec_target_metric", target, 70.0))
    return series


def _edge(ns: str, buckets: dict[str, Callable[[int], float]], pods: int = 2) -> list[Series]:
    out: list[Series] = []
    for p in range(pods):
        labels = {"namespace": ns, "pod": f"{ns}-pod-{p}", "container": "vllm", "job": "vllm"}
        scaled = {le: _times(f, p + 1.0) for le, f in buckets.items()}
        out += _histogram(TTFT_METRIC, labels, scaled)
    return out


NAN_FROM = len(TIMES) - 4
RESET_AT = len(TIMES) - 8
EDGE_CASES: dict[str, dict[str, Callable[[int], float]]] = {
    # cumulative counts that fall with le (a broken exporter or summed sharded data)
    "nonmono": {"0.1": lambda k: 5.0 * k, "0.5": lambda k: 3.0 * k, "1.0": lambda k: 8.0 * k,
                "+Inf": lambda k: 10.0 * k},
    # no +Inf bucket at all
    "noinf": {"0.1": lambda k: 2.0 * k, "0.5": lambda k: 6.0 * k, "1.0": lambda k: 9.0 * k},
    # NaN samples inside the window in one bucket
    "nan": {"0.1": lambda k: 2.0 * k, "0.5": lambda k: math.nan if k >= NAN_FROM else 6.0 * k,
            "1.0": lambda k: 9.0 * k, "+Inf": lambda k: 10.0 * k},
    # every counter restarts from ~0 inside the window (pod restart)
    "reset": {le: _restarting(m) for le, m in (("0.1", 2.0), ("0.5", 6.0), ("1.0", 9.0),
                                                ("+Inf", 10.0))},
    # no traffic: counters never move
    "zero": {"0.1": lambda k: 5.0, "0.5": lambda k: 7.0, "+Inf": lambda k: 9.0},
    # one bucket only (+Inf)
    "onebucket": {"+Inf": lambda k: 10.0 * k},
    # one finite bucket and +Inf, everything above it
    "allinf": {"1.0": lambda k: 0.0, "+Inf": lambda k: 10.0 * k},
}  # fmt: skip


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    series = _hostile_series()
    for ns, buckets in EDGE_CASES.items():
        series += _edge(ns, buckets)
    types = {TTFT_METRIC: "histogram", STREAM_METRIC: "histogram", CPU_METRIC[:-6]: "counter"}
    server = start_prometheus(
        tmp_path_factory.mktemp("hostile"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


def streamdash(prom: PrometheusServer, ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    env["XDG_CONFIG_HOME"] = "/nonexistent"
    return subprocess.run(
        [sys.executable, "-m", "streamdash", *args, "--prometheus-url", prom.url, "-n", ns],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=Path(__file__).parent,
    )


def _no_escapes(text: str, where: str) -> None:
    for ch in ESCAPES:
        assert ch not in text, f"{ch!r} in {where}"


# --------------------------------------------------------------------------- hostile labels


@pytest.fixture(scope="module")
def hostile_json(prom: PrometheusServer) -> dict[str, Any]:
    proc = streamdash(prom, HOSTILE_NS, "snapshot", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc: dict[str, Any] = json.loads(proc.stdout)  # valid JSON, strict
    _no_escapes(proc.stdout, "JSON text")  # control characters are \u-escaped
    return doc


def test_json_keeps_every_label_value_exactly(hostile_json: dict[str, Any]) -> None:
    assert hostile_json["errors"] == []
    assert sorted(p["pod"] for p in hostile_json["pods"]) == sorted(HOSTILE_PODS)
    assert hostile_json["autoscaler"]["name"] == HOSTILE_HPA
    subjects = {f["subject"] for f in hostile_json["findings"]}
    assert HOSTILE_PODS[0] in subjects  # fd-exhaustion names the pod verbatim
    assert HOSTILE_HPA in subjects  # autoscaler divergence names the HPA verbatim


def _table_rows(md: str) -> list[list[str]]:
    """Every markdown table as rows of cells (split on unescaped ``|``)."""
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            tables.append(cells[1:-1])
    return tables


def test_markdown_tables_keep_their_shape(prom: PrometheusServer) -> None:
    proc = streamdash(prom, HOSTILE_NS, "snapshot", "--format", "md")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    _no_escapes(md, "markdown")
    # tables: every row of a table has as many cells as its header
    block: list[list[str]] = []
    widths: list[int] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            block.append(re.split(r"(?<!\\)\|", line)[1:-1])
            continue
        if block:
            widths.append(len(block[0]))
            assert all(len(row) == len(block[0]) for row in block), block
            block = []
    assert widths, "no table in the markdown"
    pod_rows = [
        row
        for row in _table_rows(md)
        if len(row) == 8 and "llama" in row[0]  # the pods table has 8 columns
    ]
    assert len(pod_rows) == len(HOSTILE_PODS)
    # no live markup, link or code span survives in the pod cells: all escaped
    for row in pod_rows:
        assert not re.search(r"(?<!\\)[\[\]`]", row[0]), row[0]
    assert re.search(r"(?<!\\)\[(bold|link)", md) is None
    # newlines in a label never start a new line of the document
    assert "llama-line1⏎line2" in md
    assert not any(line.startswith("line2") for line in md.splitlines())


def test_check_output_has_no_terminal_escapes(prom: PrometheusServer) -> None:
    proc = streamdash(prom, HOSTILE_NS, "check")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)  # fd-exhaustion is critical
    _no_escapes(proc.stdout + proc.stderr, "check output")
    verdict, *lines = proc.stdout.splitlines()  # the verdict line first, then findings
    assert re.match(r"^\d+ critical", verdict) and len(verdict) < 2000, verdict
    assert any("fd-exhaustion" in line for line in lines)
    # one line per finding: a newline in a label never splits one
    assert all(re.match(r"^(CRITICAL|WARNING|INFO) +\S", line) for line in lines), lines
    assert max(len(line) for line in lines) < 2000  # the 10 KB name is capped


# --------------------------------------------------------------------------- histograms


def _prom_value(prom: PrometheusServer, promql: str, at: float) -> float | None:
    rows = prom.query(promql, at=at)
    assert len(rows) <= 1, rows
    if not rows:
        return None
    value = float(rows[0]["value"][1])
    return None if math.isnan(value) or math.isinf(value) else value


def _same(ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("ns", list(EDGE_CASES))
def test_odd_histograms_equal_prometheus_or_null(prom: PrometheusServer, ns: str) -> None:
    proc = streamdash(prom, ns, "snapshot", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["errors"] == []
    at = doc["taken_at_unix"]
    ttft = doc["latency"]["ttft"]
    rate = f'rate({{__name__="{TTFT_METRIC}_bucket",namespace="{ns}"}}[{WINDOW}s])'
    mismatches = []
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        theirs = _prom_value(prom, f"histogram_quantile({q}, sum by (le) ({rate}))", at)
        if not _same(ttft[name], theirs):
            mismatches.append((name, ttft[name], theirs))
    count = f'rate({{__name__="{TTFT_METRIC}_count",namespace="{ns}"}}[{WINDOW}s])'
    theirs_rate = _prom_value(prom, f"sum({count})", at)
    if not _same(ttft["rate_per_s"], theirs_rate):
        mismatches.append(("rate_per_s", ttft["rate_per_s"], theirs_rate))
    per_pod = prom.query(f"histogram_quantile(0.99, sum by (pod, le) ({rate}))", at=at)
    expected = {r["metric"]["pod"]: float(r["value"][1]) for r in per_pod}
    for pod in doc["pods"]:
        theirs = expected.get(pod["pod"])
        theirs = None if theirs is None or not math.isfinite(theirs) else theirs
        if not _same(pod["ttft_p99"], theirs):
            mismatches.append((pod["pod"], pod["ttft_p99"], theirs))
    assert not mismatches, mismatches
    if ns == "allinf":  # the top bound, as Prometheus says, but marked a lower bound
        assert ttft["overflowed"] == ["p50", "p90", "p99"] and ttft["p99"] == 1.0
