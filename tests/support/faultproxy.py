"""A real HTTP proxy on 127.0.0.1 that forwards to a real Prometheus or injects a fault.

``FaultProxy(upstream)`` listens on a free loopback port; ``proxy.mode`` (switchable at
run time, from any thread) decides what every request gets:

=================  ===============================================================
``pass``           forwarded to the upstream, answer returned unchanged
``delay``          held for ``delay_seconds`` (longer than the client's timeout), then
                   the connection is closed without an answer
``slow``           the real answer, ``delay_seconds`` late (a loaded Prometheus)
``http-500``...    ``http-<code>`` for 500, 502, 503, 429, 401, 403: that status with
                   a body that echoes the request's credential headers (a hostile or
                   careless gateway) and carries an ANSI escape
``malformed-json`` 200 with a body that is not JSON
``truncated``      200 whose Content-Length is larger than the body, then close
``status-error``   200 with ``{"status":"error",...}`` (Prometheus's own error shape)
``warnings``       forwarded, with ``warnings`` added to the upstream's success answer
``trickle``        200 whose (endless) body comes one byte per ``trickle_seconds``
``huge``           200 with a ``huge_bytes`` body streamed in 64 KiB chunks
``gzip-bomb``      200, ``Content-Encoding: gzip``, a small body that inflates to
                   ``bomb_bytes``
``redirect-307``   ``redirect-<code>`` for 301, 302, 307, 308: that status with
                   ``Location: redirect_to`` (+ the request's path)
``echo-padded``    500 whose body is ``echo_pad`` filler characters, then the
                   request's credential headers (so a cut at 120/240 would split them)
``canned``         200 with ``canned`` (bytes) as the body: a hostile answer
=================  ===============================================================

``proxy.date_offset_seconds`` shifts the ``Date`` header of forwarded answers (a
server whose clock differs from ours); ``proxy.sent_bytes`` counts body bytes written
by ``huge``/``trickle`` (to show a client stopped reading). Paths under ``/fwd/`` are
forwarded without the prefix (a same-origin redirect target).

``proxy.only = "text"`` limits the fault to requests whose (URL-decoded) query
contains ``text`` (one PromQL part); the others pass through. Every wait is bounded;
``stop()`` releases delayed requests and joins the server thread.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HTTP_MODES = ("http-500", "http-502", "http-503", "http-429", "http-401", "http-403")
REDIRECT_MODES = ("redirect-301", "redirect-302", "redirect-307", "redirect-308")
HOSTILE_MODES = ("trickle", "huge", "gzip-bomb", *REDIRECT_MODES, "echo-padded", "canned")
MODES = (
    "pass",
    "delay",
    "slow",
    *HTTP_MODES,
    "malformed-json",
    "truncated",
    "status-error",
    "warnings",
    *HOSTILE_MODES,
)
MAX_TRICKLE_SECONDS = 60.0
"""A trickling answer ends after this long at the latest (bounded tests)."""
WARNING_TEXT = "partial response: store-2 did not answer"
UPSTREAM_TIMEOUT_S = 10.0
ESCAPE_IN_BODY = "\x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07"
"""Terminal escapes an error body carries, so views must strip them."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)


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
        if mode == "slow":  # the real answer, ``delay_seconds`` late
            release.wait(proxy.delay_seconds)
        if mode in HTTP_MODES:
            code = int(mode.removeprefix("http-"))
            echoed = (
                f"gateway error {code}: you sent Authorization={self.headers.get('Authorization')}"
                f" X-Scope-OrgID={self.headers.get('X-Scope-OrgID')} {ESCAPE_IN_BODY}"
            )
            self._reply(code, echoed.encode(), "text/plain")
            return
        if mode in HOSTILE_MODES:
            self._hostile(mode, release)
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
        self.send_response(status)
        if proxy.date_offset_seconds:
            shifted = time.time() + proxy.date_offset_seconds
            # send_response already wrote a Date; a second one would be ambiguous
            self._headers_buffer = [  # type: ignore[attr-defined]
                h
                for h in self._headers_buffer
                if not h.lower().startswith(b"date:")  # type: ignore[attr-defined]
            ]
            self.send_header("Date", email.utils.formatdate(shifted, usegmt=True))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _hostile(self, mode: str, release: threading.Event) -> None:
        proxy = self.server.proxy
        if mode.startswith("redirect-"):
            self.send_response(int(mode.removeprefix("redirect-")))
            self.send_header("Location", proxy.redirect_to + self.path.split("?")[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "canned":
            self._reply(200, proxy.canned)
            return
        if mode == "echo-padded":
            echoed = (
                "x" * proxy.echo_pad
                + f" you sent Authorization={self.headers.get('Authorization')}"
                + f" X-Scope-OrgID={self.headers.get('X-Scope-OrgID')}"
            )
            self._reply(500, echoed.encode(), "text/plain")
            return
        if mode == "gzip-bomb":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            payload = proxy.bomb()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self._write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        if mode == "huge":
            chunk = b" " * 65_536
            for _ in range(proxy.huge_bytes // len(chunk)):
                if release.is_set() or not self._chunk(chunk):
                    return
            self._chunk(b"")
            return
        end = time.monotonic() + MAX_TRICKLE_SECONDS  # trickle
        self._chunk(b'{"status":"success","data":{"resultType":"vector","result":[')
        while time.monotonic() < end and not release.wait(proxy.trickle_seconds):
            if not self._chunk(b" "):
                return

    def _chunk(self, data: bytes) -> bool:
        """One chunk of a chunked body; False once the client has gone."""
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        except OSError:
            return False
        self.server.proxy.count_sent(len(data))
        return True

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError:
            return
        self.server.proxy.count_sent(len(data))

    def _forward(self, body: bytes) -> tuple[int, bytes, str]:
        proxy = self.server.proxy
        path = self.path.removeprefix("/fwd")
        request = urllib.request.Request(
            proxy.upstream + path,
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

    def __init__(
        self, upstream: str, delay_seconds: float = 3.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        self._mode = "pass"
        self.only: str | None = None
        """When set, only requests whose query contains this text get the fault."""
        self._release = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []
        """(mode, request headers) of every request received, in order."""
        self.trickle_seconds = 0.2
        self.huge_bytes = 200 * 2**20
        self.bomb_bytes = 200 * 2**20
        self.echo_pad = 100
        self.canned = b"{}"
        self.redirect_to = "http://127.0.0.1:9"
        """Where ``redirect-*`` points (scheme://host:port; the path is appended)."""
        self.date_offset_seconds = 0.0
        self.sent_bytes = 0
        self._bomb: bytes | None = None
        self._tls = tls is not None
        self._server = _Server(self, tls)
        self._thread: threading.Thread | None = None

    def count_sent(self, n: int) -> None:
        with self._lock:
            self.sent_bytes += n

    def bomb(self) -> bytes:
        """``bomb_bytes`` of JSON-ish spaces, gzip-compressed (made once)."""
        with self._lock:
            if self._bomb is None:
                self._bomb = gzip.compress(b" " * self.bomb_bytes, compresslevel=9)
            return self._bomb

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

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
            if query.startswith("/fwd/"):
                mode = "pass"  # a redirect's same-origin target
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
def fault_proxy(
    upstream: str, delay_seconds: float = 3.0, tls: ssl.SSLContext | None = None
) -> Iterator[FaultProxy]:
    """A started ``FaultProxy`` (HTTPS with ``tls``) that is stopped on exit."""
    proxy = FaultProxy(upstream, delay_seconds, tls).start()
    try:
        yield proxy
    finally:
        proxy.stop()
