"""Pilot tests: the dashboard driven by keys, fed by a scripted Refresher."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from streamdash.core.snapshot import PodRow, Snapshot
from streamdash.tui.app import StreamdashApp
from streamdash.tui.dashboard import DashboardScreen
from streamdash.tui.help import HelpScreen
from streamdash.tui.panels.base import Panel
from streamdash.tui.panels.pods import PodsPanel
from streamdash.tui.panels.rowgrid import RowGrid
from streamdash.tui.screens.finding import FindingScreen
from streamdash.tui.screens.pod import PodScreen
from streamdash.tui.screens.timeline import clock as timeline_clock
from streamdash.tui.status import PANELS
from streamdash.tui.status import clock_text as status_clock
from tests.tui.fixtures import (
    HOSTILE_POD,
    NOW,
    ScriptedRefresher,
    sample_history,
    sample_snapshot,
    stale_part,
)
from tests.tui.helpers import Clock, make_app, settings_with, wait_polls, wait_until

pytestmark = pytest.mark.anyio


def dash(app: StreamdashApp) -> DashboardScreen:
    return app.dashboard


def header(app: StreamdashApp) -> str:
    widget = dash(app).query_one("#header-line", Static)
    return str(widget.render())


def stale_panels(app: StreamdashApp) -> set[str]:
    return {p.PANEL for p in dash(app).panels if p.has_class("-stale")}


def screen_text(app: StreamdashApp) -> str:
    """The screen as SVG text with non-breaking spaces made plain (for substring checks)."""
    return app.export_screenshot().replace("&#160;", " ")


def pods_table(app: StreamdashApp) -> RowGrid[PodRow]:
    return dash(app).query_one("#pods-table", RowGrid)


async def test_tab_and_number_keys_move_between_panels() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert dash(app).active == "latency"
        await pilot.press("tab")
        assert dash(app).active == "pods"
        assert app.focused is pods_table(app)
        await pilot.press("3")
        assert dash(app).active == "autoscaler"
        await pilot.press("shift+tab")
        assert dash(app).active == "pods"
        await pilot.press("5")
        assert dash(app).active == "findings"
        await pilot.press("tab")
        assert dash(app).active == "latency"
        focused = app.focused
        assert focused is not None
        assert any(a.id == "panel-latency" for a in focused.ancestors_with_self)


async def test_narrow_terminal_shows_one_panel_at_a_time() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert dash(app).has_class("-narrow")
        shown = [p.PANEL for p in dash(app).panels if p.display and p.region.height > 0]
        assert shown == ["latency"]
        await pilot.press("4")
        await pilot.pause()
        shown = [p.PANEL for p in dash(app).panels if p.region.height > 0]
        assert shown == ["lb"]


async def test_export_writes_file_and_notifies_path(tmp_path: Path) -> None:
    pytest.importorskip("streamdash.export.files", reason="lead's export module not landed")
    pytest.importorskip("streamdash.export.markdown", reason="lead's export module not landed")
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, settings_with(export_dir=str(tmp_path)))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("e")
        await pilot.pause()
        files = list(tmp_path.glob("streamdash-snapshot-*.md"))
        assert len(files) == 1
        assert "> 5 s" in files[0].read_text(encoding="utf-8")
        messages = [n.message for n in app._notifications]
        assert any(str(files[0]) in m for m in messages)


async def test_export_error_is_one_line_notification(tmp_path: Path) -> None:
    pytest.importorskip("streamdash.export.files", reason="lead's export module not landed")
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x", encoding="utf-8")
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, settings_with(export_dir=str(not_a_dir)))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("e")
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1
        assert "\n" not in errors[0].message


async def test_pause_stops_timed_polls_and_resume_polls() -> None:
    clock = Clock(NOW + 1)
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("p")
        assert app.paused
        assert f"PAUSED since {timeline_clock(NOW + 1)}" in header(app)
        app._poll_tick()  # what the interval timer calls
        await pilot.pause(0.1)
        assert len(refresher.windows) == 1
        clock.now = NOW + 120  # far past the 3 intervals that mark live data stale
        app.update_status()
        assert stale_panels(app) == set()
        assert "DEGRADED" not in header(app)
        for panel in dash(app).panels:
            assert str(panel.border_subtitle) == f"paused · values of {status_clock(NOW)}"
        refresher.push(sample_snapshot(now=NOW + 119))
        await pilot.press("p")
        assert not app.paused
        await wait_polls(pilot, refresher, 2)  # resuming refreshes at once, no timer
        assert "PAUSED" not in header(app)
        assert stale_panels(app) == set()
        assert all("paused" not in str(p.border_subtitle) for p in dash(app).panels)


async def test_filter_by_pod_name_and_escape_clears() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("slash")
        await pilot.press(*"fghij")
        await pilot.pause()
        panel = dash(app).query_one(PodsPanel)
        assert [r.pod for r in panel.shown_rows] == ["llama-serve-7d9f-fghij"]
        assert pods_table(app).row_count == 1
        await pilot.press("escape")
        await pilot.pause()
        assert pods_table(app).row_count == 4
        assert app.focused is pods_table(app)


async def test_escape_clears_a_kept_filter_and_closes_its_input() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        panel = dash(app).query_one(PodsPanel)
        box = panel.query_one("#pods-filter")
        await pilot.press("slash", *"fghij", "enter")  # Enter keeps the filter
        await pilot.pause()
        assert app.focused is pods_table(app)
        assert pods_table(app).row_count == 1
        assert box.has_class("-open")
        await pilot.press("5")  # from another panel too
        await pilot.press("escape")
        await pilot.pause()
        assert panel.filter_text == ""
        assert pods_table(app).row_count == 4
        assert not box.has_class("-open")
        assert "matching" not in str(panel.border_title)
        assert app.focused is pods_table(app)


async def test_sort_by_key_and_header_click() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("2", "s")  # first sort column: pod name, ascending
        panel = dash(app).query_one(PodsPanel)
        names = [r.pod for r in panel.shown_rows]
        assert names == sorted(names)
        # TTFT p99, stream p99, FD use, conns, FDs, cpu (descending)
        await pilot.press("s", "s", "s", "s", "s", "s")
        assert panel.sort_column == "cpu"
        cpus = [r.cpu_cores for r in panel.shown_rows]
        assert cpus == [0.21, 0.16, 0.12, 0.08]
        await pilot.press("S")
        assert [r.cpu_cores for r in panel.shown_rows] == [0.08, 0.12, 0.16, 0.21]
        panel.sort_by(None, True)
        assert [r.pod for r in panel.shown_rows] == [r.pod for r in sample_snapshot().pods]


async def test_window_key_cycles_and_refresher_gets_new_window() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert refresher.windows == [300]
        await pilot.press("w")
        await wait_polls(pilot, refresher, 2)
        assert refresher.windows[-1] == 900
        assert "window 15m" in header(app)
        await pilot.press("w")
        await wait_polls(pilot, refresher, 3)
        await pilot.press("w")
        await wait_polls(pilot, refresher, 4)
        assert refresher.windows == [300, 900, 3600, 60]


async def test_help_lists_every_binding_and_follows_keymap() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, settings_with(keymap={"export": "x"}))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for needed in ("Export", "Pause", "Window", "Theme", "Filter pods", "next_panel", "ctrl+p"):
            assert needed in text
        assert "Export" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "dashboard")
        rows = {binding_id: keys for _s, keys, _d, binding_id in _help_rows(app)}
        assert rows["export"] == "x"
        assert rows["help"] == "?"


def _help_rows(app: StreamdashApp) -> list[tuple[str, str, str, str]]:
    from streamdash.tui.help import help_rows

    return list(help_rows(app.keymap, app.get_key_display))


async def test_theme_cycles_and_unknown_theme_falls_back() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, settings_with(theme="no-such-theme"))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert app.theme == "streamdash-dark"
        assert any("no-such-theme" in n.message for n in app._notifications)
        for name in ("streamdash-dark", "streamdash-high-contrast", "streamdash-light"):
            assert name in app.theme_names
        seen = {app.theme}
        for _ in app.theme_names:
            await pilot.press("t")
            seen.add(app.theme)
        assert seen == set(app.theme_names)


def _palette_prompts(app: StreamdashApp) -> list[str]:
    return [str(option.prompt) for option in app.screen.query_one(OptionList).options]


async def test_palette_has_one_theme_command_listing_our_themes() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert [t for t in titles if "theme" in t.lower()] == ["streamdash: Theme"]
        await pilot.press("ctrl+p", *"theme")
        await wait_until(pilot, lambda: bool(app.screen.query(OptionList)), "the palette")
        await wait_until(pilot, lambda: len(_palette_prompts(app)) == 1, "one theme hit")
        assert _palette_prompts(app)[0].startswith("streamdash: Theme")
        await pilot.press("enter")  # opens the theme picker
        await wait_until(
            pilot, lambda: _palette_prompts(app) == app.theme_names, "our themes listed"
        )
        assert "textual-dark" not in _palette_prompts(app)
        await pilot.press(*"light", "enter")
        await wait_until(pilot, lambda: app.theme == "streamdash-light", "light theme chosen")


async def test_refresh_failure_marks_all_stale_then_recovers() -> None:
    first = sample_snapshot()
    refresher = ScriptedRefresher(first, RuntimeError("prometheus down\nsecond line"))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert stale_panels(app) == set()
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        assert stale_panels(app) == set(PANELS)
        banner = dash(app).panel("pods").query_one(".stale-banner", Static)
        assert "RuntimeError: prometheus down" in str(banner.render())
        assert "second line" not in str(banner.render())
        assert pods_table(app).row_count == 4  # the last values stay
        assert app.snapshot == first
        assert "REFRESH FAILED" in header(app)
        refresher.push(replace(first, taken_at=NOW + 2))
        await pilot.press("r")
        await wait_polls(pilot, refresher, 3)
        assert stale_panels(app) == set()


async def test_stale_part_marks_only_its_panel() -> None:
    snap = sample_snapshot(stale=(stale_part("pods", "scrape of pod x timed out", NOW - 60),))
    refresher = ScriptedRefresher(snap)
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert stale_panels(app) == {"pods"}
        panel = dash(app).panel("pods")
        assert "scrape of pod x timed out" in str(panel.query_one(".stale-banner", Static).render())
        assert str(panel.border_subtitle) == f"STALE · values of {status_clock(NOW - 60)}"


async def test_old_data_is_marked_stale_by_age_and_recovers() -> None:
    clock = Clock(NOW + 1)
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert stale_panels(app) == set()
        clock.now = NOW + 16  # more than 3 refresh intervals of 5 s
        app.update_status()
        assert stale_panels(app) == set(PANELS)
        refresher.push(sample_snapshot(now=NOW + 15))
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        assert stale_panels(app) == set()


async def test_hostile_pod_name_renders_literally() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        cells = [str(pods_table(app).cells_at(i)[0]) for i in range(4)]
        assert HOSTILE_POD in cells
        assert "llama-[bold]x[/bold]" in screen_text(app)


async def test_quiet_refresh_does_not_rebuild_pods_table() -> None:
    snap = sample_snapshot()
    refresher = ScriptedRefresher(snap, replace(snap, taken_at=NOW + 5))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        table = pods_table(app)
        table.move_cursor(row=2)
        await pilot.pause()
        formatted = table.formatted
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        assert table.formatted == formatted  # equal rows: nothing formatted again
        assert table.cursor_row == 2


async def test_enter_on_pod_opens_detail_with_history() -> None:
    refresher = ScriptedRefresher(sample_snapshot(), history=sample_history())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("2", "down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        screen = app.screen
        assert isinstance(screen, PodScreen)
        await wait_until(pilot, lambda: screen.history is not None, "pod history")
        assert refresher.pod_requests == [(HOSTILE_POD, 300)]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "dashboard")


async def test_pod_history_failure_is_one_line() -> None:
    class Failing(ScriptedRefresher):
        def pod_history(self, pod: str, window_seconds: int) -> None:
            raise ConnectionError("refused\ntrace")

    refresher = Failing(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PodScreen), "pod screen")
        status = app.screen.query_one("#pod-status", Static)
        await wait_until(pilot, lambda: "unavailable" in str(status.render()), "error line")
        assert "ConnectionError: refused" in str(status.render())


async def test_enter_on_finding_shows_evidence_promql_advice() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FindingScreen), "finding")
        promql = "rate(app_stream_duration_seconds_bucket[5m])"
        await wait_until(pilot, lambda: promql in screen_text(app), "the finding's PromQL")
        text = screen_text(app)
        assert "overflow_fraction" in text
        assert "Add buckets up to 600 s" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), "dashboard")


async def test_q_quits_with_code_zero_and_closes_refresher() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert refresher.closed


async def test_every_panel_shows_data_age() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        for panel in dash(app).query(Panel):
            assert str(panel.border_subtitle) == "fresh"  # the header has the running age


async def test_header_says_degraded_when_every_data_panel_is_stale() -> None:
    from streamdash.tui.status import DATA_PANELS

    parts = tuple(stale_part(p, f"query {p!r}: HTTP 503", NOW - 60) for p in DATA_PANELS)
    refresher = ScriptedRefresher(sample_snapshot(stale=parts[:1]), sample_snapshot(stale=parts))
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert "live" in header(app) and "DEGRADED" not in header(app)  # one panel stale
        await pilot.press("r")
        await wait_polls(pilot, refresher, 2)
        await wait_until(pilot, lambda: "DEGRADED" in header(app), "the degraded header")
        assert not header(app).lstrip().startswith("live")


class SlowRefresher(ScriptedRefresher):
    """Answers after ``delay`` seconds: a Prometheus slower than the refresh interval."""

    def __init__(self, delay: float, *answers: Snapshot) -> None:
        super().__init__(*answers)
        self.delay = delay

    def refresh(self, window_seconds: int) -> Snapshot:
        time.sleep(self.delay)
        return super().refresh(window_seconds)


async def test_refreshes_slower_than_the_interval_read_as_slow_not_stale() -> None:
    """At a 1 s interval, refreshes taking 1.6 s deliver data every 1.6 s: 4 s old is
    within three of those (not "no new data", not DEGRADED) and the header says how
    long a refresh takes; past three of them the panels are stale as before."""
    clock = Clock(NOW + 1)
    refresher = SlowRefresher(1.6, sample_snapshot())
    app = make_app(refresher, settings_with(refresh_seconds=1.0), clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        assert app.refresh_took is not None and app.refresh_took >= 1.6
        clock.now = NOW + 4  # 4 s > 3 intervals of 1 s, < 3 refreshes of 1.6 s
        app.update_status()
        assert stale_panels(app) == set()
        assert "DEGRADED" not in header(app)
        assert "every 1 s, takes 1." in header(app)
        clock.now = NOW + 6
        app.update_status()
        assert {"latency", "pods", "autoscaler"} <= stale_panels(app)
