"""The TUI's memory over a long run: ``python -m benchmarks.memory [--pods 1000] [--seconds 600]``.

Builds (or reuses) the fleet of ``benchmarks.fleets``, serves it, finds the instant
queries per refresh from one launch (``tui.first_frame``), then runs the real dashboard
in tmux at ``--refresh 1s`` for ``--seconds`` after a 5 s warm-up, sampling RSS from
``/proc/<pid>/statm`` every ``--sample-every`` seconds. The TUI keeps whole snapshots for
replay up to ``SESSION_POD_ROWS`` pod rows (``streamdash/tui/time.py``), so RSS may grow
until that buffer is full: the figure that says "flat" is the growth *after* the
refresh that fills it (peak of the last third minus peak of the middle third, both
after the fill). JSON on stdout; every RSS sample in ``.work/<out>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import tui
from benchmarks.fleets import NAMESPACE, WORK, FleetBuild, ensure_fleet, serve
from streamdash.tui.time import SESSION_POD_ROWS

MIB = 1024 * 1024


def summarize(
    rss: list[tuple[float, int]], refreshes: float, seconds: float, pods: int
) -> dict[str, object]:
    """RSS figures of one run: per minute, and the growth after the session buffer filled.

    The buffer fills after ``SESSION_POD_ROWS / pods`` refreshes; the refresh rate of the
    run says when that was (assumed even over the run)."""
    if not rss:
        return {}
    fill_refreshes = SESSION_POD_ROWS / max(1, pods)
    rate = refreshes / seconds if seconds else 0.0
    fill_s = fill_refreshes / rate if rate else None
    per_minute: dict[str, float] = {}
    for t, v in rss:  # the first sample of each minute
        per_minute.setdefault(f"{int(t // 60)}m", round(v / MIB, 1))
    after = [(t, v) for t, v in rss if fill_s is not None and t >= fill_s]
    out: dict[str, object] = {
        "rss_start_mib": round(rss[0][1] / MIB, 1),
        "rss_end_mib": round(rss[-1][1] / MIB, 1),
        "rss_peak_mib": round(max(v for _, v in rss) / MIB, 1),
        "rss_by_minute_mib": per_minute,
        "buffer_fills_after_refreshes": round(fill_refreshes, 1),
        "buffer_fills_after_s": None if fill_s is None else round(fill_s, 1),
    }
    if len(after) >= 6:
        third = len(after) // 2
        mid, last = after[:third], after[third:]
        out["after_fill_first_half_peak_mib"] = round(max(v for _, v in mid) / MIB, 1)
        out["after_fill_second_half_peak_mib"] = round(max(v for _, v in last) / MIB, 1)
        out["after_fill_growth_mib"] = round(
            (max(v for _, v in last) - max(v for _, v in mid)) / MIB, 1
        )
    else:
        out["after_fill_growth_mib"] = None  # the run ended before (or soon after) the fill
    return out


def measure(pods: int, seconds: float, sample_every_s: float, refresh: str) -> dict[str, object]:
    build = FleetBuild(pods=pods, future_s=1500)
    fleet = ensure_fleet(build, seconds + 180, lambda m: print(m, file=sys.stderr))
    server = serve(fleet)
    try:
        workdir = fleet.workdir / "memory"
        ff = tui.first_frame(server, NAMESPACE, workdir, runs=1)
        load0 = Path("/proc/loadavg").read_text().split()[:3]
        run = tui.steady(
            server,
            NAMESPACE,
            workdir,
            refresh=refresh,
            seconds=seconds,
            queries_per_refresh=ff.instant_per_refresh,
            sample_every_s=sample_every_s,
        )
        load1 = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        server.stop()
    return {
        "pods": pods,
        "refresh": refresh,
        "seconds": round(run.seconds, 1),
        "refreshes": round(run.refreshes, 1),
        "history_queries": run.history_queries,
        "cpu_s": round(run.cpu_s, 2),
        "load_start": " ".join(load0),
        "load_end": " ".join(load1),
        "session_pod_rows": SESSION_POD_ROWS,
        **summarize(run.rss, run.refreshes, run.seconds, pods),
        "rss_samples": [(round(t, 1), v) for t, v in run.rss],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--refresh", default="1s")
    p.add_argument("--out", default="memory", help="name of the JSON file in .work/")
    args = p.parse_args(argv)
    result = measure(args.pods, args.seconds, args.sample_every, args.refresh)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / f"{args.out}.json").write_text(json.dumps(result, indent=1))
    brief = {k: v for k, v in result.items() if k != "rss_samples"}
    print(json.dumps(brief, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
