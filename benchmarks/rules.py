"""A refresh with and without recording rules, against a real Prometheus.

``python -m benchmarks.rules [--pods 1000] [--runs 5]``. The benchmark fleets hold
samples up to 25 min in the future, so rules evaluated live at "now" are discarded as
"out of bounds" (Prometheus appends nothing older than its head). So the recorded
series are backfilled instead (``with_rules``): Prometheus serves a copy of the fleet's
TSDB, ``promtool tsdb create-blocks-from rules`` evaluates the rule file ``streamdash
rules`` prints over the fleet's whole span (future included, by range queries at the
rules' 30 s interval), its blocks join the copy, and Prometheus restarts on it (cached
in ``fleet-<pods>/with-rules/`` while the rule file and the fleet are the same).

Then, with no rule loaded (nothing else for Prometheus to do), one refresh's instant
queries (``PrometheusSource.fetch``, no history) asked live and read from the recorded
series, alternating, ``--runs`` times each: wall time, Prometheus's own CPU
(``process_cpu_seconds_total`` delta), requests; and each query of both sets alone with
``stats=all`` (samples read, answer bytes, Prometheus's time), history included. Finally
the rules loaded live, to read what Prometheus pays per rule interval to keep them
(``prometheus_rule_group_last_duration_seconds``; its appends are out of bounds here, its
evaluation is not). JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import headless
from benchmarks.fleets import NAMESPACE, BuiltFleet, FleetBuild, Log, build_for, ensure_fleet
from benchmarks.queries import QueryCost, costs_of
from streamdash.presets import load_preset
from streamdash.rules import rules_text
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources import promql
from streamdash.sources.prometheus import PrometheusSource
from tests.support.prom import PROMTOOL, PrometheusServer, start_prometheus

RULE_INTERVAL_S = 30
BACKFILL_TIMEOUT_S = 900
GROUP_WAIT_S = 120.0
GROUP_METRIC = "prometheus_rule_group"
NEED_S = 600.0
"""How long the fleet's data must still cover now: the backfill plus the measurements."""


def bench_settings(url: str = "http://127.0.0.1:9") -> Settings:
    """The settings every benchmark refresh uses (vLLM preset, the fleet's namespace)."""
    return Settings(
        prometheus=PrometheusSettings(url=url, timeout_seconds=120.0),
        preset=load_preset("vllm"),
        namespace=NAMESPACE,
    )


def metric(server: PrometheusServer, name: str) -> float:
    """Sum of every series of ``name`` on Prometheus's own /metrics (NaN when absent)."""
    total, seen = 0.0, False
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
                seen = True
    return total if seen else float("nan")


def _query(server: PrometheusServer, q: str) -> list[dict[str, object]]:
    url = f"{server.url}/api/v1/query?{urllib.parse.urlencode({'query': q})}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return list(json.loads(resp.read())["data"]["result"])


@dataclass(frozen=True)
class RulesFleet:
    """A copy of a fleet's TSDB with the recorded series backfilled beside it."""

    workdir: Path
    rule_file: Path
    rules: int
    backfill_s: float | None
    """Seconds promtool took (when this cache was built)."""
    rule_blocks_bytes: int
    step_s: int
    reused: bool = False


def backfill_step_s(pods: int) -> int:
    """The step promtool evaluates the rules at: the rules' own 30 s up to 1,000 pods,
    60 s above (each step is one evaluation of every rule over the whole fleet; a
    refresh reads the newest recorded point within Prometheus's 5 min lookback, so
    the step changes what a refresh costs by nothing but the history's points)."""
    return RULE_INTERVAL_S if pods <= 1000 else 2 * RULE_INTERVAL_S


