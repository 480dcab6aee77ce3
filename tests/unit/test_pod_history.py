"""One pod's history from kept snapshots (core.pod_history), where the pod screen gets
it (tui.pod_source) and its facts (tui.pod_facts, core.lb.pod_backends)."""

from __future__ import annotations

from dataclasses import replace

from streamdash.core.lb import join_to_pods, pod_backends
from streamdash.core.pod_history import POD_SERIES, pod_history, span
from streamdash.core.raw import HistoryRaw, LbBackendRaw, SeriesPoint
from streamdash.core.snapshot import LoadBalancerView, PodRow, Snapshot, SourceInfo
from streamdash.presets import load_preset
from streamdash.settings import Settings
from streamdash.sources import promql
from streamdash.tui.pod_facts import facts, fd_fact, promql_facts
from streamdash.tui.pod_source import PodHistory, history_fetch, origin_line, span_text

T0 = 1_795_000_000.0


def snap(at: float, *rows: PodRow) -> Snapshot:
    return Snapshot(
        taken_at=at,
        source=SourceInfo("scrape", None),
        window_seconds=300,
        preset="vllm",
        namespace="llm",
        latency={},
        pods=rows,
    )


def values(history: HistoryRaw, name: str) -> list[tuple[float, float | None]]:
    return [(p.t, p.v) for p in history.series[name]]


def test_each_snapshot_is_a_point_and_a_missing_pod_or_value_is_a_gap_not_zero() -> None:
    a = PodRow("a", open_fds=10, cpu_cores=0.5, in_flight=3, ttft_p99=0.2, stream_p99=5.0)
    other = PodRow("b", open_fds=99)
    snapshots = [
        snap(T0 + 10, replace(a, open_fds=None), other),
        snap(T0, a, other),  # given out of order: the history is oldest first
        snap(T0 + 20, other),  # pod a absent from this one
        snap(T0 + 30, replace(a, open_fds=12, stream_p99_overflowed=True)),
    ]
    history = pod_history(snapshots, "a")
    assert history is not None
    assert set(history.series) == set(POD_SERIES)
    assert values(history, "open_fds") == [
        (T0, 10),
        (T0 + 10, None),
        (T0 + 20, None),
        (T0 + 30, 12),
    ]
    assert values(history, "stream_p99") == [
        (T0, 5.0),
        (T0 + 10, 5.0),
        (T0 + 20, None),
        (T0 + 30, 5.0),
    ]
    assert values(history, "cpu_cores")[2] == (T0 + 20, None)
    assert history.step_seconds == 10
    reach = span(history)
    assert reach is not None and (reach.first, reach.last, reach.points) == (T0, T0 + 30, 3)


def test_no_snapshot_with_the_pod_is_no_history() -> None:
    assert pod_history([snap(T0, PodRow("b"))], "a") is None
    assert pod_history([], "a") is None
    unknown = pod_history([snap(T0, PodRow("a"))], "a")  # the pod, every value unknown
    assert unknown is not None and span(unknown) is None
    assert unknown.step_seconds == 0.0


class Source:
    """A refresher whose own per-pod history is given (None: it keeps none)."""

    def __init__(self, history: HistoryRaw | None, origin: str | None = None) -> None:
        self.history = history
        if origin:
            self.pod_history_origin = origin

    def refresh(self, window_seconds: int) -> Snapshot:
        raise AssertionError("not asked")

    def pod_history(self, pod: str, window_seconds: int) -> HistoryRaw | None:
        return self.history

    def describe(self) -> str:
        return "test"

    def close(self) -> None:
        pass


