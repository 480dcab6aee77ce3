"""Recording files: Snapshots in one SQLite file (stdlib ``sqlite3``).

File format ``streamdash.recording`` version 1 (documented in the README, "Recordings"):

- ``meta(key TEXT PRIMARY KEY, value TEXT)``: ``format`` = ``streamdash.recording``,
  ``format_version`` = ``1``, ``snapshot_schema`` = ``streamdash.snapshot/v1``,
  ``created_at`` (RFC 3339), ``max_bytes`` / ``retention_seconds`` (empty = unbounded),
  ``source`` (one line, no credentials).
- ``snapshots(id INTEGER PRIMARY KEY AUTOINCREMENT, taken_at REAL, size INTEGER,
  findings TEXT, body BLOB)`` with index ``snapshots_by_time(taken_at)``. ``body`` is
  the zlib-compressed UTF-8 JSON of the snapshot exactly as ``streamdash snapshot
  --format json`` writes it; ``findings`` is a JSON list of ``[id, severity, subject,
  summary]`` (so a timeline needs no decompression); ``chart`` a JSON object of the
  charts' series values then (``ttft_p99``, ``stream_p99``, ``replicas``,
  ``cpu_implied_replicas``; null = unknown) so replay draws the charts without
  decompressing an hour of snapshots; ``size`` is the file bytes the row takes
  (``row_cost``), what ``max_bytes`` counts.

Durability: WAL journal, ``synchronous=FULL``, one transaction per snapshot (insert and
the pruning it causes), so a crash, SIGKILL or full disk loses at most the snapshot
being written. Size: when ``max_bytes`` is set the oldest snapshots are deleted first
so the stored bodies stay within it (SQLite reuses the freed pages, so the file stays
near that size); ``retention_seconds`` drops snapshots older than that before the newest.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamdash.core.history import chart_values
from streamdash.core.snapshot import SCHEMA, Finding, Snapshot
from streamdash.export.json import iso, render_json
from streamdash.export.load import SnapshotLoadError, loads_snapshot

FORMAT = "streamdash.recording"
FORMAT_VERSION = 1
OVERHEAD_BYTES = 64 * 1024
"""Room kept under ``max_bytes`` for SQLite's own pages (schema, index, free lists)."""

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at REAL NOT NULL,
    size INTEGER NOT NULL,
    findings TEXT NOT NULL,
    chart TEXT NOT NULL DEFAULT '{}',
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_by_time ON snapshots (taken_at);
"""


class RecordingError(Exception):
    """A recording cannot be opened, read or written; ``str()`` is one line."""


@dataclass(frozen=True)
class Frame:
    """One recorded instant: when, the findings then (without evidence), chart values."""

    taken_at: float
    findings: tuple[Finding, ...]
    chart: Mapping[str, float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, snapshot: Snapshot) -> Frame:
        return cls(snapshot.taken_at, snapshot.findings, chart_values(snapshot))


ROW_HEADER_BYTES = 64
"""A row's own bytes besides its columns' (record header, cell pointer, rowid)."""


def row_cost(row_bytes: int, page_size: int) -> int:
    """The file bytes one row takes: a share of a page when several fit one, whole pages
    (overflow pages included) when it does not — so ``max_bytes`` bounds the file, not
    only the bodies."""
    usable = max(1, page_size - 100)
    if row_bytes <= usable:
        return page_size // max(1, usable // row_bytes)
    return page_size * -(-row_bytes // usable)


def findings_column(findings: Sequence[Finding]) -> str:
    """The ``findings`` column: ``[[id, severity, subject, summary], ...]``."""
    return json.dumps(
        [[f.id, f.severity, f.subject, f.summary] for f in findings], ensure_ascii=False
    )


def chart_column(snapshot: Snapshot) -> str:
    """The ``chart`` column: the charts' series values of ``snapshot`` (null = unknown)."""
    values = {
        k: None if v is None or not math.isfinite(v) else v
        for k, v in chart_values(snapshot).items()
    }
    return json.dumps(values)


def _chart(text: str) -> dict[str, float | None]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("chart is not an object")
    return {str(k): None if v is None else float(v) for k, v in data.items()}


def _findings(text: str) -> tuple[Finding, ...]:
    rows = json.loads(text)
    return tuple(Finding(id=r[0], severity=r[1], subject=r[2], summary=r[3]) for r in rows)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _fail(path: Path, doing: str, exc: Exception) -> RecordingError:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "database or disk is full" in message:
        message = "the disk is full"
    return RecordingError(f"{path}: cannot {doing}: {message}")


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    if "meta" not in _tables(conn):
        return {}
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def _check_meta(path: Path, meta: dict[str, str]) -> None:
    if meta.get("format") != FORMAT:
        raise RecordingError(f"{path}: not a streamdash recording (no format {FORMAT!r})")
    version = meta.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise RecordingError(
            f"{path}: recording format version {version!r} is newer than this streamdash "
            f"reads ({FORMAT_VERSION}); upgrade streamdash"
        )


