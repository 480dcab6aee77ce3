"""Which critical findings are new since the last snapshot (for ``bell_on_critical``).

Pure: no Textual. A critical finding is known by (id, subject); it is new when the
previous live snapshot did not have it as critical. The first snapshot rings for
nothing: what is on screen when the dashboard opens is not news.
"""

from __future__ import annotations

from collections.abc import Iterable

from streamdash.core.snapshot import Finding

CriticalKey = tuple[str, str]
"""(finding id, subject): one critical finding across refreshes."""


def critical_keys(findings: Iterable[Finding]) -> frozenset[CriticalKey]:
    """The (id, subject) of every critical finding."""
    return frozenset((f.id, f.subject) for f in findings if f.severity == "critical")


def new_criticals(
    previous: frozenset[CriticalKey] | None, findings: Iterable[Finding]
) -> tuple[frozenset[CriticalKey], frozenset[CriticalKey]]:
    """(this snapshot's critical keys, those not critical before); ``previous`` None:
    the first snapshot, nothing is new."""
    now = critical_keys(findings)
    if previous is None:
        return now, frozenset()
    return now, now - previous
