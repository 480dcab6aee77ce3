"""Recording files: round trip, bounds, damage and crashes (a real SQLite file)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from streamdash.core.snapshot import Finding, Snapshot
from streamdash.export.json import render_json
from streamdash.record.command import parse_size
from streamdash.record.sources import open_recorded
from streamdash.record.store import (
    FORMAT,
    RecordingError,
    RecordingReader,
    RecordingWriter,
    write_recording,
)
from tests.tui.fixtures import NOW, sample_snapshot

FD = Finding("fd-exhaustion", "critical", "pod-a", "pod-a at 97 % of its FD limit")


def _snaps(n: int, start: float = NOW) -> list[Snapshot]:
    base = sample_snapshot()
    return [
        replace(base, taken_at=start + 5 * i, findings=(FD,) if i % 2 else ()) for i in range(n)
    ]


def test_snapshots_come_back_exactly_with_their_findings_and_times(tmp_path: Path) -> None:
    path = tmp_path / "night.sdrec"
    snaps = _snaps(4)
    assert write_recording(path, snaps, source="test") == 4
    reader = RecordingReader(path)
    assert reader.meta["format"] == FORMAT
    assert reader.meta["snapshot_schema"] == "streamdash.snapshot/v1"
    assert reader.meta["source"] == "test"
    assert [f.taken_at for f in reader.frames] == [s.taken_at for s in snaps]
    assert [[x.id for x in f.findings] for f in reader.frames] == [[], [FD.id], [], [FD.id]]
    for i, s in enumerate(snaps):
        assert render_json(reader.snapshot(i)) == render_json(s)
    reader.close()


def test_a_session_write_never_replaces_a_file(tmp_path: Path) -> None:
    path = tmp_path / "x.sdrec"
    path.write_text("keep me")
    with pytest.raises(RecordingError, match="already exists"):
        write_recording(path, _snaps(1))
    assert path.read_text() == "keep me"


def test_max_size_drops_the_oldest_first_and_the_file_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "bounded.sdrec"
    limit = 160 * 1024
    writer = RecordingWriter(path, max_bytes=limit)
    snaps = _snaps(400)
    for s in snaps:
        writer.append(s)
    writer.close()
    reader = RecordingReader(path)
    kept = len(reader)
    assert 0 < kept < 400
    assert writer.dropped == 400 - kept
    # the newest are kept, in order, with nothing missing in between
    assert [f.taken_at for f in reader.frames] == [s.taken_at for s in snaps[-kept:]]
    reader.close()
    size = path.stat().st_size + sum(
        p.stat().st_size for p in tmp_path.glob("bounded.sdrec-*") if p.exists()
    )
    assert size <= limit * 1.25, size


def test_retention_drops_what_is_older_than_the_newest_minus_retention(tmp_path: Path) -> None:
    path = tmp_path / "r.sdrec"
    writer = RecordingWriter(path, retention_seconds=60)
    for s in _snaps(40):  # 5 s apart: 195 s in all
        writer.append(s)
    writer.close()
    reader = RecordingReader(path)
    times = [f.taken_at for f in reader.frames]
    assert times[-1] - times[0] == 60
    assert len(times) == 13
    reader.close()


def test_a_writer_continues_an_existing_recording(tmp_path: Path) -> None:
    path = tmp_path / "c.sdrec"
    first = RecordingWriter(path)
    for s in _snaps(3):
        first.append(s)
    first.close()
    second = RecordingWriter(path)
    assert second.count == 3
    for s in _snaps(2, start=NOW + 100):
        second.append(s)
    second.close()
    assert len(RecordingReader(path)) == 5


def test_not_a_recording_is_one_line(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    for path, message in (
        (other, "not a streamdash recording"),
        (junk, "neither a streamdash recording nor a JSON snapshot"),
        (tmp_path / "missing", "no such file"),
    ):
        with pytest.raises(RecordingError, match=message) as info:
            open_recorded(path)
        assert "\n" not in str(info.value)


def test_a_newer_format_version_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "future.sdrec"
    write_recording(path, _snaps(1))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
    conn.commit()
    conn.close()
    with pytest.raises(RecordingError, match="newer than this streamdash reads"):
        RecordingReader(path)


def test_a_damaged_body_names_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "d.sdrec"
    write_recording(path, _snaps(2))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE snapshots SET body = x'00ff' WHERE id = 2")
    conn.commit()
    conn.close()
    reader = RecordingReader(path)
    reader.snapshot(0)
    with pytest.raises(RecordingError, match="snapshot 2 is damaged"):
        reader.snapshot(1)


def test_json_files_and_directories_open_in_time_order(tmp_path: Path) -> None:
    snaps = _snaps(3)
    for i, s in enumerate(reversed(snaps)):
        (tmp_path / f"s{i}.json").write_text(render_json(s))
    rec = open_recorded(tmp_path)
    assert [f.taken_at for f in rec.frames] == [s.taken_at for s in snaps]
    one = open_recorded(tmp_path / "s0.json")
    assert len(one) == 1


def test_sigkill_inside_a_write_loses_only_that_snapshot(tmp_path: Path) -> None:
    """The child writes 5 snapshots, then SIGKILLs itself after the 6th insert and before
    its commit: the file reopens with exactly the 5, each intact, and accepts more."""
    path = tmp_path / "killed.sdrec"
    code = textwrap.dedent(
        f"""
        import os, signal, sqlite3
        from dataclasses import replace
        from streamdash.record.store import RecordingWriter
        from tests.tui.fixtures import sample_snapshot
        w = RecordingWriter({str(path)!r})
        base = sample_snapshot()
        for i in range(5):
            w.append(replace(base, taken_at=base.taken_at + i))
        real = w._conn
        class Dying:
            def __init__(self, conn): self.conn = conn
            def execute(self, sql, *a):
                if sql == "COMMIT":
                    os.kill(os.getpid(), signal.SIGKILL)
                return self.conn.execute(sql, *a)
            def __getattr__(self, name): return getattr(self.conn, name)
        w._conn = Dying(real)
        w.append(replace(base, taken_at=base.taken_at + 5))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parents[2], timeout=60, check=False
    )
    assert proc.returncode == -signal.SIGKILL
    reader = RecordingReader(path)
    assert len(reader) == 5
    for i in range(5):
        assert reader.snapshot(i).taken_at == NOW + i
    reader.close()
    writer = RecordingWriter(path)
    writer.append(_snaps(1, start=NOW + 50)[0])
    writer.close()
    assert len(RecordingReader(path)) == 6
    assert os.path.exists(path)


@pytest.mark.parametrize(("text", "n"), [("4096", 4096), ("2K", 2048), ("1.5GiB", 1610612736)])
def test_sizes(text: str, n: int) -> None:
    assert parse_size(text) == n


def test_the_writer_never_adds_its_tables_to_another_database(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (x)")
    conn.commit()
    conn.close()
    with pytest.raises(RecordingError, match="not a streamdash recording"):
        RecordingWriter(other)
    conn = sqlite3.connect(other)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert names == {"users"}
