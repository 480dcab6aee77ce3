"""Run every benchmark: ``.venv/bin/python -m benchmarks.run [options]``.

For each fleet of ``--pods`` (largest first; default 20,000, 5,000, 1,000, 100), builds
(or reuses) it in a real Prometheus, measures ``streamdash snapshot`` against the
one-query-at-a-time reference, counts requests per refresh and each query's cost
(Prometheus's own samples count), then (``benchmarks.rules``, unless ``--no-rules``)
backfills the recorded series of ``streamdash rules`` and compares a live refresh with
a recorded one. Against the ``--tui-pods`` fleet it also times the headless imports
and drives the real dashboard in tmux. Prints a markdown table and writes
``benchmarks/.work/results.json`` and ``results.md``. Exit 0 when every measurement ran
(``--strict``: 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import floor, headless, rules, tui
from benchmarks.fleets import NAMESPACE, WORK, build_for, ensure_fleet, serve
from benchmarks.queries import history_parts, query_costs
from benchmarks.report import Results, render

LARGE_PODS = 5000
"""Above this, ``--runs-large`` side-by-side runs (a 20,000-pod pass takes minutes)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    """nproc, memory and CPU model, as the results table shows them."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    mem = next((ln.split()[1] for ln in free.splitlines() if ln.startswith("Mem:")), "?")
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "memory": mem,
        "cpu": model,
        "python": platform.python_version(),
        "load_at_start": " ".join(load),
    }


def _runs(pods: int, args: argparse.Namespace) -> int:
    return int(args.runs if pods <= LARGE_PODS else args.runs_large)


def _phase_need_s(pods: int, tui_on: bool, args: argparse.Namespace) -> float:
    """How long the fleet's data must still cover now, for this phase (generous)."""
    runs = _runs(pods, args)
    headless_s: float = 60 + runs * (10 if pods <= 1000 else 40 if pods <= LARGE_PODS else 150)
    if args.rules:
        headless_s += rules.NEED_S
    tui_s: float = 3 * 15 + args.still_seconds + args.cpu_seconds + args.idle_seconds + 60
    if not tui_on:
        tui_s = 0
    return headless_s + tui_s


def run(args: argparse.Namespace) -> Results:
    results = Results(
        machine=machine(), runs=args.runs, started=time.time(), tui_pods=args.tui_pods
    )
    WORK.mkdir(parents=True, exist_ok=True)
    for pods in sorted(args.pods, reverse=True):
        build = build_for(pods)
        runs = _runs(pods, args)
        tui_on = args.tui and pods == args.tui_pods
        need = _phase_need_s(pods, tui_on, args)
        if args.rebuild:
            (WORK / f"fleet-{pods}" / "manifest.json").unlink(missing_ok=True)
        fleet = ensure_fleet(build, need, log)
        results.fleets[pods] = {
            "series": fleet.series,
            "openmetrics_gb": round(fleet.openmetrics_bytes / 1e9, 2),
            "tsdb_mb": round(fleet.tsdb_bytes / 1e6, 1),
            "generate_s": fleet.generate_s,
            "backfill_s": fleet.backfill_s,
            "reused": fleet.reused,
            "histograms": list(build.histograms),
            "step_s": build.step_s,
            "points_per_series": (build.past_s + build.future_s) // build.step_s + 1,
        }
        server = serve(fleet)
        try:
            log(f"fleet {pods}: Prometheus on {server.url}; {runs} side-by-side runs")
            cwd = fleet.workdir
            sbs = headless.side_by_side(server, NAMESPACE, pods, runs, cwd)
            results.side_by_side[pods] = sbs
            log(
                f"fleet {pods}: snapshot {sbs.snapshot_median:.2f} s, reference "
                f"{sbs.reference_median:.2f} s (ratio {sbs.ratio:.2f}); "
                f"requests {sbs.snapshot_requests}"
            )
            results.query_costs[pods] = query_costs(server.url, NAMESPACE)
            if pods == args.tui_pods:
                results.history_parts[pods] = history_parts(server.url, NAMESPACE)
                results.imports = headless.import_time(server, NAMESPACE, cwd)
                log(f"imports: {asdict(results.imports)}")
            if tui_on:
                _tui(server, fleet.workdir / "tui", results, args)
        finally:
            server.stop()
        if args.rules:
            log(f"fleet {pods}: recording rules (backfilled), live vs recorded")
            results.rules[pods] = rules.measure(
                pods,
                runs,
                build,
                need_s=rules.NEED_S,
                side_by_side_runs=runs,
                tui_runs=args.first_frame_runs if tui_on else 0,
                tui_seconds=(min(args.cpu_seconds, 60.0), args.idle_seconds),
            )
    results.finished = time.time()
    return results


