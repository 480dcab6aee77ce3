"""Findings panel: the cursor row keeps its severity colour, the summary gets the width,
and ``y`` copies the focused finding's PromQL and advice (OSC 52 via Textual)."""

from __future__ import annotations

import pytest
from rich.color import Color

from streamdash.tui.palette import palette_from
from streamdash.tui.panels.findings import SUBJECT_WIDTH, clipboard_text
from streamdash.tui.panels.table import NavTable
from streamdash.tui.screens.finding import FindingScreen
from tests.tui.fixtures import HOSTILE_POD, ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, wait_polls, wait_until

pytestmark = pytest.mark.anyio


def _colour_of(table: NavTable, y: int, word: str) -> Color | None:
    """The foreground colour the table draws ``word`` in on its line ``y``."""
    for segment in table.render_line(y):
        if word in segment.text and segment.style is not None:
            return segment.style.color
    raise AssertionError(f"{word!r} not on line {y}")


async def test_the_selected_row_keeps_its_severity_colour() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5")
        table = app.screen.query_one("#findings-table", NavTable)
        await wait_until(pilot, lambda: table.has_focus and table.row_count == 4, "focus")
        error = Color.parse(palette_from(app.theme_variables).error.split()[-1])
        assert table.cursor_row == 0
        assert _colour_of(table, 1, "CRITICAL") == error  # line 0 is the header
        await pilot.press("j")
        await pilot.pause()
        assert table.cursor_row == 1
        for y in range(1, 8):  # whichever line holds the second CRITICAL, it is red
            for segment in table.render_line(y):
                if "CRITICAL" in segment.text and segment.style is not None:
                    assert segment.style.color == error


async def test_the_summary_gets_the_width_and_long_subjects_are_cut() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5")
        table = app.screen.query_one("#findings-table", NavTable)
        subject, summary = (table.columns[k] for k in list(table.columns)[1:3])
        assert subject.width == SUBJECT_WIDTH
        # 80 less border 2, padding 2 per column, scrollbar 2, the other two columns
        assert summary.width == 80 - 2 - 6 - 2 - len("CRITICAL") - SUBJECT_WIDTH
        assert table.virtual_size.width <= table.scrollable_content_region.width
        cut = str(table.get_row_at(1)[1])
        assert len(cut) == SUBJECT_WIDTH and cut.endswith("…")
        assert HOSTILE_POD.startswith(cut[:-1]) or cut[:-1] in HOSTILE_POD


async def test_y_copies_the_focused_findings_promql_and_advice() -> None:
    snapshot = sample_snapshot()
    refresher = ScriptedRefresher(snapshot)
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("5", "j", "y")
        await pilot.pause()
        second = snapshot.findings[1]
        assert app.clipboard == clipboard_text(second)
        assert "process_open_fds / process_max_fds" in app.clipboard
        assert "# Advice: Raise the FD limit" in app.clipboard
        notes = [n.message for n in app._notifications]
        assert any(
            m.startswith("copied 1 PromQL query and the advice of fd-exhaustion") for m in notes
        )
        await pilot.press("k", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FindingScreen), "detail")
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == clipboard_text(snapshot.findings[0])
        assert "app_stream_duration_seconds_bucket" in app.clipboard


def test_clipboard_text_is_pasteable_promql() -> None:
    finding = sample_snapshot().findings[0]
    text = clipboard_text(finding)
    lines = text.splitlines()
    assert lines[0].startswith("# histogram-overflow · stream: ")
    assert lines[1].startswith("# Advice: ")
    assert lines[2:] == list(finding.promql)
    no_promql = sample_snapshot().findings[2]
    assert clipboard_text(no_promql).splitlines()[-1].startswith("# Advice: Scale on")
