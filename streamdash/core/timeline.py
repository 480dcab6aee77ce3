"""Findings timeline: when each finding appeared, changed severity and cleared.

Pure: ``timeline(frames)`` takes anything with ``taken_at`` (Unix seconds) and
``findings`` (Snapshots, recording frames), oldest first, and returns entries in time
order. A finding is identified by (id, subject). An entry is at the time of the first
frame that shows the change (the change happened between that frame and the one
before; ``since`` is that previous frame's time, None for the first frame). Findings
present in the first frame are reported as ``appeared`` at that frame ("already
there when the data starts"). Nothing is reported for a finding still open at the
last frame except its appearance and severity changes.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from streamdash.core.snapshot import Finding


class HasFindings(Protocol):
    @property
    def taken_at(self) -> float: ...

    @property
    def findings(self) -> Sequence[Finding]: ...


@dataclass(frozen=True)
class FindingsMark:
    """What the timeline needs of a snapshot: its time and findings (a few KB, where
    the whole snapshot holds a row per pod)."""

    taken_at: float
    findings: tuple[Finding, ...]


def mark_of(frame: HasFindings) -> FindingsMark:
    return FindingsMark(frame.taken_at, tuple(frame.findings))


class Change(enum.StrEnum):
    APPEARED = "appeared"
    SEVERITY = "severity"
    CLEARED = "cleared"


@dataclass(frozen=True)
class TimelineEntry:
    at: float
    """Time of the first frame that shows the change (Unix seconds)."""
    since: float | None
    """Time of the frame before it (the change lies in between); None at the start."""
    change: Change
    finding_id: str
    subject: str
    severity: str
    """The severity from ``at`` on (for ``cleared``, the last severity it had)."""
    previous_severity: str | None
    """For ``severity`` changes: the severity before."""
    summary: str
    """The finding's summary at ``at`` (for ``cleared``, its last summary)."""


def timeline(frames: Iterable[HasFindings]) -> tuple[TimelineEntry, ...]:
    """Entries for every appearance, severity change and clearing (module contract)."""
    out: list[TimelineEntry] = []
    open_: dict[tuple[str, str], Finding] = {}
    previous: float | None = None
    for frame in frames:
        now: dict[tuple[str, str], Finding] = {}
        for f in frame.findings:
            now.setdefault((f.id, f.subject), f)
        for key, f in now.items():
            before = open_.get(key)
            if before is None:
                out.append(
                    TimelineEntry(
                        frame.taken_at,
                        previous,
                        Change.APPEARED,
                        f.id,
                        f.subject,
                        f.severity,
                        None,
                        f.summary,
                    )
                )
            elif before.severity != f.severity:
                out.append(
                    TimelineEntry(
                        frame.taken_at,
                        previous,
                        Change.SEVERITY,
                        f.id,
                        f.subject,
                        f.severity,
                        before.severity,
                        f.summary,
                    )
                )
        for key, f in open_.items():
            if key not in now:
                out.append(
                    TimelineEntry(
                        frame.taken_at,
                        previous,
                        Change.CLEARED,
                        f.id,
                        f.subject,
                        f.severity,
                        None,
                        f.summary,
                    )
                )
        open_, previous = now, frame.taken_at
    return tuple(out)


def change_indices(frames: Sequence[HasFindings]) -> tuple[int, ...]:
    """Indices of frames whose findings (id, subject, severity) differ from the frame
    before (0 excluded): where "next/previous change" jumps."""
    keys = [frozenset((f.id, f.subject, f.severity) for f in fr.findings) for fr in frames]
    return tuple(i for i in range(1, len(keys)) if keys[i] != keys[i - 1])


def nearest_index(times: Sequence[float], at: float) -> int:
    """Index of the time in sorted, non-empty ``times`` nearest ``at`` (the earlier on a tie)."""
    i = bisect.bisect_left(times, at)
    if i <= 0:
        return 0
    if i >= len(times):
        return len(times) - 1
    return i - 1 if at - times[i - 1] <= times[i] - at else i
