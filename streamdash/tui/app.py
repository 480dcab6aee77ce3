"""The streamdash TUI: polls a ``Refresher`` in a worker thread and shows Snapshots.

Entry point: ``run_tui(settings, refresher) -> int``. The UI thread never waits on I/O:
``Refresher.refresh`` runs in an exclusive thread worker that posts a ``PollResult``
(a newer result replaces a queued older one). A refresh that raises never ends the app:
the last snapshot stays on screen, every panel marked stale with the one-line error.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import SystemCommand
from textual.binding import BindingType
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, get_current_worker

from streamdash import format as fmt
from streamdash import gcpolicy
from streamdash.advise.model import Artifact
from streamdash.core.snapshot import Finding, Snapshot
from streamdash.refresh import EarlyFrames, Refresher
from streamdash.settings import Settings
from streamdash.tui.bell import CriticalKey, new_criticals
from streamdash.tui.bindings import (
    APP_BINDINGS,
    DASHBOARD_BINDINGS,
    QUIT_ON_CTRL_C,
    TIME_BINDINGS,
    next_window,
    window_label,
)
from streamdash.tui.dashboard import DashboardScreen
from streamdash.tui.help import SECTIONS, HelpScreen
from streamdash.tui.panels.findings import FindingsPanel
from streamdash.tui.panels.pods import PodsPanel
from streamdash.tui.pod_source import history_fetch
from streamdash.tui.screens.finding import FindingScreen
from streamdash.tui.screens.pod import PodScreen
from streamdash.tui.screens.timeline import clock
from streamdash.tui.status import PANELS, age_text, degraded, one_line, panel_status
from streamdash.tui.themes import DEFAULT_THEME, load_themes
from streamdash.tui.time import TimeActions
from streamdash.tui.verdict import VerdictLine

Clock = Callable[[], float]


class PollResult(Message):
    """One refresh's outcome: a snapshot, or the one-line error of a refresh that raised."""

    def __init__(
        self,
        snapshot: Snapshot | None,
        error: str | None,
        description: str | None,
        window: int,
        took: float | None = None,
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.error = error
        self.description = description
        self.window = window
        self.took = took
        """Seconds the refresh took (None: a follow-up that asked nothing)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PollResult)


def _coarse(seconds: float) -> float:
    """A duration to a tenth below 2 s and to the whole second above, so the header
    does not change on every refresh for a few milliseconds' difference."""
    return round(seconds, 1) if seconds < 2 else float(round(seconds))


class EarlyFrame(Message):
    """The first refresh's early frame: what answered before the latency histograms."""

    def __init__(self, snapshot: Snapshot, window: int) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.window = window


class OurThemes(Provider):
    """Command palette hits: the themes streamdash loaded (not Textual's built-in ones)."""

    def _themes(self) -> list[tuple[str, Callable[[], None]]]:
        names = getattr(self.app, "theme_names", [])
        return [(name, partial(setattr, self.app, "theme", name)) for name in names]

    async def discover(self) -> Hits:
        for name, choose in self._themes():
            yield DiscoveryHit(name, choose)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, choose in self._themes():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), choose)


