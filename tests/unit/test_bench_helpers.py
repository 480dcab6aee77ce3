"""Helpers of benchmarks/ (not the benchmarks: they are not run by the suite)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fleets import FleetBuild, write_sharded
from benchmarks.memory import summarize
from tests.support.fleet import write_fleet_openmetrics


def _samples(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


def test_sharded_fleet_holds_the_same_samples_split_by_pod(tmp_path: Path) -> None:
    build = FleetBuild(pods=12, histograms=("ttft",), past_s=60, future_s=30, shards=3)
    whole = tmp_path / "whole.om"
    end = 1_700_000_000.0
    write_fleet_openmetrics(build.spec, whole, end=end, duration_s=90, step_s=30)
    parts = [tmp_path / f"part-{k}.om" for k in range(3)]
    series = write_sharded(build, parts, end)
    assert series > 12
    texts = [p.read_text() for p in parts]
    assert all(t.endswith("# EOF\n") for t in texts)
    split = [ln for p in parts for ln in _samples(p)]
    assert sorted(split) == sorted(_samples(whole))
    pods_per_part = [
        {ln.split('pod="', 1)[1].split('"', 1)[0] for ln in _samples(p) if 'pod="' in ln}
        for p in parts
    ]
    assert all(pods_per_part)  # every file got pods ...
    assert not set.intersection(*pods_per_part)  # ... and no pod is in two files
    for text in texts:  # a family's TYPE line precedes its samples in every file
        seen: set[str] = set()
        for ln in text.splitlines():
            if ln.startswith("# TYPE "):
                seen.add(ln.split()[2])
            elif not ln.startswith("#"):
                name = ln.split("{", 1)[0]
                assert any(name == f or name.startswith(f + "_") for f in seen), ln


def test_memory_summary_measures_growth_only_after_the_session_buffer_fills() -> None:
    mib = 1024 * 1024
    # 1,000 pods: the 50,000-row buffer fills after 50 refreshes; 1 refresh per 2 s -> 100 s
    rising = [(float(t), (60 + t // 10) * mib) for t in range(0, 100, 5)]
    flat = [(float(t), 70 * mib) for t in range(100, 400, 5)]
    out = summarize(rising + flat, refreshes=200, seconds=400, pods=1000)
    assert out["buffer_fills_after_s"] == 100.0
    assert out["after_fill_growth_mib"] == 0.0
    growing = [(float(t), (70 * mib + t * mib // 10)) for t in range(100, 400, 5)]
    out = summarize(rising + growing, refreshes=200, seconds=400, pods=1000)
    assert isinstance(out["after_fill_growth_mib"], float) and out["after_fill_growth_mib"] > 10
