"""Per-panel freshness: how old the shown values are and whether they are stale.

Pure: no Textual. A panel is stale when the snapshot's ``stale`` list names it, when the
last refresh failed (the app keeps the previous snapshot), or when the snapshot is older
than ``STALE_AFTER_INTERVALS`` refresh intervals. Stale panels keep their last values.
While the user has paused refreshing, age alone never makes a panel stale: it is
``paused`` (a source failure the snapshot records still marks it stale).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from streamdash import format as fmt
from streamdash.core.snapshot import Snapshot

PANELS: tuple[str, ...] = ("latency", "pods", "autoscaler", "lb", "findings")
PANEL_TITLES: dict[str, str] = {
    "latency": "Latency",
    "pods": "Pods",
    "autoscaler": "Autoscaler",
    "lb": "Load balancer",
    "findings": "Findings",
}
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class PanelStatus:
    """``age_seconds`` of the values shown (None: no values yet); ``reason`` when stale."""

    age_seconds: float | None
    """Rounded down to ``resolution``, so a quiet second changes nothing on screen."""
    stale: bool
    reason: str | None = None
    resolution: float | None = None
    """The refresh interval: an age below it reads ``< <interval>``."""
    paused: bool = False
    """Refreshing is paused (``p``): the values are old by choice, not stale."""
    since: float | None = None
    """When the values shown were taken (stale and paused panels; None: unknown)."""


def age_text(age_seconds: float | None) -> str:
    """A data age in whole seconds (``4 s``, ``12.5 min``) or ``n/a``."""
    if age_seconds is None:
        return fmt.NA
    return fmt.seconds(float(round(max(age_seconds, 0.0))))


def panel_status(
    panel: str,
    snapshot: Snapshot | None,
    now: float,
    refresh_seconds: float,
    failure: str | None = None,
    paused: bool = False,
) -> PanelStatus:
    """Freshness of ``panel`` given the snapshot shown and the last refresh failure;
    ``paused``: the user stopped refreshing, so the snapshot's age is no reason."""
    if snapshot is None:
        return PanelStatus(None, failure is not None, failure)
    reasons: list[str] = []
    if failure:
        reasons.append(f"refresh failed: {failure}")
    last_good: float | None = snapshot.taken_at
    parts = [s for s in snapshot.stale if s.panel == panel]
    if parts:
        known = [p.last_good_at for p in parts if p.last_good_at is not None]
        last_good = min(known) if len(known) == len(parts) else None
        reasons.extend(f"{p.part}: {p.reason}" for p in parts)
    snap_age = now - snapshot.taken_at
    if not failure and not paused and snap_age > STALE_AFTER_INTERVALS * refresh_seconds:
        reasons.append(f"no new data for {age_text(snap_age)}")
    stale = bool(reasons)
    age = None if last_good is None else max(0.0, now - last_good)
    if paused and not stale:  # the age counts up by the second, as the user waits
        return PanelStatus(age, False, None, paused=True, since=last_good)
    if stale or age is None:  # a stale panel's age counts up by the second
        return PanelStatus(age, stale, "; ".join(reasons) if reasons else None, since=last_good)
    return PanelStatus(_floor(age, refresh_seconds), False, None, refresh_seconds)


DATA_PANELS = ("latency", "pods", "autoscaler")
"""Panels fed by the primary source (the LB panel counts too when it has parts)."""


def degraded(statuses: Mapping[str, PanelStatus]) -> bool:
    """True when every data panel is stale: the header must not say "live" then."""
    shown = [statuses[name] for name in DATA_PANELS if name in statuses]
    return bool(shown) and all(status.stale for status in shown)


def _floor(age: float, step: float) -> float:
    """``age`` rounded down to a multiple of ``step`` (unchanged when step <= 0)."""
    return math.floor(age / step) * step if step > 0 else age


FRESH_SUBTITLE = "fresh"


def clock_text(at: float) -> str:
    """Local ``HH:MM:SS`` of a Unix time."""
    return datetime.fromtimestamp(at).astimezone().strftime("%H:%M:%S")


def panel_subtitle(status: PanelStatus) -> str:
    """The panel border's status words. Constant while the panel is fresh, paused or
    stale since the same moment (a border change repaints the whole panel, so nothing
    here counts by the second; the header carries the running age):
    ``fresh`` / ``paused · values of HH:MM:SS`` / ``STALE · values of HH:MM:SS``."""
    if status.stale:
        if status.since is None:
            return "STALE · no values yet"
        return f"STALE · values of {clock_text(status.since)}"
    if status.paused:
        return f"paused · values of {clock_text(status.since)}" if status.since else "paused"
    if status.age_seconds is None:
        return "waiting for data"
    return FRESH_SUBTITLE


def one_line(exc: BaseException) -> str:
    """An exception as one line: ``TypeName: first line of message``."""
    text = str(exc).strip().splitlines()
    message = fmt.safe_label(text[0]) if text else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
