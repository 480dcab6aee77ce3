"""Classic-histogram math: Prometheus-identical quantiles, overflow, bucket advice.

Pure functions over ``Buckets`` (``le`` -> cumulative value, ``math.inf`` for +Inf).
``bucket_quantile`` reproduces ``histogram_quantile`` of current upstream Prometheus
(promql/quantile.go ``BucketQuantile``) bit for bit on classic buckets, including its
handling of NaN samples. Every function is total: odd input gives NaN or None, never
an exception. The fleet histogram is the per-``le`` sum over pods, never an average of
pod quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from streamdash import format as fmt
from streamdash.core.raw import Buckets, HistogramRaw, PodHistogram
from streamdash.core.snapshot import PERCENTILES, BucketAdvice, HistogramSummary
from streamdash.settings import HistogramSpec

SMALL_DELTA_TOLERANCE = 1e-12
"""Relative bucket differences below this are float noise (upstream ``smallDeltaTolerance``)."""
_MIN_NORMAL = 2.2250738585072014e-308
_MAX_FLOAT = 1.7976931348623157e308

ADVICE_MIN_OVERFLOW = 0.001
"""Advise new buckets when more than this share of observations lies above the top."""
E2E_FACTOR = 2.0
"""New top >= this x the end-to-end p99 (end-to-end time bounds TTFT and stream time)."""
MEAN_FACTOR = 10.0
"""New top >= this x the mean when only _sum/_count describe the tail."""
TOP_FACTOR = 4.0
"""New top = this x the current top when nothing else describes the tail."""
MIN_TOP_FACTOR = 2.0
"""The new top is at least this x the current top whenever observations overflow it."""
ADVICE_MIN_COUNT = 10
ADVICE_MAX_COUNT = 16
_MIN_ADVICE_SECONDS = 1e-9
_MAX_ADVICE_SECONDS = 1e12
_COARSE_MANTISSAS = (1.0, 2.0, 5.0)
_FINE_MANTISSAS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5)

_Prepared = list[tuple[float, float]]


# --------------------------------------------------------------------------- quantile


def _almost_equal(a: float, b: float, epsilon: float) -> bool:
    """Upstream ``util/almost.Equal`` (stale-NaN distinction does not exist in Python)."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, _MAX_FLOAT) < epsilon


