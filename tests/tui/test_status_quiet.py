"""A quiet second changes nothing a panel's border shows (a border change repaints the
whole panel): fresh, paused and stale panels each keep one subtitle."""

from __future__ import annotations

from streamdash.tui.status import clock_text, panel_status, panel_subtitle
from tests.tui.fixtures import sample_snapshot, stale_part


def test_fresh_panel_status_is_constant_between_refreshes() -> None:
    snap = sample_snapshot()
    statuses = {panel_status("pods", snap, snap.taken_at + t, 5.0) for t in (0.2, 1.5, 3.0, 4.9)}
    assert len(statuses) == 1
    (status,) = statuses
    assert panel_subtitle(status) == "fresh" and not status.stale
    later = panel_status("pods", snap, snap.taken_at + 14, 5.0)  # slow, not yet stale
    assert panel_subtitle(later) == "fresh" and not later.stale


def test_a_stale_panel_names_when_its_values_were_taken_and_keeps_it() -> None:
    snap = sample_snapshot()
    subtitles = {
        panel_subtitle(panel_status("pods", snap, snap.taken_at + t, 5.0)) for t in (63, 64, 90)
    }
    assert subtitles == {f"STALE · values of {clock_text(snap.taken_at)}"}
    late = panel_status("pods", snap, snap.taken_at + 63, 5.0)
    assert late.stale and late.reason == "no new data for 63 s"  # the banner counts


def test_paused_and_never_answered_panels() -> None:
    snap = sample_snapshot()
    paused = panel_status("pods", snap, snap.taken_at + 120, 5.0, paused=True)
    assert panel_subtitle(paused) == f"paused · values of {clock_text(snap.taken_at)}"
    never = panel_status("pods", None, snap.taken_at, 5.0, failure="HTTP 503")
    assert never.stale and panel_subtitle(never) == "STALE · no values yet"
    part = stale_part("pods", "HTTP 503", None)
    unknown = panel_status("pods", sample_snapshot(stale=(part,)), snap.taken_at + 1, 5.0)
    assert unknown.stale and panel_subtitle(unknown) == "STALE · no values yet"
