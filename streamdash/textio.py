"""Output streams in any locale (``LANG=C``, ISO-8859-1, ...).

Headless output keeps the locale's encoding, with characters it cannot show replaced
(``?``) instead of a ``UnicodeEncodeError``. The TUI writes UTF-8 whatever the locale
says: its box drawing would otherwise arrive as ``\\u2502`` text, and terminals that
run a full-screen app are UTF-8 in practice.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import sys

_PROBE = "—…⏎│"


def _is_utf8(stream: object) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _can_show(stream: object) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        _PROBE.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def headless() -> None:
    """stdout/stderr replace what the locale's encoding cannot show."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not _can_show(stream):
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="replace")


def tui() -> None:
    """The terminal streams Textual writes to speak UTF-8."""
    for stream in (sys.__stdout__, sys.__stderr__):
        if isinstance(stream, io.TextIOWrapper) and not _is_utf8(stream):
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(encoding="utf-8", errors="replace")
