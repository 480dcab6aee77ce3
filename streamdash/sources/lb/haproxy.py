"""HAProxy: stats CSV, Prometheus exporter vectors, config-file timeouts, and the fetch.

Pure parsers (``parse_stats_csv``, ``parse_config_timeouts``, ``backends_from_prometheus``)
and one thin shell (``fetch``). Counters come back as totals; ``collect`` turns them into
rates. HAProxy has no per-server timeout or reset counter: a ``timeout server`` that fires
mid-stream is counted in ``srv_abrt`` (termination state ``sD``), so ``timeouts`` and
``resets`` stay None here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from streamdash.core.raw import LbBackendRaw, LbTimeoutRaw, SourceError
from streamdash.settings import LoadBalancerSettings
from streamdash.sources.http import HttpxTransport
from streamdash.sources.lb.common import (
    LbParseError,
    LbSample,
    Vector,
    config_file_timeouts,
    duration_seconds,
    fetch_text,
    lb_name,
    number,
    rows_from_vectors,
    source_name,
)

KIND = "haproxy"
AGGREGATE_ROWS = ("FRONTEND", "BACKEND")
REQUIRED_COLUMNS = ("pxname", "svname")
TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
"""HAProxy time units; a bare number is milliseconds."""
STREAM_TIMEOUTS = ("timeout server", "timeout client", "timeout tunnel")


# ----------------------------------------------------------------------------- stats CSV


def _row(lb: str, cells: Mapping[str, str]) -> LbBackendRaw:
    def num(name: str) -> float | None:
        return number(cells.get(name))

    limit = num("slim")
    return LbBackendRaw(
        lb=lb,
        kind=KIND,
        proxy=cells.get("pxname", ""),
        server=cells.get("svname", ""),
        address=cells.get("addr") or None,
        current=num("scur"),
        maximum=num("smax"),
        limit=limit if limit else None,
        total=num("stot"),
        client_aborts=num("cli_abrt"),
        server_aborts=num("srv_abrt"),
        retries=num("wretr"),
        status=cells.get("status") or None,
    )


def parse_stats_csv(text: str, lb: str) -> tuple[list[LbBackendRaw], list[LbBackendRaw]]:
    """``(servers, backend_aggregates)`` from HAProxy's ``/stats;csv`` answer.

    Columns are read by name from the ``# pxname,svname,...`` header, so any HAProxy
    version's column order works. ``FRONTEND`` rows are skipped; ``BACKEND`` rows are the
    aggregates. An empty cell is None (``slim`` empty or 0 = no limit = None). Raises
    ``LbParseError`` (one line) when the header is missing.
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].startswith("# "):
        first = lines[0][:60] if lines else ""
        raise LbParseError(f"not HAProxy stats CSV (first line {first!r}, expected '# pxname,')")
    header = next(csv.reader([lines[0][2:]]))
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise LbParseError(f"HAProxy stats CSV header lacks {', '.join(missing)}")
    servers: list[LbBackendRaw] = []
    aggregates: list[LbBackendRaw] = []
    for record in csv.reader(io.StringIO("\n".join(lines[1:]))):
        if not record or not any(record):
            continue
        cells = dict(zip(header, record, strict=False))
        svname = cells.get("svname", "")
        if svname == "FRONTEND" or not cells.get("pxname"):
            continue
        (aggregates if svname == "BACKEND" else servers).append(_row(lb, cells))
    return servers, aggregates


# ------------------------------------------------------------------------- config file

SECTION_KEYWORDS = frozenset(
    (
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "peers",
        "resolvers",
        "userlist",
        "mailers",
        "program",
        "http-errors",
        "ring",
        "cache",
        "log-forward",
        "dynamic-update",
    )
)


def _strip_comment(line: str) -> str:
    quoted = False
    for index, char in enumerate(line):
        if char in "\"'":
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:index]
    return line


def parse_config_timeouts(text: str, lb: str, where: str = "haproxy.cfg") -> list[LbTimeoutRaw]:
    """Stream-cutting timeouts of every proxy that forwards to servers.

    A proxy inherits ``timeout server|client|tunnel`` from the ``defaults`` section before
    it (a new ``defaults`` starts fresh); its own lines override. Backends and listens
    with ``server``/``server-template`` lines yield ``timeout server`` and ``timeout tunnel``;
    frontends and listens that route traffic yield ``timeout client``. Scope is
    ``backend <name>`` etc. Raises ``LbParseError`` with ``where:line`` on a bad value.
    """
    defaults: dict[str, float] = {}
    sections: list[tuple[str, str, dict[str, float], set[str]]] = []
    current: tuple[str, str, dict[str, float], set[str]] | None = None
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw_line).strip()
        if not line:
            continue
        words = line.split()
        if words[0] in SECTION_KEYWORDS:
            keyword = words[0]
            name = words[1] if len(words) > 1 and keyword != "defaults" else ""
            if keyword == "defaults":
                defaults = {}
                current = ("defaults", name, defaults, set())
            elif keyword in ("frontend", "backend", "listen"):
                current = (keyword, name, dict(defaults), set())
                sections.append(current)
            else:
                current = None
            continue
        if current is None:
            continue
        if words[0] == "timeout" and len(words) >= 3:
            name = f"timeout {words[1]}"
            if name in STREAM_TIMEOUTS:
                try:
                    current[2][name] = duration_seconds(words[2], TIME_UNITS, "ms")
                except LbParseError as exc:
                    raise LbParseError(f"{where}:{lineno}: {name}: {exc}") from None
        elif words[0] in ("server", "server-template", "default_backend", "use_backend"):
            current[3].add(words[0])
    out: list[LbTimeoutRaw] = []
    for keyword, name, values, uses in sections:
        scope = f"{keyword} {name}".strip()
        wanted: list[str] = []
        if keyword in ("backend", "listen") and uses & {"server", "server-template"}:
            wanted += ["timeout server", "timeout tunnel"]
        if (keyword == "frontend" and uses & {"default_backend", "use_backend"}) or (
            keyword == "listen" and uses
        ):
            wanted.append("timeout client")
        for setting in wanted:
            if setting in values:
                out.append(LbTimeoutRaw(lb, KIND, setting, values[setting], scope))
    return out


