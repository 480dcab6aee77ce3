"""Patch HAProxy and nginx config text so streams are no longer cut: pure text in,
text out, with one line per change. Comments, order and every other line are kept."""

from __future__ import annotations

import re
from collections.abc import Mapping

HAPROXY_UNITS: Mapping[str, float] = {
    "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
}  # fmt: skip
"""HAProxy time units; a bare number is milliseconds."""
NGINX_UNITS: Mapping[str, float] = {
    "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0,
}  # fmt: skip
"""nginx time units; a bare number is seconds."""
_VALUE = re.compile(r"^(\d+(?:\.\d+)?)([a-zA-Z]*)$")


def parse_time(text: str, units: Mapping[str, float], default_unit: str) -> float | None:
    """Seconds of a config time value; None when it is not one."""
    m = _VALUE.match(text.strip())
    if m is None:
        return None
    unit = m.group(2) or default_unit
    if unit not in units:
        return None
    return float(m.group(1)) * units[unit]


def seconds_text(seconds: float) -> str:
    """``300s`` (whole seconds, at least 1)."""
    return f"{max(1, round(seconds))}s"


_HAPROXY_SECTION = re.compile(
    r"^\s*(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|http-errors|ring|cache|mailers)\b"
)
_HAPROXY_TIMEOUT = re.compile(r"^(\s*timeout\s+server\s+)(\S+)(.*)$")


def patch_haproxy(text: str, idle_seconds: float) -> tuple[str, tuple[str, ...]]:
    """``text`` with every ``timeout server`` shorter than ``idle_seconds`` raised to it
    (in defaults, backend and listen sections); when no section sets one, it is added to
    the first ``defaults``. Returns (new text, what changed)."""
    lines = text.splitlines()
    changes: list[str] = []
    found = False
    section = "?"
    new_value = seconds_text(idle_seconds)
    for i, line in enumerate(lines):
        sec = _HAPROXY_SECTION.match(line)
        if sec:
            section = line.strip()
            continue
        m = _HAPROXY_TIMEOUT.match(line.split("#", 1)[0])
        if m is None:
            continue
        found = True
        current = parse_time(m.group(2), HAPROXY_UNITS, "ms")
        if current is not None and current >= idle_seconds:
            continue
        lines[i] = f"{m.group(1)}{new_value}{m.group(3).rstrip()}"
        changes.append(f"{section}: timeout server {m.group(2)} -> {new_value} (line {i + 1})")
    if not found:
        for i, line in enumerate(lines):
            if re.match(r"^\s*defaults\b", line):
                lines.insert(i + 1, f"    timeout server {new_value}")
                changes.append(f"defaults: added timeout server {new_value}")
                break
    return "\n".join(lines) + "\n", tuple(changes)


_NGINX_BUFFERING_ON = re.compile(r"^(\s*proxy_buffering\s+)on(\s*;.*)$")
_NGINX_READ = re.compile(r"^(\s*proxy_read_timeout\s+)([^;\s]+)(\s*;.*)$")


def _block_range(lines: list[str], index: int) -> tuple[int, int]:
    """(first, last) line indexes of the ``{...}`` block holding ``lines[index]``."""
    depth = 0
    start = 0
    for i in range(index - 1, -1, -1):
        code = lines[i].split("#", 1)[0]
        depth += code.count("}") - code.count("{")
        if depth < 0:
            start = i
            break
    depth = 0
    end = len(lines) - 1
    for i in range(index + 1, len(lines)):
        code = lines[i].split("#", 1)[0]
        depth += code.count("{") - code.count("}")
        if depth < 0:
            end = i
            break
    return start, end


def patch_nginx(text: str, idle_seconds: float) -> tuple[str, tuple[str, ...]]:
    """``text`` with every ``proxy_read_timeout`` shorter than ``idle_seconds`` raised to
    it, and in each block with ``proxy_pass`` the directives SSE needs that it lacks:
    ``proxy_read_timeout`` and ``proxy_buffering off`` (else nginx holds tokens back).
    Returns (new text, what changed)."""
    lines = text.splitlines()
    changes: list[str] = []
    new_value = seconds_text(idle_seconds)
    for i, line in enumerate(lines):
        m = _NGINX_READ.match(line)
        if m is None:
            continue
        current = parse_time(m.group(2), NGINX_UNITS, "s")
        if current is not None and current >= idle_seconds:
            continue
        lines[i] = f"{m.group(1)}{new_value}{m.group(3)}"
        changes.append(f"proxy_read_timeout {m.group(2)} -> {new_value} (line {i + 1})")
    for i, line in enumerate(lines):
        m = _NGINX_BUFFERING_ON.match(line)
        if m is not None:
            lines[i] = f"{m.group(1)}off{m.group(2)}"
            changes.append(f"proxy_buffering on -> off (line {i + 1})")
    i = 0
    while i < len(lines):
        code = lines[i].split("#", 1)[0]
        if re.match(r"^\s*proxy_pass\s", code):
            start, end = _block_range(lines, i)
            block = "\n".join(lines[start : end + 1])
            indent = re.match(r"^(\s*)", lines[i]).group(1)  # type: ignore[union-attr]
            add = []
            if not re.search(r"^\s*proxy_buffering\s", block, re.M):
                add.append(f"{indent}proxy_buffering off;")
            if not re.search(r"^\s*proxy_read_timeout\s", block, re.M):
                add.append(f"{indent}proxy_read_timeout {new_value};")
            for offset, extra in enumerate(add, start=1):
                lines.insert(i + offset, extra)
                changes.append(f"added `{extra.strip()}` after proxy_pass (line {i + 1})")
            i += len(add)
        i += 1
    return "\n".join(lines) + "\n", tuple(changes)
