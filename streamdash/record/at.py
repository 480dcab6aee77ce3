"""``--at TIME``: which past instant an incident review asks about."""

from __future__ import annotations

from streamdash.config import parse_duration
from streamdash.export.load import parse_time


def parse_at(text: str, now: float) -> float:
    """``-15m`` (before ``now``), RFC 3339 (``2026-12-01T02:14:00Z``, with a zone) or
    Unix seconds -> Unix seconds; ValueError (one line) when none, or in the future."""
    value = text.strip()
    if value.startswith("-"):
        try:
            at = now - parse_duration(value[1:])
        except ValueError:
            raise ValueError(f"--at {text!r}: expected e.g. -15m, -2h") from None
    else:
        try:
            at = float(value)
        except ValueError:
            try:
                at = parse_time(value)
            except ValueError:
                raise ValueError(
                    f"--at {text!r}: expected RFC 3339 with a zone (2026-12-01T02:14:00Z) or -15m"
                ) from None
    if at > now + 1:
        raise ValueError(f"--at {text!r} is in the future")
    return at
