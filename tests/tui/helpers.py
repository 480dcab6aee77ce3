"""Shared helpers for the TUI tests: building the app and waiting (bounded) for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from streamdash.settings import Settings
from streamdash.tui.app import StreamdashApp
from tests.tui.fixtures import NOW, ScriptedRefresher

MAX_WAIT_STEPS = 200
STEP_SECONDS = 0.02


class Clock:
    """A 'now' the test moves by hand."""

    def __init__(self, now: float = NOW + 3) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(
    refresher: ScriptedRefresher,
    settings: Settings | None = None,
    clock: Clock | None = None,
    theme_dirs: list[Path] | None = None,
) -> StreamdashApp:
    return StreamdashApp(
        settings or Settings(),
        refresher,
        clock=clock or Clock(),
        timed_polling=False,
        theme_dirs=theme_dirs,
    )


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Pause until ``condition()`` holds; fail naming ``what`` after a bounded number of steps."""
    for _ in range(MAX_WAIT_STEPS):
        if condition():
            await pilot.pause()
            return
        await pilot.pause(STEP_SECONDS)
    raise AssertionError(f"timed out waiting for {what}")


async def wait_polls(pilot: Pilot[Any], refresher: ScriptedRefresher, count: int) -> None:
    """Wait until ``refresher`` has answered ``count`` polls and the app took the result."""
    app = pilot.app
    assert isinstance(app, StreamdashApp)
    await wait_until(
        pilot,
        lambda: len(refresher.windows) >= count and not app.polling_in_flight,
        f"{count} refresh call(s)",
    )


def settings_with(**changes: object) -> Settings:
    return replace(Settings(), **changes)  # type: ignore[arg-type]