def with_rules(
    fleet: BuiltFleet, settings: Settings, log: Log, need_s: float = 600.0
) -> RulesFleet:
    """``fleet``'s TSDB plus the recorded series of ``streamdash rules`` from the fleet's
    past (up to its 6 min) to ``need_s`` from now (at most the fleet's end): each step of
    the backfill is one evaluation of every rule over the whole fleet, so the span is
    what the measurements need, not the fleet's whole future."""
    text = rules_text(settings, [settings.window_seconds], RULE_INTERVAL_S)
    step = backfill_step_s(fleet.build.pods)
    work = fleet.workdir / "with-rules"
    rule_file = work / "streamdash.rules.yml"
    backfill_file = work / "backfill.rules.yml"  # the same rules at the backfill's step
    stamp = work / "manifest.json"
    key = {"rules": text, "start": fleet.start, "end": fleet.end, "step": step}
    count = text.count("- record:")
    try:
        manifest = json.loads(stamp.read_text())
    except (OSError, ValueError):
        manifest = None
    now = time.time()
    if (
        manifest is not None
        and manifest.get("key") == key
        and float(manifest.get("rules_end", 0)) >= now + need_s
        and (work / "data").is_dir()
    ):
        log(f"rules {fleet.build.pods}: reusing {work}")
        size = int(manifest["rule_blocks_bytes"])
        return RulesFleet(work, rule_file, count, manifest.get("backfill_s"), size, step, True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(fleet.workdir / "data", work / "data", ignore=shutil.ignore_patterns("lock"))
    rule_file.write_text(text)
    backfill_file.write_text(rules_text(settings, [settings.window_seconds], step))
    blocks = work / "rule-blocks"
    rules_start = max(fleet.start, (now - fleet.build.past_s) // step * step)
    rules_end = min(fleet.end, (now + need_s) // step * step + step)
    server = start_prometheus(work)  # no rules: promtool asks it range queries
    try:
        log(
            f"rules {fleet.build.pods}: promtool backfills {count} rules over the fleet "
            f"span at a {step} s step, {(rules_end - rules_start) / 60:.0f} min"
        )
        t0 = time.monotonic()
        proc = subprocess.run(
            [
                str(PROMTOOL),
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--start={int(rules_start)}",
                f"--end={int(rules_end)}",
                f"--url={server.url}",
                f"--output-dir={blocks}",
                f"--eval-interval={step}s",
                str(backfill_file),
            ],
            capture_output=True,
            text=True,
            timeout=BACKFILL_TIMEOUT_S,
            check=False,
        )
        backfill_s = time.monotonic() - t0
    finally:
        server.stop()
    out = proc.stdout + proc.stderr
    made = [p for p in blocks.iterdir() if p.is_dir()] if blocks.is_dir() else []
    if proc.returncode != 0 or not made:
        tail = "\n".join(out.splitlines()[-20:])
        raise RuntimeError(f"promtool rules backfill failed (exit {proc.returncode}):\n{tail}")
    size = sum(f.stat().st_size for p in made for f in p.rglob("*") if f.is_file())
    for block in made:
        block.rename(work / "data" / block.name)
    shutil.rmtree(blocks, ignore_errors=True)
    log(f"rules {fleet.build.pods}: {len(made)} blocks, {size / 1e6:.1f} MB in {backfill_s:.0f} s")
    stamp.write_text(
        json.dumps(
            {
                "key": key,
                "rules_start": rules_start,
                "rules_end": rules_end,
                "rule_blocks_bytes": size,
                "backfill_s": backfill_s,
            }
        )
    )
    return RulesFleet(work, rule_file, count, backfill_s, size, step)


def _refreshes(
    server: PrometheusServer, sources: dict[str, PrometheusSource], runs: int, window: int
) -> dict[str, dict[str, list[float]]]:
    """``runs`` refreshes per source, alternating: wall, client CPU (this process),
    Prometheus CPU, requests, errors, and whether the source reused the last refresh's
    rows (its answers equal but for their timestamps: ``sources.unchanged``)."""
    out: dict[str, dict[str, list[float]]] = {name: {} for name in sources}
    for _ in range(runs):
        for name, source in sources.items():
            cpu0 = metric(server, "process_cpu_seconds_total")
            req0 = server.requests_served()
            reused0 = source.reused_refreshes
            t0, c0 = time.monotonic(), time.process_time()
            raw = source.fetch(window, with_history=False)
            wall, client = time.monotonic() - t0, time.process_time() - c0
            cpu1 = metric(server, "process_cpu_seconds_total")
            req1 = server.requests_served()
            row = out[name]
            row.setdefault("wall_s", []).append(round(wall, 3))
            row.setdefault("client_cpu_s", []).append(round(client, 3))
            row.setdefault("reused", []).append(source.reused_refreshes - reused0)
            row.setdefault("prometheus_cpu_s", []).append(round(cpu1 - cpu0, 3))
            row.setdefault("requests", []).append(req1 - req0)
            row.setdefault("errors", []).append(len(raw.errors))
    return out


def _totals(costs: list[QueryCost]) -> dict[str, object]:
    instant = [c for c in costs if c.name != "history"]
    history = [c for c in costs if c.name == "history"]
    return {
        "refresh_samples": sum(c.samples or 0 for c in instant),
        "refresh_bytes": sum(c.bytes for c in instant),
        "refresh_wire_bytes": sum(c.wire_bytes or 0 for c in instant),
        "refresh_queries": len(instant),
        "history_samples": history[0].samples if history else None,
        "history_bytes": history[0].bytes if history else None,
        "history_server_s": (
            round(history[0].server_s, 3) if history and not history[0].error else None
        ),
        "errors": {c.name: c.error for c in costs if c.error},
        "per_query": [asdict(c) for c in costs],
    }


def _rule_group_cost(work: Path, rule_file: Path, log: Log) -> dict[str, object]:
    """The rules loaded live: Prometheus's own figures for one evaluation of the group."""
    server = start_prometheus(work, rule_files=[rule_file])
    try:
        deadline = time.monotonic() + GROUP_WAIT_S
        name = f"{GROUP_METRIC}_last_duration_seconds"
        while not (metric(server, name) > 0):
            if time.monotonic() > deadline:
                return {"error": "the rule group was not evaluated within the wait"}
            time.sleep(2)
        cpu0, t0 = metric(server, "process_cpu_seconds_total"), time.monotonic()
        evals0 = metric(server, "prometheus_rule_evaluations_total")
        time.sleep(2 * RULE_INTERVAL_S + 1)
        cpu1, t1 = metric(server, "process_cpu_seconds_total"), time.monotonic()
        evals1 = metric(server, "prometheus_rule_evaluations_total")
        failures = metric(server, "prometheus_rule_evaluation_failures_total")
        out: dict[str, object] = {
            "last_duration_s": round(metric(server, name), 3),
            "last_evaluation_samples": metric(server, f"{GROUP_METRIC}_last_evaluation_samples"),
            "prometheus_cpu_s_per_interval": round((cpu1 - cpu0) * RULE_INTERVAL_S / (t1 - t0), 3),
            "rule_evaluations_in_window": evals1 - evals0,
            "rule_evaluation_failures_total": failures,
        }
        log(f"rule group: {out}")
        return out
    finally:
        server.stop()


def _tui(
    server: PrometheusServer, workdir: Path, runs: int, seconds: tuple[float, float], log: Log
) -> dict[str, object]:
    """The dashboard on the recorded series (its probe finds them at start)."""
    from benchmarks import tui

    workdir.mkdir(parents=True, exist_ok=True)
    ff = tui.first_frame(server, NAMESPACE, workdir, runs=runs)
    log(f"rules tui: first frame {ff.seconds} s, latency {ff.latency_seconds} s")
    per = ff.instant_per_refresh
    busy = tui.steady(
        server, NAMESPACE, workdir, refresh="1s", seconds=seconds[0], queries_per_refresh=per
    )
    busy_default = tui.steady(
        server,
        NAMESPACE,
        workdir,
        refresh="1s",
        seconds=seconds[0],
        queries_per_refresh=per,
        env={"STREAMDASH_GC": "default"},
        label="-gc-default",
    )
    idle = tui.steady(
        server,
        NAMESPACE,
        workdir,
        refresh="5s",
        seconds=seconds[1],
        queries_per_refresh=per,
        pipe=True,
        settle_share=0.25,
    )
    log(f"rules tui: {busy.cpu_per_refresh_ms} ms per refresh; idle {idle.cpu_share:.3f}")
    return {
        "first_frame_s": ff.seconds,
        "latency_s": ff.latency_seconds,
        "instant_per_refresh": per,
        "cpu_per_refresh_ms": busy.cpu_per_refresh_ms,
        "busy_refreshes": busy.refreshes,
        "cpu_per_refresh_ms_gc_default": busy_default.cpu_per_refresh_ms,
        "idle_share": idle.cpu_share,
        "bytes_per_refresh": idle.bytes_per_refresh,
    }


def measure(
    pods: int,
    runs: int,
    fleet_build: FleetBuild | None = None,
    need_s: float = NEED_S,
    side_by_side_runs: int = 0,
    tui_runs: int = 0,
    tui_seconds: tuple[float, float] = (30.0, 20.0),
) -> dict[str, object]:
    """Everything of the module docstring for one fleet size (``side_by_side_runs``:
    also ``headless.side_by_side`` against the rules fleet, where ``streamdash
    snapshot`` reads the recorded series; ``tui_runs``: the real dashboard in tmux on
    the recorded series as well: first frame ``tui_runs`` times, then ``tui_seconds``
    at ``--refresh 1s`` (CPU per refresh) and at ``--refresh 5s`` (idle, bytes))."""

    def log(m: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)

    build = fleet_build or build_for(pods)
    fleet = ensure_fleet(build, min(need_s, build.future_s), log)
    settings = bench_settings()
    rf = with_rules(fleet, settings, log, need_s)
    server = start_prometheus(rf.workdir)  # no rules loaded: only our refreshes run
    try:
        settings = replace(settings, prometheus=replace(settings.prometheus, url=server.url))
        window = settings.window_seconds
        live = PrometheusSource(settings)
        rec = PrometheusSource(settings, recorded=True)
        rec.fetch(window, with_history=False)  # the probe
        live.fetch(window, with_history=False)  # warm
        parts = sorted(rec.recorded_parts(window))
        sent = rec.sent_queries(window, with_history=True)
        recordable = sorted(r.part for r in rec.recording_rules(window))
        log(f"rules {pods}: recorded parts {parts} of {recordable}")
        runs_out = _refreshes(server, {"live": live, "recorded": rec}, runs, window)
        at = live.server_now()
        step = promql.history_step(settings.history_seconds)
        live_q = live.queries(window, with_history=True)
        costs = {
            "live": costs_of(server.url, live_q, at, settings.history_seconds, step),
            "recorded": costs_of(server.url, sent, at, settings.history_seconds, step),
        }
        live.close()
        rec.close()
        sbs: dict[str, object] | None = None
        if side_by_side_runs:
            log(f"rules {pods}: {side_by_side_runs} side-by-side runs, snapshot reads recorded")
            s = headless.side_by_side(server, NAMESPACE, pods, side_by_side_runs, rf.workdir)
            sbs = asdict(s) | {
                "snapshot_median_s": s.snapshot_median,
                "reference_median_s": s.reference_median,
                "ratio": s.ratio,
            }
        tui_out = _tui(server, rf.workdir / "tui", tui_runs, tui_seconds, log) if tui_runs else None
    finally:
        server.stop()
    group = _rule_group_cost(rf.workdir, rf.rule_file, log)
    return {
        "tui": tui_out,
        "side_by_side": sbs,
        "pods": pods,
        "runs": runs,
        "load_at_end": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "fleet_series": fleet.series,
        "fleet_histograms": list(fleet.build.histograms),
        "rules": rf.rules,
        "rules_backfill_s": rf.backfill_s,
        "rules_backfill_step_s": rf.step_s,
        "rules_backfill_reused": rf.reused,
        "rule_blocks_mb": round(rf.rule_blocks_bytes / 1e6, 1),
        "recorded_parts": parts,
        "recordable_parts": recordable,
        "sent_recorded": {k: v for k, v in sent.items() if k in parts},
        "rule_group": group,
        **{
            name: {k: statistics.median(v) for k, v in row.items()}
            | {"runs": row}
            | _totals(costs[name])
            for name, row in runs_out.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rules", description=__doc__)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument(
        "--side-by-side", type=int, default=0, help="also snapshot vs reference runs, recorded"
    )
    p.add_argument(
        "--tui", type=int, default=0, help="also the dashboard on the recorded series: launches"
    )
    args = p.parse_args(argv)
    out = measure(args.pods, args.runs, side_by_side_runs=args.side_by_side, tui_runs=args.tui)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
