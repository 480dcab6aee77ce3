"""A quiet second changes nothing a fresh panel shows (so nothing is redrawn)."""

from __future__ import annotations

from streamdash.tui.status import panel_age_text, panel_status
from tests.tui.fixtures import sample_snapshot


def test_fresh_panel_status_is_constant_between_refreshes() -> None:
    snap = sample_snapshot()
    statuses = {panel_status("pods", snap, snap.taken_at + t, 5.0) for t in (0.2, 1.5, 3.0, 4.9)}
    assert len(statuses) == 1
    (status,) = statuses
    assert panel_age_text(status) == "< 5 s" and not status.stale


def test_stale_panel_age_counts_by_the_second() -> None:
    snap = sample_snapshot()
    late = panel_status("pods", snap, snap.taken_at + 63, 5.0)
    assert late.stale and panel_age_text(late) == "63 s"
