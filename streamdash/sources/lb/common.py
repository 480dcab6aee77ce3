"""Shared pieces of the load-balancer sources: names, durations, Prometheus vectors, HTTP.

Pure helpers except ``fetch_text`` (one GET through a caller-owned ``HttpxTransport``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from streamdash.core.raw import LbBackendRaw, LbFrontendRaw, LbTimeoutRaw, SourceError
from streamdash.redact import redact_url, split_userinfo
from streamdash.settings import LoadBalancerSettings
from streamdash.sources.http import HttpError, HttpxTransport

MAX_BODY_CHARS = 4_000_000
"""Answers longer than this are refused (a stats page is kilobytes)."""


class LbParseError(ValueError):
    """An LB answer or config file that does not parse; the message is one line."""


@dataclass(frozen=True)
class LbSample:
    """What one fetch of one LB returned: counters as totals (rates come from ``collect``)."""

    backends: tuple[LbBackendRaw, ...] = ()
    """Per-server rows (HAProxy server, Envoy host): the rows that join pods."""
    aggregates: tuple[LbBackendRaw, ...] = ()
    """Per-backend / per-cluster totals (HAProxy ``BACKEND`` rows, Envoy cluster and HCM
    stats), ``server`` = ``BACKEND`` or ``*``. Never joined to pods."""
    frontends: tuple[LbFrontendRaw, ...] = ()
    timeouts: tuple[LbTimeoutRaw, ...] = ()
    errors: tuple[SourceError, ...] = ()


def lb_name(settings: LoadBalancerSettings) -> str:
    """The LB's display name: ``name`` when set, else the URL's host:port, else the kind."""
    if settings.name:
        return settings.name
    if settings.url:
        try:
            parts = urlsplit(settings.url)
            if parts.hostname:
                return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        except ValueError:
            pass
    return settings.kind


def source_name(settings: LoadBalancerSettings) -> str:
    """``kind:url`` without credentials (``kind:name`` when there is no URL)."""
    where = redact_url(settings.url) if settings.url else lb_name(settings)
    return f"{settings.kind}:{where}"


def number(text: object) -> float | None:
    """A finite float from a stats cell / JSON value; None for empty, NaN or garbage."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = str(text).strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
    return value if math.isfinite(value) else None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def duration_seconds(text: str, units: Mapping[str, float], default_unit: str) -> float:
    """Seconds of ``text`` such as ``1s``, ``500`` or ``2m`` under ``units`` (unit -> s).

    Raises ``LbParseError`` naming the text when it is not a duration.
    """
    match = _DURATION.match(text)
    if not match:
        raise LbParseError(f"{text!r} is not a duration")
    value, unit = match.groups()
    factor = units.get(unit or default_unit)
    if factor is None:
        raise LbParseError(f"{text!r}: unknown time unit {unit!r}")
    return float(value) * factor


def envoy_duration(text: object) -> float | None:
    """Seconds of a protobuf JSON Duration (``"15s"``, ``"0.250s"``); None when absent/bad."""
    if not isinstance(text, str) or not text.endswith("s"):
        return None
    return number(text[:-1])


# ----------------------------------------------------------------- Prometheus vectors

Vector = Sequence[Mapping[str, Any]]
"""A Prometheus instant-vector result: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""

_BACKEND_FIELDS = {f.name for f in dataclasses.fields(LbBackendRaw)}


def rows_from_vectors(
    vectors: Mapping[str, Vector],
    *,
    lb: str,
    kind: str,
    proxy_label: str,
    server_label: str | None,
    zero_is_unknown: Sequence[str] = (),
    status: Callable[[Mapping[str, str], float], str | None] | None = None,
) -> list[LbBackendRaw]:
    """Join vectors keyed by ``LbBackendRaw`` field name into one row per (proxy, server).

    ``server_label`` None makes cluster-level rows with ``server="*"``. Samples missing
    the labels, with non-numeric values, or (for ``zero_is_unknown`` fields) equal to 0
    leave the field None. The ``status`` vector goes through ``status(labels, value)``.
    Unknown keys raise ``LbParseError``.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for field_name, vector in vectors.items():
        if field_name not in _BACKEND_FIELDS:
            raise LbParseError(f"no LbBackendRaw field {field_name!r}")
        for sample in vector:
            labels = sample.get("metric") if isinstance(sample, Mapping) else None
            pair = sample.get("value") if isinstance(sample, Mapping) else None
            if not isinstance(labels, Mapping) or not isinstance(pair, Sequence):
                continue
            proxy = labels.get(proxy_label)
            server = labels.get(server_label) if server_label else "*"
            if not isinstance(proxy, str) or not isinstance(server, str) or len(pair) != 2:
                continue
            value = number(pair[1])
            if value is None:
                continue
            row = rows.setdefault((proxy, server), {})
            if field_name == "status":
                if status is not None:
                    text = status(labels, value)
                    if text is not None:
                        row["status"] = text
                continue
            if value == 0 and field_name in zero_is_unknown:
                continue
            row[field_name] = row.get(field_name, 0.0) + value
    return [
        LbBackendRaw(lb=lb, kind=kind, proxy=proxy, server=server, **fields)
        for (proxy, server), fields in sorted(rows.items())
    ]


# ------------------------------------------------------------------------------ HTTP


def fetch_text(client: HttpxTransport, url: str, source: str, part: str) -> str | SourceError:
    """GET ``url`` (userinfo sent as basic auth); the body, or a one-line ``SourceError``
    (never raises). Size, time and redirects are bounded by ``client``'s policy."""
    where = redact_url(url)
    clean, user, password = split_userinfo(url)
    auth = (user, password or "") if user is not None else None
    try:
        answer = client.get(clean, auth=auth)
    except HttpError as exc:
        return SourceError(source, f"GET {where}: {exc}", part)
    if answer.status != 200:
        return SourceError(source, f"GET {where}: HTTP {answer.status}", part)
    try:
        return answer.body.decode("utf-8")
    except UnicodeDecodeError:
        return SourceError(source, f"GET {where}: answer is not UTF-8 text", part)


def read_config(path: str, source: str) -> str | SourceError:
    """The text of an LB config file, or a one-line ``SourceError`` (never raises)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(MAX_BODY_CHARS)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        return SourceError(source, f"cannot read config file {path}: {reason}", "config")


ConfigParser = Callable[[str, str, str], Sequence[LbTimeoutRaw]]
"""(config text, lb name, file path) -> timeouts; raises ``LbParseError``."""


def config_file_timeouts(
    settings: LoadBalancerSettings, source: str, lb: str, parse: ConfigParser
) -> tuple[list[LbTimeoutRaw], list[SourceError]]:
    """Timeouts read from ``settings.config_file`` with ``parse`` (none when unset), and
    the one-line errors of reading or parsing it; never raises."""
    if not settings.config_file:
        return [], []
    text = read_config(settings.config_file, source)
    if isinstance(text, SourceError):
        return [], [text]
    try:
        return list(parse(text, lb, settings.config_file)), []
    except LbParseError as exc:
        return [], [SourceError(source, str(exc), "config")]
