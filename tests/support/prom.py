"""A real Prometheus on loopback, over data backfilled with ``promtool``.

``openmetrics_text`` renders series as OpenMetrics text that
``promtool tsdb create-blocks-from openmetrics`` accepts; ``start_prometheus``
backfills it, writes a config and starts ``/usr/bin/prometheus`` on a free
127.0.0.1 port. Every wait is bounded; failures raise ``PrometheusError`` with the
tail of Prometheus's (or promtool's) output.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.process import free_port, start_until_ready, stop

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
READY_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 10.0
_COUNTED_HANDLERS = ("/api/v1/query", "/api/v1/query_range")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
_COUNTER_SUFFIXES = ("_total", "_created")

Series = tuple[str, Mapping[str, str], Sequence[tuple[float, float]]]


class PrometheusError(RuntimeError):
    """Prometheus or promtool failed; the message says what and shows its output."""


def missing_binaries() -> list[str]:
    """Paths of the Prometheus binaries that are not installed (empty when all are)."""
    return [str(p) for p in (PROMETHEUS, PROMTOOL) if not p.is_file()]


# --------------------------------------------------------------------------- OpenMetrics


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family_of(sample_name: str, types: Mapping[str, str]) -> tuple[str, str]:
    """(family name, type) of a sample name under the declared ``types``."""
    for suffixes, kind in ((_HISTOGRAM_SUFFIXES, "histogram"), (_COUNTER_SUFFIXES, "counter")):
        for suffix in suffixes:
            if sample_name.endswith(suffix):
                base = sample_name[: -len(suffix)]
                if types.get(base) == kind:
                    return base, kind
    declared = types.get(sample_name, "gauge")
    if declared != "gauge":
        raise ValueError(
            f"sample {sample_name!r}: a {declared} family needs a suffixed sample name "
            f"(histogram: _bucket/_sum/_count, counter: _total)"
        )
    return sample_name, "gauge"


def openmetrics_text(
    series: Iterable[Series],
    types: Mapping[str, str] | None = None,
) -> str:
    """Render ``series`` as OpenMetrics text for ``promtool`` backfilling.

    ``series``: (sample name, labels, [(unix seconds, value), ...]). ``types`` maps a
    family name to ``counter`` / ``gauge`` / ``histogram`` (default gauge); counter
    samples must end in ``_total``, histogram samples in ``_bucket``/``_sum``/``_count``.
    Families are emitted contiguously with a ``# TYPE`` line, each series' points in
    time order (duplicate timestamps keep the last value), ending with ``# EOF``.
    Label values are written verbatim (``le="1"`` and ``le="1.0"`` stay distinct).
    """
    declared = dict(types or {})
    families: dict[str, tuple[str, list[str]]] = {}
    for name, labels, points in series:
        family, kind = _family_of(name, declared)
        _, lines = families.setdefault(family, (kind, []))
        label_text = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items())
        selector = f"{name}{{{label_text}}}" if label_text else name
        by_time: dict[float, float] = {}
        for t, v in points:
            by_time[float(t)] = float(v)
        for t in sorted(by_time):
            lines.append(f"{selector} {_format_value(by_time[t])} {t:.3f}")
    out: list[str] = []
    for family, (kind, lines) in families.items():
        out.append(f"# TYPE {family} {kind}")
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- server


def _config_yaml(
    scrape_targets: Sequence[str], scrape_interval: str, rule_files: Sequence[Path] = ()
) -> str:
    lines = ["global:", f"  scrape_interval: {scrape_interval}", "  evaluation_interval: 15s"]
    if rule_files:
        lines.append("rule_files:")
        lines += [f"  - {json.dumps(str(f))}" for f in rule_files]
    if scrape_targets:
        targets = ", ".join(json.dumps(t) for t in scrape_targets)
        lines += [
            "scrape_configs:",
            "  - job_name: targets",
            "    honor_labels: true",
            f"    scrape_interval: {scrape_interval}",
            f"    scrape_timeout: {scrape_interval}",
            f"    static_configs: [{{targets: [{targets}]}}]",
        ]
    return "\n".join(lines) + "\n"


class PrometheusServer:
    """A running ``/usr/bin/prometheus`` on 127.0.0.1 (start / stop / query)."""

    def __init__(
        self, workdir: Path, config_file: Path, data_dir: Path, extra_args: Sequence[str]
    ) -> None:
        self.workdir = workdir
        self.config_file = config_file
        self.data_dir = data_dir
        self.extra_args = tuple(extra_args)
        self.log_file = workdir / "prometheus.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle

    def start(self) -> None:
        """Start (or restart) on the same port and data; wait until /-/ready, bounded."""
        if self._proc is not None and self._proc.poll() is None:
            return
        args = [
            str(PROMETHEUS),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=info",
            *self.extra_args,
        ]
        self._proc = start_until_ready(
            args,
            log_file=self.log_file,
            ready_url=f"{self.url}/-/ready",
            timeout_s=READY_TIMEOUT_S,
            error=PrometheusError,
            name="prometheus",
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s). Safe to call twice."""
        proc, self._proc = self._proc, None
        stop(proc)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- HTTP

    def _get_json(self, path: str, params: Mapping[str, str]) -> Any:
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
                payload = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read())
            except ValueError:
                raise PrometheusError(f"{path} {params}: HTTP {exc.code}") from exc
        if payload.get("status") != "success":
            raise PrometheusError(
                f"{path} {dict(params)}: {payload.get('errorType')}: {payload.get('error')}"
            )
        return payload["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """``/api/v1/query`` result list (raises ``PrometheusError`` on error)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = repr(float(at))
        result: list[dict[str, Any]] = self._get_json("/api/v1/query", params)["result"]
        return result

    def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[dict[str, Any]]:
        """``/api/v1/query_range`` result list (raises ``PrometheusError`` on error)."""
        params = {
            "query": promql,
            "start": repr(float(start)),
            "end": repr(float(end)),
            "step": repr(float(step)),
        }
        result: list[dict[str, Any]] = self._get_json("/api/v1/query_range", params)["result"]
        return result

    def requests_served(self) -> float:
        """Requests served on /api/v1/query and /api/v1/query_range so far (from /metrics).

        Counts this helper's own ``query``/``query_range`` calls too: take a delta
        around the code under test and query nothing else in between. The counter
        restarts from 0 when the server restarts.
        """
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=HTTP_TIMEOUT_S) as resp:
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith("prometheus_http_requests_total{"):
                continue
            labels, _, value = line.rpartition("} ")
            if any(f'handler="{h}"' in labels for h in _COUNTED_HANDLERS):
                total += float(value)
        return total


