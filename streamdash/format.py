"""Number and label formatting shared by every view, so screen and exports agree.

Contract: None renders as ``n/a``; an overflowed percentile renders as a lower bound
(``> 5 s``); label values are made safe for display (control characters removed,
length capped) but never interpreted.
"""

from __future__ import annotations

import math
import re

NA = "n/a"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ESCAPE_SEQ = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
MAX_LABEL = 200


def number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, never in e-notation: ``0.16``, ``1536``."""
    text = f"{value:.{digits}g}"
    if "e" in text:
        text = f"{value:.0f}"
    return text


def seconds(value: float | None, overflowed: bool = False) -> str:
    """A duration: ``280 ms``, ``2.9 s``, ``> 5 s`` (lower bound), or ``n/a``."""
    if value is None or math.isnan(value):
        return NA
    if math.isinf(value):
        return "+Inf"
    if overflowed:
        return f"> {seconds(value)}"
    if value == 0:
        return "0 s"
    if abs(value) < 1:
        return f"{number(value * 1000)} ms"
    if abs(value) < 1000:
        return f"{number(value)} s"
    return f"{value:.0f} s"


def duration(seconds_: float | None) -> str:
    """A window or interval as typed on the command line: ``30s``, ``5m``, ``1h``."""
    if seconds_ is None or math.isnan(seconds_):
        return NA
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds_ >= size and seconds_ % size == 0:
            return f"{seconds_ / size:.0f}{unit}"
    return f"{seconds_:g}s"


def ratio(value: float | None) -> str:
    """A share as a percentage: ``97.8 %``; ``n/a`` when unknown."""
    if value is None or math.isnan(value):
        return NA
    pct = value * 100
    if pct != 0 and abs(pct) < 0.1:
        return "< 0.1 %"
    return f"{pct:.1f} %"


def count(value: float | None) -> str:
    """A whole count: ``1001``; ``n/a`` when unknown."""
    if value is None or math.isnan(value):
        return NA
    if math.isinf(value):
        return "+Inf"
    return f"{value:.0f}"


def count_compact(value: float | None) -> str:
    """A count in at most ~5 characters: ``1024``, ``64Ki``, ``1Mi``, ``120k``."""
    if value is None or math.isnan(value) or math.isinf(value) or abs(value) < 10_000:
        return count(value)
    whole = round(value)
    for unit, size in (("Mi", 1 << 20), ("Ki", 1 << 10)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{value / 1e6:.3g}M" if abs(value) >= 1e6 else f"{value / 1e3:.3g}k"


def rate(value: float | None) -> str:
    """A per-second rate: ``48.0/s``; ``n/a`` when unknown."""
    if value is None or math.isnan(value):
        return NA
    if value != 0 and abs(value) < 0.01:
        return f"{value:.4f}/s"
    return f"{value:.1f}/s" if abs(value) < 1000 else f"{value:.0f}/s"


def rate_nonzero(value: float | None) -> str:
    """``rate``, but a non-zero rate never reads as zero: ``0.04/s``, ``< 0.001/s``
    (findings and their evidence, where "0.0/s" would contradict the verdict)."""
    if value is None or value == 0 or not math.isfinite(value) or abs(value) >= 0.1:
        return rate(value)
    if abs(value) < 0.001:
        return "< 0.001/s"
    return f"{value:.2g}/s"


def cores(value: float | None) -> str:
    """CPU cores: ``0.16``; ``n/a`` when unknown."""
    if value is None or math.isnan(value):
        return NA
    return f"{value:.2f}"


def multiple(value: float | None) -> str:
    """A ratio of two quantities: ``2.0x``; ``n/a`` when unknown."""
    if value is None or math.isnan(value) or math.isinf(value):
        return NA
    return f"{value:.1f}x"


def bounds(values: tuple[float, ...] | list[float]) -> str:
    """A bucket list as a person would type it: ``0.1, 0.25, 1, 5``."""
    return ", ".join(number(v, 4) for v in values)


def safe_label(value: str, limit: int = MAX_LABEL) -> str:
    """A label value made displayable: escape sequences and control characters removed,
    newlines shown as ``⏎``, capped at ``limit`` characters with ``…``. Markup is NOT
    escaped here: views pass the result as plain text (``rich.text.Text``)."""
    from streamdash.sanitise import visible

    text = _ESCAPE_SEQ.sub("", value)
    text = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
    text = visible(_CONTROL.sub("", text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
