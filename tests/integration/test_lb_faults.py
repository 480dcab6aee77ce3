"""A load balancer's stats endpoint goes bad mid-session: its last rows stay, marked
stale with the reason, the rest of the snapshot is unaffected, and it recovers."""

from __future__ import annotations

import dataclasses
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streamdash.demo import demo_settings, start_fleet
from streamdash.live import LiveRefresher
from streamdash.settings import LoadBalancerSettings, Settings

pytestmark = pytest.mark.integration


class StatsServer:
    """Serves a fixed HAProxy stats CSV, or a fault, on 127.0.0.1."""

    def __init__(self, csv_text: str) -> None:
        self.csv_text = csv_text
        self.mode = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if outer.mode == "503":
                    body, status = b"busy", 503
                elif outer.mode == "garbage":
                    body, status = b"<html>\x1b[31mnot csv</html>", 200
                else:
                    body, status = outer.csv_text.encode(), 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stats;csv"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def setup() -> Iterator[tuple[LiveRefresher, StatsServer]]:
    fleet = start_fleet("healthy", pods=3, seed=2)
    with urllib.request.urlopen(fleet.haproxy_csv_url, timeout=5) as resp:
        csv_text = resp.read().decode()
    stats = StatsServer(csv_text)
    settings = dataclasses.replace(
        demo_settings(fleet, Settings()),
        load_balancers=(LoadBalancerSettings(kind="haproxy", url=stats.url, name="edge"),),
    )
    refresher = LiveRefresher(settings, with_history=False)
    try:
        yield refresher, stats
    finally:
        refresher.close()
        stats.stop()
        fleet.stop()


@pytest.mark.parametrize("fault", ["503", "garbage"])
def test_lb_fault_keeps_last_rows_marked_stale_and_recovers(
    setup: tuple[LiveRefresher, StatsServer], fault: str
) -> None:
    refresher, stats = setup
    good = refresher.refresh(300)
    assert good.load_balancer.backends and good.stale == ()
    rows = {b.server: b.current for b in good.load_balancer.backends}
    assert any(p.open_connections is not None for p in good.pods)

    stats.mode = fault
    bad = refresher.refresh(300)
    assert {b.server for b in bad.load_balancer.backends} == set(rows)  # kept
    lb_stale = [s for s in bad.stale if s.panel == "lb"]
    assert len(lb_stale) == 1 and lb_stale[0].last_good_at == good.taken_at
    assert "\n" not in lb_stale[0].reason and "\x1b" not in lb_stale[0].reason
    assert all(s.panel == "lb" for s in bad.stale)  # latency, pods, autoscaler fresh
    assert bad.pods

    stats.mode = "ok"
    recovered = refresher.refresh(300)
    assert recovered.stale == () and recovered.load_balancer.backends