def _backfill(openmetrics: str, workdir: Path, data_dir: Path) -> None:
    source = workdir / "backfill.om"
    source.write_text(openmetrics)
    proc = subprocess.run(
        [str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        output = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise PrometheusError(
            f"promtool backfill of {source} failed (exit {proc.returncode}):\n{output}"
        )


def start_prometheus(
    workdir: Path,
    openmetrics: str | None = None,
    scrape_targets: Sequence[str] = (),
    scrape_interval: str = "1s",
    extra_args: Sequence[str] = (),
    rule_files: Sequence[Path] = (),
) -> PrometheusServer:
    """Backfill ``openmetrics`` into ``workdir/data``, start Prometheus, wait until ready.

    ``scrape_targets`` are ``host:port`` strings scraped at ``scrape_interval`` with
    ``honor_labels: true``. Retention is 10 years so old backfilled timestamps stay.
    ``rule_files`` are loaded as the config's ``rule_files``.
    The caller must ``stop()`` the server (the ``prometheus_factory`` fixture does).
    """
    missing = missing_binaries()
    if missing:
        raise PrometheusError(f"Prometheus binaries missing: {', '.join(missing)}")
    if shutil.which(str(PROMETHEUS)) is None:
        raise PrometheusError(f"{PROMETHEUS} is not executable")
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    if openmetrics is not None:
        _backfill(openmetrics, workdir, data_dir)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(_config_yaml(scrape_targets, scrape_interval, rule_files))
    last_error: PrometheusError | None = None
    for _ in range(3):  # the free port can be taken between probe and bind: retry
        server = PrometheusServer(workdir, config_file, data_dir, extra_args)
        try:
            server.start()
        except PrometheusError as exc:
            last_error = exc
            if "address already in use" in str(exc):
                continue
            raise
        return server
    assert last_error is not None
    raise last_error
