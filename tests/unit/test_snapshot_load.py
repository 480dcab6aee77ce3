"""JSON -> Snapshot: the exporter's inverse, round-tripping real snapshots exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from streamdash.core.snapshot import Snapshot
from streamdash.demo import demo_settings, scenario_names, start_fleet
from streamdash.export.json import render_json, snapshot_dict
from streamdash.export.load import SnapshotLoadError, load_snapshot, loads_snapshot
from streamdash.live import LiveRefresher
from streamdash.settings import Settings
from tests.tui.fixtures import sample_snapshot, stale_part


def _round_trip(snapshot: Snapshot) -> None:
    first = render_json(snapshot)
    loaded = loads_snapshot(first)
    assert render_json(loaded) == first
    assert loaded.taken_at == snapshot.taken_at
    assert [f.id for f in loaded.findings] == [f.id for f in snapshot.findings]
    assert [p.pod for p in loaded.pods] == [p.pod for p in snapshot.pods]


def test_the_fixture_snapshot_round_trips_exactly() -> None:
    snapshot = sample_snapshot(stale=(stale_part("pods", "timeout", 1_795_000_000.5),))
    _round_trip(snapshot)


def _demo_snapshots() -> Iterator[tuple[str, Snapshot]]:
    for name in scenario_names():
        fleet = start_fleet(name, pods=3, seed=2)
        settings = replace(demo_settings(fleet, Settings()), refresh_seconds=0.3)
        refresher = LiveRefresher(settings)
        try:
            refresher.refresh(300)
            fleet.advance(15)
            yield name, refresher.refresh(300)
        finally:
            refresher.close()
            fleet.stop()


def test_every_demo_scenarios_snapshot_round_trips_exactly() -> None:
    seen = 0
    for _name, snapshot in _demo_snapshots():
        _round_trip(snapshot)
        seen += 1
    assert seen == len(scenario_names())


def test_unknown_keys_are_ignored_and_missing_ones_take_defaults() -> None:
    doc = snapshot_dict(sample_snapshot())
    doc["a_key_from_the_future"] = {"x": 1}
    doc["pods"][0]["new_column"] = 3
    del doc["notes"], doc["capacity"]
    loaded = load_snapshot(doc)
    assert loaded.notes == ()
    assert loaded.capacity.arrival_rate_per_s is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema="other/v9"), "schema is 'other/v9'"),
        (lambda d: d["pods"][0].update(open_fds="many"), "pods[0].open_fds: expected a number"),
        (lambda d: d["latency"]["ttft"].update(overflowed="p99"), "latency.ttft.overflowed"),
        (lambda d: d.update(window_seconds=[1]), "window_seconds: expected a number"),
        (lambda d: d.update(source=None), "source: expected an object"),
    ],
)
def test_bad_documents_get_one_line_naming_the_key(change: object, message: str) -> None:
    doc = json.loads(render_json(sample_snapshot()))
    change(doc)  # type: ignore[operator]
    with pytest.raises(SnapshotLoadError, match=r"^[^\n]*$") as info:
        load_snapshot(doc)
    assert message in str(info.value)


def test_not_json_is_one_line() -> None:
    with pytest.raises(SnapshotLoadError, match="not JSON"):
        loads_snapshot("{ nope")
