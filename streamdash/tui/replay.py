"""``streamdash replay``: the ordinary dashboard over a recording, with a time cursor.

``ReplayApp`` is ``StreamdashApp`` fed by a ``ReplayRefresher``: every panel,
drill-down and export is the live code. It adds the cursor's keys (``REPLAY_BINDINGS``),
the cursor piece of the header (``recorded 02:14:05 · 37/420``), play at 1× or 10×
(recorded time passes that much faster than wall time), and a clock pinned to the
cursor's snapshot so ages read as they did when it was recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from itertools import pairwise
from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType
from textual.timer import Timer

from streamdash import format as fmt
from streamdash.core.timeline import HasFindings, nearest_index
from streamdash.record.replay import Replay, ReplayRefresher, clock_target
from streamdash.settings import Settings
from streamdash.tui.app import StreamdashApp
from streamdash.tui.bindings import REPLAY_BINDINGS, window_label
from streamdash.tui.screens.goto import GotoScreen
from streamdash.tui.screens.timeline import clock
from streamdash.tui.status import age_text

SPEEDS = (1.0, 10.0)
PLAY_TICK_SECONDS = 0.25


def cursor_text(at: float, index: int, total: int, playing: bool, speed: float) -> Text:
    """``recorded 02:14:05 · 37/420`` (and ``▶ 10×`` while playing)."""
    text = Text(f" recorded {clock(at)} · {index + 1}/{total} ", "bold reverse")
    if playing:
        text.append(f" ▶ {speed:g}× ", style="bold")
    return text


def recorded_every(times: Sequence[float]) -> float | None:
    """The recording's interval: the median gap between its snapshots (None for one)."""
    gaps = sorted(b - a for a, b in pairwise(times))
    return gaps[len(gaps) // 2] if gaps else None


def interval_text(times: Sequence[float], index: int) -> str:
    """``recorded every 30 s``, and the gap before this snapshot when it is a hole
    (over twice the interval): the header states the recording's time, not the live
    refresh interval."""
    every = recorded_every(times)
    if every is None:
        return "one recorded snapshot"
    text = f"recorded every {fmt.seconds(every)}"
    if index > 0 and times[index] - times[index - 1] > 2 * every:
        text += f", {age_text(times[index] - times[index - 1])} after the one before"
    return text


class ReplayApp(StreamdashApp):
    """The dashboard over a ``Replay``; polls only when the cursor moves."""

    BINDINGS: ClassVar[list[BindingType]] = [*REPLAY_BINDINGS]

    def __init__(self, settings: Settings, replay: Replay, **options: object) -> None:
        self.replay = replay
        super().__init__(
            settings,
            ReplayRefresher(replay),
            clock=lambda: self.replay.at,
            timed_polling=False,
            **options,  # type: ignore[arg-type]
        )
        self.playing = False
        self.speed = SPEEDS[0]
        self._play_timer: Timer | None = None
        self._play_from: tuple[float, float] = (0.0, 0.0)
        """(wall monotonic, recorded time) when play started."""

    # ----- what is shown --------------------------------------------------------------
    def mode_text(self) -> Text | None:
        """The cursor of the snapshot on screen (the panels and the header agree)."""
        replay = self.replay
        shown = self.snapshot.taken_at if self.snapshot is not None else replay.at
        index = nearest_index(replay.times, shown)
        return cursor_text(replay.times[index], index, len(replay), self.playing, self.speed)

    def header_text(self, now: float, is_degraded: bool = False) -> Text:
        """The cursor, data age, the recording's window and interval, namespace, file
        (pause, failure and degraded do not apply: the cursor says where replay is)."""
        snap = self.snapshot
        namespace = self.settings.namespace or (snap.namespace if snap else None)
        shown = snap.taken_at if snap is not None else self.replay.at
        index = nearest_index(self.replay.times, shown)
        text = self.mode_text() or Text()
        text.append(f" │ data {age_text(now - snap.taken_at) if snap else fmt.NA} old")
        text.append(f" │ window {window_label(self.window_seconds)}")
        text.append(f" │ {interval_text(self.replay.times, index)}")
        text.append(f" │ ns {fmt.safe_label(namespace, 60) if namespace else 'all'}")
        text.append(f" │ {self.description or 'opening…'}")
        return text

    def note_snapshot(self, snapshot: object) -> None:
        """Replayed snapshots are the recording: the session keeps none of them."""
        if self.snapshot is not None:
            self.window_seconds = self.snapshot.window_seconds

    def timeline_frames(self) -> list[HasFindings]:
        return list(self.replay.frames)

    def timeline_title(self) -> str:
        return f"Findings timeline · {len(self.replay)} recorded snapshots of {self.replay.name}"

    def start_backfill(self) -> None:
        """A recording is its own past: nothing to fetch."""

    def open_time(self, at: float) -> None:
        self._moved(self.replay.jump_to_time(at))

    def _moved(self, moved: bool) -> None:
        if moved:
            self.poll()
        self.update_status()

    # ----- keys -----------------------------------------------------------------------
    def action_replay_step(self, by: int) -> None:
        self._stop_playing()
        self._moved(self.replay.step(by))

    def action_replay_change(self, direction: int) -> None:
        self._stop_playing()
        moved = self.replay.next_change() if direction > 0 else self.replay.previous_change()
        if not moved:
            self.say("No further change of findings that way", timeout=3)
        self._moved(moved)

    def action_replay_goto(self) -> None:
        first, last = self.replay.times[0], self.replay.times[-1]
        self.push_screen(GotoScreen(clock(first), clock(last)), self._goto)

    def _goto(self, text: str | None) -> None:
        if not text:
            return
        try:
            at = clock_target(text, self.replay.times[0], self.replay.times[-1])
        except ValueError as exc:
            self.say(str(exc), title="Go to", severity="warning")
            return
        self._stop_playing()
        self._moved(self.replay.jump_to_time(at))

    def action_replay_play(self) -> None:
        if self.playing:
            self._stop_playing()
        else:
            self.playing = True
            self._play_from = (time.monotonic(), self.replay.at)
            self._play_timer = self.set_interval(PLAY_TICK_SECONDS, self._play_tick)
        self.update_status()

    def action_toggle_pause(self) -> None:
        """``p`` in replay is play/pause too."""
        self.action_replay_play()

    def action_replay_speed(self) -> None:
        self.speed = SPEEDS[(SPEEDS.index(self.speed) + 1) % len(SPEEDS)]
        if self.playing:
            self._play_from = (time.monotonic(), self.replay.at)
        self.say(f"Replay speed {self.speed:g}×", timeout=2)
        self.update_status()

    def action_cycle_window(self) -> None:
        self.say("The window is the recording's own in replay", timeout=3)

    def action_refresh_now(self) -> None:
        self.poll()

    def action_record_session(self) -> None:
        self.say("This is already a recording", timeout=3)

    def _stop_playing(self) -> None:
        self.playing = False
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def _play_tick(self) -> None:
        started, at = self._play_from
        target = at + (time.monotonic() - started) * self.speed
        replay = self.replay
        index = replay.index
        while index + 1 < len(replay) and replay.times[index + 1] <= target:
            index += 1
        if index + 1 >= len(replay) and index == replay.index:
            self._stop_playing()
            self.say("End of the recording", timeout=3)
            self.update_status()
            return
        self._moved(replay.move_to(index))


def run_replay_tui(settings: Settings, replay: Replay) -> int:
    """Run the replay dashboard until the user quits."""
    app = ReplayApp(settings, replay)
    result = app.run()
    if app.return_code not in (None, 0):
        return app.return_code
    return result if isinstance(result, int) else 0
