"""Faults between streamdash and a real Prometheus: it stays up and tells the truth.

A real Prometheus over a backfilled fleet, behind ``tests.support.faultproxy``. For
every fault the live refresher keeps returning Snapshots, names the source and the
problem in one line, marks every panel stale with the age of the values it keeps, and
recovers on the next refresh once the fault is gone. The real ``streamdash snapshot``
and ``streamdash check`` commands run as subprocesses against the same faults.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamdash.core.snapshot import Snapshot
from streamdash.live import LiveRefresher
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from tests.support.faultproxy import (
    ESCAPE_IN_BODY,
    WARNING_TEXT,
    FaultProxy,
    fault_proxy,
)
from tests.support.fleet import FleetSpec, fleet_series, main_pods
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus

pytestmark = pytest.mark.integration

NS = "llm"
FLEET = FleetSpec(pods=3, namespace=NS, seed=13)
WINDOW = 300
TIMEOUT_S = 4.0
"""Generous: a loaded 2-core CI machine must still answer a healthy query in time."""
"""Client timeout; the proxy's ``delay`` holds requests longer than this."""

# mode -> what the one-line error must say
FAULTS: dict[str, str] = {
    "delay": f"timed out after {TIMEOUT_S:g} s",
    "http-500": "HTTP 500 Internal Server Error",
    "http-502": "HTTP 502 Bad Gateway",
    "http-503": "HTTP 503 Service Unavailable",
    "http-429": "HTTP 429 Too Many Requests",
    "http-401": "HTTP 401 Unauthorized (check the bearer token or basic auth)",
    "http-403": "HTTP 403 Forbidden (access denied)",
    "malformed-json": "malformed JSON in the answer",
    "truncated": "answer cut short",
    "status-error": '"status":"error": execution: query overloaded',
}


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    # Data ends just before now: the live refresher asks at "now".
    series, types = fleet_series(FLEET, float(int(time.time()) - 5), duration_s=900, step_s=15)
    server = start_prometheus(
        tmp_path_factory.mktemp("faults"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(prom: PrometheusServer) -> Iterator[FaultProxy]:
    with fault_proxy(prom.url, delay_seconds=TIMEOUT_S + 3) as p:
        yield p


@pytest.fixture
def faults(proxy: FaultProxy) -> Iterator[FaultProxy]:
    """The proxy, passing through at the start and the end of each test."""
    proxy.mode, proxy.only = "pass", None
    yield proxy
    proxy.mode, proxy.only = "pass", None


def _settings(url: str) -> Settings:
    return Settings(
        prometheus=PrometheusSettings(url=url, timeout_seconds=TIMEOUT_S),
        preset=load_preset("vllm"),
        namespace=NS,
    )


@pytest.fixture
def refresher(faults: FaultProxy) -> Iterator[LiveRefresher]:
    live = LiveRefresher(_settings(faults.url))
    yield live
    live.close()


def _refresh_with_history(live: LiveRefresher) -> Snapshot:
    """A refresh whose charts' history has arrived too: the first refresh never waits
    for the background range query, so a fault injected right after it would
    otherwise meet that query's answer in the next refresh."""
    for _ in range(3):  # a loaded machine can time the range query out: ask again
        snap = live.refresh(WINDOW)
        assert live.history_pending(30)
        with_history = live.history_follow_up(WINDOW)
        if with_history is not None:
            return with_history
        if snap.history is not None and not snap.errors:
            return snap
    raise AssertionError(f"no chart history after 3 refreshes: {snap.errors}")


def _assert_healthy(snap: Snapshot) -> None:
    assert snap.errors == () and snap.stale == (), (snap.errors, snap.stale)
    assert {p.pod for p in snap.pods} == set(main_pods(FLEET))
    assert snap.latency["ttft"].p99 is not None
    assert snap.autoscaler is not None and snap.autoscaler.current_replicas is not None


def _assert_kept(stale: Snapshot, good: Snapshot) -> None:
    """The stale snapshot shows exactly the last good values."""
    assert stale.latency == good.latency
    assert stale.pods == good.pods
    assert stale.autoscaler == good.autoscaler
    assert stale.history == good.history


def _assert_errors_name_source_and_problem(snap: Snapshot, url: str, fragment: str) -> None:
    assert {e.part for e in snap.errors} == set(snap.queries)
    for error in snap.errors:
        assert error.source == "prometheus"
        assert "\n" not in error.message and "\r" not in error.message
        assert f"query {error.part!r} to {url}" in error.message, error.message
        assert fragment in error.message, error.message


def _assert_all_stale_since(snap: Snapshot, good_at: float | None) -> None:
    assert {p.part for p in snap.stale} == set(snap.queries)
    for part in snap.stale:
        assert part.last_good_at == good_at
        assert part.panel in ("latency", "pods", "autoscaler")
        # the reason is this part's own failure, not another part's
        assert f"query {part.part!r}" in part.reason, (part.part, part.reason)


# --------------------------------------------------------------------------- live refresher


@pytest.mark.parametrize("mode", list(FAULTS))
def test_fault_marks_panels_stale_keeps_values_and_recovers(
    faults: FaultProxy, refresher: LiveRefresher, mode: str
) -> None:
    good = _refresh_with_history(refresher)
    _assert_healthy(good)

    faults.mode = mode
    first = refresher.refresh(WINDOW)
    second = refresher.refresh(WINDOW)  # a fault that lasts: age stays the good one's
    for snap in (first, second):
        assert isinstance(snap, Snapshot)
        _assert_errors_name_source_and_problem(snap, faults.url, FAULTS[mode])
        shown = mode not in ("http-401", "http-403")  # auth failure bodies are never shown
        body = f"gateway error {mode.removeprefix('http-')}"
        if mode.startswith("http-"):
            assert all((body in e.message) == shown for e in snap.errors), snap.errors
        _assert_all_stale_since(snap, good.taken_at)
        _assert_kept(snap, good)
        assert snap.taken_at > good.taken_at

    faults.mode = "pass"
    back = refresher.refresh(WINDOW)
    _assert_healthy(back)
    assert back.taken_at > second.taken_at


def test_one_failed_query_makes_only_its_panel_stale(
    faults: FaultProxy, refresher: LiveRefresher
) -> None:
    good = _refresh_with_history(refresher)
    _assert_healthy(good)
    faults.only = "process_open_fds"  # only the ``pod_gauges`` query fails
    faults.mode = "http-503"
    snap = refresher.refresh(WINDOW)
    assert [(e.part, e.source) for e in snap.errors] == [("pod_gauges", "prometheus")]
    assert [(p.part, p.panel, p.last_good_at) for p in snap.stale] == [
        ("pod_gauges", "pods", good.taken_at)
    ]
    assert "HTTP 503" in snap.stale[0].reason
    fds = {p.pod: (p.open_fds, p.max_fds, p.in_flight) for p in good.pods}
    assert {p.pod: (p.open_fds, p.max_fds, p.in_flight) for p in snap.pods} == fds  # carried
    assert all(v is not None for row in fds.values() for v in row)
    assert snap.latency["ttft"].p99 is not None and snap.autoscaler is not None  # fresh
    faults.mode = "pass"
    _assert_healthy(refresher.refresh(WINDOW))


def test_fault_from_the_first_refresh_is_unknown_not_zero(
    faults: FaultProxy, refresher: LiveRefresher
) -> None:
    faults.mode = "http-503"
    snap = refresher.refresh(WINDOW)
    _assert_all_stale_since(snap, None)
    assert snap.pods == () and snap.autoscaler is None
    for kind in ("ttft", "stream", "itl"):
        h = snap.latency[kind]
        assert (h.p50, h.p90, h.p99, h.rate_per_s) == (None, None, None, None)
    faults.mode = "pass"
    _assert_healthy(refresher.refresh(WINDOW))


def test_prometheus_warnings_are_notes_not_errors(
    faults: FaultProxy, refresher: LiveRefresher
) -> None:
    faults.mode = "warnings"
    snap = refresher.refresh(WINDOW)
    _assert_healthy(snap)
    warned = [n for n in snap.notes if WARNING_TEXT in n]
    assert len(warned) == snap.query_count == len(snap.queries)


def test_prometheus_killed_mid_session_then_restarted(prom: PrometheusServer) -> None:
    live = LiveRefresher(_settings(prom.url))
    try:
        good = _refresh_with_history(live)
        _assert_healthy(good)
        prom.stop()
        try:
            down = live.refresh(WINDOW)
            _assert_errors_name_source_and_problem(down, prom.url, "connection refused")
            _assert_all_stale_since(down, good.taken_at)
            _assert_kept(down, good)
        finally:
            prom.start()
        back = live.refresh(WINDOW)
        _assert_healthy(back)
    finally:
        live.close()


# --------------------------------------------------------------------------- commands


def streamdash(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    env["XDG_CONFIG_HOME"] = str(cwd)  # no user config file leaks in
    return subprocess.run(
        [sys.executable, "-m", "streamdash", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "streamdash.yaml"
    path.write_text(f"prometheus:\n  url: {url}\n  timeout: {TIMEOUT_S:g}s\nnamespace: {NS}\n")
    return path


def _no_terminal_escapes(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text


@pytest.mark.parametrize("mode", ["pass", "warnings", *FAULTS])
def test_snapshot_command_exits_0_with_errors_and_nulls(
    faults: FaultProxy, tmp_path: Path, mode: str
) -> None:
    _config(tmp_path, faults.url)
    faults.mode = mode
    proc = streamdash("snapshot", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    doc: dict[str, Any] = json.loads(proc.stdout)
    if mode in ("pass", "warnings"):
        assert doc["errors"] == [] and doc["stale"] == []
        assert doc["latency"]["ttft"]["p99"] is not None
        assert len(doc["pods"]) == FLEET.pods
        if mode == "warnings":
            assert any(WARNING_TEXT in n for n in doc["notes"])
        return
    assert {e["part"] for e in doc["errors"]} == set(doc["queries"])
    for error in doc["errors"]:
        assert error["source"] == "prometheus"
        assert FAULTS[mode] in error["message"] and "\n" not in error["message"]
    for kind in ("ttft", "stream", "itl"):
        for key in ("p50", "p90", "p99", "rate_per_s", "top_finite_bucket"):
            assert doc["latency"][kind][key] is None, (kind, key)
    assert doc["pods"] == [] and doc["autoscaler"] is None
    assert {s["part"] for s in doc["stale"]} == set(doc["queries"])
    assert all(s["last_good_at"] is None for s in doc["stale"])
    md = streamdash("snapshot", cwd=tmp_path)
    assert md.returncode == 0, md.stderr
    assert "## Source problems" in md.stdout and FAULTS[mode].split(" (")[0] in md.stdout
    _no_terminal_escapes(md.stdout)


def _dead_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.mark.parametrize("mode", ["dead-port", *FAULTS])
def test_check_exits_2_when_no_query_answers(faults: FaultProxy, tmp_path: Path, mode: str) -> None:
    if mode == "dead-port":
        url = f"http://127.0.0.1:{_dead_port()}"
    else:
        url = faults.url
        faults.mode = mode
    _config(tmp_path, url)
    proc = streamdash("check", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr == "streamdash: the primary source is unreachable\n"
    verdict, *lines = proc.stdout.splitlines()
    assert verdict.startswith(f"could not read prometheus {url}: "), verdict
    assert "all clear" not in proc.stdout
    assert lines and all(line.startswith("error prometheus (") for line in lines)
    _no_terminal_escapes(proc.stdout + proc.stderr)


@pytest.mark.parametrize("mode", ["pass", "warnings"])
def test_check_reports_findings_when_prometheus_answers(
    faults: FaultProxy, tmp_path: Path, mode: str
) -> None:
    _config(tmp_path, faults.url)
    faults.mode = mode
    proc = streamdash("check", cwd=tmp_path)
    assert proc.returncode in (0, 1), (proc.stdout, proc.stderr)
    assert "error " not in proc.stdout and proc.stderr == ""


def test_error_bodies_cannot_paint_the_terminal(faults: FaultProxy, tmp_path: Path) -> None:
    """A 5xx body full of escapes reaches the JSON verbatim (escaped) but never a terminal."""
    _config(tmp_path, faults.url)
    faults.mode = "http-502"
    check = streamdash("check", cwd=tmp_path)
    md = streamdash("snapshot", cwd=tmp_path)
    for text in (check.stdout, check.stderr, md.stdout, md.stderr):
        _no_terminal_escapes(text)
    raw = streamdash("snapshot", "--format", "json", cwd=tmp_path)
    _no_terminal_escapes(raw.stdout)  # JSON escapes control characters as \u001b
    messages = [e["message"] for e in json.loads(raw.stdout)["errors"]]
    assert messages and all("HTTP 502" in m for m in messages)
    assert ESCAPE_IN_BODY[:5] in messages[0]  # the JSON keeps the data as it came
