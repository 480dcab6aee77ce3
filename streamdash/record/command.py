"""``streamdash record FILE``: headless, appends one Snapshot per interval to a recording.

Stops after ``--duration`` or on SIGINT/SIGTERM (exit 0, the recording closed cleanly).
A failed write (full disk) is one line on stderr; recording goes on, and the exit code
is 1 when the last write failed. Source failures are recorded like live data: the
snapshot says what failed (``errors``, ``stale``).
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from streamdash import format as fmt
from streamdash.record.store import RecordingError, RecordingWriter
from streamdash.refresh import Refresher
from streamdash.settings import Settings

DEFAULT_MAX_BYTES = 1024**3
"""``--max-size`` when not given: 1 GiB (about a week at 5 s for a small fleet)."""
MIN_EVERY_SECONDS = 0.1
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``500M``, ``2G``, ``1.5GiB``, ``4096`` (bytes) -> bytes (powers of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 500M, 2G)")
    unit = "_kmgt".index(match.group(2).lower() or "_")
    return int(float(match.group(1)) * 1024**unit)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def start_line(
    path: Path, source: str, every: float, duration: float | None, writer: RecordingWriter
) -> str:
    """What the recorder says when it starts: where, what, how often, how long, bounds."""
    until = f"for {fmt.seconds(duration)}" if duration else "until SIGINT/SIGTERM"
    bounds = []
    if writer.max_bytes is not None:
        bounds.append(f"at most {_size(writer.max_bytes)}")
    if writer.retention_seconds is not None:
        bounds.append(f"the last {fmt.seconds(writer.retention_seconds)}")
    kept = " and ".join(bounds) if bounds else "everything (no size bound)"
    resumed = f"; continuing after {writer.count} snapshots" if writer.count else ""
    return (
        f"streamdash: recording {source} to {path} every {fmt.seconds(every)} {until}; "
        f"keeps {kept}, oldest snapshots dropped first{resumed}"
    )


def run_record(
    settings: Settings,
    path: Path,
    *,
    every: float | None,
    duration: float | None,
    max_bytes: int | None,
    retention_seconds: float | None,
) -> int:
    """Record until ``duration`` has passed or a signal arrives; see module contract."""
    from streamdash.live import LiveRefresher

    every = max(MIN_EVERY_SECONDS, every if every is not None else settings.refresh_seconds)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    refresher = LiveRefresher(settings, with_history=False)
    try:
        source = refresher.describe()
        try:
            writer = RecordingWriter(
                path, max_bytes=max_bytes, retention_seconds=retention_seconds, source=source
            )
        except RecordingError as exc:
            print(f"streamdash: {exc}", file=sys.stderr)
            return 2
        print(start_line(path, source, every, duration, writer), file=sys.stderr, flush=True)
        return _loop(refresher, writer, settings, every, duration, stop)
    finally:
        refresher.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _loop(
    refresher: Refresher,
    writer: RecordingWriter,
    settings: Settings,
    every: float,
    duration: float | None,
    stop: threading.Event,
) -> int:
    started = time.monotonic()
    deadline = None if duration is None else started + duration
    written, failed, last_error = 0, False, ""
    next_at = started
    try:
        while not stop.is_set():
            snapshot = refresher.refresh(settings.window_seconds)
            try:
                writer.append(snapshot)
                written += 1
                failed = False
            except RecordingError as exc:
                failed = True
                if str(exc) != last_error:
                    print(f"streamdash: {exc}", file=sys.stderr, flush=True)
                last_error = str(exc)
            next_at += every
            now = time.monotonic()
            if next_at < now:  # a slow refresh: start the next one now, not a burst
                next_at = now
            if deadline is not None and next_at >= deadline:
                break
            stop.wait(next_at - now)
    finally:
        writer.close()
    dropped = f", {writer.dropped} old ones dropped" if writer.dropped else ""
    print(
        f"streamdash: recorded {written} snapshots to {writer.path} "
        f"({writer.count} in the file{dropped})",
        file=sys.stderr,
    )
    return 1 if failed else 0
