"""One headless Snapshot gathered over a stated span (``snapshot``, ``check``, ``advise``).

Direct scrape has no server-side rates, and load balancers' stats are counters: both
need two samples. ``gather`` takes the first sample of every source, waits
``duration_seconds``, takes the second, and builds the Snapshot from the increases over
that span. With direct scrape as the primary source, ``window_seconds`` is the real span
between the two scrape rounds (not the configured rate window); with Prometheus it stays
the rate window Prometheus computed over, and the LB rates cover the span. The span is
said in ``notes``, and a span too short to judge a histogram in ``cautions``.
"""

from __future__ import annotations

import dataclasses
import time

from streamdash import format as fmt
from streamdash.core.build import build_snapshot
from streamdash.core.carry import carry_forward
from streamdash.core.snapshot import Snapshot
from streamdash.core.span import span_cautions
from streamdash.settings import Settings

DEFAULT_DURATION_SECONDS = 10.0
"""Long enough for a steady fleet's rates to settle between runs, short enough for cron."""


def gather(settings: Settings, duration_seconds: float = DEFAULT_DURATION_SECONDS) -> Snapshot:
    """Sample every source twice ``duration_seconds`` apart; return the Snapshot."""
    from streamdash.live import LiveRefresher

    refresher = LiveRefresher(settings, with_history=False, scrape_prime_seconds=duration_seconds)
    try:
        scrape_primary = refresher.prometheus is None
        started = time.monotonic()
        if refresher.lbs is not None:
            refresher.lbs.fetch(time.time())  # the LB counters' first sample
            if not scrape_primary:  # the scrape source waits between its own rounds
                time.sleep(duration_seconds)
        raw = refresher.fetch_raw(settings.window_seconds)
        span = time.monotonic() - started
        notes = list(raw.notes)
        if scrape_primary and refresher.scrape is not None:
            measured = refresher.scrape.last_span_seconds
            span = measured if measured is not None else span
            raw = dataclasses.replace(raw, window_seconds=max(1, round(span)))
            notes.append(f"gathered over {fmt.seconds(span)} (--duration): rates span it")
        elif refresher.lbs is not None:
            notes.append(f"load balancer rates over {fmt.seconds(span)} (--duration)")
        raw = dataclasses.replace(raw, notes=tuple(notes))
        carried = carry_forward(None, raw)
        snapshot = build_snapshot(carried.raw, settings, carried.stale)
        if scrape_primary:
            cautions = snapshot.cautions + span_cautions(snapshot, span)
            snapshot = dataclasses.replace(snapshot, cautions=cautions)
        return snapshot
    finally:
        refresher.close()
