"""What one dashboard refresh costs Prometheus, counted by Prometheus itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from streamdash.live import LiveRefresher
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources import promql
from tests.integration.test_snapshot_e2e import NS, _write_all
from tests.support.faultproxy import fault_proxy
from tests.support.prom import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("cost")
    _write_all(work / "fleet.om", end=float(int(time.time()) - 5))
    server = start_prometheus(work, openmetrics=(work / "fleet.om").read_text())
    yield server
    server.stop()


def _settings(url: str) -> Settings:
    return Settings(
        prometheus=PrometheusSettings(url=url, timeout_seconds=10.0),
        preset=load_preset("vllm"),
        namespace=NS,
    )


def test_history_is_fetched_once_per_chart_step(prom: PrometheusServer) -> None:
    refresher = LiveRefresher(_settings(prom.url))
    step = promql.history_step(3600)
    try:
        step_before = int(time.time() // step)
        before = prom.requests_served()
        numbers = refresher.refresh(300)  # the first frame never waits for the charts
        assert refresher.history_pending(10.0)
        # the charts follow with no new query, unless their answer came before the
        # refresh's own (a small fleet): then the first frame already carries them
        first = refresher.history_follow_up(300) if numbers.history is None else numbers
        assert first is not None and first.history is not None
        assert first.history.series["stream_p99"]
        assert first.pods == numbers.pods and first.taken_at == numbers.taken_at
        assert "history" in first.queries  # named by the refresh that brought it
        second = refresher.refresh(300)
        same_step = int(time.time() // step) == step_before
        asked = prom.requests_served() - before
        if same_step:  # one range query per chart step, not per refresh
            assert asked == first.query_count + second.query_count
        assert second.history == first.history and "history" not in second.queries
        wider = refresher.refresh(900)  # another window: its own history
        assert wider.history is not None and wider.history != first.history
    finally:
        refresher.close()


def test_a_slow_history_query_does_not_hold_the_refresh(prom: PrometheusServer) -> None:
    with fault_proxy(prom.url, delay_seconds=5.0) as proxy:
        proxy.only = "cpu_implied_replicas"  # only the charts' range query is slow
        proxy.mode = "delay"
        refresher = LiveRefresher(_settings(proxy.url))
        try:
            first = refresher.refresh(300)
            # Answered without the history: no error yet (the fetch is still running),
            # every other part fresh.
            assert first.history is None
            assert first.errors == () and first.stale == ()
            assert first.pods and first.latency["ttft"].p99 is not None
        finally:
            refresher.close()


def test_an_early_first_refresh_is_the_first_refresh(prom: PrometheusServer) -> None:
    """``start_early`` (run before the TUI is imported) costs no extra queries: the
    first ``refresh`` returns its answer; a refresh over another window asks anew."""
    refresher = LiveRefresher(_settings(prom.url), with_history=False)
    try:
        before = prom.requests_served()
        refresher.start_early(300)
        first = refresher.refresh(300)
        assert first.pods and first.latency["ttft"].p99 is not None
        assert prom.requests_served() - before == first.query_count
        refresher.start_early(300)
        other = refresher.refresh(900)  # the early answer is for 300 s: not used
        assert other.window_seconds == 900
        # first (with the window's probe) + the unused early refresh (no probe: 300 s was
        # probed) + the 900 s refresh (with its own probe)
        early = first.query_count - 1
        assert prom.requests_served() - before == first.query_count + early + other.query_count
    finally:
        refresher.close()


def test_a_refresh_asks_the_same_for_every_fleet_size(prom: PrometheusServer) -> None:
    """Counted by Prometheus: the first refresh of each fleet (4 and 3 pods, through the
    live refresher with its one recorded-series probe) and the next one cost the same,
    and each costs what it says (``query_count``)."""
    served: dict[str, list[float]] = {}
    for namespace in (NS, "calm"):
        settings = replace(_settings(prom.url), namespace=namespace)
        refresher = LiveRefresher(settings, with_history=False)  # history: counted above
        try:
            counts = []
            for _ in range(2):
                before = prom.requests_served()
                snap = refresher.refresh(300)
                counts.append(prom.requests_served() - before)
                assert snap.pods and counts[-1] == snap.query_count
            served[namespace] = counts
        finally:
            refresher.close()
    assert served[NS] == served["calm"]
    assert served[NS][0] == served[NS][1] + 1  # the probe, once


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_tui_backfill_waits_for_the_first_frame(prom: PrometheusServer) -> None:
    """The hour before start (one range query per part, reading about as much as
    several refreshes) is asked only after the first refresh has answered and its
    charts have followed, so it never competes with the first frame's queries; it then
    arrives and fills the timeline."""
    from streamdash.tui.app import StreamdashApp
    from tests.tui.helpers import wait_until

    refresher = LiveRefresher(_settings(prom.url))
    assert refresher.prometheus is not None
    source = refresher.prometheus
    events: list[str] = []
    fetch_range, refresh = source.fetch_range, refresher.refresh_first

    def logged_range(*args: Any, **kwargs: Any) -> Any:
        events.append("backfill")
        return fetch_range(*args, **kwargs)

    def logged_refresh(window: int, on_partial: Any) -> Any:
        snapshot = refresh(window, on_partial)
        events.append("refresh")
        return snapshot

    source.fetch_range = logged_range  # type: ignore[method-assign]
    refresher.refresh_first = logged_refresh  # type: ignore[method-assign]
    app = StreamdashApp(_settings(prom.url), refresher, timed_polling=False)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: bool(app.backfill), "the backfill")
            assert events[:2] == ["refresh", "backfill"]
            assert app.snapshot is not None and app.snapshot.pods
            assert all(s.taken_at < app.snapshot.taken_at for s in app.backfill)
            kept = {s.taken_at for s in app.backfill}
            assert kept <= {m.taken_at for m in app.backfill_marks}  # every step has a mark
    finally:
        refresher.close()


def _slow_histograms(proxy: Any) -> None:
    """Delay only the histogram queries (the only ones tagged with the ``count`` piece)."""
    proxy.only = '"count"'
    proxy.mode = "slow"


def test_the_first_refresh_shows_what_answered_before_the_histograms(
    prom: PrometheusServer,
) -> None:
    """With the histograms slow, the first refresh hands over an early frame: every
    pod with its FDs, CPU and in-flight equal to the whole refresh's, the p99s not yet
    known, the latency kinds pending, nothing judged from latency and a ``loading``
    verdict unless a non-latency finding is critical. Later refreshes give none."""
    from streamdash.core.verdict import verdict

    with fault_proxy(prom.url, delay_seconds=2.0) as proxy:
        _slow_histograms(proxy)
        refresher = LiveRefresher(_settings(proxy.url), with_history=False)
        try:
            early: list[Any] = []
            full = refresher.refresh_first(300, early.append)
            assert len(early) == 1
            first = early[0]
            assert set(first.pending) == {"ttft", "stream", "itl", "e2e"}
            assert full.pending == () and verdict(full).pending == ()
            assert first.taken_at == full.taken_at and first.errors == ()
            by_pod = {p.pod: p for p in full.pods}
            assert {p.pod for p in first.pods} == set(by_pod) and by_pod
            for pod in first.pods:
                whole = by_pod[pod.pod]
                assert (pod.open_fds, pod.max_fds, pod.cpu_cores, pod.in_flight) == (
                    whole.open_fds,
                    whole.max_fds,
                    whole.cpu_cores,
                    whole.in_flight,
                )
                assert pod.ttft_p99 is None and pod.stream_p99 is None
            assert any(p.ttft_p99 is not None for p in full.pods)
            latency_ids = {"histogram-overflow", "latency-blend", "lb-idle-timeout"}
            assert not latency_ids & {f.id for f in first.findings}
            judged = verdict(first)
            assert judged.state in ("loading", "critical", "warning")
            assert "waiting for TTFT, stream, ITL, e2e latency" in judged.line
            later: list[Any] = []
            refresher.refresh_first(300, later.append)
            assert later == []  # only the first refresh has no values to show
        finally:
            refresher.close()


def test_an_early_first_refresh_keeps_its_early_frame_for_the_tui(
    prom: PrometheusServer,
) -> None:
    """``start_early`` runs before the TUI exists: its early frame is kept and handed
    to the first ``refresh_first`` (while the histograms are still on their way)."""
    with fault_proxy(prom.url, delay_seconds=2.0) as proxy:
        _slow_histograms(proxy)
        refresher = LiveRefresher(_settings(proxy.url), with_history=False)
        try:
            refresher.start_early(300)
            time.sleep(0.8)  # the fast parts answer; the histograms are held 2 s
            early: list[Any] = []
            full = refresher.refresh_first(300, early.append)
            assert len(early) == 1 and early[0].pending and not full.pending
            assert {p.pod for p in early[0].pods} == {p.pod for p in full.pods}
        finally:
            refresher.close()


@pytest.mark.anyio
async def test_the_tui_shows_the_early_frame_then_the_whole_refresh(
    prom: PrometheusServer,
) -> None:
    from streamdash.tui.app import StreamdashApp
    from streamdash.tui.panels.pods import PodsPanel
    from streamdash.tui.verdict import VerdictLine
    from tests.tui.helpers import wait_until

    with fault_proxy(prom.url, delay_seconds=2.0) as proxy:
        _slow_histograms(proxy)
        refresher = LiveRefresher(_settings(proxy.url), with_history=False)
        app = StreamdashApp(_settings(proxy.url), refresher, timed_polling=False)
        try:
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_until(
                    pilot, lambda: app.snapshot is not None and bool(app.snapshot.pending), "early"
                )
                assert not app.session  # an early frame is not kept in the session
                table = app.dashboard.query_one(PodsPanel).table
                assert table.row_count == len(app.snapshot.pods) > 0
                assert [c.plain for c in table.cells_at(0)[1:3]] == ["…", "…"]
                line = str(app.dashboard.query_one(VerdictLine).render())
                assert "waiting for TTFT" in line
                await wait_until(
                    pilot,
                    lambda: app.snapshot is not None and not app.snapshot.pending,
                    "the whole refresh",
                )
                assert [c.plain for c in table.cells_at(0)[1:3]] != ["…", "…"]
                assert len(app.session) == 1
        finally:
            refresher.close()