def test_fetch_prefers_the_source_then_the_session_and_says_which() -> None:
    own = HistoryRaw({"open_fds": (SeriesPoint(T0, 5.0),)}, 15.0)
    session = [snap(T0 + 5 * i, PodRow("a", open_fds=i)) for i in range(49)]
    assert history_fetch(Source(own), session)("a", 300) == PodHistory(own, "source")
    assert history_fetch(Source(own, "recording"), session)("a", 300).origin == "recording"
    from_session = history_fetch(Source(None), session)("a", 300)
    assert from_session.origin == "session"
    assert from_session.history is not None and len(from_session.history.series["open_fds"]) == 49
    line = origin_line(from_session)
    assert line.startswith("This session's own recording: last 4 min, 49 snapshots.")
    nothing = history_fetch(Source(None), session)("zz", 300)
    assert nothing == PodHistory(None, "none")
    assert origin_line(nothing) == (
        "No history: the source keeps none per pod, no kept snapshot has this pod."
    )
    assert len(origin_line(nothing)) < 80


def test_span_text_reads_as_a_person_says_it() -> None:
    assert [span_text(s) for s in (0, 45, 240, 3900)] == ["0 s", "45 s", "4 min", "1 h 05 min"]
    assert span_text(3600) == "1 h"


def backend(server: str, **fields: object) -> LbBackendRaw:
    return LbBackendRaw(lb="edge", kind="haproxy", proxy="be", server=server, **fields)  # type: ignore[arg-type]


def test_pod_backends_are_the_rows_join_to_pods_counts() -> None:
    pods = ["llama-1", "llama-10"]
    rows = [backend("be/llama-1", current=3), backend("be/llama-10", current=4), backend("x")]
    assert pod_backends(pods, rows, "llama-1") == (rows[0],)
    assert pod_backends(pods, rows, "llama-10") == (rows[1],)
    assert join_to_pods(pods, rows)["llama-1"][0] == 3  # the same join
    assert pod_backends(pods, rows, "llama-2") == ()


def test_facts_say_whose_fds_and_na_never_zero() -> None:
    settings = Settings(preset=load_preset("vllm"), namespace="llm")
    pair = PodRow("a", open_fds=962, max_fds=1024, fd_utilization=962 / 1024, fd_origin="job proxy")
    assert fd_fact(pair) == "962 of 1024 open (93.9 %), the pair of job proxy"
    counted = PodRow("a", open_fds=40, fd_source="cadvisor", fd_origin="cAdvisor container vllm")
    assert fd_fact(counted).startswith("40 open, counted by cAdvisor container vllm")
    assert "limit n/a" in fd_fact(counted)
    assert fd_fact(PodRow("a")) == "n/a"
    bare = dict(facts(PodRow("a"), snap(T0, PodRow("a")), settings))
    assert bare["CPU"] == "n/a cores used, request n/a cores, limit n/a (not read)"
    assert bare["connections"] == "n/a open, LB limit n/a"
    assert bare["LB"] == "no load balancer configured"
    lb = LoadBalancerView(backends=(backend("be/a", current=3, limit=256, status="UP"),))
    with_lb = replace(snap(T0, PodRow("a")), load_balancer=lb)
    (line,) = [text for label, text in facts(PodRow("a"), with_lb, settings) if label == "LB"]
    assert line.startswith("haproxy edge be/be/a: UP · cur 3, max n/a, limit 256")
    assert "timeouts n/a" in line
    unmatched = replace(with_lb, load_balancer=LoadBalancerView(backends=(backend("zz"),)))
    assert dict(facts(PodRow("a"), unmatched, settings))["LB"].startswith("no LB server row")


def test_the_promql_to_paste_is_the_sources_own_pod_history_query() -> None:
    settings = Settings(preset=load_preset("vllm"), namespace="llm")
    queries = dict(promql_facts(settings, 'p"1', 300))
    assert set(queries) == set(POD_SERIES)
    assert 'pod="p\\"1"' in queries["open_fds"]
    scope = promql.Scope.build("llm", None)
    preset = settings.preset
    assert preset is not None
    sent = promql.pod_history(
        'p"1', preset.ttft.metrics, preset.stream.metrics, preset.in_flight, scope, 300
    )
    assert sent == promql.union([promql.tag(q, n) for n, q in queries.items()])
    bad = dict(promql_facts(replace(settings, selector="not a selector"), "a", 300))
    assert bad["PromQL"].startswith("n/a: ")
