"""The hour before the dashboard started, from Prometheus: the refresh's own queries
sent once each as range queries (a constant number, like a refresh), cut into one raw
answer per step, and taken through the same carry and build steps as live data, so
every rule (overflow, FD, autoscaler divergence, LB idle timeout) judges the past
exactly as it judges the present. Load balancers only report the present: their
configured timeouts (static) are used, their counters are not, so ``lb-disconnects``
cannot appear in the backfill (each snapshot's note says so).
"""

from __future__ import annotations

import dataclasses
import math

from streamdash.core.build import build_snapshot
from streamdash.core.carry import Carried, carry_forward
from streamdash.core.raw import LbTimeoutRaw
from streamdash.core.snapshot import Snapshot
from streamdash.live import LiveRefresher

BACKFILL_SECONDS = 3600
BACKFILL_STEP_SECONDS = 60


def backfill_note(step: int) -> str:
    return (
        f"Built from Prometheus range queries (step {step} s) for the time before the "
        "dashboard started; load-balancer counters are not in Prometheus, so LB "
        "disconnects are not judged here."
    )


def backfill(
    refresher: LiveRefresher,
    window_seconds: int,
    now: float,
    span: int = BACKFILL_SECONDS,
    step: int = BACKFILL_STEP_SECONDS,
) -> list[Snapshot]:
    """Snapshots every ``step`` over the ``span`` before ``now`` (oldest first); empty
    without Prometheus. Steps are aligned to ``step`` so two runs agree."""
    source = refresher.prometheus
    if source is None:
        return []
    end = math.floor(now / step) * step
    if end >= now:
        end -= step
    raws = source.fetch_range(window_seconds, end - span, end, step)
    timeouts: tuple[LbTimeoutRaw, ...] = ()
    if refresher.lbs is not None and raws:
        timeouts = tuple(refresher.lbs.fetch(now).timeouts)
    note = backfill_note(step)
    carried: Carried | None = None
    out: list[Snapshot] = []
    for raw in raws:
        raw = dataclasses.replace(raw, lb_timeouts=timeouts, notes=(note, *raw.notes))
        carried = carry_forward(carried, raw)
        out.append(build_snapshot(carried.raw, refresher.settings, carried.stale))
    return out
