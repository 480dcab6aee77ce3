"""Writing exports: atomic (temp file + rename), never overwriting, one-line errors."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from datetime import datetime
from pathlib import Path


class ExportError(Exception):
    """An export could not be written; ``str()`` is one line naming the path and why."""


def export_name(now: datetime, suffix: str = "md") -> str:
    """``streamdash-snapshot-YYYYMMDD-HHMMSS.<suffix>``."""
    return f"streamdash-snapshot-{now:%Y%m%d-%H%M%S}.{suffix}"


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the directory is not writable"
    if exc.errno == errno.ENOENT:
        return "the directory does not exist"
    return exc.strerror or str(exc)


_NO_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}
)
"""``link`` errors that mean "this filesystem has no hard links", not "not writable"."""


def _write_exclusive(path: Path, text: str) -> None:
    """Create ``path`` (never replacing one) and write ``text``; remove it on failure."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def write_new_file(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; refuse to replace an existing file.

    The text goes to a temp file in the same directory, is fsynced, then hard-linked
    into place (``link`` fails if ``path`` exists, so a concurrent writer cannot be
    overwritten either). On a filesystem without hard links (FAT, some network and FUSE
    mounts) the file is created exclusively (``O_EXCL``) and written in place instead.
    On any failure no partial file is left behind.
    """
    directory = path.parent
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".streamdash-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp_name, path)
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            _write_exclusive(path, text)
    except FileExistsError as exc:
        raise ExportError(f"cannot write {path}: a file with that name already exists") from exc
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {_reason(exc)}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return path


def write_export(text: str, directory: Path, now: datetime, suffix: str = "md") -> Path:
    """Write an export named for ``now`` into ``directory``; a second export in the same
    second gets ``-2``, ``-3``... instead of overwriting. Returns the path written."""
    base = export_name(now, suffix)
    stem, ext = base.rsplit(".", 1)
    for n in range(1, 100):
        name = base if n == 1 else f"{stem}-{n}.{ext}"
        path = directory / name
        if path.exists():
            continue
        try:
            return write_new_file(path, text)
        except ExportError:
            if path.exists():
                continue
            raise
    raise ExportError(f"cannot write into {directory}: 99 exports already exist for {base}")
