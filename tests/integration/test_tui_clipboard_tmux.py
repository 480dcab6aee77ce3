"""``y`` over a terminal: the demo in tmux with ``set-clipboard on``; the OSC 52 the app
writes lands in a tmux paste buffer (what a local terminal gets through SSH + tmux)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.tmux]

SOCKET = f"streamdash-clip-{os.getpid()}"


def tmux(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = ["tmux", "-L", SOCKET, "-f", "/dev/null", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10)


def wait_screen(needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = tmux("capture-pane", "-p", "-t", SOCKET).stdout
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"screen never showed {needle!r}; last screen:\n{text}")


def buffer(timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = tmux("show-buffer")
        if out.returncode == 0 and out.stdout:
            return out.stdout
        time.sleep(0.2)
    raise AssertionError("no tmux paste buffer: the OSC 52 never arrived")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[None]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (./scripts/test installs it)")
    exe = Path(sys.executable).with_name("streamdash")
    cmd = f"cd {shlex.quote(str(tmp_path))} && TERM=screen-256color {shlex.quote(str(exe))} demo"
    tmux("new-session", "-d", "-s", SOCKET, "-x", "80", "-y", "24", cmd)
    tmux("set-option", "-g", "set-clipboard", "on")
    try:
        yield
    finally:
        tmux("kill-server")


def test_y_on_a_finding_puts_its_promql_and_advice_in_the_tmux_buffer(demo: None) -> None:
    wait_screen("critical")
    tmux("send-keys", "-t", SOCKET, "5")
    wait_screen("5 Findings ·")
    assert tmux("show-buffer").returncode != 0  # nothing copied yet
    tmux("send-keys", "-t", SOCKET, "y")
    wait_screen("copied")
    text = buffer()
    first = text.splitlines()[0]
    assert first.startswith("# ") and " · " in first
    assert "# Advice: " in text
    tmux("send-keys", "-t", SOCKET, "enter")
    detail = wait_screen("Evidence")
    tmux("delete-buffer")
    tmux("send-keys", "-t", SOCKET, "y")
    finding_id = buffer().splitlines()[0].split()[1]
    assert f"{finding_id} · " in detail  # the detail screen copies its own finding
