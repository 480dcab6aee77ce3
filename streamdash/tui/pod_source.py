"""Where the pod screen's history comes from, and the line saying so (no Textual).

The source's own per-pod series when it keeps them (Prometheus range queries; a replay's
recording), else this session's snapshots (``core.pod_history``), else nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from streamdash.core.pod_history import pod_history, span
from streamdash.core.raw import HistoryRaw
from streamdash.core.snapshot import Snapshot
from streamdash.refresh import Refresher

Origin = Literal["source", "recording", "session", "none"]


@dataclass(frozen=True)
class PodHistory:
    """One pod's charts and where they come from."""

    history: HistoryRaw | None
    origin: Origin


PodHistoryFetch = Callable[[str, int], PodHistory]
"""(pod, window seconds) -> its history; blocking (run in a worker)."""


def history_fetch(refresher: Refresher, session: Sequence[Snapshot]) -> PodHistoryFetch:
    """The pod screen's fetch: ``refresher.pod_history`` first, else ``session`` (the
    snapshots this session kept, taken on the UI thread before the worker runs).
    A refresher says where its own history comes from with ``pod_history_origin``
    (``recording`` for a replay; default ``source``)."""
    kept = tuple(session)
    own: Origin = (
        "recording" if getattr(refresher, "pod_history_origin", "") == "recording" else "source"
    )

    def fetch(pod: str, window_seconds: int) -> PodHistory:
        history = refresher.pod_history(pod, window_seconds)
        if history is not None:
            return PodHistory(history, own)
        history = pod_history(kept, pod)
        return PodHistory(history, "session" if history is not None else "none")

    return fetch


def span_text(seconds: float) -> str:
    """``45 s``, ``4 min``, ``1 h 05 min``: how far back a history reaches."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if not rest else f"{hours} h {rest:02d} min"


def _points(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def origin_line(result: PodHistory) -> str:
    """What the charts show, honestly: whose history and how far back it goes."""
    history = result.history
    reach = span(history) if history is not None else None
    if result.origin == "none" or history is None:
        return "No history: the source keeps none per pod, no kept snapshot has this pod."
    if reach is None:
        return "No value of this pod in its history (every point unknown)."
    what = "point" if result.origin == "source" else "snapshot"
    back = f"last {span_text(reach.seconds)}, {_points(reach.points, what)}"
    if result.origin == "session":
        return f"This session's own recording: {back}."
    if result.origin == "recording":
        return f"From the recording: {back} up to the cursor."
    return f"From the source: {back}."
