"""Benchmark fleets: a generated vLLM fleet backfilled with promtool, cached on disk.

A fleet's TSDB lives in ``benchmarks/.work/fleet-<pods>/data`` next to a
``manifest.json``. Samples are absolute timestamps and ``streamdash`` always asks
about *now*, so the data runs from ``past_s`` before the build to ``future_s`` after
it; the cache is reused while it still covers now plus the time a phase needs, and
rebuilt otherwise. The OpenMetrics text (1-3 GB) is deleted after the backfill.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.support.fleet import (
    FleetSpec,
    HpaSpec,
    main_pods,
    plan_fleet,
    write_fleet_openmetrics,
)
from tests.support.prom import PROMTOOL, PrometheusServer, start_prometheus

WORK = Path(__file__).resolve().parent / ".work"
NAMESPACE = "llm"
BACKFILL_TIMEOUT_S = 900

Log = Callable[[str], None]


@dataclass(frozen=True)
class FleetBuild:
    """What to generate: pod count, histograms, and the time span around the build."""

    pods: int
    histograms: tuple[str, ...] = ("ttft", "stream", "itl", "e2e")
    step_s: int = 30
    past_s: int = 360
    """Data before the build time (more than one 5 min rate window)."""
    future_s: int = 600
    """Data after the build time: how long the cache stays usable."""
    seed: int = 15
    """Kept at 15 so results compare with earlier runs (the same fleet). Since f470ef4
    tests/support/fleet.py re-derives a colliding pod name, so any seed gives distinct
    names; the duplicate check in ``ensure_fleet`` stays as a guard."""

    @property
    def spec(self) -> FleetSpec:
        """The fleet: a few slow pods and a few near their FD limit, so findings fire."""
        return FleetSpec(
            pods=self.pods,
            namespace=NAMESPACE,
            seed=self.seed,
            histograms=self.histograms,
            slow_pods=max(1, self.pods // 200),
            fd_near_limit_pods=max(1, self.pods // 100),
            hpa=HpaSpec(max_replicas=2 * self.pods),
        )

    def key(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class BuiltFleet:
    """A fleet's TSDB on disk and what is known about it."""

    build: FleetBuild
    workdir: Path
    start: float
    end: float
    series: int
    openmetrics_bytes: int
    generate_s: float | None
    """Seconds to write the OpenMetrics text (None: reused from the cache)."""
    backfill_s: float | None
    tsdb_bytes: int
    reused: bool

    @property
    def pod_names(self) -> list[str]:
        return main_pods(self.build.spec)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _workdir(build: FleetBuild) -> Path:
    return WORK / f"fleet-{build.pods}"


def _cached(build: FleetBuild, need_s: float) -> BuiltFleet | None:
    workdir = _workdir(build)
    try:
        manifest = json.loads((workdir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("key") != build.key() or not (workdir / "data").is_dir():
        return None
    if time.time() + need_s > float(manifest["end"]):
        return None
    return BuiltFleet(
        build=build,
        workdir=workdir,
        start=float(manifest["start"]),
        end=float(manifest["end"]),
        series=int(manifest["series"]),
        openmetrics_bytes=int(manifest["openmetrics_bytes"]),
        generate_s=None,
        backfill_s=None,
        tsdb_bytes=_dir_bytes(workdir / "data"),
        reused=True,
    )


def ensure_fleet(build: FleetBuild, need_s: float, log: Log) -> BuiltFleet:
    """The cached TSDB if it covers now + ``need_s`` seconds, else a fresh build."""
    cached = _cached(build, need_s)
    if cached is not None:
        left = (cached.end - time.time()) / 60
        log(f"fleet {build.pods}: reusing {cached.workdir} (data covers {left:.0f} more min)")
        return cached
    if need_s > build.future_s:
        raise ValueError(f"a phase needing {need_s:.0f} s outlives the data ({build.future_s} s)")
    names = [(p.namespace, p.pod) for p in plan_fleet(build.spec)]
    if len(set(names)) != len(names):
        raise ValueError(
            f"seed {build.seed} gives two pods the same name; a bug in tests/support/fleet.py"
        )
    workdir = _workdir(build)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    now = float(int(time.time()) // build.step_s * build.step_s)
    end = now + build.future_s
    source = workdir / "fleet.om"
    log(f"fleet {build.pods}: writing OpenMetrics ({len(build.histograms)} histograms) ...")
    t0 = time.monotonic()
    series = write_fleet_openmetrics(
        build.spec, source, end=end, duration_s=build.past_s + build.future_s, step_s=build.step_s
    )
    generate_s = time.monotonic() - t0
    size = source.stat().st_size
    log(f"fleet {build.pods}: {series} series, {size / 1e9:.2f} GB in {generate_s:.0f} s; backfill")
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(source), "data"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=BACKFILL_TIMEOUT_S,
        check=False,
    )
    backfill_s = time.monotonic() - t0
    source.unlink()
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise RuntimeError(f"promtool backfill failed (exit {proc.returncode}):\n{tail}")
    start = end - build.past_s - build.future_s
    manifest = {
        "key": build.key(),
        "start": start,
        "end": end,
        "series": series,
        "openmetrics_bytes": size,
        "generate_s": generate_s,
        "backfill_s": backfill_s,
    }
    (workdir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    log(f"fleet {build.pods}: backfilled in {backfill_s:.0f} s")
    return BuiltFleet(
        build=build,
        workdir=workdir,
        start=start,
        end=end,
        series=series,
        openmetrics_bytes=size,
        generate_s=generate_s,
        backfill_s=backfill_s,
        tsdb_bytes=_dir_bytes(workdir / "data"),
        reused=False,
    )


def serve(fleet: BuiltFleet) -> PrometheusServer:
    """A real Prometheus over the fleet's TSDB (no scraping); the caller stops it."""
    return start_prometheus(fleet.workdir, openmetrics=None)
