"""SIGTERM and SIGHUP end the TUI like ``q`` does, so Textual restores the terminal
(alternate screen off, mouse reporting off, cursor shown), with exit code 128 + signal.

Without this the default action kills the process mid-screen and leaves the terminal
unusable. The handlers run on the app's asyncio loop (the main thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from textual.app import App

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def exit_on_signals(app: App[int]) -> None:
    """Make each of ``SIGNALS`` exit ``app`` with return code ``128 + signum``."""
    loop = asyncio.get_running_loop()
    for signum in SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main
            loop.add_signal_handler(signum, app.exit, None, 128 + signum)
