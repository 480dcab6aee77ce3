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
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.support.fleet import (
    FleetSpec,
    HpaSpec,
    _escape,
    _write_family_header,
    fleet_types,
    iter_fleet_series,
    main_pods,
    plan_fleet,
    write_fleet_openmetrics,
)
from tests.support.prom import PROMTOOL, PrometheusServer, start_prometheus

WORK = Path(__file__).resolve().parent / ".work"
NAMESPACE = "llm"
BACKFILL_TIMEOUT_S = 900
SETTLE_TIMEOUT_S = 600.0

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
    shards: int = 1
    """OpenMetrics files the fleet is written as, pods split between them, each
    backfilled alone: promtool holds every series of its input in memory (~1 GB per
    100,000 series), so 2,000,000 series in one file would not fit in 24 GiB. The
    blocks overlap in time; Prometheus merges them once (vertical compaction) before
    the fleet is first used (``_settle``)."""
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
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if self.shards == 1:  # the key of caches built before shards existed
            del out["shards"]
        return out


FLEETS = {
    20000: FleetBuild(pods=20000, histograms=("ttft", "stream"), future_s=1800, shards=4),
    5000: FleetBuild(pods=5000, future_s=900),
    1000: FleetBuild(pods=1000, future_s=1500),
    100: FleetBuild(pods=100, future_s=1500),
}
"""Pod count -> what to build, at a 30 s step. Up to 5,000 pods the four vLLM
histograms; 20,000 pods TTFT and stream only (the inter-token and e2e panels show n/a):
~57 series per pod, 1.1M series, written in 4 files so each backfill holds ~290,000."""


def build_for(pods: int) -> FleetBuild:
    """The build ``FLEETS`` names for ``pods``, else 15 min of future data."""
    return FLEETS.get(pods) or FleetBuild(pods=pods, future_s=900, shards=max(1, pods // 5000))


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
    sources = (
        [workdir / "fleet.om"]
        if build.shards == 1
        else [workdir / f"fleet-{k}.om" for k in range(build.shards)]
    )
    log(
        f"fleet {build.pods}: writing OpenMetrics ({len(build.histograms)} histograms, "
        f"{len(sources)} file(s)) ..."
    )
    t0 = time.monotonic()
    if build.shards == 1:
        series = write_fleet_openmetrics(
            build.spec,
            sources[0],
            end=end,
            duration_s=build.past_s + build.future_s,
            step_s=build.step_s,
        )
    else:
        series = write_sharded(build, sources, end)
    generate_s = time.monotonic() - t0
    size = sum(p.stat().st_size for p in sources)
    log(f"fleet {build.pods}: {series} series, {size / 1e9:.2f} GB in {generate_s:.0f} s; backfill")
    t0 = time.monotonic()
    for source in sources:
        proc = subprocess.run(
            [str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(source), "data"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=BACKFILL_TIMEOUT_S,
            check=False,
        )
        source.unlink()
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
            raise RuntimeError(f"promtool backfill failed (exit {proc.returncode}):\n{tail}")
    if build.shards > 1:
        _settle(workdir, log)
    backfill_s = time.monotonic() - t0
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


def _shard_of(labels: dict[str, str], shards: int) -> int:
    """Pod series by a stable hash of the pod's name; pod-less series in shard 0."""
    pod = labels.get("pod")
    return zlib.crc32(pod.encode()) % shards if pod else 0


def write_sharded(build: FleetBuild, paths: list[Path], end: float) -> int:
    """The fleet's OpenMetrics text split by pod over ``paths`` (each a complete file
    with its own ``# TYPE`` headers and ``# EOF``); returns the series count."""
    spec = build.spec
    types = fleet_types(spec)
    outs = [p.open("w", encoding="utf-8") for p in paths]
    families: list[str | None] = [None] * len(paths)
    written = 0
    try:
        duration = build.past_s + build.future_s
        for name, labels, points in iter_fleet_series(spec, end, duration, build.step_s):
            k = _shard_of(dict(labels), len(paths))
            base = name
            for suffix in ("_bucket", "_sum", "_count", "_total"):
                if name.endswith(suffix) and name[: -len(suffix)] in types:
                    base = name[: -len(suffix)]
                    break
            if base != families[k]:
                families[k] = _write_family_header(outs[k], name, types)
            label_text = ",".join(f'{n}="{_escape(v)}"' for n, v in labels.items())
            selector = f"{name}{{{label_text}}}"
            outs[k].writelines(f"{selector} {float(v)!r} {t:.3f}\n" for t, v in points)
            written += 1
        for out in outs:
            out.write("# EOF\n")
    finally:
        for out in outs:
            out.close()
    return written


def _blocks(data: Path) -> list[Path]:
    return [p for p in data.iterdir() if p.is_dir() and (p / "meta.json").is_file()]


def _settle(workdir: Path, log: Log) -> None:
    """Start Prometheus on the fleet until it has merged the shards' overlapping blocks
    into one (its compactor runs about a minute after start); bounded."""
    server = start_prometheus(workdir, openmetrics=None)
    try:
        t0 = time.monotonic()
        while len(_blocks(workdir / "data")) > 1:
            if time.monotonic() - t0 > SETTLE_TIMEOUT_S:
                log(f"fleet: blocks not merged after {SETTLE_TIMEOUT_S:.0f} s; serving them apart")
                return
            time.sleep(5)
        log(f"fleet: blocks merged in {time.monotonic() - t0:.0f} s")
    finally:
        server.stop()


def serve(fleet: BuiltFleet) -> PrometheusServer:
    """A real Prometheus over the fleet's TSDB (no scraping); the caller stops it."""
    return start_prometheus(fleet.workdir, openmetrics=None)
