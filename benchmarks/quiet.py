"""Terminal bytes and CPU of the real TUI under a pseudo-terminal, with scripted data.

``python -m benchmarks.quiet [--pods 1000] [--seconds 20] [--change 0.0]`` runs
``StreamdashApp`` in a child process on a 160x50 pty, fed by a refresher that returns a
synthetic ``pods``-pod snapshot every second: ``--change 0`` is a quiet refresh (only
``taken_at`` moves), ``--change 0.05`` changes that share of pod rows each refresh.
Prints bytes written to the terminal and CPU seconds per refresh after a warm-up (the
no-Prometheus complement of ``benchmarks/tui.py``: it isolates the TUI's own cost).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pty
import random
import select
import signal
import struct
import sys
import termios
import time
from fcntl import ioctl

WIDTH, HEIGHT = 160, 50


def _child(pods: int, change: float, refresh_s: float) -> None:
    from streamdash.core.snapshot import PodRow
    from streamdash.settings import Settings
    from streamdash.tui.app import StreamdashApp
    from tests.tui.fixtures import NOW, sample_history, sample_snapshot

    rng = random.Random(13)
    base = tuple(
        PodRow(
            pod=f"llama-serve-7d9f-{i:05d}",
            open_connections=float(40 + i % 50),
            open_fds=float(100 + i % 900),
            max_fds=1024.0,
            fd_utilization=(100 + i % 900) / 1024,
            cpu_cores=0.1 + (i % 7) / 50,
            in_flight=float(i % 40),
            ttft_p99=0.3 + (i % 11) / 10,
            stream_p99=20 + i % 30,
        )
        for i in range(pods)
    )

    class Scripted:
        def __init__(self) -> None:
            self.n = 0
            self.rows = list(base)

        def refresh(self, window_seconds: int) -> object:
            self.n += 1
            if change > 0:
                for i in rng.sample(range(pods), max(1, int(change * pods))):
                    row = self.rows[i]
                    self.rows[i] = dataclasses.replace(row, in_flight=(row.in_flight or 0) + 1)
            snap = sample_snapshot(now=NOW, pods=tuple(self.rows), history=sample_history())
            if change > 0:  # the fleet's numbers move too, as a real refresh's do
                ttft = dataclasses.replace(snap.latency["ttft"], p99=2.9 + self.n / 100)
                snap = dataclasses.replace(snap, latency={**snap.latency, "ttft": ttft})
            return dataclasses.replace(snap, taken_at=NOW + self.n * refresh_s)

        def pod_history(self, pod: str, window_seconds: int) -> None:
            return None

        def describe(self) -> str:
            return "scripted"

        def close(self) -> None:
            pass

    settings = dataclasses.replace(Settings(), refresh_seconds=refresh_s)
    app = StreamdashApp(settings, Scripted(), clock=lambda: NOW + 1)  # type: ignore[arg-type]
    app.run()


def measure(
    pods: int, seconds: float, change: float, warmup: float = 4.0, dump: str | None = None
) -> dict[str, float]:
    """Run the child on a pty; bytes and CPU after ``warmup`` seconds, per refresh (1 s)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ["TERM"] = "xterm-256color"
        os.environ.pop("TEXTUAL", None)
        try:
            _child(pods, change, 1.0)
        finally:
            os._exit(0)
    ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    os.kill(pid, signal.SIGWINCH)

    out = open(dump, "wb") if dump else None  # noqa: SIM115 (closed below)

    def drain(until: float, keep: bool = False) -> int:
        total = 0
        while (left := until - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                total += len(chunk)
                if keep and out is not None:
                    out.write(chunk)
        return total

    drain(time.monotonic() + warmup)
    cpu0 = _cpu(pid)
    written = drain(time.monotonic() + seconds, keep=True)
    cpu1 = _cpu(pid)
    os.kill(pid, signal.SIGTERM)
    drain(time.monotonic() + 0.5)
    os.waitpid(pid, 0)
    if out is not None:
        out.close()
    return {
        "pods": pods,
        "change": change,
        "seconds": seconds,
        "bytes_per_refresh": written / seconds,
        "cpu_ms_per_refresh": 1000 * (cpu1 - cpu0) / seconds,
    }


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quiet", description=__doc__)
    p.add_argument("--pods", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--change", type=float, default=0.0)
    p.add_argument("--dump", help="write the measured bytes to this file")
    args = p.parse_args(argv)
    print(json.dumps(measure(args.pods, args.seconds, args.change, dump=args.dump)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
