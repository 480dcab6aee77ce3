"""`streamdash snapshot --at`: the past instant, equal to Prometheus's own answers then;
and real Prometheus snapshots round-trip through the JSON loader exactly."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streamdash.export.json import render_json
from streamdash.export.load import load_snapshot
from tests.integration.test_snapshot_e2e import (
    NS,
    _by_pod,
    _close,
    _scalar,
    _write_all,
    streamdash,
)
from tests.support.fleet import STREAM_METRIC, TTFT_METRIC
from tests.support.prom import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prom_end(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, float]]:
    work = tmp_path_factory.mktemp("at")
    end = float(int(time.time()) - 5)
    _write_all(work / "fleet.om", end=end)
    server = start_prometheus(work, openmetrics=(work / "fleet.om").read_text())
    yield server, end
    server.stop()


def _snapshot(prom: PrometheusServer, *extra: str) -> dict[str, Any]:
    proc = streamdash(
        "snapshot", "--prometheus-url", prom.url, "--preset", "vllm", "-n", NS,
        "--format", "json", *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _equal_prometheus_at(prom: PrometheusServer, snap: dict[str, Any], at: float) -> None:
    assert snap["taken_at_unix"] == at
    for kind, metric in (("ttft", TTFT_METRIC), ("stream", STREAM_METRIC)):
        rate = f'rate({{__name__="{metric}_bucket",namespace="{NS}"}}[300s])'
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            theirs = _scalar(prom, f"histogram_quantile({q}, sum by (le) ({rate}))", at)
            assert _close(snap["latency"][kind][name], theirs), (kind, name, at)
        count = _scalar(prom, f"sum({rate.replace('_bucket', '_count')})", at)
        assert _close(snap["latency"][kind]["rate_per_s"], count), (kind, at)
    sel = f'namespace="{NS}"'
    ttft = f'rate({{__name__="{TTFT_METRIC}_bucket",{sel}}}[300s])'
    p99 = _by_pod(prom, f"histogram_quantile(0.99, sum by (pod, le) ({ttft}))", at)
    fds = _by_pod(prom, f"process_open_fds{{{sel}}}", at)
    for row in snap["pods"]:
        assert _close(row["ttft_p99"], p99[row["pod"]]), row["pod"]
        assert _close(row["open_fds"], fds[row["pod"]]), row["pod"]


def test_at_rfc3339_and_relative_equal_prometheus_at_that_instant(
    prom_end: tuple[PrometheusServer, float],
) -> None:
    prom, end = prom_end
    past = end - 400
    stamp = datetime.fromtimestamp(past, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = _snapshot(prom, "--at", stamp)
    _equal_prometheus_at(prom, earlier, past)
    assert any("(--at), not now" in n for n in earlier["notes"])
    before = time.time()
    relative = _snapshot(prom, "--at", "-2m")
    at = relative["taken_at_unix"]
    assert before - 120 - 1 <= at <= time.time() - 120
    _equal_prometheus_at(prom, relative, at)
    # the two instants really are different answers (the data moves over time)
    assert earlier["latency"]["ttft"]["rate_per_s"] != relative["latency"]["ttft"]["rate_per_s"]


@pytest.mark.parametrize(
    ("value", "message"),
    [("yesterday", "expected RFC 3339"), ("2026-12-01T02:14:00", "expected RFC 3339"),
     ("-soon", "expected e.g. -15m"), ("2999-01-01T00:00:00Z", "in the future")],
)  # fmt: skip
def test_a_bad_at_is_one_usage_line(
    prom_end: tuple[PrometheusServer, float], value: str, message: str
) -> None:
    prom, _ = prom_end
    proc = streamdash("snapshot", "--prometheus-url", prom.url, "--at", value)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_at_without_prometheus_is_one_line(tmp_path: Path) -> None:
    proc = streamdash("snapshot", "--scrape", "http://127.0.0.1:9/metrics", "--at", "-5m")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "streamdash: --at needs --prometheus-url: direct scrape sees only the present"
    )


def test_real_prometheus_snapshots_round_trip_exactly(
    prom_end: tuple[PrometheusServer, float],
) -> None:
    prom, _ = prom_end
    for extra in ((), ("--at", "-3m"), ("-n", "calm")):
        doc = _snapshot(prom, *extra)
        first = json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        again = render_json(load_snapshot(doc))
        assert again == first
        assert not math.isnan(load_snapshot(doc).taken_at)


def _range_requests(prom: PrometheusServer) -> float:
    import httpx

    text = httpx.get(f"{prom.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and "/api/v1/query_range" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_backfill_judges_the_past_like_at_with_a_constant_number_of_range_queries(
    prom_end: tuple[PrometheusServer, float],
) -> None:
    from dataclasses import replace

    from streamdash.live import LiveRefresher
    from streamdash.presets import load_preset
    from streamdash.record.backfill import backfill
    from streamdash.settings import PrometheusSettings, Settings

    prom, end = prom_end
    settings = replace(
        Settings(),
        prometheus=PrometheusSettings(url=prom.url),
        preset=load_preset("vllm"),
        namespace=NS,
    )
    refresher = LiveRefresher(settings, with_history=False)
    try:
        sent = len(refresher.prometheus.queries(300, with_history=False))  # type: ignore[union-attr]
        before = _range_requests(prom)
        snaps = backfill(refresher, 300, end + 1, span=600, step=60)
        assert _range_requests(prom) - before == sent  # one range query per refresh query
    finally:
        refresher.close()
    assert [s.taken_at for s in snaps] == [end // 60 * 60 - 600 + 60 * i for i in range(11)]
    late = snaps[-1]
    assert any(f.id == "histogram-overflow" for f in late.findings)
    assert "Built from Prometheus range queries" in late.notes[0]
    # the same instant asked with instant queries (--at): the same numbers and findings
    doc = _snapshot(prom, "--at", str(late.taken_at))
    assert {(f["id"], f["subject"], f["severity"]) for f in doc["findings"]} == {
        (f.id, f.subject, f.severity) for f in late.findings
    }
    for kind in ("ttft", "stream"):
        for name in ("p50", "p99", "rate_per_s"):
            assert _close(getattr(late.latency[kind], name), doc["latency"][kind][name])
    _equal_prometheus_at(prom, json.loads(render_json(late)), late.taken_at)


@pytest.mark.anyio
async def test_the_dashboards_timeline_covers_the_hour_before_start(
    prom_end: tuple[PrometheusServer, float],
) -> None:
    """The real app on a real Prometheus: the backfill arrives in the background and the
    timeline (T) lists the findings that were already open before the dashboard started,
    at their times; Enter shows that past snapshot."""
    from dataclasses import replace

    from streamdash.live import LiveRefresher
    from streamdash.presets import load_preset
    from streamdash.settings import PrometheusSettings, Settings
    from streamdash.tui.app import StreamdashApp
    from streamdash.tui.screens.timeline import TimelineScreen

    prom, _ = prom_end
    settings = replace(
        Settings(),
        prometheus=PrometheusSettings(url=prom.url),
        preset=load_preset("vllm"),
        namespace=NS,
    )
    app = StreamdashApp(settings, LiveRefresher(settings), timed_polling=False)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(300):
            if app.backfill and app.session:
                break
            await pilot.pause(0.05)
        assert app.backfill, "no backfill arrived"
        assert all(s.taken_at < app.session[0].taken_at for s in app.backfill)
        await pilot.press("T")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        first = screen.entries[0]
        assert first.finding_id in {"histogram-overflow", "fd-exhaustion"}
        assert first.at < app.session[0].taken_at  # found in the hour before start
        assert "from Prometheus before start" in screen.title_text
        table = screen.query_one("#timeline-table")
        table.move_cursor(row=0)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.viewing is not None and app.viewing.taken_at == first.at
        assert "Built from Prometheus range queries" in app.viewing.notes[0]