class StreamdashApp(TimeActions):
    """The on-call dashboard. ``timed_polling=False`` polls only on ``r``/``w`` and once at
    start (tests); ``clock`` gives "now" for data ages (tests pin it)."""

    CSS_PATH = "app.tcss"
    TITLE = "streamdash"
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS, *TIME_BINDINGS, QUIT_ON_CTRL_C]

    def __init__(
        self,
        settings: Settings,
        refresher: Refresher,
        *,
        clock: Clock = time.time,
        timed_polling: bool = True,
        theme_dirs: Iterable[Path] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.refresher = refresher
        self.clock = clock
        self.timed_polling = timed_polling
        self.theme_dirs = list(theme_dirs) if theme_dirs is not None else None
        self.window_seconds = settings.window_seconds
        self.paused = False
        self.paused_at: float | None = None
        """When ``p`` paused refreshing (None: not paused by ``p``)."""
        self.snapshot: Snapshot | None = None
        self.failure: str | None = None
        self.description = ""
        self.theme_names: list[str] = []
        self.keymap: dict[str, str] = dict(settings.keymap)
        self.criticals: frozenset[CriticalKey] | None = None
        """The last live snapshot's critical findings (None before the first)."""
        self._refresh_lock = threading.Lock()
        self.polling_in_flight = False
        self.refresh_took: float | None = None
        """How long the last answered refresh took (None before the first)."""
        self.init_time(settings.session_snapshots)

    def say(self, message: str, **options: object) -> None:
        """``notify`` with markup off: messages carry paths, names and label values."""
        self.notify(message, markup=False, **options)  # type: ignore[arg-type]

    # ----- start-up -------------------------------------------------------------------
    async def on_mount(self) -> None:
        from streamdash.tui.signals import exit_on_signals

        exit_on_signals(self)
        self._load_themes()
        self._apply_keymap()
        await self.push_screen(DashboardScreen(self.settings))
        try:
            self.description = fmt.safe_label(self.refresher.describe(), 160)
        except Exception as exc:  # a broken describe() must not stop the dashboard
            self.description = f"(source: {one_line(exc)})"
        self.poll()
        if self.timed_polling:
            self.set_interval(self.settings.refresh_seconds, self._poll_tick)
        self.set_interval(1.0, self.update_status)
        self.update_status()

    def _load_themes(self) -> None:
        loaded = load_themes(self.theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
            self.theme_names.append(theme.name)
        for problem in loaded.problems:
            self.say(problem, title="Theme file skipped", severity="warning")
        self.set_theme(self.settings.theme)

    def set_theme(self, name: str) -> None:
        """Switch to theme ``name``; an unknown name falls back to the default, with a notice."""
        if name in self.available_themes:
            self.theme = name
            return
        fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = fallback
        self.say(
            f"Unknown theme {fmt.safe_label(name, 60)!r}; using {fallback}",
            title="Theme",
            severity="warning",
        )

    def _apply_keymap(self) -> None:
        known = {b.id for _section, bindings in SECTIONS for b in bindings if b.id}
        unknown = sorted(set(self.keymap) - known)
        if unknown:
            self.say(
                "Unknown key binding id(s) in keymap: " + ", ".join(unknown),
                title="Keymap",
                severity="warning",
            )
        self.set_keymap({k: v for k, v in self.keymap.items() if k in known})

    @property
    def dashboard(self) -> DashboardScreen:
        """The dashboard screen (the bottom of the screen stack once mounted)."""
        for candidate in self.screen_stack:
            if isinstance(candidate, DashboardScreen):
                return candidate
        raise LookupError("dashboard screen not mounted")

    # ----- polling --------------------------------------------------------------------
    def _poll_tick(self) -> None:
        if not self.paused and not self.polling_in_flight:
            self.poll()

    def poll(self) -> None:
        """Start a refresh now over the current window (replacing a queued one)."""
        self.polling_in_flight = True
        self._poll_worker(self.window_seconds)

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll_worker(self, window: int) -> None:
        worker = get_current_worker()
        with self._refresh_lock:  # one refresh() at a time; queued stale polls give up
            if worker.is_cancelled:
                return
            started = time.monotonic()
            try:
                refresher = self.refresher
                if self.snapshot is None and isinstance(refresher, EarlyFrames):
                    snapshot = refresher.refresh_first(window, self._early_frame_poster(window))
                else:
                    snapshot = refresher.refresh(window)
                description = self.refresher.describe()
            except Exception as exc:  # shown as stale + one line, never a traceback
                self.post_message(PollResult(None, one_line(exc), None, window))
                return
            took = time.monotonic() - started
        if not worker.is_cancelled:
            self.post_message(PollResult(snapshot, None, description, window, took))
        self._follow_history(worker, window, description)
        if not self.backfill_started:  # the hour before start waits for the first frame
            self.backfill_started = True
            self.call_from_thread(self.start_backfill)

    def _early_frame_poster(self, window: int) -> Callable[[Snapshot], None]:
        """What the first refresh calls with its early frame (pods, FDs, CPU, HPA before
        the latency histograms): post it to the app."""

        def early(snapshot: Snapshot) -> None:
            self.post_message(EarlyFrame(snapshot, window))

        return early

    @on(EarlyFrame)
    def _on_early_frame(self, message: EarlyFrame) -> None:
        """Shown only while nothing else is: the whole refresh replaces it (it is not
        kept in the session, judged for the bell or recorded)."""
        if self.snapshot is not None or message.window != self.window_seconds:
            return
        self.snapshot = message.snapshot
        self.dashboard.show_snapshot(message.snapshot)
        self.show_verdict()
        self.update_status()

    def _follow_history(self, worker: Worker[None], window: int, description: str) -> None:
        """Charts after numbers: when the refresh left a chart history fetch running,
        show it as soon as it comes (waiting at most one refresh interval; a newer poll
        ends the wait) by rebuilding the last snapshot with it (no new queries)."""
        pending = getattr(self.refresher, "history_pending", None)
        follow_up = getattr(self.refresher, "history_follow_up", None)
        if pending is None or follow_up is None:
            return
        deadline = time.monotonic() + self.settings.refresh_seconds
        try:
            while not pending(0.1):
                if worker.is_cancelled or time.monotonic() > deadline:
                    return
            with self._refresh_lock:
                if worker.is_cancelled:
                    return
                snapshot = follow_up(window)
        except Exception as exc:  # the numbers are shown; a failed follow-up only logs
            self.log.warning(f"history follow-up failed: {one_line(exc)}")
            return
        if snapshot is not None and not worker.is_cancelled:
            self.post_message(PollResult(snapshot, None, description, window))

    @on(PollResult)
    def _on_poll_result(self, message: PollResult) -> None:
        self.polling_in_flight = False
        if message.window != self.window_seconds:
            return  # answered for a window the user has already left
        if message.took is not None:
            self.refresh_took = message.took
        if message.snapshot is None:
            self.failure = message.error
        else:
            self.failure = None
            first = not self.session
            self.snapshot = message.snapshot
            self.note_snapshot(message.snapshot)
            self._bell_on_new_critical(message.snapshot)
            if message.description:
                self.description = fmt.safe_label(message.description, 160)
            self.dashboard.show_snapshot(message.snapshot)
            if first:  # start-up's objects: out of later full collections
                self.call_after_refresh(gcpolicy.settle)
        self.show_verdict()
        self.update_status()

    def _bell_on_new_critical(self, snapshot: Snapshot) -> None:
        """Ring once when a critical finding appears that the last snapshot lacked
        (``bell_on_critical``; a refresh that keeps it rings nothing)."""
        self.criticals, new = new_criticals(self.criticals, snapshot.findings)
        if new and self.settings.bell_on_critical:
            self.bell()

    def show_verdict(self) -> None:
        """The verdict line of every screen on the stack (each draws only on change)."""
        for screen in self.screen_stack:
            for line in screen.query(VerdictLine):
                line.show(self.snapshot, self.failure)

    def update_status(self) -> None:
        """Refresh the header line and every panel's age / stale mark (cheap, 1 Hz)."""
        try:
            dashboard = self.dashboard
        except LookupError:
            return
        now = self.clock()
        statuses = {
            name: panel_status(
                name,
                self.snapshot,
                now,
                self.cadence_seconds,
                self.failure,
                paused=self.paused,
            )
            for name in PANELS
        }
        try:
            dashboard.show_statuses(statuses)
            dashboard.show_header(self.header_text(now, degraded(statuses)))
        except NoMatches:
            return  # the screen's widgets are being removed (the app is exiting)

    @property
    def cadence_seconds(self) -> float:
        """How often data really arrives: the refresh interval, or the last refresh's
        duration when that is longer (a slow source). Ages and the stale mark go by it,
        so refreshes slower than the interval read as slow, not as stale."""
        took = self.refresh_took
        interval = self.settings.refresh_seconds
        return max(interval, _coarse(took)) if took is not None else interval

    def header_text(self, now: float, is_degraded: bool = False) -> Text:
        """Pause state, data age, window, refresh interval, namespace, source: the most
        urgent first, so an 80-column terminal cuts only the source address."""
        snap = self.snapshot
        namespace = self.settings.namespace or (snap.namespace if snap else None)
        text = Text()
        mode = self.mode_text()
        if mode is not None:
            text.append_text(mode)
        elif self.paused:
            since = f" since {clock(self.paused_at)}" if self.paused_at is not None else ""
            text.append(f" PAUSED{since} ", style="bold reverse")
        elif self.failure:
            text.append(" REFRESH FAILED ", style="bold reverse")
        elif is_degraded:
            text.append(" DEGRADED: every panel is stale ", style="bold reverse")
        else:
            text.append("live", style="bold")
        age = age_text(now - snap.taken_at) if snap else "n/a"
        text.append(f" │ data {age} old")
        text.append(f" │ window {window_label(self.window_seconds)}")
        text.append(f" │ every {fmt.seconds(self.settings.refresh_seconds)}")
        slow = self.refresh_took
        if slow is not None and slow > self.settings.refresh_seconds:
            text.append(f", takes {fmt.seconds(_coarse(slow))}")
        text.append(f" │ ns {fmt.safe_label(namespace, 60) if namespace else 'all'}")
        text.append(f" │ {self.description or 'connecting…'}")
        return text

    # ----- actions --------------------------------------------------------------------
    def action_quit_dashboard(self) -> None:
        self.write_session_on_quit()
        self.exit(0)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_refresh_now(self) -> None:
        self.poll()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.paused_at = self.clock() if self.paused else None
        self.say("Paused: press p to resume" if self.paused else "Resumed", timeout=3)
        if not self.paused:
            self.poll()
        self.update_status()

    def action_cycle_window(self) -> None:
        self.window_seconds = next_window(self.window_seconds)
        self.say(f"Window {window_label(self.window_seconds)}", timeout=2)
        self.poll()
        self.update_status()

    def action_cycle_theme(self) -> None:
        names = self.theme_names or [self.theme]
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.say(f"Theme {self.theme}", timeout=2)

    def action_export(self) -> None:
        if self.snapshot is None:
            self.say("Nothing to export yet: no snapshot", severity="warning")
            return
        try:
            from streamdash.export.files import ExportError, write_export
            from streamdash.export.markdown import render_markdown
        except ImportError as exc:
            self.say(f"Export unavailable: {one_line(exc)}", severity="error")
            return
        directory = Path(self.settings.export_dir) if self.settings.export_dir else Path.cwd()
        now = datetime.fromtimestamp(self.clock()).astimezone()
        try:
            text = render_markdown(self.snapshot) + self.timeline_markdown()
            path = write_export(text, directory, now)
        except ExportError as exc:
            self.say(fmt.safe_label(str(exc), 300), title="Export failed", severity="error")
            return
        self.say(str(path), title="Exported", timeout=8)

    @on(PodsPanel.PodChosen)
    def _open_pod(self, message: PodsPanel.PodChosen) -> None:
        self.push_screen(
            PodScreen(
                message.row,
                history_fetch(self.refresher, self.past()),
                self.window_seconds,
                self.settings.thresholds,
                clock=self.clock,
                snapshot=self.snapshot,
                settings=self.settings,
            )
        )

    @on(FindingsPanel.FindingChosen)
    def _open_finding(self, message: FindingsPanel.FindingChosen) -> None:
        artifacts: tuple[Artifact, ...] = ()
        if self.snapshot is not None:
            from streamdash.tui.screens.artifacts import quick_advice  # not for the 1st frame

            artifacts = quick_advice(self.snapshot, self.settings).for_finding(message.finding)
        self.push_screen(FindingScreen(message.finding, artifacts, self._open_artifacts))

    @on(FindingsPanel.ArtifactsChosen)
    def _artifacts_chosen(self, message: FindingsPanel.ArtifactsChosen) -> None:
        self._open_artifacts(message.finding)

    def _open_artifacts(self, finding: Finding) -> None:
        """``a`` on a finding: its artifacts, with the facts asked from the sources."""
        if self.snapshot is not None:
            from streamdash.tui.screens.artifacts import ArtifactsScreen

            self.push_screen(ArtifactsScreen(finding, self.snapshot, self.settings))

    # ----- command palette ------------------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's commands but its "Theme" (it lists Textual's own themes), then ours;
        our one theme command lists our themes (``t`` cycles them)."""
        for command in super().get_system_commands(screen):
            if command.callback != self.action_change_theme:
                yield command
        for binding in (*APP_BINDINGS, *TIME_BINDINGS):
            if binding.action == "cycle_theme":
                yield SystemCommand(
                    f"streamdash: {binding.description}",
                    f"choose one of {', '.join(self.theme_names)} "
                    f"(key {self.get_key_display(binding)} cycles them)",
                    self.search_themes,
                )
                continue
            yield SystemCommand(
                f"streamdash: {binding.description}",
                f"key {self.get_key_display(binding)}",
                partial(self.run_action, binding.action),
            )
        for binding in DASHBOARD_BINDINGS:
            yield SystemCommand(
                f"streamdash: {binding.description}",
                f"key {self.get_key_display(binding)}",
                partial(self._dashboard_action, binding.action),
            )

    def search_themes(self) -> None:
        """The palette's theme picker, listing streamdash's themes only."""
        self.push_screen(CommandPalette(providers=[OurThemes], placeholder="Search for themes…"))

    async def _dashboard_action(self, action: str) -> None:
        if self.screen is not self.dashboard:
            await self.pop_screen()
        await self.run_action(action, self.dashboard)

    def on_unmount(self) -> None:
        self.write_session_on_quit()
        try:
            self.refresher.close()
        except Exception as exc:  # closing must not turn a clean quit into a traceback
            self.log.warning(f"refresher.close failed: {one_line(exc)}")


def run_tui(settings: Settings, refresher: Refresher) -> int:
    """Run the dashboard until the user quits; return the exit code (0 on ``q``)."""
    from streamdash import textio

    textio.tui()
    app = StreamdashApp(settings, refresher)
    result = app.run()
    if app.quit_note:
        print(app.quit_note, file=sys.stderr)
    if app.return_code not in (None, 0):
        return app.return_code
    return result if isinstance(result, int) else 0


__all__ = ["PollResult", "StreamdashApp", "run_tui"]
