"""Fuzz pass (issue 12): generated Prometheus answers, scrape bodies, LB answers and
configs go through the real parsers, the real sources' assembly, the core and every
view; zero tracebacks. Bounded: ``max_examples`` per target, no deadline drift in CI.

Prometheus and scrape answers reach their source through the source's own HTTP
transport seam (the transport is replaced by one that hands back the generated body),
so decoding, parsing, assembly, sanitising, ``build_snapshot``, JSON and markdown are
all the real code.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamdash import sanitise
from streamdash.config import ConfigError, parse_config_text
from streamdash.core.build import build_snapshot
from streamdash.core.carry import carry_forward
from streamdash.export.json import render_json
from streamdash.export.markdown import render_markdown
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, ScrapeTarget, Settings
from streamdash.sources import http
from streamdash.sources.lb.common import LbParseError
from streamdash.sources.lb.envoy import parse_clusters_json, parse_stats_json
from streamdash.sources.lb.haproxy import parse_stats_csv
from streamdash.sources.lb.nginx import parse_stub_status
from streamdash.sources.prometheus import PrometheusSource
from streamdash.sources.scrape import ScrapeError, ScrapeSource, parse_exposition

EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
SETTINGS = Settings(
    prometheus=PrometheusSettings(url="http://127.0.0.1:1", timeout_seconds=1.0),
    preset=load_preset("vllm"),
    namespace="llm",
)

hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\ud800", "\u202e", "\u200b", "\x1b[31m", "`|*", "\n", "+Inf", "NaN"]),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["+Inf", "-Inf", "NaN", "1e308", "-1", "0", "x", ""]),
    st.integers(-(10**20), 10**20),
)
PARTS = ["cpu", "cpu_request", "in_flight", "open_fds", "max_fds", "ttft_p99", "pod_workload"]


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(
        st.dictionaries(
            st.sampled_from(["pod", "le", "streamdash_part", "namespace", "__name__", "x"]),
            st.one_of(hostile_text, st.sampled_from(PARTS), st.sampled_from(["0.1", "+Inf"])),
            max_size=5,
        )
    )
    value: Any = draw(st.one_of(st.lists(numbers, max_size=3), numbers, st.none()))
    row: dict[str, Any] = {"metric": labels, "value": value}
    if draw(st.booleans()):
        row["values"] = draw(st.lists(st.lists(numbers, max_size=3), max_size=4))
    return row


prometheus_bodies = st.one_of(
    st.builds(
        lambda result, warnings, status: json.dumps(
            {
                "status": status,
                "data": {"resultType": "vector", "result": result},
                "warnings": warnings,
            }
        ).encode(),
        st.lists(rows(), max_size=12),
        st.lists(hostile_text, max_size=2),
        st.sampled_from(["success", "success", "error"]),
    ),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


class _Canned:
    """Stands in for the transport: every request gets ``body`` with ``status``."""

    def __init__(self, body: bytes, status: int) -> None:
        self.body, self.status = body, status

    def request(self, *args: object, **kwargs: object) -> http.Answer:
        return http.Answer(self.status, "X", {}, self.body, None, 0.0)

    def close(self) -> None:
        pass


def _views(raw: Any) -> None:
    carried = carry_forward(None, sanitise.raw_answers(raw))
    snapshot = build_snapshot(carried.raw, SETTINGS, carried.stale)
    json.loads(render_json(snapshot))
    render_markdown(snapshot).encode("utf-8")


@EXAMPLES
@given(body=prometheus_bodies, status=st.sampled_from([200, 200, 200, 500, 400, 302]))
def test_prometheus_answers_never_raise(body: bytes, status: int) -> None:
    source = PrometheusSource(SETTINGS)
    source._http = _Canned(body, status)  # type: ignore[assignment]
    try:
        raw = source.fetch(300, with_history=True, now=1_700_000_000.0)
    finally:
        source.close()
    for error in raw.errors:
        assert "\n" not in error.message
    _views(raw)


exposition = st.lists(
    st.one_of(
        st.builds(
            lambda name, labels, value: f"{name}{{{labels}}} {value}",
            st.sampled_from(
                [
                    "vllm:time_to_first_token_seconds_bucket",
                    "process_open_fds",
                    "x_total",
                    "container_cpu_usage_seconds_total",
                    "vllm:num_requests_running",
                ]
            ),
            st.sampled_from(['le="0.1"', 'le="+Inf",pod="a"', 'pod="\\u202e"', "", 'a="\\"']),
            numbers.map(str),
        ),
        st.sampled_from(["# TYPE x counter", "# HELP x y", "# EOF", "garbage {", ""]),
        st.text(max_size=40),
    ),
    max_size=15,
).map("\n".join)


@EXAMPLES
@given(body=exposition)
def test_scrape_bodies_never_raise(body: str) -> None:
    with contextlib.suppress(ScrapeError):
        parse_exposition(body)
    answers = [body.encode("utf-8", "replace"), (body + "\n").encode("utf-8", "replace")]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answers[min(len(seen), 1)])

    seen: list[int] = []
    s = Settings(preset=load_preset("vllm"), scrape=(ScrapeTarget(url="http://127.0.0.1:9/m"),))
    source = ScrapeSource(s, prime_seconds=0.0, transport=httpx.MockTransport(handler))
    try:
        raw = source.fetch(300)
        seen.append(1)
        raw = source.fetch(300)
    finally:
        source.close()
    _views(raw)


csv_cells = st.one_of(hostile_text, numbers.map(str), st.sampled_from(["BACKEND", "UP", ""]))
HEADER = "# pxname,svname,scur,smax,slim,stot,cli_abrt,srv_abrt,status,addr,"


@EXAMPLES
@given(
    lines=st.lists(st.lists(csv_cells, max_size=12).map(",".join), max_size=8),
    with_header=st.booleans(),
    stub=st.text(max_size=120),
    envoy=st.one_of(st.text(max_size=80), st.recursive(
        st.one_of(st.none(), st.booleans(), numbers, hostile_text),
        lambda kids: st.one_of(st.lists(kids, max_size=4),
                               st.dictionaries(hostile_text, kids, max_size=4)),
        max_leaves=20,
    ).map(lambda o: json.dumps(o, default=str))),
)  # fmt: skip
def test_lb_answers_never_raise(lines: list[str], with_header: bool, stub: str, envoy: str) -> None:
    text = "\n".join(([HEADER] if with_header else []) + lines)
    for parse, body in (
        (parse_stats_csv, text),
        (parse_stub_status, stub),
        (parse_clusters_json, envoy),
        (parse_stats_json, envoy),
    ):
        with contextlib.suppress(LbParseError):
            parse(body, "lb")  # type: ignore[operator]


yaml_bits = st.sampled_from(
    ["prometheus:", "  url: ", "  headers:", "    X-A: ", "namespace: ", "window: ", "refresh: ",
     "http:", "  max_answer_bytes: ", "&a ", "*a", "!custom ", "!!binary ", "- ", "[", "{",
     "2020-13-45", "1e999", "localhost:9090", "ftp://x", "'\\ud800'", "\"\\ud800\"", "~", ":"]
)  # fmt: skip


@EXAMPLES
@given(parts=st.lists(st.one_of(yaml_bits, st.text(max_size=8)), max_size=25))
def test_configs_never_raise(parts: list[str]) -> None:
    text = "".join(p if i % 3 else p + "\n" for i, p in enumerate(parts))
    try:
        parse_config_text(text, "sd.yaml", {}, Path("/nonexistent"))
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 1000


def test_sanitiser_contract() -> None:
    assert sanitise.text("a\ud800b") == "a\ufffdb"
    assert sanitise.visible("\u202eevil\u200b\x1b") == "<U+202E>evil<U+200B>␛"
    assert [sanitise.finite(v) for v in (math.inf, -math.inf, math.nan, 1e308, 2.5)] == [
        None, None, None, None, 2.5
    ]  # fmt: skip
