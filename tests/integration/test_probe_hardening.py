"""prometheus-api-client's lookups (the label-convention probe) get the same guards as
every other request: no redirect is followed and the whole request has a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from streamdash.sources import http

pytestmark = pytest.mark.integration


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.hits = 0
        self.target = ""
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Other(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, _Server)
        self.server.hits += 1
        body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Redirect(_Other):
    def do_GET(self) -> None:
        assert isinstance(self.server, _Server)
        self.send_response(302)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Silent(_Other):
    def do_GET(self) -> None:
        time.sleep(3)


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    other, redirect = _Server(_Other), _Server(_Redirect)
    redirect.target = other.url
    yield redirect, other
    for s in (redirect, other):
        s.shutdown()
        s.server_close()


def test_api_client_lookups_follow_no_redirect(servers: tuple[_Server, _Server]) -> None:
    redirect, other = servers
    client = PrometheusConnect(
        url=redirect.url, headers={"X-Scope-OrgID": "tenant-a"}, session=http.NoRedirectSession()
    )
    with pytest.raises(PrometheusApiClientException, match="302"):
        client.custom_query("up")
    assert other.hits == 0  # the tenant header never reached the other origin


def test_api_client_lookups_end_at_the_deadline() -> None:
    silent = _Server(_Silent)
    try:
        client = PrometheusConnect(url=silent.url, session=http.NoRedirectSession())
        started = time.monotonic()
        with pytest.raises(http.HttpError, match="timed out"):
            http.with_deadline(lambda _d, _c: client.custom_query("up"), 0.5)
        assert time.monotonic() - started < 0.5 + http.SLACK_SECONDS + 1.0
    finally:
        silent.shutdown()
        silent.server_close()
