"""Histogram math: one test per histogram_quantile rule, then properties.

Rules follow current upstream Prometheus (promql/quantile.go BucketQuantile). Where the
installed Prometheus 2.42 answers differently, the test says so; the real-Prometheus
comparison (tests/integration/test_histogram_vs_prometheus.py) avoids those inputs.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streamdash.core.histogram import (
    advise_buckets,
    aggregate,
    bucket_quantile,
    fleet_buckets,
    overflow_fraction,
    overflowed_percentiles,
    pod_quantile,
    quantile_or_none,
    scale_buckets,
    summarize,
    top_finite_bound,
    total_count,
)
from streamdash.core.raw import HistogramRaw
from streamdash.settings import HistogramSpec

INF = math.inf
NAN = math.nan
PLAIN = {0.1: 5.0, 0.5: 20.0, 1.0: 60.0, 5.0: 90.0, INF: 100.0}


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(("q", "expected"), [(-0.1, -INF), (1.1, INF)])
def test_q_outside_0_1_gives_infinities_whatever_the_buckets(q: float, expected: float) -> None:
    assert bucket_quantile(q, PLAIN) == expected
    assert bucket_quantile(q, {}) == expected


def test_q_nan_gives_nan() -> None:
    assert math.isnan(bucket_quantile(NAN, PLAIN))


def test_highest_bucket_not_inf_gives_nan() -> None:
    assert math.isnan(bucket_quantile(0.5, {0.1: 5.0, 1.0: 10.0, 10.0: 20.0}))


def test_empty_gives_nan() -> None:
    assert math.isnan(bucket_quantile(0.5, {}))


def test_unsorted_input_is_sorted_by_le() -> None:
    shuffled = {5.0: 90.0, INF: 100.0, 0.1: 5.0, 1.0: 60.0, 0.5: 20.0}
    assert bucket_quantile(0.5, shuffled) == bucket_quantile(0.5, PLAIN) == 0.875


def test_equal_le_from_different_series_are_merged_by_summing() -> None:
    # Prometheus sums series whose le parse to the same number ("1" and "1.0");
    # the fleet sum per le is the same operation.
    merged = fleet_buckets({"le=1": {1.0: 10.0, INF: 30.0}, "le=1.0": {1.0: 5.0}, "x": {0.5: 3.0}})
    assert merged == {0.5: 3.0, 1.0: 15.0, INF: 30.0}
    assert bucket_quantile(0.25, merged) == 0.6875


def test_decreasing_counts_are_raised_to_the_previous_count() -> None:
    fixed = {0.1: 10.0, 0.5: 10.0, 1.0: 30.0, 2.0: 30.0, 5.0: 80.0, INF: 80.0}
    broken = {0.1: 10.0, 0.5: 4.0, 1.0: 30.0, 2.0: 25.0, 5.0: 80.0, INF: 70.0}
    for q in (0.1, 0.3, 0.5, 0.9, 1.0):
        assert bucket_quantile(q, broken) == bucket_quantile(q, fixed)


def test_relative_differences_below_1e_12_are_flattened() -> None:
    # Upstream only (Prometheus 2.42 answers 3.0 here): 1e-13 relative is float noise.
    noisy = {1.0: 0.0, 2.0: 10.0, 3.0: 10.0 * (1 + 1e-13), INF: 10.0 * (1 + 1e-13)}
    assert bucket_quantile(1.0, noisy) == 2.0
    # A real difference is kept.
    real = {1.0: 0.0, 2.0: 10.0, 3.0: 10.0 * (1 + 1e-9), INF: 10.0 * (1 + 1e-9)}
    assert bucket_quantile(1.0, real) == pytest.approx(3.0)


def test_fewer_than_two_buckets_gives_nan() -> None:
    assert math.isnan(bucket_quantile(0.5, {INF: 42.0}))


def test_zero_observations_gives_nan() -> None:
    assert math.isnan(bucket_quantile(0.5, {0.1: 0.0, 1.0: 0.0, INF: 0.0}))


def test_rank_in_inf_returns_the_largest_finite_bound() -> None:
    assert bucket_quantile(0.99, PLAIN) == 5.0
    assert bucket_quantile(0.5, {0.5: 0.0, 1.0: 0.0, 5.0: 0.0, INF: 100.0}) == 5.0


def test_first_bucket_with_le_at_or_below_zero_returns_that_le() -> None:
    assert bucket_quantile(0.25, {0.0: 5.0, 1.0: 10.0, INF: 20.0}) == 0.0
    assert bucket_quantile(0.1, {-5.0: 10.0, -1.0: 20.0, INF: 30.0}) == -5.0


def test_interpolation_starts_at_zero_in_a_positive_first_bucket() -> None:
    assert bucket_quantile(0.02, PLAIN) == pytest.approx(0.04)  # rank 2 of 5 in [0, 0.1]


def test_linear_interpolation_between_bounds() -> None:
    # rank 50 lies in (0.5, 1]: 0.5 + 0.5 * (50 - 20) / (60 - 20)
    assert bucket_quantile(0.5, PLAIN) == 0.875
    assert bucket_quantile(0.9, PLAIN) == 5.0  # exactly on a bound: not overflowed
    assert overflowed_percentiles(PLAIN, (("p90", 0.9),)) == ()


def test_q_zero_with_an_empty_first_bucket_is_nan_like_prometheus() -> None:
    assert math.isnan(bucket_quantile(0.0, {0.1: 0.0, 1.0: 10.0, INF: 20.0}))


def test_nan_in_inf_bucket_returns_the_largest_finite_bound() -> None:
    assert bucket_quantile(0.5, {0.1: 5.0, 1.0: 40.0, INF: NAN}) == 1.0


def test_nan_bucket_restarts_the_monotonic_envelope() -> None:
    # Upstream only (Prometheus 2.42 keeps the maximum before the NaN, raises le=3 to 10
    # and answers NaN): after a NaN, 5 is not raised, so rank 8 falls in +Inf.
    assert bucket_quantile(0.4, {1.0: 10.0, 2.0: NAN, 3.0: 5.0, INF: 20.0}) == 3.0


def test_inf_count_gives_the_top_bound() -> None:
    assert bucket_quantile(0.5, {1.0: 5.0, 2.0: 10.0, INF: INF}) == 2.0


def test_nan_le_keys_are_ignored() -> None:
    assert bucket_quantile(0.5, {NAN: 3.0, **PLAIN}) == 0.875


def test_quantile_or_none_maps_nan_to_none() -> None:
    assert quantile_or_none(0.5, {INF: 3.0}) is None
    assert quantile_or_none(0.5, PLAIN) == 0.875


def test_pod_quantile_scales_and_flags_overflow() -> None:
    ms = {100.0: 10.0, 500.0: 50.0, 5000.0: 90.0, INF: 100.0}
    value, overflowed = pod_quantile(0.5, ms, 0.001)
    assert value == pytest.approx(0.5) and not overflowed
    assert pod_quantile(0.99, ms, 0.001) == (5.0, True)
    assert pod_quantile(0.5, {}, 0.001) == (None, False)


# --------------------------------------------------------------------------- helpers


def test_scale_buckets_keeps_inf() -> None:
    assert scale_buckets({100.0: 1.0, INF: 2.0}, 0.001) == {0.1: 1.0, INF: 2.0}


def test_top_finite_bound_and_total_count() -> None:
    assert top_finite_bound(PLAIN) == 5.0
    assert top_finite_bound({INF: 1.0}) is None
    assert total_count(PLAIN) == 100.0
    assert total_count({1.0: 3.0}) is None
    assert total_count({INF: NAN}) is None


def test_overflow_fraction() -> None:
    assert overflow_fraction(PLAIN) == pytest.approx(0.1)
    assert overflow_fraction({1.0: 10.0, INF: 10.0}) == 0.0
    assert overflow_fraction({1.0: 3.0}) is None  # no +Inf: unknown
    assert overflow_fraction({1.0: 0.0, INF: 0.0}) is None  # no traffic: unknown, not 0
    assert overflow_fraction({1.0: 30.0, INF: 10.0}) == 0.0  # +Inf raised to 30 like Prometheus


def test_overflowed_percentiles() -> None:
    assert overflowed_percentiles(PLAIN) == ("p99",)
    assert overflowed_percentiles({1.0: 0.0, INF: 5.0}) == ("p50", "p90", "p99")
    assert overflowed_percentiles({1.0: 5.0, INF: 5.0}) == ()
    assert overflowed_percentiles({}) == ()


# --------------------------------------------------------------------------- advice

TTFT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def _assert_good_bucket_list(buckets: tuple[float, ...], covers: float) -> None:
    assert 10 <= len(buckets) <= 16
    assert list(buckets) == sorted(set(buckets))
    assert buckets[-1] >= covers
    ratios = [b / a for a, b in itertools.pairwise(buckets)]
    assert all(1.2 <= r <= 3.0 for r in ratios), ratios
    assert all(float(f"{b:.2g}") == b for b in buckets)  # nice values


def test_no_advice_without_overflow() -> None:
    for fraction in (0.0, 0.001, None):
        advice = advise_buckets(
            bounds=TTFT_BOUNDS, overflow_fraction=fraction, mean_seconds=0.3, e2e_buckets=None
        )
        assert advice is None
    low_p99 = advise_buckets(
        bounds=TTFT_BOUNDS,
        overflow_fraction=0.0,
        mean_seconds=0.3,
        e2e_buckets=None,
        p99_seconds=7.5,
    )
    assert low_p99 is None  # 7.5 is the second-highest bound: p99 not in the top bucket
    assert (
        advise_buckets(bounds=(), overflow_fraction=0.5, mean_seconds=1.0, e2e_buckets=None) is None
    )


def test_advice_from_end_to_end_p99() -> None:
    e2e = {10.0: 10.0, 30.0: 60.0, 60.0: 99.5, 120.0: 100.0, INF: 100.0}
    e2e_p99 = bucket_quantile(0.99, e2e)
    advice = advise_buckets(
        bounds=TTFT_BOUNDS, overflow_fraction=0.2, mean_seconds=3.0, e2e_buckets=e2e
    )
    assert advice is not None
    _assert_good_bucket_list(advice.buckets, covers=2 * e2e_p99)
    assert advice.buckets[-1] == 200.0
    assert "end-to-end p99" in advice.basis and f"{e2e_p99:.3g} s" in advice.basis
    assert "20.0 %" in advice.basis and "10 s" in advice.basis
    assert advice.buckets[0] <= 0.01  # keeps useful low bounds for TTFT


def test_overflowed_end_to_end_falls_back_to_the_mean() -> None:
    e2e = {10.0: 10.0, INF: 100.0}  # its own p99 is a lower bound: useless
    advice = advise_buckets(
        bounds=TTFT_BOUNDS, overflow_fraction=0.2, mean_seconds=8.0, e2e_buckets=e2e
    )
    assert advice is not None
    _assert_good_bucket_list(advice.buckets, covers=80.0)
    assert advice.buckets[-1] == 100.0
    assert "mean" in advice.basis and "8 s" in advice.basis


def test_advice_from_the_current_top_when_nothing_else_is_known() -> None:
    advice = advise_buckets(
        bounds=(1.0, 2.0, 5.0), overflow_fraction=0.3, mean_seconds=None, e2e_buckets=None
    )
    assert advice is not None
    _assert_good_bucket_list(advice.buckets, covers=20.0)
    assert "current top" in advice.basis


def test_new_top_is_at_least_twice_the_current_top_when_overflowing() -> None:
    advice = advise_buckets(
        bounds=TTFT_BOUNDS, overflow_fraction=0.05, mean_seconds=0.2, e2e_buckets=None
    )
    assert advice is not None
    assert advice.buckets[-1] >= 20.0
    assert "at or above 2 x the current top (20 s), as 10 x the mean" in advice.basis


def test_advice_when_p99_lies_in_the_top_bucket() -> None:
    advice = advise_buckets(
        bounds=TTFT_BOUNDS,
        overflow_fraction=0.0,
        mean_seconds=2.0,
        e2e_buckets=None,
        p99_seconds=9.0,
    )
    assert advice is not None
    assert advice.buckets[-1] > 10.0
    assert "p99" in advice.basis


# --------------------------------------------------------------------------- summarize

SPEC = HistogramSpec(metric="vllm:time_to_first_token_seconds")


def test_summarize_not_exported() -> None:
    summary = summarize("ttft", HistogramSpec(metric=None), None, preset_name="tgi")
    assert not summary.available and summary.metric is None
    assert summary.note == "not exported by tgi"
    assert summary.p99 is None and summary.rate_per_s is None


def test_summarize_sums_pods_and_flags_overflow() -> None:
    raw = aggregate(
        SPEC.metric or "",
        {"a": {1.0: 10.0, 5.0: 40.0, INF: 50.0}, "b": {1.0: 30.0, 5.0: 44.0, INF: 50.0}},
        sum_rate=250.0,
        count_rate=100.0,
    )
    summary = summarize("ttft", SPEC, raw)
    fleet = {1.0: 40.0, 5.0: 84.0, INF: 100.0}
    assert summary.available and summary.note is None and summary.promql is None
    assert (summary.p50, summary.p90, summary.p99) == (
        bucket_quantile(0.5, fleet),
        5.0,
        5.0,
    )
    assert summary.overflowed == ("p90", "p99")
    assert summary.rate_per_s == 100.0
    assert summary.mean_seconds == 2.5
    assert summary.top_finite_bucket == 5.0
    assert summary.overflow_fraction == pytest.approx(0.16)
    assert summary.bucket_bounds == (1.0, 5.0)
    assert summary.advice is not None and summary.advice.buckets[-1] >= 25.0


def test_summarize_converts_milliseconds_and_notes_ttft() -> None:
    spec = HistogramSpec(metric="nv_ms", unit_seconds=0.001, includes_ttft=True)
    raw = aggregate(
        "nv_ms",
        {"a": {100.0: 10.0, 5000.0: 100.0, INF: 100.0}},
        sum_rate=50_000.0,
        count_rate=100.0,
    )
    summary = summarize("ttft", spec, raw)
    assert summary.note == "includes TTFT"
    assert summary.top_finite_bucket == 5.0
    assert summary.bucket_bounds == (0.1, 5.0)
    assert summary.mean_seconds == pytest.approx(0.5)
    assert summary.p50 == pytest.approx(0.1 + 4.9 * 40 / 90)


def test_summarize_zero_traffic_is_unknown_not_zero() -> None:
    raw = aggregate("m", {"a": {1.0: 0.0, INF: 0.0}}, count_rate=0.0, sum_rate=0.0)
    summary = summarize("stream", HistogramSpec(metric="m"), raw)
    assert summary.available
    assert summary.p50 is None and summary.p99 is None
    assert summary.rate_per_s == 0.0
    assert summary.mean_seconds is None and summary.overflow_fraction is None
    assert summary.overflowed == () and summary.advice is None


def test_summarize_no_data() -> None:
    summary = summarize("stream", HistogramSpec(metric="m"), HistogramRaw(metric="m"))
    assert not summary.available and summary.metric == "m" and summary.note == "no data"


def test_summarize_rate_falls_back_to_count_rates() -> None:
    raw = aggregate("m", {"a": {1.0: 3.0}}, count_rate=3.5)
    summary = summarize("stream", HistogramSpec(metric="m"), raw)
    assert summary.rate_per_s == 3.5
    assert summary.p50 is None and summary.overflow_fraction is None


def test_summarize_uses_a_different_e2e_metric_for_advice_only() -> None:
    raw = aggregate("s", {"a": {5.0: 50.0, 10.0: 70.0, INF: 100.0}})
    e2e_raw = aggregate("e", {"a": {30.0: 50.0, 60.0: 100.0, INF: 100.0}})
    summary = summarize(
        "stream",
        HistogramSpec(metric="s"),
        raw,
        e2e_spec=HistogramSpec(metric="e"),
        e2e_raw=e2e_raw,
    )
    assert summary.advice is not None and "end-to-end p99" in summary.advice.basis
    same = summarize(
        "stream",
        HistogramSpec(metric="e"),
        raw,
        e2e_spec=HistogramSpec(metric="e"),
        e2e_raw=e2e_raw,
    )
    assert same.advice is not None and "current top" in same.advice.basis


# --------------------------------------------------------------------------- properties

BOUNDS = st.lists(
    st.floats(min_value=-1e3, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=12,
    unique=True,
)


@st.composite
def histograms(draw: st.DrawFn) -> dict[float, float]:
    """Valid cumulative histograms with observations (count > 0)."""
    bounds = sorted(draw(BOUNDS))
    increments = draw(
        st.lists(st.integers(0, 1000), min_size=len(bounds) + 1, max_size=len(bounds) + 1)
    )
    if increments[-1] == 0 and sum(increments) == 0:
        increments[-1] = 1
    counts = [float(sum(increments[: i + 1])) for i in range(len(increments))]
    return dict(zip([*bounds, INF], counts, strict=True))


QS = st.floats(min_value=1e-9, max_value=1.0)


@settings(max_examples=300, deadline=None)
@given(histograms(), QS, QS)
def test_quantile_is_monotone_in_q(buckets: dict[float, float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert bucket_quantile(lo, buckets) <= bucket_quantile(hi, buckets)


@settings(max_examples=300, deadline=None)
@given(histograms(), QS)
def test_quantile_within_first_start_and_top_finite(buckets: dict[float, float], q: float) -> None:
    finite = sorted(le for le in buckets if math.isfinite(le))
    start = min(finite[0], 0.0)
    assert start <= bucket_quantile(q, buckets) <= finite[-1]


@settings(max_examples=300, deadline=None)
@given(histograms(), QS)
def test_overflowed_names_agree_with_quantile(buckets: dict[float, float], q: float) -> None:
    top = top_finite_bound(buckets)
    overflowed = overflowed_percentiles(buckets, (("q", q),)) == ("q",)
    assert pod_quantile(q, buckets)[1] == overflowed
    if overflowed:
        assert bucket_quantile(q, buckets) == top
    assert overflowed == (buckets[top or 0.0] < q * buckets[INF])


@settings(max_examples=200, deadline=None)
@given(histograms(), QS)
def test_fleet_of_one_pod_equals_the_pod(buckets: dict[float, float], q: float) -> None:
    assert bucket_quantile(q, fleet_buckets({"only": buckets})) == bucket_quantile(q, buckets)


@settings(max_examples=200, deadline=None)
@given(histograms(), QS, st.sampled_from((0.001, 0.5, 2.0, 60.0)))
def test_scaling_commutes_with_quantile(buckets: dict[float, float], q: float, unit: float) -> None:
    # Only while scaling keeps the bounds apart: a subnormal le (5e-324) x 0.001 underflows
    # to 0 and merges two buckets; no exporter has such bounds.
    assume(len(scale_buckets(buckets, unit)) == len(buckets))
    scaled = bucket_quantile(q, scale_buckets(buckets, unit))
    assert scaled == pytest.approx(unit * bucket_quantile(q, buckets), rel=1e-9, abs=1e-12)


ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(ANY_FLOAT, ANY_FLOAT, max_size=8), ANY_FLOAT, ANY_FLOAT)
def test_never_raises_on_arbitrary_floats(
    buckets: dict[float, float], q: float, unit: float
) -> None:
    bucket_quantile(q, buckets)
    quantile_or_none(q, buckets)
    pod_quantile(q, buckets, unit)
    overflow_fraction(buckets)
    overflowed_percentiles(buckets)
    top_finite_bound(buckets)
    total_count(buckets)
    scale_buckets(buckets, unit)
    advise_buckets(
        bounds=list(buckets),
        overflow_fraction=q,
        mean_seconds=unit,
        e2e_buckets=buckets,
        p99_seconds=q,
    )
    raw = aggregate("m", {"a": buckets, "b": buckets}, sum_rate=q, count_rate=unit)
    spec = HistogramSpec(metric="m", unit_seconds=unit)
    summary = summarize("ttft", spec, raw, e2e_spec=HistogramSpec(metric="e"), e2e_raw=raw)
    for value in (
        summary.p50,
        summary.p90,
        summary.p99,
        summary.mean_seconds,
        summary.overflow_fraction,
    ):
        assert value is None or not math.isnan(value)


def test_highest_occupied_bucket_brackets_the_longest_observation() -> None:
    from streamdash.core.histogram import highest_occupied

    inf = math.inf
    assert highest_occupied({1.0: 5, 5.0: 9, 10.0: 9, inf: 9}) == (1.0, 5.0)
    assert highest_occupied({1.0: 5, 5.0: 9, inf: 12}) == (5.0, inf)
    assert highest_occupied({1.0: 3, inf: 3}) == (0.0, 1.0)
    assert highest_occupied({1.0: 0, inf: 0}) is None
    assert highest_occupied({1.0: float("nan"), 2.0: 4, inf: 4}) == (0.0, 2.0)  # 1.0 unknown


def test_summarize_from_fleet_only_buckets_matches_per_pod() -> None:
    from streamdash.core.histogram import summarize
    from streamdash.core.raw import HistogramRaw
    from streamdash.settings import HistogramSpec

    inf = math.inf
    pods = {"a": {1.0: 2.0, 5.0: 3.0, inf: 9.0}, "b": {1.0: 1.0, 5.0: 1.0, inf: 5.0}}
    fleet = {1.0: 3.0, 5.0: 4.0, inf: 14.0}
    e2e = {10.0: 5.0, 50.0: 14.0, inf: 14.0}
    spec, e2e_spec = HistogramSpec("s"), HistogramSpec("e")
    per_pod = summarize(
        "stream", spec, aggregate("s", pods),
        e2e_spec=e2e_spec, e2e_raw=aggregate("e", {"a": e2e}),
    )  # fmt: skip
    fleet_only = summarize(
        "stream", spec, HistogramRaw("s", fleet=fleet, pods={}),
        e2e_spec=e2e_spec, e2e_raw=HistogramRaw("e", fleet=e2e),
    )  # fmt: skip
    assert fleet_only.available and fleet_only == per_pod
    assert fleet_only.advice is not None and "end-to-end" in fleet_only.advice.basis
