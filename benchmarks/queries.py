"""Where a refresh's time goes: each of streamdash's queries alone, one after another.

For every query ``PrometheusSource.queries`` would send, one POST to the real server
(sequential, so the numbers do not fight each other), timing Prometheus's answer, the
answer's size and rows, and ``json.loads`` of it in Python (the client's share).
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources import promql
from streamdash.sources.prometheus import PrometheusSource

TIMEOUT_S = 120.0


@dataclass(frozen=True)
class QueryCost:
    name: str
    server_s: float
    """Request sent to last byte read."""
    bytes: int
    rows: int
    parse_s: float
    """``json.loads`` of the body."""
    samples: int | None = None
    """Prometheus's own count of the samples the query read (``stats=all`` ->
    ``data.stats.samples.totalQueryableSamples``): deterministic, load-independent."""
    wire_bytes: int | None = None
    """The answer as sent over the wire with ``Accept-Encoding: gzip`` (what streamdash
    asks for); ``bytes`` is the decoded JSON."""
    error: str | None = None
    """Why Prometheus gave no answer (e.g. ``HTTP 503`` when the query ran past its
    ``--query.timeout``); the other figures are then 0 and ``server_s`` is the time to
    the error."""


def ask(url: str, path: str, params: dict[str, str]) -> tuple[float, bytes, dict[str, Any], int]:
    """POST one query with ``stats=all``, accepting gzip as streamdash does: (seconds to
    the last byte, decoded body, parsed body, bytes on the wire). RuntimeError when
    Prometheus answers an error."""
    body = urllib.parse.urlencode({**params, "stats": "all"}).encode()
    t0 = time.monotonic()
    request = urllib.request.Request(
        f"{url}{path}", data=body, method="POST", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
        wire = resp.read()
        encoding = resp.headers.get("Content-Encoding", "")
    server_s = time.monotonic() - t0
    payload = gzip.decompress(wire) if encoding == "gzip" else wire
    doc = json.loads(payload)
    if doc.get("status") != "success":
        raise RuntimeError(f"query failed: {doc.get('error')}: {params.get('query', '')[:200]}")
    return server_s, payload, doc, len(wire)


def samples_of(doc: dict[str, Any]) -> int | None:
    """``totalQueryableSamples`` of a ``stats=all`` answer (None when absent)."""
    value = doc.get("data", {}).get("stats", {}).get("samples", {}).get("totalQueryableSamples")
    return int(value) if isinstance(value, int | float) else None


def costs_of(
    url: str, queries: dict[str, str], at: float, history_s: float, step: int
) -> list[QueryCost]:
    """Each of ``queries`` alone and in order, at ``at`` (``history``: the range query
    over ``history_s`` at ``step``, aligned as the source aligns it)."""
    out = []
    for name, text in queries.items():
        if name == "history":
            end = (at // step) * step
            path = "/api/v1/query_range"
            params = {
                "query": text,
                "start": f"{end - history_s:.3f}",
                "end": f"{end:.3f}",
                "step": str(step),
            }
        else:
            path, params = "/api/v1/query", {"query": text, "time": f"{at:.3f}"}
        t_ask = time.monotonic()
        try:
            server_s, payload, _, wire = ask(url, path, params)
        except (OSError, RuntimeError) as exc:  # urllib's HTTPError and URLError are OSError
            out.append(QueryCost(name, time.monotonic() - t_ask, 0, 0, 0.0, error=str(exc)[:200]))
            continue
        t0 = time.monotonic()
        doc = json.loads(payload)
        parse_s = time.monotonic() - t0
        rows = len(doc.get("data", {}).get("result", []))
        out.append(QueryCost(name, server_s, len(payload), rows, parse_s, samples_of(doc), wire))
    return out


def query_costs(url: str, namespace: str, window_s: int = 300) -> list[QueryCost]:
    """Each query of one TUI refresh (history included), alone and in order."""
    settings = Settings(
        prometheus=PrometheusSettings(url=url), preset=load_preset("vllm"), namespace=namespace
    )
    source = PrometheusSource(settings)
    try:
        queries = source.queries(window_s, with_history=True)
    finally:
        source.close()
    step = promql.history_step(settings.history_seconds)
    return costs_of(url, queries, time.time(), settings.history_seconds, step)


def history_parts(url: str, namespace: str, window_s: int = 300) -> list[QueryCost]:
    """The ``history`` range query's parts alone, and the pod-set join built two ways.

    ``fleet_pods(as sent)`` is what ``promql.fleet_pods`` sends today (``group by (pod)``
    over every histogram's ``_count`` series since 3d276d0; ``_bucket`` before);
    ``fleet_pods(in_flight)`` is the same pod set from the one-series-per-pod gauge.
    """
    preset = load_preset("vllm")
    scope = promql.Scope.build(namespace, None)
    metrics = [m for k in ("ttft", "stream", "itl", "e2e") if (m := preset.histogram(k).metric)]
    fleet = promql.fleet_pods(metrics, preset.in_flight, scope)
    by_gauge = promql.fleet_pods([], preset.in_flight, scope)
    cpu_sel = promql.selector(
        promql.CPU_METRIC,
        scope.cluster,
        (promql.Matcher("container", "!=", ""), promql.Matcher("container", "!=", "POD")),
    )
    cpu = f"sum by (pod) (rate({cpu_sel}[{promql.duration(window_s)}]))"  # as promql.history
    parts = {
        "ttft_p99": promql.quantile(0.99, [metrics[0]], scope, window_s),
        "stream_p99": promql.quantile(0.99, [metrics[1]], scope, window_s),
        "fleet_pods(as sent)": fleet or "",
        "fleet_pods(in_flight)": by_gauge or "",
        "cpu and on (pod) fleet_pods(as sent)": f"sum({cpu} and on (pod) {fleet})",
        "cpu and on (pod) fleet_pods(in_flight)": f"sum({cpu} and on (pod) {by_gauge})",
    }
    settings = Settings()
    now = time.time()
    out = []
    for name, text in parts.items():
        params = {
            "query": text,
            "start": f"{now - settings.history_seconds:.3f}",
            "end": f"{now:.3f}",
            "step": str(promql.history_step(settings.history_seconds)),
        }
        body = urllib.parse.urlencode(params).encode()
        t0 = time.monotonic()
        request = urllib.request.Request(f"{url}/api/v1/query_range", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            payload = resp.read()
        server_s = time.monotonic() - t0
        doc = json.loads(payload)
        if doc.get("status") != "success":
            raise RuntimeError(f"history part {name!r} failed: {doc.get('error')}")
        rows = len(doc.get("data", {}).get("result", []))
        out.append(QueryCost(name, server_s, len(payload), rows, 0.0))
    return out
