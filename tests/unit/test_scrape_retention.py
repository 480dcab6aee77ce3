"""Direct-scrape memory is bounded by design (issue 12): an hour of 1 s refreshes over
a 5 min window keeps at most MAX_CHECKPOINTS + 1 checkpoints per target, and every
baseline equals the full scrape-to-scrape chain (counter resets included)."""

from __future__ import annotations

import random

import pytest

from streamdash.sources.scrape import (
    MAX_CHECKPOINTS,
    MAX_RETAINED,
    Retained,
    Scrape,
    window_baseline,
)

WINDOW = 300
KEY = (("pod", "a"),)
OTHER = (("pod", "b"),)


def _scrapes(n: int, seed: int = 7) -> list[Scrape]:
    rng = random.Random(seed)
    a = b = 0.0
    out = []
    for i in range(n):
        a = 0.0 if rng.random() < 0.01 else a + rng.random() * 5  # restarts now and then
        b += 1.0
        series = {KEY: a} if i % 97 else {KEY: a, OTHER: b}  # OTHER comes and goes
        if i % 97 == 0 or i % 97 == 1:
            series[OTHER] = b
        out.append(Scrape(float(i), {"c_total": series}))
    return out


def test_an_hour_at_one_second_keeps_a_bounded_number_of_scrapes() -> None:
    scrapes = _scrapes(3600)
    kept = Retained(scrapes[0])
    chain = [scrapes[0]]
    for cur in scrapes[1:]:
        base = kept.advance(cur, WINDOW)
        assert len(kept.checkpoints) <= MAX_CHECKPOINTS + 1
        assert base is not None and cur.at - base.at <= WINDOW
        assert cur.at - base.at >= min(cur.at, WINDOW * (1 - 1 / MAX_CHECKPOINTS)) - 1
        since = [s for s in chain if s.at >= base.at]
        expected = window_baseline(since, cur)
        assert expected is not None
        got = base.samples["c_total"]
        want = expected.samples["c_total"]
        assert set(got) == set(want)
        for labels, value in want.items():
            assert got[labels] == pytest.approx(value, rel=1e-9, abs=1e-9)
        chain.append(cur)
    numbers = sum(len(s) for p in kept.checkpoints for s in p.samples.values())
    assert numbers <= 2 * (MAX_CHECKPOINTS + 1)  # two series at most, whatever the hour


def test_refresh_slower_than_the_window_uses_the_previous_scrape() -> None:
    a, b, c = (Scrape(t, {"c_total": {KEY: v}}) for t, v in ((0, 1), (400, 5), (800, 2)))
    kept = Retained(a)
    first = kept.advance(b, WINDOW)
    assert first is not None and first.at == 0 and first.samples["c_total"][KEY] == 1
    second = kept.advance(c, WINDOW)  # reset: 2 counted from 0
    assert second is not None and second.at == 400 and second.samples["c_total"][KEY] == 0


def test_a_short_window_for_a_while_keeps_the_long_windows_baseline() -> None:
    """``w`` cycled 5m -> 1m -> 5m: back at 5m the rates span (almost) 5 min at once, and
    every baseline still equals the full chain's; memory stays bounded."""
    scrapes = _scrapes(1200)
    kept = Retained(scrapes[0])
    chain = [scrapes[0]]
    for cur in scrapes[1:]:
        i = int(cur.at)
        window = 60 if 600 <= i < 660 else WINDOW  # a minute at 1m, then 5m again
        base = kept.advance(cur, window)
        assert base is not None and cur.at - base.at <= window
        assert len(kept.checkpoints) <= MAX_RETAINED + 1
        if i >= 660:  # back at 5m: no warm-up, the 5 min baseline was kept
            assert cur.at - base.at >= WINDOW * (1 - 1 / MAX_CHECKPOINTS) - 1
        since = [s for s in chain if s.at >= base.at]
        expected = window_baseline(since, cur)
        assert expected is not None
        for labels, value in expected.samples["c_total"].items():
            assert base.samples["c_total"][labels] == pytest.approx(value, rel=1e-9, abs=1e-9)
        chain.append(cur)
