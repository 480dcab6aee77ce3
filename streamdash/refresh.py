"""The seam between sources and views: something that produces Snapshots on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from streamdash.core.raw import HistoryRaw
from streamdash.core.snapshot import Snapshot


class Refresher(Protocol):
    """Produces one Snapshot per call. Blocking; the TUI calls it from a worker thread.

    Implementations never raise for source failures: they return a Snapshot whose
    ``errors`` and ``stale`` say what failed, with the last good values carried forward.
    """

    def refresh(self, window_seconds: int) -> Snapshot:
        """Fetch, build and return a Snapshot over ``window_seconds``."""
        ...

    def pod_history(self, pod: str, window_seconds: int) -> HistoryRaw | None:
        """Series for one pod's detail view (``ttft_p99``, ``stream_p99``, ``open_fds``,
        ``cpu_cores``, ``in_flight``); None when the source keeps no history."""
        ...

    def describe(self) -> str:
        """One line for the header: which source is live (no credentials)."""
        ...

    def close(self) -> None:
        """Release connections and background resources."""
        ...


@runtime_checkable
class EarlyFrames(Protocol):
    """A Refresher whose first refresh can show an early frame (``LiveRefresher``)."""

    def refresh_first(
        self, window_seconds: int, on_partial: Callable[[Snapshot], None] | None
    ) -> Snapshot:
        """``refresh``, handing ``on_partial`` the answers so far (latency pending)."""
        ...
