"""A demo whose scenario changes over time: ``healthy,overflow@30s,fd-ceiling@60s``.

``parse_schedule`` turns that text into ``(seconds after start, Scenario)`` steps; the
first step has no ``@`` (it is the start). Times are seconds of the fleet's own time
after its endpoints open (the model runs in real time, and ``advance`` moves it), so a
test can cross a change deterministically. One scenario name alone is a one-step
schedule, so every ``--scenario`` value is a schedule.
"""

from __future__ import annotations

from streamdash.config import parse_duration
from streamdash.demo.scenarios import Scenario, get_scenario

Schedule = tuple[tuple[float, Scenario], ...]


def parse_schedule(text: str) -> Schedule:
    """``name[,name@DUR]...`` -> steps in time order; ValueError (one line) when bad."""
    steps: list[tuple[float, Scenario]] = []
    for i, part in enumerate(p.strip() for p in text.split(",")):
        name, at, when = part.partition("@")
        if not name:
            raise ValueError(f"scenario schedule {text!r}: step {i + 1} has no scenario name")
        seconds = 0.0
        if at:
            try:
                seconds = parse_duration(when.strip())
            except ValueError:
                raise ValueError(
                    f"scenario schedule {text!r}: {when!r} is not a duration (e.g. 30s, 2m)"
                ) from None
        if i == 0 and seconds:
            raise ValueError(f"scenario schedule {text!r}: the first scenario starts at 0")
        if i > 0 and not at:
            raise ValueError(
                f"scenario schedule {text!r}: say when {name!r} starts, e.g. {name}@30s"
            )
        if steps and seconds <= steps[-1][0]:
            raise ValueError(f"scenario schedule {text!r}: times must increase")
        steps.append((seconds, get_scenario(name.strip())))
    return tuple(steps)


def describe_schedule(schedule: Schedule) -> str:
    """``healthy → overflow at 30 s → fd-ceiling at 60 s``."""
    parts = [schedule[0][1].name]
    parts += [f"{s.name} at {at:g} s" for at, s in schedule[1:]]
    return " → ".join(parts)
