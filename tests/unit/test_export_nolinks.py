"""Exports on a filesystem without hard links (FAT, SMB, some FUSE mounts): ``link``
fails with EPERM/ENOTSUP there. No such filesystem can be mounted in the test machine,
so ``os.link`` is made to fail the way those filesystems make it fail."""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

import pytest

from streamdash.export.files import ExportError, write_export, write_new_file


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP])
def test_export_without_hard_links_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "link", no_links)
    path = write_export("# snapshot \ud800\n", tmp_path, datetime(2026, 1, 2, 3, 4, 5))
    assert path.read_text(encoding="utf-8") == "# snapshot ?\n"  # lone surrogate replaced
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
    with pytest.raises(ExportError) as err:
        write_new_file(path, "again")
    assert "already exists" in str(err.value)
    assert path.read_text(encoding="utf-8") == "# snapshot ?\n"
