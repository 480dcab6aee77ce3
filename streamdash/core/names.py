"""Short names for long label values that share a prefix (pod names of one ReplicaSet).

Pure. ``shared_prefix`` finds the prefix once; ``elide`` shows a name without it, so a
table can say the prefix once in its caption and keep the columns for numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

ELLIPSIS = "…"
MIN_PREFIX = 8
"""A shared prefix shorter than this is not worth eliding."""


def shared_prefix(names: Iterable[str]) -> str:
    """The prefix every name shares, cut after its last ``-``; empty with fewer than two
    distinct names or when it is shorter than ``MIN_PREFIX``."""
    unique = set(names)
    if len(unique) < 2:
        return ""
    first, last = min(unique), max(unique)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    prefix = first[:size]
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    return prefix if len(prefix) >= MIN_PREFIX else ""


def elide(name: str, prefix: str) -> str:
    """``name`` without ``prefix`` (``…`` in its place); unchanged when it lacks it."""
    if prefix and name.startswith(prefix) and len(name) > len(prefix):
        return ELLIPSIS + name[len(prefix) :]
    return name


def short(name: str, prefix: str) -> str:
    """``name`` with ``prefix`` shortened to its first word: ``llama-…fz8lw`` — still
    recognisable on its own (in a one-line verdict), unlike ``elide``'s ``…fz8lw``."""
    if not (prefix and name.startswith(prefix) and len(name) > len(prefix)):
        return name
    head = prefix.split("-", 1)[0]
    return f"{head}-{ELLIPSIS}{name[len(prefix) :]}" if head else elide(name, prefix)
