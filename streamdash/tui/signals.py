"""SIGTERM and SIGHUP end the TUI like ``q`` does, so Textual restores the terminal
(alternate screen off, mouse reporting off, cursor shown), with exit code 128 + signal.

Without this the default action kills the process mid-screen and leaves the terminal
unusable. The handlers run on the app's asyncio loop (the main thread).

A hangup usually means the terminal is gone (the SSH session or the tmux server
closed). Restoring it then writes to a dead terminal, and Textual's shutdown can block
for ever on its full output queue: seen as dashboards left running, still polling
Prometheus, after their tmux server was killed during start-up. So each signal also
starts a last-resort timer: a process still alive ``EXIT_GRACE_S`` after the signal
exits at once with the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading

from textual.app import App

SIGNALS = (signal.SIGTERM, signal.SIGHUP)
EXIT_GRACE_S = 3.0
"""How long an orderly exit may take after a signal (it takes well under 1 s)."""


def _exit(app: App[int], code: int) -> None:
    """Ask ``app`` to exit with ``code``; end the process if that has not happened in
    ``EXIT_GRACE_S`` (a daemon timer: an orderly exit ends it with the process)."""
    timer = threading.Timer(EXIT_GRACE_S, os._exit, (code,))
    timer.daemon = True
    timer.name = "streamdash-exit-deadline"
    timer.start()
    app.exit(None, code)


def exit_on_signals(app: App[int]) -> None:
    """Make each of ``SIGNALS`` exit ``app`` with return code ``128 + signum``."""
    loop = asyncio.get_running_loop()
    for signum in SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main
            loop.add_signal_handler(signum, _exit, app, 128 + signum)
