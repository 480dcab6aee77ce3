"""The pods table's update mechanics (``RowGrid``): keyed by pod, rows updated in place,
never rebuilt for a reorder, only the visible rows formatted, a quiet refresh repaints
nothing. Counts, not times."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from streamdash.core.raw import HistoryRaw
from streamdash.core.snapshot import PodRow, Snapshot
from streamdash.tui.panels.pods import PodsPanel
from streamdash.tui.panels.rowgrid import RowGrid
from tests.tui.fixtures import ScriptedRefresher, sample_history, sample_snapshot
from tests.tui.helpers import make_app, wait_polls, wait_until

pytestmark = pytest.mark.anyio
N = 5000


def fleet(n: int = N) -> tuple[PodRow, ...]:
    return tuple(
        PodRow(pod=f"pod-{i:05d}", open_fds=float(100 + i % 900), max_fds=1024.0, cpu_cores=0.2)
        for i in range(n)
    )


class Painted:
    """Counts the grid lines drawn (``render_line`` calls) from now on."""

    def __init__(self, grid: RowGrid[PodRow]) -> None:
        self.lines: list[int] = []
        original = grid.render_line

        def counting(y: int):  # type: ignore[no-untyped-def]
            self.lines.append(y)
            return original(y)

        grid.render_line = counting  # type: ignore[method-assign]


def grid_of(app: object) -> RowGrid[PodRow]:
    return app.dashboard.query_one("#pods-table", RowGrid)  # type: ignore[attr-defined, no-any-return]


async def test_only_visible_rows_are_formatted_and_quiet_refresh_repaints_nothing() -> None:
    rows = fleet()
    snap = sample_snapshot(pods=rows)
    refresher = ScriptedRefresher(snap, replace(snap, taken_at=snap.taken_at + 5))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.pause()
        grid = grid_of(app)
        assert grid.row_count == N
        assert 0 < grid.formatted <= grid.size.height  # not 5,000
        formatted = grid.formatted
        painted = Painted(grid)
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        await pilot.pause()
        assert grid.formatted == formatted
        assert painted.lines == []


async def test_a_changed_row_is_formatted_alone_and_a_reorder_rebuilds_nothing() -> None:
    rows = fleet(200)
    changed = list(rows)
    changed[3] = replace(rows[3], cpu_cores=0.9)
    snap = sample_snapshot(pods=rows)
    reordered = tuple(reversed(rows[:10])) + rows[10:]
    refresher = ScriptedRefresher(
        snap,
        replace(snap, pods=tuple(changed)),
        replace(snap, pods=reordered),
    )
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.pause()
        grid = grid_of(app)
        grid.move_cursor(2)
        await pilot.pause()
        formatted = grid.formatted
        painted = Painted(grid)
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        await pilot.pause()
        assert grid.formatted == formatted + 1  # only pod-00003 again
        assert painted.lines and set(painted.lines) == {1 + 3}  # its line, nothing else
        assert str(grid.cells_at(3)[6]) == "0.90"

        # The worst-first order changes: rows move, the cursor stays on its pod, and
        # rows whose values did not change are not formatted again (pod-00003's did).
        await pilot.press("r")
        await wait_polls(pilot, refresher, 3)
        await pilot.pause()
        assert grid.keys[:10] == tuple(f"pod-{i:05d}" for i in range(9, -1, -1))
        assert grid.keys[grid.cursor_row] == "pod-00002"
        assert app.dashboard.query_one(PodsPanel).current_pod() == "pod-00002"
        assert grid.formatted == formatted + 2


async def test_cursor_keys_scroll_to_the_last_row_and_enter_picks_it() -> None:
    rows = fleet(300)
    refresher = ScriptedRefresher(sample_snapshot(pods=rows))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("2", "end")
        grid = grid_of(app)
        assert grid.cursor_row == 299
        await pilot.pause()
        assert "pod-00299" in app.export_screenshot()
        await pilot.press("k", "k", "enter")
        await pilot.pause()
        from streamdash.tui.screens.pod import PodScreen

        assert isinstance(app.screen, PodScreen)
        assert app.screen.row.pod == "pod-00297"


async def test_duplicate_pod_names_each_get_a_row() -> None:
    rows = (PodRow(pod="same"), PodRow(pod="same", cpu_cores=0.5), PodRow(pod="other"))
    refresher = ScriptedRefresher(sample_snapshot(pods=rows))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        grid = grid_of(app)
        assert grid.row_count == 3
        assert [str(grid.cells_at(i)[0]) for i in range(3)] == ["same", "same", "other"]


class ChartsLater(ScriptedRefresher):
    """A refresher whose chart history comes after the numbers (as ``LiveRefresher``'s
    background range query does): the first refresh has none, the follow-up brings it."""

    def __init__(self, snapshot: Snapshot, history: HistoryRaw) -> None:
        super().__init__(replace(snapshot, history=None))
        self.snapshot = snapshot
        self.later = history
        self.ready = threading.Event()
        self.follow_ups = 0

    def history_pending(self, timeout: float) -> bool:
        return self.ready.wait(timeout)

    def history_follow_up(self, window_seconds: int) -> Snapshot | None:
        self.follow_ups += 1
        return replace(self.snapshot, history=self.later, window_seconds=window_seconds)


async def test_numbers_first_then_the_charts_without_another_refresh() -> None:
    refresher = ChartsLater(sample_snapshot(), sample_history())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert app.snapshot is not None and app.snapshot.history is None  # numbers shown
        refresher.ready.set()
        await wait_until(
            pilot, lambda: app.snapshot is not None and app.snapshot.history is not None, "charts"
        )
        assert refresher.windows == [300] and refresher.follow_ups == 1
