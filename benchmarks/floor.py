"""The idle floor: a trivial Textual app's own CPU in tmux at 160x50, beside the TUI.

``python -m benchmarks.floor [--seconds 30]`` runs ``python -m benchmarks.floor --app``
(one ``Static`` and a ``Footer``, updated every 5 s with the time, as a dashboard's
quietest refresh would) in a private tmux server and reports its CPU share over the run
after a warm-up: what Textual itself costs when nothing changes on screen; and the
seconds from launch to its first frame (the clock on screen): the floor of the
dashboard's first frame on the same machine (Python, Textual's import, one paint).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.tui import Tmux, cpu_seconds


def _app() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Static

    class Trivial(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("", id="line")
            yield Footer()

        def on_mount(self) -> None:
            self.set_interval(5.0, self.tick)
            self.tick()

        def tick(self) -> None:
            self.query_one("#line", Static).update(time.strftime("%H:%M:%S"))

    Trivial().run()


CLOCK_RE = re.compile(r"\b\d\d:\d\d:\d\d\b")
FIRST_FRAME_TIMEOUT_S = 30.0


def measure(seconds: float, warmup: float = 5.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmux = Tmux(Path(tmp), "floor")
        command = " ".join(
            shlex.quote(a) for a in (sys.executable, "-m", "benchmarks.floor", "--app")
        )
        cwd = shlex.quote(str(Path(__file__).resolve().parent.parent))
        launched = time.monotonic()
        tmux.start(f"cd {cwd} && exec env TERM=xterm-256color {command}")
        try:
            first = float("nan")
            while time.monotonic() - launched < FIRST_FRAME_TIMEOUT_S:
                if CLOCK_RE.search(tmux.screen()):
                    first = time.monotonic() - launched
                    break
                time.sleep(0.05)
            time.sleep(max(0.0, warmup - (time.monotonic() - launched)))
            pid = tmux.pid()
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = cpu_seconds(pid), time.monotonic()
        finally:
            tmux.kill()
    return {
        "seconds": t1 - t0,
        "cpu_s": cpu1 - cpu0,
        "cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "first_frame_s": first,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.app:
        _app()
        return 0
    print(json.dumps(measure(args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
