"""Drive a program in tmux like a person: its own server socket, no user config.

``Tmux(name)`` runs tmux with ``-L name -f /dev/null``: ``run`` any tmux command,
``screen`` the pane's text, ``press`` keys one at a time (a short pause after each, as
typed), ``wait_for`` until the screen satisfies a predicate (bounded; the assertion
shows the last screen). The session is named like the socket.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

PRESS_PAUSE_S = 0.15
POLL_S = 0.2


class Tmux:
    """One tmux server (socket ``name``) holding one session of the same name."""

    def __init__(self, name: str) -> None:
        self.session = name

    def run(self, *args: str) -> str:
        """stdout of ``tmux <args>`` on this server (bounded at 10 s)."""
        cmd = ["tmux", "-L", self.session, "-f", "/dev/null", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        """The visible text of the session's pane."""
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
        """The first screen ``predicate`` accepts; AssertionError naming ``what`` after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(POLL_S)
        raise AssertionError(f"screen never showed {what}; last screen:\n{text}")

    def press(self, *keys: str) -> None:
        """Send each of ``keys`` (tmux key names or text) as one keystroke."""
        for key in keys:
            self.run("send-keys", "-t", self.session, key)
            time.sleep(PRESS_PAUSE_S)