def timeouts_from_settings(settings: LoadBalancerSettings) -> list[LbTimeoutRaw]:
    """``idle_timeout_seconds`` stated in the settings, as ``timeout server``."""
    if settings.idle_timeout_seconds is None:
        return []
    return [
        LbTimeoutRaw(
            lb_name(settings), KIND, "timeout server", settings.idle_timeout_seconds, "settings"
        )
    ]


# ------------------------------------------------------------------- Prometheus exporter

PROMETHEUS_FIELDS: Mapping[str, str] = {
    "current": "haproxy_server_current_sessions",
    "maximum": "haproxy_server_max_sessions",
    "limit": "haproxy_server_limit_sessions",
    "total": "haproxy_server_sessions_total",
    "client_aborts": "haproxy_server_client_aborts_total",
    "server_aborts": "haproxy_server_server_aborts_total",
    "retries": "haproxy_server_retry_warnings_total",
    "status": "haproxy_server_status",
}
_RATE_FIELDS = ("client_aborts", "server_aborts", "retries")


def prometheus_queries(window_seconds: int, matchers: str = "") -> dict[str, str]:
    """PromQL per ``LbBackendRaw`` field for HAProxy's built-in exporter (one query each,
    whatever the server count). ``matchers`` is e.g. ``job="lb"`` (no braces)."""
    sel = f"{{{matchers}}}" if matchers else ""
    queries = {field: f"{metric}{sel}" for field, metric in PROMETHEUS_FIELDS.items()}
    for field in _RATE_FIELDS:
        queries[f"{field}_rate"] = f"rate({PROMETHEUS_FIELDS[field]}{sel}[{window_seconds}s])"
    return queries


def _status(labels: Mapping[str, str], value: float) -> str | None:
    state = labels.get("state")
    if state is None:  # HAProxy < 2.4: one series, 1 = UP
        return "UP" if value == 1 else "DOWN"
    return state if value == 1 else None


def backends_from_prometheus(vectors: Mapping[str, Vector], lb: str) -> list[LbBackendRaw]:
    """Server rows from HAProxy exporter vectors keyed as in ``prometheus_queries``.

    Labels ``proxy`` and ``server``; ``haproxy_server_limit_sessions`` 0 (no maxconn) is
    None; ``haproxy_server_status{state=...}`` becomes the state whose value is 1.
    """
    return rows_from_vectors(
        vectors,
        lb=lb,
        kind=KIND,
        proxy_label="proxy",
        server_label="server",
        zero_is_unknown=("limit",),
        status=_status,
    )


# ---------------------------------------------------------------------------- fetch


def stats_url(url: str) -> str:
    """The CSV form of a stats page URL: ``;csv`` at the very end (after any query).

    HAProxy serves the stats page for any request URI that starts with its ``stats uri``
    and reads options such as ``;csv`` from the rest of the URI, query included; so the
    documented ``stats uri /haproxy?stats`` needs ``/haproxy?stats;csv`` (not
    ``/haproxy;csv?stats``, which misses the prefix and falls through to a backend).
    A URL that already has ``;csv`` is kept; a fragment is never sent, so it is dropped.
    """
    url = url.split("#", 1)[0]
    if ";csv" in url:
        return url
    return f"{url};csv"


def fetch(client: HttpxTransport, settings: LoadBalancerSettings) -> LbSample:
    """Fetch one HAProxy's stats and timeouts; every failure is a ``SourceError``."""
    source, lb = source_name(settings), lb_name(settings)
    errors: list[SourceError] = []
    servers: list[LbBackendRaw] = []
    aggregates: list[LbBackendRaw] = []
    if settings.url:
        body = fetch_text(client, stats_url(settings.url), source, "stats")
        if isinstance(body, SourceError):
            errors.append(body)
        else:
            try:
                servers, aggregates = parse_stats_csv(body, lb)
            except LbParseError as exc:
                errors.append(SourceError(source, str(exc), "stats"))
    timeouts = timeouts_from_settings(settings)
    from_file, file_errors = config_file_timeouts(settings, source, lb, parse_config_timeouts)
    timeouts += from_file
    errors += file_errors
    return LbSample(
        backends=tuple(servers),
        aggregates=tuple(aggregates),
        timeouts=tuple(timeouts),
        errors=tuple(errors),
    )
