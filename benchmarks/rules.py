"""A refresh with and without recording rules, against a real Prometheus evaluating them.

``python -m benchmarks.rules [--pods 1000] [--runs 5]``: builds (or reuses) the fleet of
``benchmarks.fleets``, starts Prometheus on it with the rule file ``streamdash rules``
prints (evaluated every 30 s), waits for the first evaluation, then times one refresh's
instant queries (``PrometheusSource.fetch``, no history) asked live and read from the
recorded series, alternating, ``--runs`` times each: wall time, Prometheus's own CPU
(``process_cpu_seconds_total`` delta) and requests, plus what the rule group itself costs
per evaluation (``prometheus_rule_group_last_duration_seconds``). Medians; JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import replace

from benchmarks.fleets import NAMESPACE, FleetBuild, ensure_fleet
from streamdash.presets import load_preset
from streamdash.rules import rules_text
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.prom import PrometheusServer, start_prometheus

WAIT_S = 180.0


def _metric(server: PrometheusServer, name: str) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return float("nan")


def _query(server: PrometheusServer, q: str) -> list[dict[str, object]]:
    url = f"{server.url}/api/v1/query?{urllib.parse.urlencode({'query': q})}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return list(json.loads(resp.read())["data"]["result"])


def measure(pods: int, runs: int) -> dict[str, object]:
    fleet = ensure_fleet(
        FleetBuild(pods=pods, future_s=1500), 600, lambda m: print(m, file=sys.stderr)
    )
    settings = Settings(
        prometheus=PrometheusSettings(url="http://127.0.0.1:9", timeout_seconds=60.0),
        preset=load_preset("vllm"),
        namespace=NAMESPACE,
    )
    # A copy of the TSDB: the fleet's own may be served by another benchmark meanwhile.
    work = fleet.workdir / "with-rules"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(fleet.workdir / "data", work / "data", ignore=shutil.ignore_patterns("lock"))
    rule_file = work / "streamdash.rules.yml"
    rule_file.write_text(rules_text(settings, [settings.window_seconds], 30))
    server = start_prometheus(work, rule_files=[rule_file])
    try:
        settings = replace(settings, prometheus=replace(settings.prometheus, url=server.url))
        deadline = time.monotonic() + WAIT_S
        while not _query(server, "count({streamdash_rule!=''})"):
            if time.monotonic() > deadline:
                raise RuntimeError("the rules recorded nothing in time")
            time.sleep(2)
        live = PrometheusSource(settings)
        rec = PrometheusSource(settings, recorded=True)
        rec.fetch(settings.window_seconds, with_history=False)  # the probe
        live.fetch(settings.window_seconds, with_history=False)  # warm
        out: dict[str, dict[str, list[float]]] = {"live": {}, "recorded": {}}
        for _ in range(runs):
            for name, source in (("live", live), ("recorded", rec)):
                cpu0, req0 = _metric(server, "process_cpu_seconds_total"), server.requests_served()
                t0 = time.monotonic()
                raw = source.fetch(settings.window_seconds, with_history=False)
                wall = time.monotonic() - t0
                cpu1, req1 = _metric(server, "process_cpu_seconds_total"), server.requests_served()
                row = out[name]
                row.setdefault("wall_s", []).append(wall)
                row.setdefault("prometheus_cpu_s", []).append(cpu1 - cpu0)
                row.setdefault("requests", []).append(req1 - req0)
                row.setdefault("errors", []).append(len(raw.errors))
        live.close()
        rec.close()
        group = _query(server, "prometheus_rule_group_last_duration_seconds")
        return {
            "pods": pods,
            "runs": runs,
            "recorded_parts": sorted(rec.recorded_parts(settings.window_seconds)),
            "rule_group_eval_s": float(group[0]["value"][1]) if group else None,  # type: ignore[index]
            **{
                name: {k: statistics.median(v) for k, v in row.items()} | {"samples": row}
                for name, row in out.items()
            },
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rules", description=__doc__)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    print(json.dumps(measure(args.pods, args.runs), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