class RecordingWriter:
    """Appends snapshots to a recording (creating it, or continuing an existing one)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int | None = None,
        retention_seconds: float | None = None,
        source: str = "",
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.retention_seconds = retention_seconds
        try:
            self._conn = _connect(path)
            if _tables(self._conn) and not _meta(self._conn):
                raise RecordingError(f"{path}: not a streamdash recording (no format {FORMAT!r})")
            self._conn.executescript(_SCHEMA_SQL)
            self._page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            meta = _meta(self._conn)
            if meta:
                _check_meta(path, meta)
            else:
                self._write_meta(source)
            row = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM snapshots")
            self.count, self.stored_bytes = row.fetchone()
        except sqlite3.Error as exc:
            raise _fail(path, "open the recording", exc) from None
        self.dropped = 0

    def _write_meta(self, source: str) -> None:
        import time

        values = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "snapshot_schema": SCHEMA,
            "created_at": iso(time.time()),
            "max_bytes": "" if self.max_bytes is None else str(self.max_bytes),
            "retention_seconds": ""
            if self.retention_seconds is None
            else f"{self.retention_seconds:g}",
            "source": source,
        }
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT INTO meta VALUES (?, ?)", values.items())

    def append(self, snapshot: Snapshot) -> int:
        """Store ``snapshot`` in one transaction; return how many old ones were dropped."""
        body = zlib.compress(render_json(snapshot).encode("utf-8"), 6)
        findings, chart = findings_column(snapshot.findings), chart_column(snapshot)
        budget = None if self.max_bytes is None else max(0, self.max_bytes - OVERHEAD_BYTES)
        conn = self._conn
        row_bytes = len(body) + len(findings) + len(chart) + ROW_HEADER_BYTES
        cost = row_cost(row_bytes, self._page_size)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO snapshots (taken_at, size, findings, chart, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (snapshot.taken_at, cost, findings, chart, body),
            )
            stored, count, dropped = self.stored_bytes + cost, self.count + 1, 0
            if self.retention_seconds is not None:
                cut = snapshot.taken_at - self.retention_seconds
                old = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM snapshots WHERE taken_at < ?",
                    (cut,),
                ).fetchone()
                conn.execute("DELETE FROM snapshots WHERE taken_at < ?", (cut,))
                stored, count, dropped = stored - old[1], count - old[0], old[0]
            while budget is not None and stored > budget and count > 1:
                oldest = conn.execute(
                    "SELECT id, size FROM snapshots ORDER BY id LIMIT 64"
                ).fetchall()
                for row_id, size in oldest:
                    if stored <= budget or count <= 1:
                        break
                    conn.execute("DELETE FROM snapshots WHERE id = ?", (row_id,))
                    stored, count, dropped = stored - size, count - 1, dropped + 1
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _fail(self.path, "write a snapshot", exc) from None
        self.stored_bytes, self.count = stored, count
        self.dropped += dropped
        return dropped

    def close(self) -> None:
        """Checkpoint the WAL into the file and close it."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a checkpoint is an optimisation: the WAL is read on the next open
        finally:
            self._conn.close()


def write_recording(path: Path, snapshots: Sequence[Snapshot], source: str = "") -> int:
    """Write ``snapshots`` to a new recording at ``path``; return how many were written.
    Refuses to add to an existing file (a session write never mixes two sessions)."""
    if path.exists():
        raise RecordingError(f"{path}: a file with that name already exists")
    writer = RecordingWriter(path, source=source)
    try:
        for snapshot in snapshots:
            writer.append(snapshot)
    finally:
        writer.close()
    return len(snapshots)


class RecordingReader:
    """Reads a recording: the frames (times and findings) at once, snapshots on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise RecordingError(f"{path}: no such file")
        try:
            # the TUI reads from its worker thread: one connection, used under a lock
            self._conn = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False)
            self.meta = _meta(self._conn)
            _check_meta(path, self.meta)
            rows = self._conn.execute(
                "SELECT id, taken_at, findings, chart FROM snapshots ORDER BY taken_at, id"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _fail(path, "read the recording", exc) from None
        self.ids: list[int] = [r[0] for r in rows]
        self._lock = threading.Lock()
        try:
            self.frames: list[Frame] = [Frame(r[1], _findings(r[2]), _chart(r[3])) for r in rows]
        except (ValueError, IndexError, TypeError) as exc:
            raise RecordingError(f"{path}: a findings or chart column is damaged: {exc}") from None

    def __len__(self) -> int:
        return len(self.ids)

    def snapshot(self, index: int) -> Snapshot:
        """The snapshot at ``index`` (0 = oldest), decompressed and loaded."""
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT body FROM snapshots WHERE id = ?", (self.ids[index],)
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise _fail(self.path, "read a snapshot", exc) from None
        if row is None:
            raise RecordingError(f"{self.path}: snapshot {index + 1} was dropped meanwhile")
        try:
            return loads_snapshot(zlib.decompress(row[0]))
        except (zlib.error, SnapshotLoadError) as exc:
            raise RecordingError(f"{self.path}: snapshot {index + 1} is damaged: {exc}") from None

    def close(self) -> None:
        self._conn.close()
