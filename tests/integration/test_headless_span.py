"""Headless answers over a stated span: the real CLI against the running demo fleet.

``snapshot``/``check`` over direct scrape sample every source twice ``--duration``
apart: ``window_seconds`` is that real span, LB counters have rates (so one-shot
``lb-disconnects`` can fire), and repeated runs against a steady fleet agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from streamdash.demo import RunningFleet, start_fleet

pytestmark = pytest.mark.integration
RUNS = 10
SPAN = "2s"


@pytest.fixture
def fleet(request: pytest.FixtureRequest) -> Iterator[RunningFleet]:
    running = start_fleet(request.param, pods=6, seed=0)
    try:
        yield running
    finally:
        running.stop()


def _cli(fleet: RunningFleet, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    targets = [a for url in (*fleet.pod_urls, fleet.ksm_url, fleet.cadvisor_url)
               for a in ("--scrape", url)]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "streamdash", *args, *targets,
         "--haproxy-stats", fleet.haproxy_csv_url, "-n", fleet.namespace, "--hpa", fleet.hpa_name,
         "--duration", SPAN],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(("fleet", "code"), [("healthy", 0), ("overflow", 1)], indirect=["fleet"])
def test_ten_check_runs_against_a_steady_fleet_agree(fleet: RunningFleet, code: int) -> None:
    runs = [_cli(fleet, "check") for _ in range(RUNS)]
    assert [r.returncode for r in runs] == [code] * RUNS, [r.stdout for r in runs]
    firsts = {r.stdout.splitlines()[0].split(" · ")[0] for r in runs}
    assert firsts == ({"all clear"} if code == 0 else {"1 critical"}), firsts


@pytest.mark.parametrize("fleet", ["idle-timeout"], indirect=True)
def test_one_snapshot_spans_the_duration_and_lb_counters_have_rates(fleet: RunningFleet) -> None:
    doc = json.loads(_cli(fleet, "snapshot", "--format", "json").stdout)
    assert 2 <= doc["window_seconds"] <= 4  # the real span, not the 5 min rate window
    assert any(n.startswith("gathered over ") for n in doc["notes"]), doc["notes"]
    rates = [b["server_aborts_rate"] for b in doc["load_balancer"]["backends"]]
    assert rates and all(r is not None for r in rates)
    assert all(r < 50 for r in rates)  # per second over the span, not over ~0 s
