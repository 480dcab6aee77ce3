"""The real ``streamdash`` dashboard in tmux at 160x50, measured from outside.

- first frame: launch to the first ``capture-pane`` that shows a pod name.
- queries per TUI refresh: Prometheus's request counter across one refresh.
- CPU per refresh and RSS: ``/proc/<pid>`` over a run at a short refresh interval; the
  number of refreshes is the delta of Prometheus's instant-query counter / instant
  queries per refresh (the history range query runs on its own cadence, counted apart).
- idle CPU and terminal bytes: a run at a 5 s refresh with ``tmux pipe-pane`` writing
  everything the app sends to the terminal into a file.

Each session runs on its own tmux server (``-L``) with no user config and is killed at
the end; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.headless import STREAMDASH
from tests.support.process import running
from tests.support.prom import PrometheusServer

WIDTH, HEIGHT = 160, 50
FIRST_FRAME_TIMEOUT_S = 30.0
POLL_S = 0.02
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
LATENCY_RE = re.compile(r"│p99 +[0-9.>]+ ?(ms|s|min)\b")
"""The latency table's p99 row with a number (not ``…``): the latency has answered."""
POD_RE = re.compile(r"llama-serve-[a-z0-9]{5}-[a-z0-9]{5}|…[a-z0-9]{5}-[a-z0-9]{5}|…[a-z0-9]{5}\b")
"""A pod name on screen: whole, or as the pods table shows it with the shared prefix
elided (``…29v7s``)."""


class Tmux:
    """One private tmux server holding one session that runs one command."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.socket = f"streamdash-bench-{os.getpid()}-{name}"
        self.session = name
        self.conf = workdir / "tmux.conf"
        self.conf.write_text("set -g status off\nset -g history-limit 0\n")

    def run(self, *args: str) -> str:
        cmd = ["tmux", "-L", self.socket, "-f", str(self.conf), *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        return out.stdout

    def start(self, command: str) -> None:
        self.run(
            "new-session", "-d", "-s", self.session, "-x", str(WIDTH), "-y", str(HEIGHT), command
        )

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def pid(self) -> int:
        text = self.run("display-message", "-p", "-t", self.session, "#{pane_pid}").strip()
        if not text.isdigit():
            raise RuntimeError(f"tmux session {self.session} has no pane pid ({text!r})")
        return int(text)

    def pipe_to(self, path: Path) -> None:
        self.run("pipe-pane", "-t", self.session, "-o", f"cat >> {shlex.quote(str(path))}")

    def kill(self) -> None:
        """End the server, then make sure the pane's process has ended too (bounded:
        a process left behind would poll Prometheus through every later measurement)."""
        try:
            pid: int | None = self.pid()
        except RuntimeError:
            pid = None
        self.run("kill-server")
        if pid is None:
            return
        deadline = time.monotonic() + KILL_WAIT_S
        while time.monotonic() < deadline and running(pid):
            time.sleep(0.1)
        if running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


KILL_WAIT_S = 6.0
"""The dashboard's own exit deadline after a hangup (3 s) and some."""


def dashboard_command(
    url: str, namespace: str, refresh: str, cwd: Path, env: Mapping[str, str] | None = None
) -> str:
    """Shell command for the pane: ``exec`` so the pane pid is streamdash itself
    (``env``: extra variables, e.g. ``STREAMDASH_GC=default``)."""
    drop = "-u STREAMDASH_PROMETHEUS_URL -u PROMETHEUS_URL -u STREAMDASH_CONFIG -u STREAMDASH_GC"
    extra = [f"{k}={v}" for k, v in (env or {}).items()] + ["TERM=xterm-256color"]
    args = [str(STREAMDASH), "--prometheus-url", url, "-n", namespace, "--refresh", refresh]
    return f"cd {shlex.quote(str(cwd))} && exec env {drop} " + " ".join(
        shlex.quote(a) for a in extra + args
    )


