"""Write screenshots/*.svg of the dashboard from fixture data (no network, no sources).

Usage: /work/venv/bin/python scripts/screenshots.py [OUTPUT_DIR]
Every panel and every theme at 160×50, the dashboard at 80×24, and the detail and help
screens. Look at them with ``rsvg-convert x.svg -o x.png``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamdash.settings import Settings  # noqa: E402
from streamdash.tui.app import StreamdashApp  # noqa: E402
from tests.tui.fixtures import NOW, ScriptedRefresher, sample_history, sample_snapshot  # noqa: E402

THEMES = ("streamdash-dark", "streamdash-light", "streamdash-high-contrast")
MAX_STEPS = 250


async def shoot(
    path: Path, size: tuple[int, int], keys: Sequence[str] = (), theme: str = THEMES[0]
) -> None:
    refresher = ScriptedRefresher(sample_snapshot(), history=sample_history())
    app = StreamdashApp(
        replace(Settings(), theme=theme), refresher, clock=lambda: NOW + 3, timed_polling=False
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
    wide = (160, 50)
    for theme in THEMES:
        await shoot(out / f"dashboard-{theme}-160x50.svg", wide, theme=theme)
    for number, panel in enumerate(("latency", "pods", "autoscaler", "lb", "findings"), 1):
        await shoot(out / f"panel-{panel}-80x24.svg", (80, 24), keys=[str(number)])
    await shoot(out / "dashboard-80x24.svg", (80, 24))
    await shoot(out / "pod-detail-160x50.svg", wide, keys=["2", "enter"])
    await shoot(out / "finding-detail-160x50.svg", wide, keys=["5", "enter"])
    await shoot(out / "help-160x50.svg", wide, keys=["question_mark"])


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "screenshots"))