def _go_search(n: int, pred: Callable[[int], bool]) -> int:
    """Go's ``sort.Search``: the same probes, so non-monotonic predicates agree too."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if not pred(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _prepare(buckets: Buckets) -> _Prepared | None:
    """Sorted buckets with the monotonicity fix applied; None when upstream returns NaN.

    NaN ``le`` keys are dropped (upstream's sort order for them is undefined). Keys of a
    mapping are distinct, so upstream's merge of equal ``le`` already happened.
    """
    try:
        items = sorted(
            (float(le), float(value)) for le, value in buckets.items() if not math.isnan(le)
        )
    except (TypeError, ValueError):
        return None
    if not items or items[-1][0] != math.inf:
        return None
    prev = items[0][1]
    for i in range(1, len(items)):
        le, curr = items[i]
        if curr == prev:
            continue
        if _almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) or curr < prev:
            items[i] = (le, prev)  # float noise flattened / decrease raised; prev kept
            continue
        prev = curr  # also when curr or prev is NaN: the envelope restarts there
    if len(items) < 2 or items[-1][1] == 0:
        return None
    return items


def _locate(q: float, items: _Prepared) -> tuple[int, float]:
    """Index of the bucket holding rank q·count (last index = +Inf) and the rank."""
    rank = q * items[-1][1]
    return _go_search(len(items) - 1, lambda i: items[i][1] >= rank), rank


def _quantile_detail(q: float, buckets: Buckets) -> tuple[float, bool]:
    """``histogram_quantile`` value and whether the rank fell in +Inf (a lower bound)."""
    if math.isnan(q):
        return math.nan, False
    if q < 0:
        return -math.inf, False
    if q > 1:
        return math.inf, False
    items = _prepare(buckets)
    if items is None:
        return math.nan, False
    b, rank = _locate(q, items)
    if b == len(items) - 1:
        return items[-2][0], True
    if b == 0 and items[0][0] <= 0:
        return items[0][0], False
    start = 0.0
    end, count = items[b]
    if b > 0:
        start = items[b - 1][0]
        count -= items[b - 1][1]
        rank -= items[b - 1][1]
    try:
        return start + (end - start) * (rank / count), False
    except ZeroDivisionError:  # Go float division: x/0 is ±Inf, 0/0 NaN
        ratio = math.nan if rank == 0 or math.isnan(rank) else math.copysign(math.inf, rank)
        return start + (end - start) * ratio, False


def bucket_quantile(q: float, buckets: Buckets) -> float:
    """Prometheus ``histogram_quantile(q, buckets)`` on a classic histogram.

    q NaN -> NaN, q < 0 -> -Inf, q > 1 -> +Inf; no +Inf bucket, fewer than 2 buckets or
    a +Inf count of 0 -> NaN; a rank in +Inf returns the largest finite ``le``.
    """
    return _quantile_detail(q, buckets)[0]


def quantile_or_none(q: float, buckets: Buckets) -> float | None:
    """``bucket_quantile`` with NaN (unknown) as None."""
    value = bucket_quantile(q, buckets)
    return None if math.isnan(value) else value


def pod_quantile(
    q: float, buckets: Buckets, unit_seconds: float = 1.0
) -> tuple[float | None, bool]:
    """Quantile in seconds (None when unknown) and whether it is overflowed (a lower bound)."""
    value, overflowed = _quantile_detail(q, scale_buckets(buckets, unit_seconds))
    if math.isnan(value):
        return None, False
    return value, overflowed


def pod_p99(pod: PodHistogram | None, unit_seconds: float = 1.0) -> tuple[float | None, bool]:
    """A server-computed pod p99 in seconds (None when unknown) and whether it is
    overflowed: its rank (0.99 x the +Inf count) lies above the top finite bucket's
    count, exactly the test ``histogram_quantile`` makes before returning the top bound."""
    if pod is None or pod.p99 is None or math.isnan(pod.p99):
        return None, False
    over = False
    top, count = pod.top_finite_rate, pod.count_rate
    if top is not None and count is not None and not (math.isnan(top) or math.isnan(count)):
        over = top < 0.99 * max(count, top)
    value = pod.p99 if math.isinf(pod.p99) else pod.p99 * unit_seconds
    return value, over


def pod_histogram(buckets: Buckets) -> PodHistogram:
    """What a server sends for one pod (``PodHistogram``), computed from its buckets:
    what the direct-scrape source does locally."""
    value = bucket_quantile(0.99, buckets)
    finite = [v for le, v in buckets.items() if math.isfinite(le)]
    return PodHistogram(
        p99=None if math.isnan(value) else value,
        top_finite_rate=max(finite) if finite else None,
        count_rate=buckets.get(math.inf),
    )


def aggregate(
    metric: str,
    by_pod: Mapping[str, Buckets],
    *,
    per_pod: bool = True,
    sum_rate: float | None = None,
    count_rate: float | None = None,
    groups: Mapping[tuple[tuple[str, str], ...], Buckets] | None = None,
    part: str | None = None,
) -> HistogramRaw:
    """A ``HistogramRaw`` from per-pod buckets: the fleet sum, per-pod p99 inputs (when
    ``per_pod``) and the given group buckets. Used where there is no server to aggregate
    (direct scrape, hand-made test answers)."""
    return HistogramRaw(
        metric=metric,
        fleet=fleet_buckets(by_pod) if by_pod else None,
        pods={pod: pod_histogram(b) for pod, b in by_pod.items()} if per_pod else {},
        groups=dict(groups or {}),
        sum_rate=sum_rate,
        count_rate=count_rate,
        part=part,
    )


# --------------------------------------------------------------------------- buckets


def fleet_buckets(by_pod: Mapping[str, Buckets]) -> dict[float, float]:
    """The fleet histogram: per-``le`` sum over pods (a pod lacking an ``le`` adds 0)."""
    fleet: dict[float, float] = {}
    for buckets in by_pod.values():
        for le, value in buckets.items():
            fleet[le] = fleet.get(le, 0.0) + value
    return fleet


def scale_buckets(buckets: Buckets, unit_seconds: float) -> dict[float, float]:
    """Bounds multiplied by ``unit_seconds`` (+Inf stays +Inf; colliding bounds add up)."""
    scaled: dict[float, float] = {}
    for le, value in buckets.items():
        key = le if math.isinf(le) and le > 0 else le * unit_seconds
        scaled[key] = scaled.get(key, 0.0) + value
    return scaled


def top_finite_bound(buckets: Buckets) -> float | None:
    """The largest finite ``le``; None when there is none."""
    finite = [le for le in buckets if math.isfinite(le)]
    return max(finite) if finite else None


def total_count(buckets: Buckets) -> float | None:
    """The +Inf bucket's value (the observation count or rate); None if absent or NaN."""
    value = buckets.get(math.inf)
    if value is None or math.isnan(value):
        return None
    return value


def overflow_fraction(buckets: Buckets) -> float | None:
    """Share of observations above the largest finite bound, in [0, 1].

    None (unknown, not 0) without a +Inf bucket, a finite bucket or observations.
    Uses the same monotonicity fix as ``bucket_quantile``.
    """
    items = _prepare(buckets)
    if items is None:
        return None
    count = items[-1][1]
    below = items[-2][1]
    if not math.isfinite(count) or count <= 0 or not math.isfinite(items[-2][0]):
        return None
    fraction = (count - below) / count
    if math.isnan(fraction):
        return None
    return min(1.0, max(0.0, fraction))


def overflowed_percentiles(
    buckets: Buckets, percentiles: Sequence[tuple[str, float]] = PERCENTILES
) -> tuple[str, ...]:
    """Names of the percentiles whose rank falls in +Inf: the value shown is a lower bound."""
    return tuple(name for name, q in percentiles if _quantile_detail(q, buckets)[1])


# --------------------------------------------------------------------------- advice


def _nice(mantissa: float, exponent: int) -> float:
    return float(f"{mantissa:g}e{exponent}")


def _nice_at_least(value: float) -> float:
    """The smallest 1-2-5 value >= ``value`` (> 0)."""
    exponent = math.floor(math.log10(value))
    for e in (exponent, exponent + 1):
        for m in _COARSE_MANTISSAS:
            if _nice(m, e) >= value:
                return _nice(m, e)
    return _nice(1.0, exponent + 2)


def _nice_series(low: float, top: float, mantissas: Sequence[float]) -> list[float]:
    """Nice values in [low, top], ascending (``top`` included)."""
    values = [
        v
        for e in range(math.floor(math.log10(low)) - 1, math.floor(math.log10(top)) + 1)
        for m in mantissas
        if low <= (v := _nice(m, e)) < top
    ]
    return [*values, top]


def _propose(low_bound: float | None, top: float) -> tuple[float, ...]:
    """About 10-16 nice, roughly geometric bounds ending at ``top``, keeping low bounds."""
    low = max(low_bound, top / 1e8) if low_bound is not None and 0 < low_bound < top else top / 1e4
    series = _nice_series(low, top, _COARSE_MANTISSAS)
    if len(series) < ADVICE_MIN_COUNT:
        series = _nice_series(low, top, _FINE_MANTISSAS)
        while len(series) < ADVICE_MIN_COUNT and low > top / 1e6:
            low /= 10
            series = _nice_series(low, top, _FINE_MANTISSAS)
    return tuple(series[-ADVICE_MAX_COUNT:])


def _fmt(seconds: float) -> str:
    return fmt.seconds(seconds)


def advise_buckets(
    *,
    bounds: Sequence[float],
    overflow_fraction: float | None,
    mean_seconds: float | None,
    e2e_buckets: Buckets | None,
    p99_seconds: float | None = None,
) -> BucketAdvice | None:
    """Proposed bucket bounds (seconds) whose top covers the observed tail, or None.

    Advice is given when more than ``ADVICE_MIN_OVERFLOW`` of the observations lie above
    the top finite bound, or the p99 (``p99_seconds``) lies inside the top finite bucket.
    The new top is the next 1-2-5 value above: ``E2E_FACTOR`` x the end-to-end p99 when
    that p99 is not itself overflowed, else ``MEAN_FACTOR`` x the mean (_sum/_count),
    else ``TOP_FACTOR`` x the current top; never below ``MIN_TOP_FACTOR`` x the current
    top when observations overflow it. ``bounds``, ``mean_seconds``, ``e2e_buckets`` and
    ``p99_seconds`` are in seconds.
    """
    finite = sorted(b for b in bounds if math.isfinite(b) and b > 0)
    if not finite:
        return None
    top = finite[-1]
    overflowing = overflow_fraction is not None and overflow_fraction > ADVICE_MIN_OVERFLOW
    in_top_bucket = (
        p99_seconds is not None
        and len(finite) >= 2
        and finite[-2] < p99_seconds <= top
        and not overflowing
    )
    if not (overflowing or in_top_bucket):
        return None
    floor = MIN_TOP_FACTOR * top if overflowing else top
    e2e_p99, e2e_overflowed = (
        pod_quantile(0.99, e2e_buckets) if e2e_buckets is not None else (None, True)
    )
    if e2e_p99 is not None and not e2e_overflowed and e2e_p99 > 0:
        estimate = E2E_FACTOR * e2e_p99
        how = f"{E2E_FACTOR:g} x the end-to-end p99 ({_fmt(e2e_p99)})"
    elif mean_seconds is not None and math.isfinite(mean_seconds) and mean_seconds > 0:
        estimate = MEAN_FACTOR * mean_seconds
        how = f"{MEAN_FACTOR:g} x the mean from _sum/_count ({_fmt(mean_seconds)})"
    else:
        estimate = TOP_FACTOR * top
        how = f"{TOP_FACTOR:g} x the current top ({_fmt(top)}; no end-to-end p99 or mean known)"
    target = max(estimate, floor)
    if not _MIN_ADVICE_SECONDS <= target <= _MAX_ADVICE_SECONDS:
        return None  # not a latency (also catches NaN)
    new_top = _nice_at_least(target)
    if new_top <= top:
        new_top = _nice_at_least(top * 1.000001)
    if not math.isfinite(new_top):
        return None
    if overflowing:
        why = f"{fmt.ratio(overflow_fraction)} of observations exceed the top bucket {_fmt(top)}"
    else:
        why = f"the p99 ({_fmt(p99_seconds or top)}) lies in the top bucket ({_fmt(top)})"
    if estimate >= floor:
        rule = f"at or above {how}"
    elif overflowing:
        rule = (
            f"at or above {MIN_TOP_FACTOR:g} x the current top ({_fmt(floor)}), "
            f"as {how} = {_fmt(estimate)} is lower"
        )
    else:
        rule = f"above the current top, as {how} = {_fmt(estimate)} is lower"
    basis = f"{why}; new top {_fmt(new_top)} = the next 1-2-5 value {rule}."
    return BucketAdvice(buckets=_propose(finite[0], new_top), basis=basis)


# --------------------------------------------------------------------------- summary


def _mean_seconds(raw: HistogramRaw, unit_seconds: float) -> float | None:
    if raw.sum_rate is None or raw.count_rate is None or raw.count_rate <= 0:
        return None
    mean = raw.sum_rate / raw.count_rate * unit_seconds
    return mean if math.isfinite(mean) else None


def _rate(raw: HistogramRaw, fleet: Buckets) -> float | None:
    count = total_count(fleet)
    if count is not None:
        return count
    if raw.count_rate is not None and not math.isnan(raw.count_rate):
        return raw.count_rate
    return None


def raw_fleet(raw: HistogramRaw) -> dict[float, float]:
    """The fleet histogram of ``raw`` (empty when no data came back)."""
    return dict(raw.fleet) if raw.fleet is not None else {}


def has_data(raw: HistogramRaw | None) -> bool:
    """True when ``raw`` carries fleet buckets."""
    return raw is not None and bool(raw.fleet)


def highest_occupied(buckets: Buckets) -> tuple[float, float] | None:
    """(lower, upper) of the highest bucket whose count grew, i.e. where the largest
    observation lies; None without observations. NaN counts are ignored."""
    found: tuple[float, float] | None = None
    previous_le, previous_count = 0.0, 0.0
    for le in sorted(k for k in buckets if not math.isnan(k)):
        count = buckets[le]
        if math.isnan(count):
            continue
        if count > previous_count:
            found = (previous_le, le)
        previous_le, previous_count = le, max(previous_count, count)
    return found


def summarize(
    subject: str,
    spec: HistogramSpec | None,
    raw: HistogramRaw | None,
    *,
    e2e_spec: HistogramSpec | None = None,
    e2e_raw: HistogramRaw | None = None,
    preset_name: str = "",
) -> HistogramSummary:
    """Fleet summary of one histogram, values in seconds; ``promql`` left None for the caller.

    The end-to-end histogram (``e2e_*``) only feeds bucket advice, and only when it is a
    different metric than ``spec.metric``.
    """
    if spec is None or spec.metric is None:
        server = preset_name or "this server"
        return HistogramSummary(
            subject=subject, metric=None, available=False, note=f"not exported by {server}"
        )
    notes = ["includes TTFT"] if spec.includes_ttft else []
    if spec.per_request_mean:
        notes.append("per-request mean: pauses between tokens are averaged away")
    if raw is None or not has_data(raw):
        return HistogramSummary(
            subject=subject,
            metric=spec.metric,
            available=False,
            note="; ".join([*notes, "no data"]),
        )
    unit = spec.unit_seconds
    fleet = scale_buckets(raw_fleet(raw), unit)
    p50, p90, p99 = (quantile_or_none(q, fleet) for _, q in PERCENTILES)
    mean = _mean_seconds(raw, unit)
    overflow = overflow_fraction(fleet)
    bounds = tuple(sorted(le for le in fleet if math.isfinite(le)))
    e2e_fleet: Buckets | None = None
    if (
        e2e_spec is not None
        and e2e_raw is not None
        and e2e_spec.metric is not None
        and e2e_spec.metric != spec.metric
        and has_data(e2e_raw)
    ):
        e2e_fleet = scale_buckets(raw_fleet(e2e_raw), e2e_spec.unit_seconds)
    advice = advise_buckets(
        bounds=bounds,
        overflow_fraction=overflow,
        mean_seconds=mean,
        e2e_buckets=e2e_fleet,
        p99_seconds=p99,
    )
    return HistogramSummary(
        subject=subject,
        metric=spec.metric,
        available=True,
        note="; ".join(notes) or None,
        p50=p50,
        p90=p90,
        p99=p99,
        rate_per_s=_rate(raw, fleet),
        mean_seconds=mean,
        top_finite_bucket=top_finite_bound(fleet),
        overflow_fraction=overflow,
        overflowed=overflowed_percentiles(fleet),
        bucket_bounds=bounds,
        longest_observed=highest_occupied(fleet),
        advice=advice,
        per_request_mean=spec.per_request_mean,
    )
