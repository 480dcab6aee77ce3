"""Issue 4's "done when", as a user would run it: a real HAProxy with a too-short
`timeout server` in front of a real SSE upstream that pauses between tokens, and the
real `streamdash snapshot --scrape ... --haproxy-stats ... --haproxy-config ...`.

The snapshot must show the pod's open connections (streams the test holds), the abort
the timeout caused (from HAProxy's own stats) and an `lb-idle-timeout` finding that
names `timeout server` and the value to set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lbservers import RunningLb, start_haproxy
from tests.support.sse import HeldStreams, SseServer, read_stream

pytestmark = pytest.mark.integration

POD = "llama-0"


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[tuple[SseServer, RunningLb]]:
    upstream = SseServer(pod=POD)
    lb = start_haproxy(tmp_path / "haproxy", {POD: upstream.address}, timeout_server="1s")
    try:
        yield upstream, lb
    finally:
        lb.stop()
        upstream.stop()


def start_snapshot(upstream: SseServer, lb: RunningLb) -> subprocess.Popen[str]:
    """The real one-shot command; it gathers over its --duration (two samples)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    return subprocess.Popen(
        [
            sys.executable, "-m", "streamdash", "snapshot",
            "--scrape", f"{upstream.url}/metrics",
            "--haproxy-stats", f"{lb.stats_url};csv",
            "--haproxy-config", str(lb.config_file),
            "--duration", "8s",
            "--format", "json",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_snapshot_shows_connections_the_cut_and_the_timeout_to_set(
    chain: tuple[SseServer, RunningLb],
) -> None:
    upstream, lb = chain
    with HeldStreams(f"{lb.url}/stream?tokens=60&pause=0.3", n=2):
        proc = start_snapshot(upstream, lb)
        time.sleep(1.0)  # inside the command's span, after its first sample:
        # a chatty stream passes; a stream that pauses 2 s between tokens is cut at 1 s.
        assert read_stream(f"{lb.url}/stream?tokens=4&pause=0.2").completed
        cut = read_stream(f"{lb.url}/stream?tokens=3&pause=2")
        assert not cut.completed and cut.events == ("tok0",)
        doc = finish(proc)

    pods = {p["pod"]: p for p in doc["pods"]}
    assert pods[POD]["open_connections"] == 2  # from HAProxy's per-server row
    server = next(b for b in doc["load_balancer"]["backends"] if b["server"] == POD)
    assert server["server_aborts"] >= 1  # HAProxy counted the cut itself
    timeouts = {(t["name"], t["seconds"]) for t in doc["load_balancer"]["timeouts"]}
    assert ("timeout server", 1.0) in timeouts

    idle = [f for f in doc["findings"] if f["id"] == "lb-idle-timeout"]
    assert len(idle) == 1, doc["findings"]
    finding = idle[0]
    assert finding["severity"] == "critical"
    assert "timeout server" in finding["summary"]
    assert finding["evidence"]["timeout_seconds"] == 1.0
    assert finding["evidence"]["suggested_seconds"] >= 4.0  # >= 2x the 2 s pause
    assert "timeout server" in finding["advice"] and "keep-alive" in finding["advice"]