@contextmanager
def dashboard(
    server: PrometheusServer,
    namespace: str,
    refresh: str,
    workdir: Path,
    name: str,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[Tmux, float, float]]:
    """Launch the dashboard; yield (tmux, seconds to first data frame, requests before launch)."""
    workdir.mkdir(parents=True, exist_ok=True)
    tmux = Tmux(workdir, name)
    before = server.requests_served()
    t0 = time.monotonic()
    tmux.start(dashboard_command(server.url, namespace, refresh, workdir, env))
    try:
        first = None
        text = ""
        while time.monotonic() - t0 < FIRST_FRAME_TIMEOUT_S:
            text = tmux.screen()
            if POD_RE.search(text):
                first = time.monotonic() - t0
                break
            time.sleep(POLL_S)
        if first is None:
            raise RuntimeError(
                f"no pod name on screen within {FIRST_FRAME_TIMEOUT_S:.0f} s:\n{text}"
            )
        yield tmux, first, before
    finally:
        (workdir / f"{name}-last-screen.txt").write_text(tmux.screen())
        tmux.kill()


SETTLE_WINDOW_S = 3.0
SETTLE_BOUND_S = 60.0


def _settle(pid: int, share: float) -> None:
    """Wait until ``pid`` used under ``share`` of a core over ``SETTLE_WINDOW_S``
    (at most ``SETTLE_BOUND_S``; then the run measures anyway)."""
    deadline = time.monotonic() + SETTLE_BOUND_S
    while time.monotonic() < deadline:
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(SETTLE_WINDOW_S)
        if (cpu_seconds(pid) - c0) / (time.monotonic() - t0) < share:
            return


STARTUP_BOUND_S = 120.0
"""Longest a steady run waits for the start-up's range queries (then measures anyway)."""


def requests_by_kind(server: PrometheusServer) -> tuple[float, float]:
    """(instant, range) requests Prometheus has served so far, from its own counter."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    instant = ranged = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{"):
            labels, _, value = line.rpartition("} ")
            if 'handler="/api/v1/query"' in labels:
                instant += float(value)
            elif 'handler="/api/v1/query_range"' in labels:
                ranged += float(value)
    return instant, ranged


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all threads) in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def _is_streamdash(pid: int) -> bool:
    try:
        return b"streamdash" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@dataclass(frozen=True)
class FirstFrame:
    seconds: list[float]
    queries_per_refresh: float
    """Instant queries from launch to 1.5 s after the first data frame, plus the one
    history range query (waited for, bounded)."""
    instant_per_refresh: float = 0.0
    """Instant queries alone: what a refresh without history sends."""
    history_seconds: list[float] = field(default_factory=list)
    """Launch to Prometheus counting the history range query (None-free: runs where it
    never came within the bound are left out)."""
    latency_seconds: list[float] = field(default_factory=list)
    """Launch to the latency table's first number (the early first frame shows the pods
    before the histograms answer); runs where it never came are left out."""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def first_frame(server: PrometheusServer, namespace: str, workdir: Path, runs: int) -> FirstFrame:
    """Launch ``runs`` times with a 1 h refresh so only the first refresh happens."""
    seconds, instants, ranges, history, latency = [], [], [], [], []
    for i in range(runs):
        i0, r0 = requests_by_kind(server)
        t0 = time.monotonic()
        with dashboard(server, namespace, "1h", workdir, f"first-{i}") as (tmux, first, _):
            while time.monotonic() - t0 < FIRST_FRAME_TIMEOUT_S:
                if LATENCY_RE.search(tmux.screen()):
                    latency.append(time.monotonic() - t0)
                    break
                time.sleep(POLL_S)
            time.sleep(1.5)
            instant, ranged = requests_by_kind(server)
            while ranged - r0 < 1 and time.monotonic() - t0 < FIRST_FRAME_TIMEOUT_S:
                time.sleep(0.1)
                instant, ranged = requests_by_kind(server)
            if ranged - r0 >= 1:
                history.append(time.monotonic() - t0)
            instants.append(instant - i0)
            ranges.append(ranged - r0)
            seconds.append(first)
    return FirstFrame(
        seconds=seconds,
        queries_per_refresh=statistics.median(
            [i + r for i, r in zip(instants, ranges, strict=True)]
        ),
        instant_per_refresh=statistics.median(instants),
        history_seconds=history,
        latency_seconds=latency,
    )


@dataclass(frozen=True)
class Steady:
    """A run at a fixed refresh interval, measured after a warm-up."""

    refresh: str
    seconds: float
    refreshes: float
    cpu_s: float
    terminal_bytes: int | None
    history_queries: float = 0.0
    """Range (history) queries Prometheus served during the run."""
    rss: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the measurement began, resident bytes)."""

    @property
    def cpu_per_refresh_ms(self) -> float | None:
        return 1000 * self.cpu_s / self.refreshes if self.refreshes else None

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.seconds

    @property
    def bytes_per_refresh(self) -> float | None:
        if self.terminal_bytes is None or not self.refreshes:
            return None
        return self.terminal_bytes / self.refreshes

    @property
    def rss_growth(self) -> int:
        """Last sample minus the first (after warm-up)."""
        return self.rss[-1][1] - self.rss[0][1] if self.rss else 0


