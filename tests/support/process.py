"""Start a real server process on loopback and wait, bounded, until it answers.

``start_until_ready`` launches ``args`` with stdout and stderr appended to a log file
and polls a readiness URL until it answers HTTP 200; when the process exits first or
the deadline passes, it stops the process and raises the caller's error type with the
log's tail. ``stop`` ends a process (SIGTERM, SIGKILL after 10 s), safe on None.
``running`` tells whether a pid still runs (a zombie does not).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (it may be taken before it is bound: callers
    retry on ``address already in use``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def running(pid: int) -> bool:
    """``pid`` is alive and not a zombie (a process whose parent died may wait to be
    reaped by a PID 1 that never reaps)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path``, or ``(no output)``."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop ``proc`` (SIGTERM, then SIGKILL after 10 s); nothing when it is None or gone."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start_until_ready(
    args: Sequence[str],
    *,
    log_file: Path,
    ready_url: str,
    timeout_s: float,
    error: Callable[[str], Exception],
    name: str,
) -> subprocess.Popen[bytes]:
    """``args`` running, once GET ``ready_url`` answered 200 within ``timeout_s``.

    Raises ``error(message)`` with the log's tail when the process exits before that
    (``<name> exited with code N``) or the deadline passes (``<name> not ready``; the
    process is stopped first)."""
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(args), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise error(
                f"{name} exited with code {proc.returncode} before becoming ready on "
                f"{ready_url}; output tail:\n{tail(log_file)}"
            )
        try:
            with urllib.request.urlopen(ready_url, timeout=1.0) as resp:
                if resp.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    stop(proc)
    raise error(
        f"{name} not ready on {ready_url} within {timeout_s:.0f} s; output tail:\n{tail(log_file)}"
    )
