"""``le`` label values as servers really write them, and matchers that survive both
spellings (Prometheus 2 keeps the exporter's text, ``120`` from Go, ``120.0`` from
Python; Prometheus 3 normalises classic-histogram ``le`` to float text, ``120.0``)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence


def parse_le(text: str) -> float | None:
    """The bound an ``le`` text stands for (``+Inf`` -> inf); None when not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def same_bound(a: float, b: float) -> bool:
    """True when two parsed bounds are the same bucket (float text round-off aside)."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def spellings(value: float, seen: Iterable[str] = ()) -> tuple[str, ...]:
    """Every text this bound may carry: the texts ``seen`` in the data for it, plus the
    integer form (``120``) and float form (``120.0``) of an integral value, so a rule
    keeps matching across a Prometheus 2 -> 3 upgrade or an exporter change."""
    out = [t for t in seen if (p := parse_le(t)) is not None and same_bound(p, value)]
    if math.isinf(value):
        out.append("+Inf")
    elif float(value).is_integer() and abs(value) < 1e15:
        out += [str(int(value)), f"{int(value)}.0"]
    else:
        out.append(repr(float(value)))
    return tuple(dict.fromkeys(out))


def le_regex(value: float, seen: Iterable[str] = ()) -> str:
    """An anchored RE2 alternation (PromQL anchors ``=~``) of ``spellings``, unquoted."""
    return "|".join(re.escape(s).replace("\\-", "-") for s in spellings(value, seen))


def le_matcher(value: float, seen: Iterable[str] = ()) -> str:
    """``le=~"120|120\\\\.0"`` as PromQL text (the backslash doubled inside the string)."""
    body = le_regex(value, seen).replace("\\", "\\\\")
    return f'le=~"{body}"'


def bounds_of(texts: Sequence[str]) -> tuple[float, ...]:
    """Sorted finite bounds of ``texts`` (unparsable and +Inf dropped)."""
    values = {p for t in texts if (p := parse_le(t)) is not None and math.isfinite(p)}
    return tuple(sorted(values))
