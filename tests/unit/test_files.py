"""Exports are atomic, never overwrite, and fail with one clear line."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from streamdash.export.files import ExportError, write_export, write_new_file

NOW = datetime(2026, 11, 23, 22, 15, 0)


def test_write_export_names_and_never_overwrites(tmp_path: Path) -> None:
    first = write_export("one", tmp_path, NOW)
    second = write_export("two", tmp_path, NOW)
    assert first.name == "streamdash-snapshot-20261123-221500.md"
    assert second.name == "streamdash-snapshot-20261123-221500-2.md"
    assert first.read_text() == "one" and second.read_text() == "two"
    assert {p.name for p in tmp_path.iterdir()} == {first.name, second.name}


def test_existing_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("keep me")
    with pytest.raises(ExportError, match="already exists"):
        write_new_file(target, "new")
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]


def test_read_only_directory_message(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/sys")  # sysfs refuses new files even to root
    else:
        target = tmp_path
        tmp_path.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="not writable") as info:
            write_export("x", target, NOW)
        assert str(target) in str(info.value)
    finally:
        tmp_path.chmod(0o700)


def test_missing_directory_message(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        write_export("x", tmp_path / "nope", NOW)


def test_full_disk_leaves_nothing_behind(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC: a real device, not a mock.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    import streamdash.export.files as files

    real_fdopen = os.fdopen

    def full_fdopen(fd: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        os.dup2(os.open("/dev/full", os.O_WRONLY), fd)
        return real_fdopen(fd, *args, **kwargs)  # type: ignore[call-overload]

    files.os.fdopen = full_fdopen  # type: ignore[attr-defined]
    try:
        with pytest.raises(ExportError, match="disk is full"):
            write_export("x" * 100_000, tmp_path, NOW)
    finally:
        files.os.fdopen = real_fdopen  # type: ignore[attr-defined]
    assert list(tmp_path.iterdir()) == []
