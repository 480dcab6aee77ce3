"""A real VictoriaMetrics (single node, Debian ``victoria-metrics``) on loopback.

``start_victoria_metrics`` starts ``/usr/bin/victoria-metrics`` on a free 127.0.0.1 port
with its own data directory, then ``import_series`` loads series (the same tuples
``tests.support.prom.openmetrics_text`` takes) through ``/api/v1/import/prometheus``
(Prometheus text with millisecond timestamps) and flushes them so queries see them at
once. Every wait is bounded; failures raise ``VmError`` with the log's tail.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.process import free_port, start_until_ready, stop

VICTORIA_METRICS = Path("/usr/bin/victoria-metrics")
READY_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 10.0

Series = tuple[str, Mapping[str, str], Sequence[tuple[float, float]]]


class VmError(RuntimeError):
    """VictoriaMetrics failed; the message says what and shows its output."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_import_text(series: Iterable[Series]) -> str:
    """Prometheus text exposition lines with millisecond timestamps, one per point."""
    lines = []
    for name, labels, points in series:
        text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
        selector = f"{name}{{{text}}}" if text else name
        lines.extend(f"{selector} {float(v)!r} {round(t * 1000)}" for t, v in points)
    return "\n".join(lines) + "\n"


class VictoriaMetricsServer:
    """A running ``victoria-metrics`` on 127.0.0.1 (start / stop / import / query)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log_file = workdir / "victoria-metrics.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            str(VICTORIA_METRICS),
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-search.latencyOffset=0s",
            "-loggerLevel=WARN",
        ]
        self._proc = start_until_ready(
            args,
            log_file=self.log_file,
            ready_url=f"{self.url}/health",
            timeout_s=READY_TIMEOUT_S,
            error=VmError,
            name="victoria-metrics",
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop(proc)

    def import_series(self, series: Iterable[Series]) -> None:
        """Load ``series`` and flush them to searchable storage."""
        body = prometheus_import_text(series).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1/import/prometheus", data=body, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            if resp.status not in (200, 204):
                raise VmError(f"import answered HTTP {resp.status}")
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30):
            pass

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """``/api/v1/query`` result list (raises ``VmError`` on error)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = repr(float(at))
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(f"{self.url}/api/v1/query", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise VmError(f"query {promql!r}: HTTP {exc.code}: {exc.read()[:300]!r}") from exc
        if payload.get("status") != "success":
            raise VmError(f"query {promql!r}: {payload}")
        result: list[dict[str, Any]] = payload["data"]["result"]
        return result


def start_victoria_metrics(workdir: Path) -> VictoriaMetricsServer:
    """Start VictoriaMetrics in ``workdir``; the caller must ``stop()`` it."""
    if not VICTORIA_METRICS.is_file():
        raise VmError(f"{VICTORIA_METRICS} is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    last: VmError | None = None
    for _ in range(3):  # the free port can be taken between probe and bind: retry
        server = VictoriaMetricsServer(workdir)
        try:
            server.start()
        except VmError as exc:
            last = exc
            if "address already in use" in str(exc):
                continue
            raise
        return server
    assert last is not None
    raise last
