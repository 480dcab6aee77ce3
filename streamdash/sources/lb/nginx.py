"""nginx: stub_status text, ``proxy_read_timeout`` from nginx.conf, and the fetch.

stub_status has no per-upstream rows, so nginx yields one ``LbFrontendRaw`` per fetch.
``proxy_read_timeout`` is the longest silence nginx accepts between two reads from the
upstream: a pause between tokens longer than it cuts the stream.
"""

from __future__ import annotations

import re

from streamdash.core.raw import LbFrontendRaw, LbTimeoutRaw, SourceError
from streamdash.settings import LoadBalancerSettings
from streamdash.sources.http import HttpxTransport
from streamdash.sources.lb.common import (
    LbParseError,
    LbSample,
    config_file_timeouts,
    duration_seconds,
    fetch_text,
    lb_name,
    source_name,
)

KIND = "nginx"
DEFAULT_PROXY_READ_TIMEOUT_S = 60.0
TIME_UNITS = {
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "M": 2592000.0,
    "y": 31536000.0,
}
"""nginx time units; a bare number is seconds."""

_ACTIVE = re.compile(r"^Active connections:\s*(\d+)\s*$", re.M)
_COUNTS = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s*$", re.M)
_STATES = re.compile(r"Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)")


def parse_stub_status(text: str, lb: str) -> LbFrontendRaw:
    """The numbers of an nginx ``stub_status`` page; ``LbParseError`` when it is not one.

    ``accepted``/``handled``/``requests`` are the counters since nginx started; ``writing``
    counts connections sending a response (open streams included).
    """
    active = _ACTIVE.search(text)
    if active is None:
        first = text.strip().splitlines()[0][:60] if text.strip() else ""
        raise LbParseError(f"not an nginx stub_status page (starts {first!r})")
    counts = _COUNTS.search(text, active.end())
    states = _STATES.search(text)
    return LbFrontendRaw(
        lb=lb,
        kind=KIND,
        active=float(active.group(1)),
        accepted=float(counts.group(1)) if counts else None,
        handled=float(counts.group(2)) if counts else None,
        requests=float(counts.group(3)) if counts else None,
        reading=float(states.group(1)) if states else None,
        writing=float(states.group(2)) if states else None,
        waiting=float(states.group(3)) if states else None,
    )


def _statements(text: str) -> list[tuple[int, list[str], str]]:
    """(line, block path, statement) for each ``;``-ended statement; ``{``/``}`` nest."""
    out: list[tuple[int, list[str], str]] = []
    stack: list[str] = []
    buffer: list[str] = []
    start_line = 1
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", line)
        for char in line:
            if char in ";{}":
                statement = " ".join("".join(buffer).split())
                buffer = []
                if char == "{":
                    stack.append(statement)
                elif char == "}":
                    if stack:
                        stack.pop()
                elif statement:
                    out.append((start_line, list(stack), statement))
            else:
                if not "".join(buffer).strip():
                    start_line = lineno
                buffer.append(char)
        buffer.append(" ")
    return out


def parse_config_timeouts(text: str, lb: str, where: str = "nginx.conf") -> list[LbTimeoutRaw]:
    """Every ``proxy_read_timeout`` in ``text`` with its block as scope (``http``,
    ``server``, ``location /v1``); nginx's 60 s default (scope ``default``) when the file
    sets none but proxies (``proxy_pass``). ``include`` files are not followed.
    Raises ``LbParseError`` with ``where:line`` on a bad value.
    """
    out: list[LbTimeoutRaw] = []
    proxies = False
    for lineno, stack, statement in _statements(text):
        words = statement.split()
        if words[0] == "proxy_pass":
            proxies = True
        if words[0] != "proxy_read_timeout" or len(words) != 2:
            continue
        try:
            seconds = duration_seconds(words[1], TIME_UNITS, "s")
        except LbParseError as exc:
            raise LbParseError(f"{where}:{lineno}: proxy_read_timeout: {exc}") from None
        scope = stack[-1] if stack else "main"
        out.append(LbTimeoutRaw(lb, KIND, "proxy_read_timeout", seconds, scope))
    if not out and proxies:
        out.append(
            LbTimeoutRaw(lb, KIND, "proxy_read_timeout", DEFAULT_PROXY_READ_TIMEOUT_S, "default")
        )
    return out


def fetch(client: HttpxTransport, settings: LoadBalancerSettings) -> LbSample:
    """Fetch one nginx's stub_status and timeouts; every failure is a ``SourceError``."""
    source, lb = source_name(settings), lb_name(settings)
    errors: list[SourceError] = []
    frontends: list[LbFrontendRaw] = []
    if settings.url:
        body = fetch_text(client, settings.url, source, "stub_status")
        if isinstance(body, SourceError):
            errors.append(body)
        else:
            try:
                frontends.append(parse_stub_status(body, lb))
            except LbParseError as exc:
                errors.append(SourceError(source, str(exc), "stub_status"))
    timeouts: list[LbTimeoutRaw] = []
    if settings.idle_timeout_seconds is not None:
        timeouts.append(
            LbTimeoutRaw(lb, KIND, "proxy_read_timeout", settings.idle_timeout_seconds, "settings")
        )
    from_file, file_errors = config_file_timeouts(settings, source, lb, parse_config_timeouts)
    timeouts += from_file
    errors += file_errors
    return LbSample(frontends=tuple(frontends), timeouts=tuple(timeouts), errors=tuple(errors))
