"""What ``streamdash replay`` opens: a recording file, one exported JSON snapshot, or a
directory of them. Each is a ``Recorded``: frames (time + findings) in time order, and
the full snapshot of any frame on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from streamdash.core.snapshot import Snapshot
from streamdash.export.load import SnapshotLoadError, loads_snapshot
from streamdash.record.store import Frame, RecordingError, RecordingReader

SQLITE_MAGIC = b"SQLite format 3\x00"


class Recorded(Protocol):
    """Snapshots over time, oldest first."""

    frames: list[Frame]

    def __len__(self) -> int: ...

    def snapshot(self, index: int) -> Snapshot: ...

    def close(self) -> None: ...


class SnapshotList:
    """Snapshots held in memory (JSON files, or the TUI's own session)."""

    def __init__(self, snapshots: list[Snapshot]) -> None:
        self.snapshots = sorted(snapshots, key=lambda s: s.taken_at)
        self.frames = [Frame.of(s) for s in self.snapshots]

    def __len__(self) -> int:
        return len(self.snapshots)

    def snapshot(self, index: int) -> Snapshot:
        return self.snapshots[index]

    def close(self) -> None:
        """Nothing to release."""


def _json_file(path: Path) -> Snapshot:
    try:
        return loads_snapshot(path.read_bytes())
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except SnapshotLoadError as exc:
        raise RecordingError(f"{path}: {exc}") from None


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def open_recorded(path: Path) -> Recorded:
    """A recording, a JSON snapshot or a directory of JSON snapshots (``*.json``, in time
    order); ``RecordingError`` (one line) when it is none of these or holds nothing."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise RecordingError(f"{path}: no *.json snapshots in this directory")
        return SnapshotList([_json_file(f) for f in files])
    if not path.exists():
        raise RecordingError(f"{path}: no such file or directory")
    if _is_sqlite(path):
        reader = RecordingReader(path)
        if not len(reader):
            reader.close()
            raise RecordingError(f"{path}: the recording holds no snapshots yet")
        return reader
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()[:1]
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head != b"{":
        raise RecordingError(f"{path}: neither a streamdash recording nor a JSON snapshot")
    return SnapshotList([_json_file(path)])
