"""The dashboard's past: the session's snapshots kept in memory, written with ``R`` (or
on quit when ``record_on_quit`` is set), the findings timeline (``T``), and opening the
snapshot nearest a timeline entry. A mixin of ``StreamdashApp``; ``ReplayApp``
overrides where the snapshots come from and how a time is opened.
"""

from __future__ import annotations

import collections
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App

from streamdash import format as fmt
from streamdash import gcpolicy
from streamdash.core.snapshot import Snapshot
from streamdash.core.timeline import (
    FindingsMark,
    HasFindings,
    TimelineEntry,
    mark_of,
    nearest_index,
    timeline,
)
from streamdash.tui.screens.timeline import TimelineScreen, clock

if TYPE_CHECKING:
    from streamdash.live import LiveRefresher
    from streamdash.record.backfill import KeptBackfill
    from streamdash.settings import Settings
    from streamdash.tui.dashboard import DashboardScreen

DEFAULT_SESSION_SNAPSHOTS = 720
"""Snapshots a session keeps in memory: an hour at the default 5 s refresh."""
SESSION_POD_ROWS = 50_000
"""Whole snapshots kept in memory hold at most this many pod rows together (about
50 MiB): a 1,000-pod fleet keeps its last 50 snapshots whole, a 10-pod one all 720.
The findings of every one of the ``session_snapshots`` stay for the timeline."""


def session_file_name(now: datetime) -> str:
    return f"streamdash-session-{now:%Y%m%d-%H%M%S}.sdrec"


