"""Headless measurements: ``streamdash snapshot`` wall time, requests, import time.

Every measurement runs the installed ``streamdash`` command (or ``python -m
streamdash``) in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.reference import reference_queries, run_reference
from tests.support.prom import PrometheusServer

PYTHON = Path(sys.executable)
STREAMDASH = PYTHON.with_name("streamdash")
RUN_TIMEOUT_S = 300
CLEAN_ENV_DROP = ("STREAMDASH_PROMETHEUS_URL", "PROMETHEUS_URL", "STREAMDASH_CONFIG")


def clean_env() -> dict[str, str]:
    """The environment without streamdash settings a developer may have exported."""
    import os

    return {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_DROP}


def snapshot_args(url: str, namespace: str) -> list[str]:
    return ["snapshot", "--prometheus-url", url, "-n", namespace, "--format", "json"]


@dataclass(frozen=True)
class SnapshotRun:
    seconds: float
    requests: float
    """Requests Prometheus counted on /api/v1/query{,_range} during the run."""
    pods: int
    errors: list[Any]
    query_count: int | None
    """What the snapshot itself says it sent."""


def run_snapshot(server: PrometheusServer, namespace: str, cwd: Path) -> SnapshotRun:
    """One ``streamdash snapshot --format json``; raises if it fails or answers nothing."""
    before = server.requests_served()
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(STREAMDASH), *snapshot_args(server.url, namespace)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        cwd=cwd,
        env=clean_env(),
    )
    seconds = time.monotonic() - t0
    requests = server.requests_served() - before
    if proc.returncode != 0:
        raise RuntimeError(f"streamdash snapshot exited {proc.returncode}: {proc.stderr[-500:]}")
    doc = json.loads(proc.stdout)
    return SnapshotRun(
        seconds=seconds,
        requests=requests,
        pods=len(doc.get("pods") or []),
        errors=list(doc.get("errors") or []),
        query_count=doc.get("query_count"),
    )


@dataclass(frozen=True)
class SideBySide:
    """Medians of ``runs`` alternating snapshot / reference passes (after one warm-up)."""

    pods: int
    runs: int
    snapshot_s: list[float]
    reference_s: list[float]
    snapshot_requests: list[float]
    reference_requests: int
    snapshot_pods: list[int]
    """Pods in each timed snapshot."""
    snapshot_errors: list[str]
    """Every error line of every timed snapshot (a timed-out query shows here)."""
    reference_rows: dict[str, int]

    @property
    def snapshot_median(self) -> float:
        return statistics.median(self.snapshot_s)

    @property
    def reference_median(self) -> float:
        return statistics.median(self.reference_s)

    @property
    def ratio(self) -> float:
        return self.snapshot_median / self.reference_median


def side_by_side(
    server: PrometheusServer, namespace: str, pods: int, runs: int, cwd: Path
) -> SideBySide:
    """Warm up both, then alternate ``runs`` snapshot and reference passes."""
    queries = reference_queries(namespace)
    run_snapshot(server, namespace, cwd)
    run_reference(server.url, queries)
    snaps: list[SnapshotRun] = []
    refs = []
    for i in range(runs):
        if i % 2 == 0:
            snaps.append(run_snapshot(server, namespace, cwd))
            refs.append(run_reference(server.url, queries))
        else:
            refs.append(run_reference(server.url, queries))
            snaps.append(run_snapshot(server, namespace, cwd))
    return SideBySide(
        pods=pods,
        runs=runs,
        snapshot_s=[s.seconds for s in snaps],
        reference_s=[r.seconds for r in refs],
        snapshot_requests=[s.requests for s in snaps],
        reference_requests=len(queries),
        snapshot_pods=[s.pods for s in snaps],
        snapshot_errors=[str(e.get("message", e)) for s in snaps for e in s.errors],
        reference_rows=refs[-1].rows,
    )


# --------------------------------------------------------------------------- imports


@dataclass(frozen=True)
class ImportTime:
    streamdash_ms: float
    """Sum of ``-X importtime`` cumulative times of imports after interpreter startup."""
    textual_imported: bool
    import_cli_wall_s: float
    """Median wall time of ``python -c 'import streamdash.cli'``."""
    bare_python_wall_s: float
    """Median wall time of ``python -c pass`` (the floor)."""
    import_tui_wall_s: float
    """Median wall time of ``python -c 'import streamdash.tui.app'`` (the dashboard's share
    of the time to first frame)."""


def _top_level_after_site(stderr: str) -> tuple[float, list[str]]:
    """Cumulative microseconds of top-level imports after ``site``, and every module name."""
    total_us, names, after_site = 0.0, [], False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        names.append(name.strip())
        top_level = not name.startswith("  ")
        if top_level and after_site:
            total_us += float(cumulative)
        if top_level and name.strip() == "site":
            after_site = True
    return total_us, names


def _median_wall(args: list[str], n: int) -> float:
    walls = []
    for _ in range(n):
        t0 = time.monotonic()
        subprocess.run(args, capture_output=True, timeout=60, check=True, env=clean_env())
        walls.append(time.monotonic() - t0)
    return statistics.median(walls)


def import_time(server: PrometheusServer, namespace: str, cwd: Path, n: int = 5) -> ImportTime:
    """``python -X importtime -m streamdash snapshot ...`` against a real server, plus walls."""
    proc = subprocess.run(
        [
            str(PYTHON),
            "-X",
            "importtime",
            "-m",
            "streamdash",
            *snapshot_args(server.url, namespace),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        cwd=cwd,
        env=clean_env(),
    )
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if "import time:" not in line)
        raise RuntimeError(f"python -m streamdash snapshot exited {proc.returncode}: {tail[-500:]}")
    total_us, names = _top_level_after_site(proc.stderr)
    textual = any(m == "textual" or m.startswith("textual.") for m in names)
    return ImportTime(
        streamdash_ms=total_us / 1000,
        textual_imported=textual,
        import_cli_wall_s=_median_wall([str(PYTHON), "-c", "import streamdash.cli"], n),
        bare_python_wall_s=_median_wall([str(PYTHON), "-c", "pass"], n),
        import_tui_wall_s=_median_wall([str(PYTHON), "-c", "import streamdash.tui.app"], n),
    )
