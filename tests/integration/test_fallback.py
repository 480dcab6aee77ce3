"""`fallback: scrape`: a real Prometheus scraping the demo fleet is stopped and started;
the refresher switches to direct scrape and back, and says which source is live."""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import urlsplit

import pytest

from streamdash.demo import demo_settings, start_fleet
from streamdash.live import LiveRefresher
from streamdash.settings import PrometheusSettings, Settings
from tests.conftest import PrometheusFactory
from tests.support.prom import PrometheusServer

pytestmark = pytest.mark.integration


def wait_for_scrapes(prom: PrometheusServer, targets: int, timeout: float = 30.0) -> None:
    """Until every target has been scraped at least twice in the last minute (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = prom.query("count_over_time(up[1m]) >= 2")
        if len(rows) >= targets:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus did not scrape {targets} targets twice in {timeout} s")


def test_fallback_switches_to_scrape_and_back(prometheus_factory: PrometheusFactory) -> None:
    fleet = start_fleet("healthy", pods=3, seed=1)
    try:
        targets = [urlsplit(u).netloc for u in fleet.pod_urls]
        prom = prometheus_factory(scrape_targets=targets, scrape_interval="1s")
        settings = dataclasses.replace(
            demo_settings(fleet, Settings()),
            prometheus=PrometheusSettings(url=prom.url, timeout_seconds=2.0),
            fallback="scrape",
        )
        wait_for_scrapes(prom, len(targets))
        refresher = LiveRefresher(settings, with_history=False)
        try:
            first = refresher.refresh(60)
            assert refresher.live_kind == "prometheus"
            assert first.source.kind == "prometheus" and first.pods
            assert refresher.describe().startswith("prometheus")

            prom.stop()
            during = refresher.refresh(60)
            assert refresher.live_kind == "scrape (fallback)"
            assert refresher.describe().startswith("scrape (fallback)")
            assert during.source.kind == "scrape" and during.pods
            assert during.stale == ()  # the scrape's values are fresh, not carried
            assert any(e.source == "prometheus" and e.part is None for e in during.errors)
            assert any("fallback" in n for n in during.notes)

            prom.start()
            wait_for_scrapes(prom, len(targets))
            after = refresher.refresh(60)
            assert refresher.live_kind == "prometheus"
            assert after.source.kind == "prometheus" and after.pods
            assert after.errors == ()
        finally:
            refresher.close()
    finally:
        fleet.stop()