class TimeActions(App[int]):
    """Session history, timeline and recording for the dashboard (see module doc)."""

    settings: Settings
    paused: bool
    snapshot: Snapshot | None

    if TYPE_CHECKING:

        @property
        def dashboard(self) -> DashboardScreen: ...

        def say(self, message: str, **options: object) -> None: ...

        def update_status(self) -> None: ...

    def init_time(self, keep: int | None) -> None:
        keep = max(1, keep or DEFAULT_SESSION_SNAPSHOTS)
        self.session: collections.deque[Snapshot] = collections.deque(maxlen=keep)
        """The newest snapshots, whole (bounded by count and ``SESSION_POD_ROWS``)."""
        self.session_rows = 0
        self.marks: collections.deque[FindingsMark] = collections.deque(maxlen=keep)
        """Time and findings of each of the last ``keep`` snapshots (the timeline)."""
        self.backfill: tuple[Snapshot, ...] = ()
        """Snapshots built from Prometheus's range queries for the hour before start,
        kept whole (the newest, bounded: ``keep_backfill``)."""
        self.backfill_marks: tuple[FindingsMark, ...] = ()
        """Time and findings of every backfilled step (the timeline)."""
        self.backfill_started = False
        """Set once the first refresh (and its chart follow-up) has answered: the
        backfill's range queries then start, never beside the first frame's queries."""
        self.viewing: Snapshot | None = None
        """A past snapshot shown instead of the newest (live dashboard, paused)."""
        self.quit_note: str | None = None
        """What ``record_on_quit`` wrote (printed after the screen is restored)."""

    def note_snapshot(self, snapshot: Snapshot) -> None:
        """A new live snapshot arrived: keep it; it replaces any past one on view."""
        if len(self.session) == self.session.maxlen:
            self.session_rows -= len(self.session[0].pods)
        self.session.append(snapshot)
        self.session_rows += len(snapshot.pods)
        while len(self.session) > 1 and self.session_rows > SESSION_POD_ROWS:
            self.session_rows -= len(self.session.popleft().pods)
        self.marks.append(mark_of(snapshot))
        self.viewing = None

    def past(self) -> list[Snapshot]:
        """Every snapshot the session has, oldest first (backfill, then the session)."""
        first = self.session[0].taken_at if self.session else float("inf")
        return [s for s in self.backfill if s.taken_at < first] + list(self.session)

    def mode_text(self) -> Text | None:
        """The header's first piece when not live (None: the ordinary live header)."""
        if self.viewing is None or not self.paused:
            return None
        return Text(f" PAUSED · viewing {clock(self.viewing.taken_at)} (p: live) ", "bold reverse")

    # ----- the hour before start (Prometheus) ------------------------------------------
    def start_backfill(self) -> None:
        """With Prometheus, fetch the hour before start in the background (once, after
        the first refresh has answered: its range queries read about as much as several
        refreshes and would otherwise delay the first frame)."""
        from streamdash.live import LiveRefresher

        refresher = getattr(self, "refresher", None)
        if isinstance(refresher, LiveRefresher) and refresher.prometheus is not None:
            pods = len(self.snapshot.pods) if self.snapshot is not None else 0
            self._backfill_worker(refresher, time.time(), pods)

    @work(thread=True, group="backfill", exit_on_error=False)
    def _backfill_worker(self, refresher: LiveRefresher, now: float, pods: int) -> None:
        from streamdash.record.backfill import backfill, backfill_step, keep_backfill

        step = backfill_step(pods)
        kept = keep_backfill(backfill(refresher, self.settings.window_seconds, now, step=step))
        self.call_from_thread(self._set_backfill, kept)

    def _set_backfill(self, kept: KeptBackfill) -> None:
        self.backfill, self.backfill_marks = kept.snapshots, kept.marks
        gcpolicy.settle()  # the hour before start is kept: out of later full collections

    # ----- timeline -------------------------------------------------------------------
    def timeline_frames(self) -> list[HasFindings]:
        first = self.marks[0].taken_at if self.marks else float("inf")
        frames: list[HasFindings] = [m for m in self.backfill_marks if m.taken_at < first]
        return frames + list(self.marks)

    def timeline_title(self) -> str:
        n, b = len(self.marks), len(self.backfill_marks)
        back = f" and {b} from Prometheus before start" if b else ""
        return f"Findings timeline · {n} snapshots of this session{back}"

    def timeline_entries(self) -> tuple[TimelineEntry, ...]:
        return timeline(self.timeline_frames())

    def timeline_markdown(self) -> str:
        """The timeline section exports append ("" before any snapshot)."""
        from streamdash.export.timeline_md import render_timeline

        frames = self.timeline_frames()
        if not frames:
            return ""
        return "\n" + render_timeline(self.timeline_entries(), self.timeline_title())

    def action_timeline(self) -> None:
        if isinstance(self.screen, TimelineScreen):
            return
        self.push_screen(
            TimelineScreen(self.timeline_entries(), self.timeline_title()), self._open_time
        )

    def _open_time(self, at: float | None) -> None:
        if at is not None:
            self.open_time(at)

    def open_time(self, at: float) -> None:
        """Show the session's snapshot nearest ``at`` (pausing the live dashboard)."""
        past = self.past()
        if not past:
            self.say("No snapshots yet", severity="warning")
            return
        chosen = past[nearest_index([s.taken_at for s in past], at)]
        self.paused = True
        self.viewing = chosen
        self.snapshot = chosen
        self.dashboard.show_snapshot(chosen)
        self.say(f"Showing the snapshot of {clock(chosen.taken_at)}; p goes back to live")
        self.update_status()

    # ----- recording ------------------------------------------------------------------
    def _session_path(self, where: Path) -> Path:
        if where.is_dir():
            return where / session_file_name(datetime.now().astimezone())
        return where

    def write_session(self, where: Path) -> Path | None:
        """Write the session's snapshots as a recording; one-line notice either way."""
        from streamdash.record.store import RecordingError, write_recording

        snapshots = self.past()
        if not snapshots:
            self.say("Nothing to write yet: no snapshot", severity="warning")
            return None
        path = self._session_path(where)
        try:
            write_recording(path, snapshots, source="streamdash session")
        except RecordingError as exc:
            self.say(fmt.safe_label(str(exc), 300), title="Recording failed", severity="error")
            return None
        self.say(f"{path} ({len(snapshots)} snapshots)", title="Recorded", timeout=8)
        return path

    def action_record_session(self) -> None:
        directory = Path(self.settings.export_dir) if self.settings.export_dir else Path.cwd()
        self.write_session(directory)

    def write_session_on_quit(self) -> None:
        """Once per session, when ``record_on_quit`` is set (q, or any other way out)."""
        if self.settings.record_on_quit and self.quit_note is None:
            path = self.write_session(Path(self.settings.record_on_quit))
            self.quit_note = (
                f"streamdash: wrote this session's snapshots to {path}"
                if path
                else f"streamdash: could not write the session to {self.settings.record_on_quit}"
            )
