"""Demo scenarios that change over time (``healthy,overflow@30s``)."""

from __future__ import annotations

import pytest

from streamdash.demo.fleet import HOT_SLOT, warmed_model
from streamdash.demo.scenarios import SCENARIOS, TRUNCATED_STREAM_BUCKETS
from streamdash.demo.schedule import describe_schedule, parse_schedule


def test_a_schedule_parses_into_timed_steps() -> None:
    steps = parse_schedule("healthy, overflow@30s,fd-ceiling@1m")
    assert [(at, s.name) for at, s in steps] == [
        (0.0, "healthy"),
        (30.0, "overflow"),
        (60.0, "fd-ceiling"),
    ]
    assert describe_schedule(steps) == "healthy → overflow at 30 s → fd-ceiling at 60 s"
    assert [s.name for _, s in parse_schedule("incident")] == ["incident"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("healthy,overflow", "say when 'overflow' starts"),
        ("healthy@5s", "the first scenario starts at 0"),
        ("healthy,overflow@30s,fd-ceiling@10s", "times must increase"),
        ("healthy,overflow@soon", "'soon' is not a duration"),
        ("healthy,nope@5s", "unknown demo scenario 'nope'"),
        (",overflow@5s", "step 1 has no scenario name"),
    ],
)
def test_bad_schedules_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


def test_the_model_switches_when_its_time_comes() -> None:
    model = warmed_model(SCENARIOS["healthy"], pods=4, seed=3)
    model.schedule(model.now + 10, SCENARIOS["overflow"])
    model.schedule(model.now + 20, SCENARIOS["fd-ceiling"])
    model.advance(9)
    assert model.scenario.name == "healthy"
    model.advance(2)
    assert model.scenario.name == "overflow"
    assert all(p.decode.bounds == TRUNCATED_STREAM_BUCKETS for p in model.pods())
    hot = model.slots[HOT_SLOT]
    assert hot is not None and hot.max_fds > 100_000
    model.advance(10)
    assert model.scenario.name == "fd-ceiling"
    hot = model.slots[HOT_SLOT]
    assert hot is not None and hot.max_fds == 1024 and hot.open_fds >= 930
    # fd-ceiling has the real bucket list again: the stream histogram restarted with it
    assert all(p.decode.bounds == SCENARIOS["healthy"].stream_buckets for p in model.pods())
