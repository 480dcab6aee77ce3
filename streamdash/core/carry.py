"""Carrying last good values forward when a part of a refresh failed.

Contract: ``carry_forward(previous, current)`` returns ``current`` with every failed
part replaced by the previous refresh's values for that part, plus a ``StalePart``
per failed part naming the panel, the reason and when the shown values were fetched.
A part that never succeeded stays empty (unknown), and is still marked stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from streamdash.core.parts import HISTOGRAM_PARTS, PANELS, PART_FIELDS, as_part
from streamdash.core.raw import RawAnswers, SourceError
from streamdash.core.snapshot import StalePart


def panel_of(part: str | None) -> str:
    """The panel a part feeds; ``lb:*`` parts feed ``lb``; unknown parts every panel."""
    if part is None:
        return "all"
    if part.startswith("lb"):
        return "lb"
    known = as_part(part)
    return PANELS.get(known, "all") if known is not None else "all"


@dataclass(frozen=True)
class Carried:
    raw: RawAnswers
    stale: tuple[StalePart, ...]
    good_at: Mapping[str, float]
    """Part -> unix time its shown values were fetched (for the next carry)."""


def _all_parts(raw: RawAnswers) -> set[str]:
    return set(raw.queries)


def carry_forward(previous: Carried | None, current: RawAnswers) -> Carried:
    """``current`` with failed parts filled from ``previous`` (see module contract)."""
    failed: dict[str, SourceError] = {}
    whole_source_down = False
    for error in current.errors:
        if not error.source.startswith(current.source_kind):
            continue  # load balancers and a dead fallback primary are carried elsewhere
        if error.part is None:
            whole_source_down = True
            continue
        failed.setdefault(error.part, error)
    prev_raw = previous.raw if previous else None
    prev_good = dict(previous.good_at) if previous else {}
    changes: dict[str, object] = {}
    histograms = dict(current.histograms)
    parts = _all_parts(current) | (_all_parts(prev_raw) if prev_raw else set()) | set(failed)
    good_at: dict[str, float] = {}
    stale: list[StalePart] = []
    for part in sorted(parts):
        failure = failed.get(part)
        if failure is None and not whole_source_down:
            if part in current.queries:
                good_at[part] = current.taken_at
            elif part in prev_good:  # not asked this time (e.g. cached history)
                good_at[part] = prev_good[part]
            continue
        reason = (
            failure.message
            if failure is not None
            else next((e.message for e in current.errors if e.part is None), "source unavailable")
        )
        last = prev_good.get(part)
        if last is not None:
            good_at[part] = last
        known = as_part(part)
        if prev_raw is not None and known is not None:
            if known in HISTOGRAM_PARTS.values():
                for kind, hist in prev_raw.histograms.items():
                    if hist.part == known:
                        histograms[kind] = hist
            for name in PART_FIELDS.get(known, ()):
                changes[name] = getattr(prev_raw, name)
        stale.append(StalePart(part, panel_of(part), reason, last))
    raw = dataclasses.replace(current, histograms=histograms, **changes)  # type: ignore[arg-type]
    return Carried(raw=raw, stale=tuple(stale), good_at=good_at)


LB_PART = "lb"


def carry_lb(
    previous: Carried | None, current: RawAnswers, lb_sources: tuple[str, ...]
) -> tuple[RawAnswers, tuple[StalePart, ...], float | None]:
    """Keep the last good rows of every load balancer that failed this refresh.

    ``lb_sources`` are the configured LB source names (``kind:url``) as used in
    ``SourceError.source``. A failed LB's rows are taken from ``previous`` (matched by
    the rows' ``lb`` name being absent now); returns the new raw, the stale marker and
    when the shown LB rows were fetched.
    """
    failed = [e for e in current.errors if e.source in lb_sources]
    last_good = previous.good_at.get(LB_PART) if previous else None
    if not failed:
        return current, (), current.taken_at
    if previous is None:
        return current, (StalePart(LB_PART, "lb", failed[0].message, None),), None
    prev = previous.raw
    have = {row.lb for row in current.lb_backends} | {row.lb for row in current.lb_frontends}
    raw = dataclasses.replace(
        current,
        lb_backends=current.lb_backends + tuple(r for r in prev.lb_backends if r.lb not in have),
        lb_aggregates=current.lb_aggregates
        + tuple(r for r in prev.lb_aggregates if r.lb not in have),
        lb_frontends=current.lb_frontends + tuple(r for r in prev.lb_frontends if r.lb not in have),
        lb_timeouts=current.lb_timeouts or prev.lb_timeouts,
    )
    return raw, (StalePart(LB_PART, "lb", failed[0].message, last_good),), last_good
