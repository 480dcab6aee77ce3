"""A real SSE upstream on 127.0.0.1: ``GET /stream?tokens=N&pause=S&first=S``.

Each stream sends response headers at once, waits ``first`` seconds, then ``tokens``
events ``data: tok<i>`` with ``pause`` seconds between them, then ``data: [DONE]``.
HTTP/1.1 requests get a chunked body, HTTP/1.0 a close-delimited one. The server counts
the streams open right now (``open_streams``) and every stream that ended early because
the peer went away (``broken``). ``stop()`` ends every stream within one pause slice.

``GET /metrics`` answers in the Prometheus text format with vLLM's metric names, labelled
``pod=<pod>``: what the server itself observed (TTFT = ``first``, each pause between
tokens, the decode time, streams running), so streamdash can scrape it like a vLLM pod.

``read_stream`` is the matching client: it returns the events it saw and whether the
stream reached ``[DONE]``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from streamdash.presets.buckets import (
    VLLM_ITL_BUCKETS,
    VLLM_REQUEST_LATENCY_BUCKETS,
    VLLM_TTFT_BUCKETS,
)

SLICE_S = 0.05
MAX_TOKENS = 1000
MAX_PAUSE_S = 30.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _sleep(self, seconds: float) -> bool:
        """Sleep ``seconds`` in slices; False when the server is stopping."""
        return not self.server.stopping.wait(seconds)

    def _write(self, data: bytes, chunked: bool) -> None:
        if chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/metrics":
            body = generate_latest(self.server.registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if url.path != "/stream":
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        query = parse_qs(url.query)
        tokens = min(int(query.get("tokens", ["5"])[0]), MAX_TOKENS)
        pause = min(float(query.get("pause", ["0.1"])[0]), MAX_PAUSE_S)
        first = min(float(query.get("first", ["0"])[0]), MAX_PAUSE_S)
        chunked = self.request_version == "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Accel-Buffering", "no")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.server.opened()
        started = time.monotonic()
        try:
            if not self._sleep(first):
                return
            self.server.ttft.observe(first)
            for index in range(tokens):
                if index and not self._sleep(pause):
                    return
                if index:
                    self.server.itl.observe(pause)
                self._write(f"data: tok{index}\n\n".encode(), chunked)
            self.server.decode.observe(time.monotonic() - started - first)
            self._write(b"data: [DONE]\n\n", chunked)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.server.broke()
            self.close_connection = True
        finally:
            self.server.closed()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pod: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.open_streams = 0
        self.broken = 0
        self.registry = CollectorRegistry()
        labels = {"pod": pod}
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "TTFT",
            ["pod"],
            registry=self.registry,
            buckets=VLLM_TTFT_BUCKETS,
        ).labels(**labels)
        self.itl = Histogram(
            "vllm:inter_token_latency_seconds",
            "Gap between tokens",
            ["pod"],
            registry=self.registry,
            buckets=VLLM_ITL_BUCKETS,
        ).labels(**labels)
        self.decode = Histogram(
            "vllm:request_decode_time_seconds",
            "First to last token",
            ["pod"],
            registry=self.registry,
            buckets=VLLM_REQUEST_LATENCY_BUCKETS,
        ).labels(**labels)
        self.running = Gauge(
            "vllm:num_requests_running", "Streams open", ["pod"], registry=self.registry
        ).labels(**labels)

    def handle_error(self, request: object, client_address: object) -> None:
        """Peers that hang up mid-stream are the point of these tests: stay quiet."""
        return

    def opened(self) -> None:
        with self._lock:
            self.open_streams += 1
            self.running.set(self.open_streams)

    def closed(self) -> None:
        with self._lock:
            self.open_streams -= 1
            self.running.set(self.open_streams)

    def broke(self) -> None:
        with self._lock:
            self.broken += 1


class SseServer:
    """A running SSE upstream; ``address`` is ``127.0.0.1:<port>``."""

    def __init__(self, pod: str = "sse-0") -> None:
        self.pod = pod
        self._server = _Server(pod)
        self.port = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def open_streams(self) -> int:
        return self._server.open_streams

    @property
    def broken(self) -> int:
        return self._server.broken

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class StreamResult:
    events: tuple[str, ...]
    completed: bool
    """True when ``[DONE]`` arrived; False when the stream ended early."""
    error: str | None


def read_stream(url: str, timeout: float = 10.0) -> StreamResult:
    """Read one SSE stream to its end (or its cut) and say what arrived."""
    events: list[str] = []
    error = None
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", url) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(line[6:])
                if time.monotonic() > deadline:
                    error = "client deadline"
                    break
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return StreamResult(tuple(events), "[DONE]" in events, error)


class HeldStreams:
    """``n`` SSE streams held open (first event read) until the context exits.

    Each stream has its own connection; exiting closes them all. Keep the events
    coming slowly (e.g. ``pause=0.2&tokens=100``) so they outlive the test's checks.
    """

    def __init__(self, url: str, n: int, timeout: float = 10.0) -> None:
        self.url, self.n = url, n
        self._client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=n + 1))
        self._stack = contextlib.ExitStack()
        self.first_events: list[str] = []
        self._lines: list[Iterator[str]] = []

    def __enter__(self) -> HeldStreams:
        self._stack.enter_context(self._client)
        try:
            for _ in range(self.n):
                response = self._stack.enter_context(self._client.stream("GET", self.url))
                lines = response.iter_lines()  # kept referenced: dropping it closes the stream
                self._lines.append(lines)
                self.first_events.append(next(line for line in lines if line.startswith("data:")))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._lines.clear()
        self._stack.close()
