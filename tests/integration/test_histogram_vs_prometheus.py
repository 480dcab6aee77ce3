"""``bucket_quantile`` against the real ``histogram_quantile`` of the installed Prometheus.

About 50 histograms (seeded random plus edge cases) are backfilled as gauge series
``hq_bucket{case="N",le="..."}`` at one timestamp; one query per q returns every case.

The installed Prometheus is 2.42; ``bucket_quantile`` follows current upstream. The two
differ only on inputs this file avoids (tests/unit/test_histogram.py pins upstream's
behaviour on them):
- relative bucket differences below 1e-12 (upstream flattens them, 2.42 does not);
- a NaN bucket followed by a *decrease* below the counts before the NaN (upstream
  restarts the monotonic envelope after a NaN, 2.42 keeps the earlier maximum).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamdash.core.histogram import bucket_quantile
from tests.support.prom import (
    PrometheusServer,
    missing_binaries,
    openmetrics_text,
    start_prometheus,
)

QUANTILES = (0.0, 0.25, 0.5, 0.9, 0.99, 1.0)
NAN = math.nan
INF = math.inf

Case = list[tuple[str, float]]
"""(le label as written, sample value) — le labels are written verbatim."""

EDGE_CASES: dict[str, Case] = {
    "plain": [("0.1", 5), ("0.5", 20), ("1", 60), ("5", 90), ("+Inf", 100)],
    "non-monotonic": [("0.1", 10), ("0.5", 4), ("1", 30), ("2", 25), ("5", 80), ("+Inf", 70)],
    "missing-inf": [("0.1", 5), ("1", 10), ("10", 20)],
    "nan-middle": [("0.1", 5), ("0.5", NAN), ("1", 40), ("+Inf", 50)],
    "nan-first": [("0.1", NAN), ("0.5", 10), ("1", 40), ("+Inf", 50)],
    "nan-inf": [("0.1", 5), ("1", 40), ("+Inf", NAN)],
    "nan-twice": [("0.1", 1), ("0.5", NAN), ("1", NAN), ("2", 30), ("+Inf", 60)],
    "nan-only-finite": [("1", NAN), ("+Inf", 10)],
    "zero-counts": [("0.1", 0), ("1", 0), ("+Inf", 0)],
    "first-bucket-empty": [("0.1", 0), ("1", 10), ("+Inf", 20)],
    "single-inf": [("+Inf", 42)],
    "single-finite": [("1", 42)],
    "all-in-inf": [("0.5", 0), ("1", 0), ("5", 0), ("+Inf", 100)],
    "mostly-in-inf": [("1", 10), ("5", 20), ("10", 50), ("+Inf", 100)],
    "duplicate-le": [("0.5", 3), ("1", 10), ("1.0", 5), ("+Inf", 30)],
    "duplicate-le-exp": [("1e-3", 1), ("0.001", 2), ("0.01", 9), ("+Inf", 12)],
    "duplicate-inf": [("1", 4), ("+Inf", 6), ("Inf", 6)],
    "le-zero-first": [("0", 5), ("1", 10), ("+Inf", 20)],
    "le-negative": [("-2", 3), ("-1", 6), ("0", 8), ("3", 12), ("+Inf", 16)],
    "le-negative-only": [("-5", 10), ("-1", 20), ("+Inf", 30)],
    "inf-count": [("1", 5), ("2", 10), ("+Inf", INF)],
    "negative-counts": [("1", -5), ("2", -3), ("+Inf", -1)],
    "fractional-rates": [("0.005", 0.013), ("0.025", 0.41), ("0.1", 1.27), ("+Inf", 1.3)],
    "huge": [("1", 1e300), ("10", 5e300), ("+Inf", 1e301)],
    "tiny": [("1", 1e-300), ("10", 3e-300), ("+Inf", 4e-300)],
    "plateau": [("1", 10), ("2", 10), ("3", 10), ("+Inf", 10)],
    "exact-rank-boundary": [("1", 25), ("2", 50), ("4", 90), ("8", 99), ("+Inf", 100)],
}

VLLM_TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5)
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TRITON_MS = (100.0, 500.0, 2000.0, 5000.0)


def _random_cases(seed: int, n: int) -> dict[str, Case]:
    rng = random.Random(seed)
    cases: dict[str, Case] = {}
    for i in range(n):
        bounds = list(rng.choice((VLLM_TTFT, DEFAULT_BUCKETS, TRITON_MS)))
        if rng.random() < 0.3:
            bounds = sorted(rng.sample(bounds, k=rng.randint(1, len(bounds))))
        counts: list[float] = []
        total = 0.0
        for _ in bounds:
            total += rng.choice((0, 0, rng.randint(1, 500), rng.random() * 50))
            counts.append(total)
        total += rng.choice((0, rng.randint(1, 200), rng.random() * 20))
        case = [(repr(le), c) for le, c in zip(bounds, counts, strict=True)]
        case.append(("+Inf", total))
        if rng.random() < 0.2:  # a random decrease: non-monotonic data
            j = rng.randrange(len(case))
            case[j] = (case[j][0], case[j][1] * rng.random())
        rng.shuffle(case)  # series order must not matter
        cases[f"random-{i}"] = case
    return cases


CASES: dict[str, Case] = {**EDGE_CASES, **_random_cases(seed=20261123, n=25)}


def _as_buckets(case: Case) -> dict[float, float]:
    """What a source does: parse each ``le`` and add series whose bounds are equal."""
    buckets: dict[float, float] = {}
    for le, value in case:
        bound = float(le)
        buckets[bound] = buckets.get(bound, 0.0) + value
    return buckets


def _same(expected: float, actual: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return expected == actual
    return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-300)


@pytest.fixture(scope="module")
def at() -> float:
    return float(int(time.time()) - 120)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, at: float) -> Iterator[PrometheusServer]:
    missing = missing_binaries()
    if missing:
        pytest.fail(f"Prometheus binaries missing ({', '.join(missing)}); install prometheus")
    series = [
        ("hq_bucket", {"case": name, "le": le}, [(at, value)])
        for name, case in CASES.items()
        for le, value in case
    ]
    server = start_prometheus(tmp_path_factory.mktemp("hq"), openmetrics_text(series))
    yield server
    server.stop()


def test_case_set_is_bounded_and_covers_the_edges() -> None:
    assert 40 <= len(CASES) <= 60
    assert any(math.isnan(v) for case in CASES.values() for _, v in case)


@pytest.mark.parametrize("q", QUANTILES)
def test_bucket_quantile_equals_prometheus(
    prometheus: PrometheusServer, at: float, q: float
) -> None:
    result = prometheus.query(f"histogram_quantile({q!r}, hq_bucket)", at=at)
    got = {sample["metric"]["case"]: float(sample["value"][1]) for sample in result}
    assert set(got) == set(CASES), "Prometheus returned a different set of cases"
    mismatches = {
        name: (bucket_quantile(q, _as_buckets(case)), got[name])
        for name, case in CASES.items()
        if not _same(bucket_quantile(q, _as_buckets(case)), got[name])
    }
    assert mismatches == {}, f"q={q}: (ours, prometheus) differ"


def test_edge_cases_reach_every_branch(prometheus: PrometheusServer, at: float) -> None:
    """The comparison is not vacuous: NaN, overflow and interpolation all occur."""
    values = [bucket_quantile(0.5, _as_buckets(case)) for case in EDGE_CASES.values()]
    assert any(math.isnan(v) for v in values)
    assert bucket_quantile(0.5, _as_buckets(EDGE_CASES["all-in-inf"])) == 5.0
    assert bucket_quantile(0.25, _as_buckets(EDGE_CASES["le-zero-first"])) == 0.0
    assert bucket_quantile(0.5, _as_buckets(EDGE_CASES["plain"])) == 0.875
    assert prometheus.query("count(hq_bucket)", at=at)[0]["value"][1] == str(
        sum(len(c) for c in CASES.values())
    )


def test_backfilled_counter_ending_now_has_a_rate_now(tmp_path: Path) -> None:
    """Harness check: data backfilled up to 'now' answers rate()[5m] at 'now', across restarts."""
    now = float(int(time.time()))
    points = [(now - 600 + 15 * i, 30.0 * i) for i in range(41)]  # 2 per second, ends at now
    text = openmetrics_text(
        [("hq_requests_total", {"pod": "a"}, points)], {"hq_requests": "counter"}
    )
    server = start_prometheus(tmp_path, text)
    try:
        before = server.requests_served()
        (sample,) = server.query("rate(hq_requests_total[5m])", at=now)
        assert float(sample["value"][1]) == pytest.approx(2.0)
        assert server.requests_served() - before == 1
        server.stop()
        server.start()
        (sample,) = server.query("rate(hq_requests_total[5m])", at=now)
        assert float(sample["value"][1]) == pytest.approx(2.0)
        (series,) = server.query_range("hq_requests_total", now - 300, now, 60)
        assert len(series["values"]) == 6
    finally:
        server.stop()