def steady(
    server: PrometheusServer,
    namespace: str,
    workdir: Path,
    *,
    refresh: str,
    seconds: float,
    queries_per_refresh: float,
    warmup_s: float = 5.0,
    pipe: bool = False,
    sample_every_s: float = 2.0,
    env: Mapping[str, str] | None = None,
    label: str = "",
    settle_share: float | None = None,
) -> Steady:
    """Run the dashboard at ``refresh`` and measure CPU, refreshes, RSS (and bytes);
    ``env`` adds variables to its environment, ``label`` tells its files apart;
    ``settle_share``: also wait (bounded) until the process uses less than that share of
    a core over a few seconds, so the backfill's snapshot builds are over (for runs
    whose own cost is below it: no refresh, or a 5 s refresh).

    The warm-up lasts at least ``warmup_s`` and until the start-up's one-off work is
    over: the first chart history and the backfill of the hour before start (one range
    query per instant query of a refresh, then a snapshot built per step), which
    ``benchmarks.startup`` measures on its own; 3 s more for its builds."""
    name = f"steady-{refresh}{label}"
    _, ranged0 = requests_by_kind(server)
    start_ranges = 1 + round(queries_per_refresh)
    with dashboard(server, namespace, refresh, workdir, name, env) as (tmux, _, _):
        pid = tmux.pid()
        if not _is_streamdash(pid):
            raise RuntimeError(f"pane pid {pid} is not streamdash")
        t_launch = time.monotonic()
        time.sleep(warmup_s)
        while (
            requests_by_kind(server)[1] - ranged0 < start_ranges
            and time.monotonic() - t_launch < STARTUP_BOUND_S
        ):
            time.sleep(0.5)
        time.sleep(3.0)
        if settle_share is not None:
            _settle(pid, settle_share)
        out = workdir / f"{name}.bytes"
        out.unlink(missing_ok=True)
        if pipe:
            tmux.pipe_to(out)
        (req0, hist0), cpu0, t0 = requests_by_kind(server), cpu_seconds(pid), time.monotonic()
        rss = [(0.0, rss_bytes(pid))]
        while (elapsed := time.monotonic() - t0) < seconds:
            time.sleep(min(sample_every_s, seconds - elapsed))
            rss.append((time.monotonic() - t0, rss_bytes(pid)))
        cpu1, t1, (req1, hist1) = cpu_seconds(pid), time.monotonic(), requests_by_kind(server)
        if pipe:
            tmux.run("pipe-pane", "-t", tmux.session)  # stop piping before counting
            time.sleep(0.2)
        written = out.stat().st_size if pipe and out.exists() else (0 if pipe else None)
    return Steady(
        refresh=refresh,
        seconds=t1 - t0,
        refreshes=(req1 - req0) / queries_per_refresh,
        cpu_s=cpu1 - cpu0,
        terminal_bytes=written,
        history_queries=hist1 - hist0,
        rss=rss,
    )
