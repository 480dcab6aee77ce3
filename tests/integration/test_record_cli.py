"""`streamdash record` as a process: clean exit on SIGTERM, survival of SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamdash.record.store import RecordingReader, RecordingWriter
from tests.tui.fixtures import sample_snapshot

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _record(path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMDASH_")}
    return subprocess.Popen(
        [sys.executable, "-m", "streamdash", "record", str(path), "--demo", "healthy", *extra],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def _committed(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(path, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _wait_for(path: Path, n: int, proc: subprocess.Popen[str], limit: float = 60) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        count = _committed(path)
        if count >= n:
            return count
        time.sleep(0.05)
    raise AssertionError(f"no {n} snapshots within {limit} s (exit {proc.poll()})")


def test_sigterm_stops_cleanly_and_says_what_it_kept(tmp_path: Path) -> None:
    path = tmp_path / "night.sdrec"
    proc = _record(path, "--every", "0.2s", "--max-size", "50M")
    try:
        _wait_for(path, 2, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = err.strip().splitlines()
    assert "recording scrape: 18 targets to" in lines[0]
    assert "every 200 ms until SIGINT/SIGTERM; keeps at most 50 MiB" in lines[0]
    assert "oldest snapshots dropped first" in lines[0]
    assert lines[-1].startswith("streamdash: recorded ")
    assert "Traceback" not in err
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    reader = RecordingReader(path)
    assert len(reader) >= 2
    for i in range(len(reader)):
        assert reader.snapshot(i).source.kind == "scrape"


def test_sigkill_mid_recording_keeps_every_committed_snapshot(tmp_path: Path) -> None:
    """Killed three times while writing 5 snapshots a second: each time the file reopens
    with at least every snapshot committed before the kill, all intact, and the next
    recorder continues it."""
    path = tmp_path / "killed.sdrec"
    before = 0
    for round_ in range(3):
        proc = _record(path, "--every", "0.1s")
        try:
            seen = _wait_for(path, before + 3, proc)
            time.sleep(0.05 * round_)  # land the kill at different points of a write
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            proc.kill()
            if proc.stderr:
                proc.stderr.close()
        reader = RecordingReader(path)
        assert len(reader) >= seen
        times = [f.taken_at for f in reader.frames]
        assert times == sorted(times)
        for i in range(len(reader)):
            assert reader.snapshot(i).schema == "streamdash.snapshot/v1"
        before = len(reader)
        reader.close()
    writer = RecordingWriter(path)
    writer.append(sample_snapshot(now=time.time()))
    writer.close()
    assert len(RecordingReader(path)) == before + 1


def test_record_without_a_source_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMDASH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "streamdash", "record", str(tmp_path / "x.sdrec")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("streamdash: no source")
    assert len(proc.stderr.strip().splitlines()) == 1
