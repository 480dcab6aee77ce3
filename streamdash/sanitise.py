"""The one sanitiser for values from outside (answers, labels, files, config).

- ``text``: invalid Unicode (lone surrogates, from ``\\ud800`` JSON escapes) replaced by
  U+FFFD, so every output encoder and file write works.
- ``visible``: control characters, bidi overrides/isolates and zero-width characters
  made visible (``␛``, ``<U+202E>``), so they can neither hide nor reorder text in
  markdown, ``check`` output or the TUI. Newlines are left for the caller.
- ``finite``: a gauge value, or None when it is NaN, ±Inf or beyond ``MAX_GAUGE``
  (no arithmetic downstream can overflow).
- ``loads_json``: ``json.loads`` whose strings pass ``text``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from streamdash.core.raw import RawAnswers

MAX_GAUGE = 1e15
"""Larger gauge values (CPU cores, FDs, connections) are garbage, shown as n/a."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_BIDI_ZW = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def text(value: str) -> str:
    """``value`` with lone surrogates replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def visible(value: str) -> str:
    """``text(value)`` with controls (but ``\\n``), bidi and zero-width characters shown."""
    value = text(value)
    value = _CONTROL.sub(_picture, value)
    return _BIDI_ZW.sub(_picture, value)


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite, plausible gauge; else None."""
    if value is None or not math.isfinite(value) or abs(value) > MAX_GAUGE:
        return None
    return value


def _clean(obj: Any) -> Any:
    if isinstance(obj, str):
        return text(obj)
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, dict):
        return {text(k): _clean(v) for k, v in obj.items()}
    return obj


def loads_json(data: bytes | str) -> Any:
    """``json.loads(data)``; strings with lone surrogates are repaired (only walked
    when the text holds a ``\\uD8..``-``\\uDF..`` escape)."""
    obj = json.loads(data)
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if re.search(rb"\\u[dD][89a-fA-F]", raw):
        return _clean(obj)
    return obj


def _gauges(values: Mapping[str, float]) -> dict[str, float]:
    return {text(pod): v for pod, value in values.items() if (v := finite(value)) is not None}


def raw_answers(raw: RawAnswers) -> RawAnswers:
    """``raw`` with every gauge finite (else absent: unknown, never 0), HPA numbers
    finite or None, and error and note texts valid Unicode."""
    hpas = []
    for h in raw.hpas:
        numbers: dict[str, Any] = {
            f.name: finite(getattr(h, f.name))
            for f in dataclasses.fields(h)
            if isinstance(getattr(h, f.name), float)
        }
        hpas.append(dataclasses.replace(h, **numbers))
    return dataclasses.replace(
        raw,
        open_fds=_gauges(raw.open_fds),
        max_fds=_gauges(raw.max_fds),
        cpu_cores=_gauges(raw.cpu_cores),
        cpu_request_cores=_gauges(raw.cpu_request_cores),
        in_flight=_gauges(raw.in_flight),
        hpas=tuple(hpas),
        errors=tuple(
            dataclasses.replace(e, source=text(e.source), message=text(e.message))
            for e in raw.errors
        ),
        notes=tuple(text(n) for n in raw.notes),
    )