def _tui(server: Any, workdir: Path, results: Results, args: argparse.Namespace) -> None:
    log("tui: the floor (a trivial Textual app)")
    results.floor = floor.measure(args.still_seconds)
    log(f"tui: floor {results.floor}")
    log("tui: first frame")
    ff = tui.first_frame(server, NAMESPACE, workdir, runs=args.first_frame_runs)
    results.first_frame = ff
    log(
        f"tui: first frame {ff.seconds} s; {ff.instant_per_refresh} instant + "
        f"{ff.queries_per_refresh - ff.instant_per_refresh} history requests; "
        f"history counted at {ff.history_seconds} s"
    )
    log(f"tui: {args.still_seconds:.0f} s at --refresh 1h (no refresh: the 1 Hz status line)")
    results.still = tui.steady(
        server,
        NAMESPACE,
        workdir,
        refresh="1h",
        seconds=args.still_seconds,
        queries_per_refresh=ff.instant_per_refresh,
        pipe=True,
        settle_share=0.05,
    )
    log(f"tui: still {results.still.cpu_s:.2f} s CPU, {results.still.terminal_bytes} bytes")
    log(f"tui: {args.cpu_seconds:.0f} s at --refresh 1s (CPU per refresh, RSS)")
    results.busy = tui.steady(
        server,
        NAMESPACE,
        workdir,
        refresh="1s",
        seconds=args.cpu_seconds,
        queries_per_refresh=ff.instant_per_refresh,
    )
    log(
        f"tui: busy {results.busy.refreshes:.0f} refreshes, {results.busy.cpu_s:.2f} s CPU, "
        f"{results.busy.history_queries:g} history queries"
    )
    log(f"tui: {args.cpu_seconds:.0f} s at --refresh 1s under CPython's default GC")
    results.busy_gc_default = tui.steady(
        server,
        NAMESPACE,
        workdir,
        refresh="1s",
        seconds=args.cpu_seconds,
        queries_per_refresh=ff.instant_per_refresh,
        env={"STREAMDASH_GC": "default"},
        label="-gc-default",
    )
    log(f"tui: busy, default GC: {results.busy_gc_default.cpu_s:.2f} s CPU")
    log(f"tui: {args.idle_seconds:.0f} s at --refresh 5s (idle CPU, terminal bytes)")
    results.idle = tui.steady(
        server,
        NAMESPACE,
        workdir,
        refresh="5s",
        seconds=args.idle_seconds,
        queries_per_refresh=ff.instant_per_refresh,
        pipe=True,
        settle_share=0.25,
    )
    log(f"tui: idle {results.idle.cpu_s:.2f} s CPU, {results.idle.terminal_bytes} bytes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument(
        "--pods",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[20000, 5000, 1000, 100],
        help="fleet sizes, comma-separated (default 20000,5000,1000,100)",
    )
    p.add_argument("--runs", type=int, default=5, help="side-by-side runs per fleet")
    p.add_argument(
        "--runs-large", type=int, default=1, help=f"side-by-side runs above {LARGE_PODS} pods"
    )
    p.add_argument(
        "--no-rules", dest="rules", action="store_false", help="skip the recording-rules phase"
    )
    p.add_argument("--tui-pods", type=int, default=1000, help="fleet the TUI runs against")
    p.add_argument("--no-tui", dest="tui", action="store_false")
    p.add_argument("--first-frame-runs", type=int, default=3)
    p.add_argument("--still-seconds", type=float, default=20.0, help="run with no refresh")
    p.add_argument("--cpu-seconds", type=float, default=150.0, help="run at --refresh 1s")
    p.add_argument("--idle-seconds", type=float, default=30.0, help="run at --refresh 5s")
    p.add_argument("--rebuild", action="store_true", help="ignore cached TSDBs")
    p.add_argument("--out", default="results", help="name of the results files in .work/")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    results = run(args)
    table, missed = render(results)
    (WORK / f"{args.out}.md").write_text(table)
    (WORK / f"{args.out}.json").write_text(json.dumps(results.to_json(), indent=2))
    print(table)
    log(f"done in {time.monotonic() - t0:.0f} s; results in {WORK}/{args.out}.{{md,json}}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
