"""Loopback HTTP endpoints for the simulated fleet, and the thread that advances it.

One ``ThreadingHTTPServer`` per endpoint on 127.0.0.1 with a free port: a ``/metrics``
per pod slot (an empty answer while no pod occupies the slot, as a scaled-down pod
disappears from discovery), kube-state-metrics ``/metrics``, cAdvisor
``/metrics/cadvisor`` and HAProxy ``/stats;csv``. Every answer is rendered under the
model's lock, so one scrape sees one instant of the model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from streamdash.demo import exposition
from streamdash.demo.fleet import STEP_SECONDS, FleetModel

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
CSV_FORMAT = "text/csv; charset=utf-8"
MAX_CATCH_UP_STEPS = 8
"""Steps run at once when the runner fell behind; beyond that the wall clock is re-based."""

Render = Callable[[str], tuple[str, bytes] | None]
"""Path -> (content type, body), or None for 404."""


class _Handler(BaseHTTPRequestHandler):
    render: Render

    def do_GET(self) -> None:
        answer = self.render(self.path)
        if answer is None:
            self.send_error(404, "no such path")
            return
        content_type, body = answer
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the demo runs beside the TUI."""


class Endpoint:
    """One HTTP server on 127.0.0.1 with a free port, served from a daemon thread."""

    def __init__(self, render: Render) -> None:
        handler = type("Handler", (_Handler,), {"render": staticmethod(render)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _path(raw: str) -> str:
    return raw.split("?", 1)[0]


class FleetServer:
    """The model's endpoints and its runner thread; ``stop`` ends both."""

    def __init__(self, model: FleetModel) -> None:
        self.model = model
        self._paused = False
        self._stop = threading.Event()
        self.pods = [Endpoint(self._pod_render(slot)) for slot in range(len(model.slots))]
        self.addresses = {slot: f"127.0.0.1:{ep.port}" for slot, ep in enumerate(self.pods)}
        self.ksm = Endpoint(self._metrics_render(exposition.ksm_families))
        self.cadvisor = Endpoint(self._cadvisor_render)
        self.haproxy = Endpoint(self._haproxy_render)
        self._runner = threading.Thread(target=self._run, name="demo-fleet", daemon=True)
        self._runner.start()

    # -- rendering

    def _pod_render(self, slot: int) -> Render:
        def render(path: str) -> tuple[str, bytes] | None:
            if _path(path) != "/metrics":
                return None
            with self.model.lock:
                pod = self.model.slots[slot]
                families = [] if pod is None else exposition.pod_families(self.model, pod)
                return TEXT_FORMAT, exposition.render_text(families)

        return render

    def _metrics_render(self, build: Callable[[FleetModel], list[object]]) -> Render:
        def render(path: str) -> tuple[str, bytes] | None:
            if _path(path) != "/metrics":
                return None
            with self.model.lock:
                return TEXT_FORMAT, exposition.render_text(build(self.model))

        return render

    def _cadvisor_render(self, path: str) -> tuple[str, bytes] | None:
        if _path(path) not in ("/metrics/cadvisor", "/metrics"):
            return None
        with self.model.lock:
            return TEXT_FORMAT, exposition.render_text(exposition.cadvisor_families(self.model))

    def _haproxy_render(self, path: str) -> tuple[str, bytes] | None:
        if not _path(path).startswith("/stats;csv"):
            return None
        with self.model.lock:
            return CSV_FORMAT, exposition.haproxy_csv(self.model, self.addresses).encode()

    # -- time

    def _run(self) -> None:
        next_step = time.monotonic() + STEP_SECONDS
        while not self._stop.wait(max(0.0, next_step - time.monotonic())):
            behind = 0
            while time.monotonic() >= next_step and behind < MAX_CATCH_UP_STEPS:
                with self.model.lock:
                    if not self._paused:
                        self.model.step()
                next_step += STEP_SECONDS
                behind += 1
            if time.monotonic() >= next_step:
                next_step = time.monotonic() + STEP_SECONDS

    def pause(self) -> None:
        """Freeze the model: every endpoint keeps answering the same instant."""
        with self.model.lock:
            self._paused = True

    def resume(self) -> None:
        with self.model.lock:
            self._paused = False

    def advance(self, seconds: float) -> None:
        """Advance the model by ``seconds`` of model time at once (paused or not)."""
        with self.model.lock:
            self.model.advance(seconds)

    def stop(self) -> None:
        """Stop the runner and every endpoint. Safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._runner.join(timeout=5)
        # shutdown() waits up to one poll interval per server: stop them side by side
        stoppers = [
            threading.Thread(target=endpoint.stop, daemon=True)
            for endpoint in (*self.pods, self.ksm, self.cadvisor, self.haproxy)
        ]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(timeout=10)
