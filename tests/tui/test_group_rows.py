"""The latency panel's group rows: one per group with more than one, the fleet first."""

from __future__ import annotations

from dataclasses import replace

from streamdash.core.build import build_snapshot
from streamdash.presets import load_preset
from streamdash.settings import Settings
from streamdash.tui.palette import palette_from
from streamdash.tui.panels.latency import group_table, latency_table
from tests.unit.test_groups import _raw


def test_group_rows_show_each_group_and_the_fleet_and_markup_stays_text() -> None:
    raw = _raw()
    odd = (("model_name", "[bold]b[/bold]"),)
    ttft = raw.histograms["ttft"]
    ttft = replace(ttft, groups={**ttft.groups, odd: ttft.groups[(("model_name", "b"),)]})
    snap = build_snapshot(
        replace(raw, histograms={"ttft": ttft}), Settings(preset=load_preset("vllm"))
    )
    palette = palette_from({})
    table = group_table(snap, palette)
    assert table is not None
    text = table.plain
    assert "p99 by group" in text and "fleet" in text
    assert "model_name=a" in text and "model_name=[bold]b[/bold]" in text  # literal
    assert "> 5 s" in text  # the overflowed group reads as a lower bound
    assert text.index("fleet") < text.index("model_name=a")
    assert "p99 by group" in latency_table(snap, palette).plain
    one = replace(snap, groups=snap.groups[:1])
    assert group_table(one, palette) is None
    assert "p99 by group" not in latency_table(one, palette).plain
