"""History the refresher records itself when its source keeps none."""

from __future__ import annotations

import dataclasses

from streamdash.core.build import build_snapshot
from streamdash.core.history import append_point
from tests.unit.test_build import SETTINGS, snapshot


def test_points_accumulate_and_age_out() -> None:
    first = snapshot()
    history = append_point(None, first, keep_seconds=60, step_seconds=5)
    assert [p.v for p in history.series["stream_p99"]] == [5.0]
    assert history.series["replicas"][0].v == 12
    later = dataclasses.replace(first, taken_at=first.taken_at + 30)
    history = append_point(history, later, keep_seconds=60, step_seconds=5)
    assert len(history.series["ttft_p99"]) == 2
    much_later = dataclasses.replace(first, taken_at=first.taken_at + 100)
    history = append_point(history, much_later, keep_seconds=60, step_seconds=5)
    assert [p.t for p in history.series["ttft_p99"]] == [much_later.taken_at]


def test_unknown_values_are_gaps_not_zero() -> None:
    from tests.support.raws import raw_answers

    empty = build_snapshot(raw_answers({}), SETTINGS)
    history = append_point(None, empty, keep_seconds=60, step_seconds=5)
    assert all(points[0].v is None for points in history.series.values())
