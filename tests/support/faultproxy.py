"""A real HTTP proxy on 127.0.0.1 that forwards to a real Prometheus or injects a fault.

``FaultProxy(upstream)`` listens on a free loopback port; ``proxy.mode`` (switchable at
run time, from any thread) decides what every request gets:

=================  ===============================================================
``pass``           forwarded to the upstream, answer returned unchanged
``delay``          held for ``delay_seconds`` (longer than the client's timeout), then
                   the connection is closed without an answer
``http-500``...    ``http-<code>`` for 500, 502, 503, 429, 401, 403: that status with
                   a body that echoes the request's credential headers (a hostile or
                   careless gateway) and carries an ANSI escape
``malformed-json`` 200 with a body that is not JSON
``truncated``      200 whose Content-Length is larger than the body, then close
``status-error``   200 with ``{"status":"error",...}`` (Prometheus's own error shape)
``warnings``       forwarded, with ``warnings`` added to the upstream's success answer
=================  ===============================================================

``proxy.only = "text"`` limits the fault to requests whose (URL-decoded) query
contains ``text`` (one PromQL part); the others pass through. Every wait is bounded;
``stop()`` releases delayed requests and joins the server thread.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HTTP_MODES = ("http-500", "http-502", "http-503", "http-429", "http-401", "http-403")
MODES = ("pass", "delay", *HTTP_MODES, "malformed-json", "truncated", "status-error", "warnings")
WARNING_TEXT = "partial response: store-2 did not answer"
UPSTREAM_TIMEOUT_S = 10.0
ESCAPE_IN_BODY = "\x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07"
"""Terminal escapes an error body carries, so views must strip them."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or "0")
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, body: bytes) -> None:
        proxy = self.server.proxy
        query = urllib.parse.unquote_plus(self.path + "?" + body.decode("latin-1"))
        mode, release = proxy.record(dict(self.headers.items()), query)
        if mode == "delay":
            release.wait(proxy.delay_seconds)
            self.close_connection = True
            return
        if mode in HTTP_MODES:
            code = int(mode.removeprefix("http-"))
            echoed = (
                f"gateway error {code}: you sent Authorization={self.headers.get('Authorization')}"
                f" X-Scope-OrgID={self.headers.get('X-Scope-OrgID')} {ESCAPE_IN_BODY}"
            )
            self._reply(code, echoed.encode(), "text/plain")
            return
        if mode == "malformed-json":
            self._reply(200, b'{"status":"success","data":{"resultType":"vector","result":[')
            return
        if mode == "status-error":
            error = {"status": "error", "errorType": "execution", "error": "query overloaded"}
            self._reply(200, json.dumps(error).encode())
            return
        if mode == "truncated":
            payload = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload) + 500))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        status, payload, ctype = self._forward(body)
        if mode == "warnings" and status == 200:
            answer = json.loads(payload)
            answer["warnings"] = [WARNING_TEXT]
            payload = json.dumps(answer).encode()
        self._reply(status, payload, ctype)

    def _forward(self, body: bytes) -> tuple[int, bytes, str]:
        proxy = self.server.proxy
        request = urllib.request.Request(
            proxy.upstream + self.path,
            data=body if self.command == "POST" else None,
            method=self.command,
            headers={"Content-Type": self.headers.get("Content-Type", "")},
        )
        try:
            with urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT_S) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as exc:
            return 502, f"upstream unreachable: {exc}".encode(), "text/plain"


class FaultProxy:
    """A loopback proxy in front of ``upstream`` whose ``mode`` injects faults."""

    def __init__(self, upstream: str, delay_seconds: float = 3.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        self._mode = "pass"
        self.only: str | None = None
        """When set, only requests whose query contains this text get the fault."""
        self._release = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []
        """(mode, request headers) of every request received, in order."""
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def mode(self) -> str:
        with self._lock:
            return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown fault mode {value!r}; choose from {', '.join(MODES)}")
        with self._lock:
            self._mode = value
            self._release.set()  # requests held by "delay" end now
            self._release = threading.Event()

    def record(self, headers: dict[str, str], query: str = "") -> tuple[str, threading.Event]:
        """Log one request; return the mode it gets and the event that ends a delay."""
        with self._lock:
            only = self.only
            mode = self._mode if only is None or only in query else "pass"
            self.requests.append((mode, headers))
            return mode, self._release

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests, stop serving, close the socket (bounded)."""
        with self._lock:
            self._release.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()


@contextmanager
def fault_proxy(upstream: str, delay_seconds: float = 3.0) -> Iterator[FaultProxy]:
    """A started ``FaultProxy`` that is stopped on exit."""
    proxy = FaultProxy(upstream, delay_seconds).start()
    try:
        yield proxy
    finally:
        proxy.stop()
