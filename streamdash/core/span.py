"""Whether a short gathering span can support the findings built on it (pure).

A headless ``snapshot``/``check`` over direct scrape measures rates over ``--duration``
seconds. Over a short span a histogram sees few observations and an LB counter few
increments, so a finding may come and go between runs. ``span_cautions`` says so, in
words the verdict line carries, instead of letting the answer flap silently.
"""

from __future__ import annotations

from streamdash import format as fmt
from streamdash.core.snapshot import Snapshot

MIN_OBSERVATIONS = 30
"""Fewer finished requests than this in the span: percentiles and overflow shares are
too coarse to judge."""
_WHAT = {"ttft": "first tokens", "stream": "streams", "itl": "token gaps"}


def span_cautions(snapshot: Snapshot, span_seconds: float) -> tuple[str, ...]:
    """One caution per latency histogram with fewer than ``MIN_OBSERVATIONS`` in the span."""
    out = []
    for kind in ("ttft", "stream"):
        h = snapshot.latency.get(kind)
        if h is None or not h.available or h.rate_per_s is None:
            continue
        seen = h.rate_per_s * span_seconds
        if seen < MIN_OBSERVATIONS:
            out.append(
                f"only {seen:.0f} {_WHAT[kind]} in {fmt.seconds(span_seconds)}: too few to judge "
                f"{kind} buckets (use a longer --duration)"
            )
    return tuple(out)
