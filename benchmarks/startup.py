"""What the TUI's start costs, part by part: ``python -m benchmarks.startup [--pods 1000]``.

Against the fleet of ``benchmarks.fleets`` (built or reused, served by a real
Prometheus), in this process and in the order the TUI runs them: the first refresh
(its early frame timed apart: the pods before the latency histograms), the charts'
history, two more refreshes, then the backfill of the hour before start (one range
query per part, 61 steps). For each: wall time, this process's CPU (all threads) and
Prometheus's own CPU (``process_cpu_seconds_total`` of the server, read before and
after). JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fleets import NAMESPACE, FleetBuild, build_for, ensure_fleet, serve
from streamdash.core.snapshot import Snapshot
from streamdash.live import LiveRefresher
from streamdash.presets import load_preset
from streamdash.record.backfill import backfill
from streamdash.settings import PrometheusSettings, Settings

WINDOW_S = 300
NEED_S = 240.0
"""How long the fleet's data must still cover "now" for this run."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(url: str) -> float:
    """Prometheus's own CPU seconds, from its ``/metrics`` (the fleet's server scrapes
    nothing, itself included)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("process_cpu_seconds_total "):
                return float(line.split()[1])
    raise RuntimeError("Prometheus's /metrics has no process_cpu_seconds_total")


def measure(build: FleetBuild) -> dict[str, object]:
    fleet = ensure_fleet(build, NEED_S, lambda m: print(m, file=sys.stderr))
    server = serve(fleet)
    settings = Settings(
        prometheus=PrometheusSettings(url=server.url, timeout_seconds=120.0),
        preset=load_preset("vllm"),
        namespace=NAMESPACE,
    )
    out: dict[str, object] = {"pods": build.pods}
    refresher = LiveRefresher(settings)
    try:
        steps: list[dict[str, object]] = []

        def step(name: str, run: object) -> None:
            t0, c0, s0 = time.monotonic(), _cpu(), _server_cpu(server.url)
            extra = run() if callable(run) else {}
            steps.append(
                {
                    "step": name,
                    "wall_s": round(time.monotonic() - t0, 3),
                    "client_cpu_s": round(_cpu() - c0, 3),
                    "prometheus_cpu_s": round(_server_cpu(server.url) - s0, 3),
                    **(extra or {}),
                }
            )

        def first() -> dict[str, object]:
            t0 = time.monotonic()
            early: list[float] = []

            def on_partial(snapshot: Snapshot) -> None:
                early.append(time.monotonic() - t0)

            snap = refresher.refresh_first(WINDOW_S, on_partial)
            return {"early_frame_s": round(early[0], 3) if early else None, "pods": len(snap.pods)}

        def history() -> dict[str, object]:
            deadline = time.monotonic() + 120
            while not refresher.history_pending(0.1) and time.monotonic() < deadline:
                pass
            return {}

        def again() -> dict[str, object]:
            return {"pods": len(refresher.refresh(WINDOW_S).pods)}

        def past() -> dict[str, object]:
            return {"snapshots": len(backfill(refresher, WINDOW_S, time.time()))}

        step("first refresh", first)
        step("history (after it)", history)
        step("refresh", again)
        step("refresh", again)
        step("backfill, 1 h at 60 s", past)
        out["steps"] = steps
    finally:
        refresher.close()
        server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    p.add_argument("--pods", type=int, default=1000)
    args = p.parse_args(argv)
    print(json.dumps(measure(build_for(args.pods)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
