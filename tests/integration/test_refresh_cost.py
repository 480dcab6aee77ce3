"""What one dashboard refresh costs Prometheus, counted by Prometheus itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from streamdash.live import LiveRefresher
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources import promql
from tests.integration.test_snapshot_e2e import NS, _write_all
from tests.support.prom import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("cost")
    _write_all(work / "fleet.om", end=float(int(time.time()) - 5))
    server = start_prometheus(work, openmetrics=(work / "fleet.om").read_text())
    yield server
    server.stop()


def test_history_is_fetched_once_per_chart_step(prom: PrometheusServer) -> None:
    settings = Settings(
        prometheus=PrometheusSettings(url=prom.url, timeout_seconds=10.0),
        preset=load_preset("vllm"),
        namespace=NS,
    )
    refresher = LiveRefresher(settings)
    step = promql.history_step(settings.history_seconds)
    try:
        step_before = int(time.time() // step)
        before = prom.requests_served()
        first = refresher.refresh(300)
        after_first = prom.requests_served()
        second = refresher.refresh(300)
        after_second = prom.requests_served()
        same_step = int(time.time() // step) == step_before
        third = refresher.refresh(900)  # a new window needs a new history
        after_third = prom.requests_served()
    finally:
        refresher.close()
    assert first.history is not None and second.history == first.history
    first_cost, second_cost = after_first - before, after_second - after_first
    # Same step of the chart (15 s for an hour): the range query is not sent again.
    assert second_cost == (first_cost - 1 if same_step else first_cost)
    assert first_cost == first.query_count and second_cost == second.query_count
    assert after_third - after_second == first_cost and third.history is not None
