"""Write screenshots/*.svg of the dashboard from the demo fleet, through the real path.

Usage: python scripts/screenshots.py [OUTPUT_DIR]
Starts the embedded demo fleet (scenario ``incident``) on loopback, refreshes it with the
ordinary direct-scrape and HAProxy sources for about a minute so the charts have a
history, then renders that real Snapshot: every panel and every theme at 160×50, the
dashboard at 80×24 in every theme, and the detail and help screens. Look at them with
``rsvg-convert x.svg -o x.png``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamdash.core.raw import HistoryRaw  # noqa: E402
from streamdash.core.snapshot import Snapshot  # noqa: E402
from streamdash.demo import demo_settings, start_fleet  # noqa: E402
from streamdash.live import LiveRefresher  # noqa: E402
from streamdash.settings import Settings  # noqa: E402
from streamdash.tui.app import StreamdashApp  # noqa: E402

THEMES = ("streamdash-dark", "streamdash-light", "streamdash-high-contrast")
MAX_STEPS = 250
WARM_UP_REFRESHES = 30
REFRESH_SECONDS = 2.0


def demo_snapshot() -> tuple[Snapshot, str]:
    """A real Snapshot of the demo's incident after about a minute of refreshes."""
    fleet = start_fleet(scenario="incident", seed=0)
    settings = demo_settings(fleet, replace(Settings(), refresh_seconds=REFRESH_SECONDS))
    refresher = LiveRefresher(settings)
    try:
        snapshot = refresher.refresh(settings.window_seconds)
        for _ in range(WARM_UP_REFRESHES):
            time.sleep(REFRESH_SECONDS)
            snapshot = refresher.refresh(settings.window_seconds)
        return snapshot, refresher.describe()
    finally:
        refresher.close()
        fleet.stop()


class ReplayRefresher:
    """Answers every refresh with one recorded Snapshot (so every shot shows the same)."""

    def __init__(self, snapshot: Snapshot, description: str) -> None:
        self.snapshot, self.description = snapshot, description

    def refresh(self, window_seconds: int) -> Snapshot:
        return replace(self.snapshot, window_seconds=window_seconds)

    def pod_history(self, pod: str, window_seconds: int) -> HistoryRaw | None:
        return None  # direct scrape keeps no per-pod history, as in the real demo

    def describe(self) -> str:
        return self.description

    def close(self) -> None:
        pass


RECORDED: list[tuple[Snapshot, str]] = []


async def shoot(
    path: Path, size: tuple[int, int], keys: Sequence[str] = (), theme: str = THEMES[0]
) -> None:
    snapshot, description = RECORDED[0]
    refresher = ReplayRefresher(snapshot, description)
    app = StreamdashApp(
        replace(Settings(), theme=theme, namespace=snapshot.namespace),
        refresher,
        clock=lambda: snapshot.taken_at + 2,
        timed_polling=False,
    )
    async with app.run_test(size=size) as pilot:
        for _ in range(MAX_STEPS):
            if app.snapshot is not None:
                break
            await pilot.pause(0.02)
        else:
            raise SystemExit(f"{path.name}: no snapshot after {MAX_STEPS} steps")
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.3)
        app.save_screenshot(path.name, str(path.parent))
    print(path)


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    RECORDED.append(demo_snapshot())
    wide = (160, 50)
    for theme in THEMES:
        await shoot(out / f"dashboard-{theme}-160x50.svg", wide, theme=theme)
    for number, panel in enumerate(("latency", "pods", "autoscaler", "lb", "findings"), 1):
        await shoot(out / f"panel-{panel}-80x24.svg", (80, 24), keys=[str(number)])
    await shoot(out / "dashboard-80x24.svg", (80, 24))
    for theme in THEMES[1:]:  # the default theme's 80x24 is dashboard-80x24.svg
        await shoot(out / f"dashboard-{theme}-80x24.svg", (80, 24), theme=theme)
    await shoot(out / "pod-detail-160x50.svg", wide, keys=["2", "enter"])
    await shoot(out / "finding-detail-160x50.svg", wide, keys=["5", "enter"])
    await shoot(out / "help-160x50.svg", wide, keys=["question_mark"])


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "screenshots"))
