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
from collections.abc import Sequence
from dataclasses import dataclass

from streamdash.core.build import build_snapshot
from streamdash.core.carry import Carried, carry_forward
from streamdash.core.raw import LbTimeoutRaw
from streamdash.core.snapshot import Snapshot
from streamdash.core.timeline import FindingsMark, mark_of
from streamdash.live import LiveRefresher

BACKFILL_SECONDS = 3600
BACKFILL_STEP_SECONDS = 60
BACKFILL_POD_ROWS = 120_000
"""Pod rows the backfill builds at most (about): each step is a whole snapshot, so a
big fleet gets a coarser step instead of minutes of CPU and a GiB of rows."""
BACKFILL_KEEP_ROWS = 20_000
"""Pod rows of the backfill kept whole (the newest snapshots); the others keep only
their time and findings, which is all the timeline needs."""


def backfill_step(pods: int, span: int = BACKFILL_SECONDS) -> int:
    """The step for a fleet of ``pods``: ``BACKFILL_STEP_SECONDS`` while the hour stays
    within ``BACKFILL_POD_ROWS`` pod rows (up to ~1,900 pods), else the smallest
    multiple of it that does (180 s at 5,000 pods, 600 s at 20,000). A coarser step
    also costs Prometheus proportionally less."""
    base = BACKFILL_STEP_SECONDS
    steps = max(1, BACKFILL_POD_ROWS // max(1, pods))
    return max(base, math.ceil(span / steps / base) * base)


@dataclass(frozen=True)
class KeptBackfill:
    """The backfill as the dashboard keeps it: every step's findings (``marks``), and
    whole snapshots for the newest steps within ``BACKFILL_KEEP_ROWS`` pod rows (at
    least the newest one). Both oldest first."""

    snapshots: tuple[Snapshot, ...]
    marks: tuple[FindingsMark, ...]


def keep_backfill(snapshots: Sequence[Snapshot], rows: int = BACKFILL_KEEP_ROWS) -> KeptBackfill:
    """Split ``snapshots`` (oldest first) as ``KeptBackfill`` says."""
    kept: list[Snapshot] = []
    used = 0
    for snap in reversed(snapshots):
        if kept and used + len(snap.pods) > rows:
            break
        kept.append(snap)
        used += len(snap.pods)
    return KeptBackfill(tuple(reversed(kept)), tuple(mark_of(s) for s in snapshots))


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
