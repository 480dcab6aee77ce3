"""Load balancers against the fleet: pod join, stream-cutting findings, Little's-law capacity.

Pure functions over raw LB rows, latency summaries and pod rows. Finding ids:
``lb-idle-timeout``, ``lb-disconnects``, ``connection-ceiling``.

Timeouts come in two sorts (``timeout_sort``):
- ``idle``: fires after that long WITHOUT BYTES (HAProxy ``timeout server``,
  nginx ``proxy_read_timeout``, Envoy ``stream_idle_timeout`` and route ``idle_timeout``,
  cloud idle timeouts). Every token resets it, so it cuts a stream only when a silence
  (TTFT before the first token, or a pause between tokens) outlasts it.
- ``total``: fires after that long IN ALL (Envoy route ``timeout``, ``max_stream_duration``):
  it cuts every response longer than it, however chatty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streamdash import format as fmt
from streamdash.core.raw import LbBackendRaw, LbTimeoutRaw
from streamdash.core.snapshot import Capacity, Finding, HistogramSummary, PodRow
from streamdash.settings import Thresholds

IDLE_TIMEOUTS = frozenset(
    {
        "timeout server",
        "proxy_read_timeout",
        "stream_idle_timeout",
        "route idle_timeout",
        "idle timeout",
    }
)
TOTAL_TIMEOUTS = frozenset({"route timeout", "max_stream_duration"})
COUNTERS = ("client_aborts", "server_aborts", "timeouts", "resets")
"""Counters whose sum is 'streams the LB saw end badly' (retries are reported apart)."""
CEILING_CRITICAL = 0.95
"""Share of a pod's connection ceiling at which connection-ceiling turns critical."""
NICE_SECONDS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1200, 1800, 3600)

PodConnections = Mapping[str, tuple[float | None, float | None]]
"""pod -> (open connections, connection limit) as the LB sees them."""


def timeout_sort(timeout: LbTimeoutRaw) -> str | None:
    """``idle``, ``total``, or None for settings that do not cut an SSE response on a
    pause: HAProxy ``timeout tunnel`` (WebSocket / CONNECT only) and ``timeout client``
    (fires on a client that stops reading; a 1 s ``timeout client`` let a stream with
    2 s pauses finish on HAProxy 2.6, see tests/integration/test_lb_real.py)."""
    if timeout.name in IDLE_TIMEOUTS:
        return "idle"
    if timeout.name in TOTAL_TIMEOUTS:
        return "total"
    return None


def nice_at_least(seconds: float) -> float:
    """The smallest round duration (1, 2, 5, 10, 15, 30 s, 1 min, ... 1 h, then whole
    hours) that is >= ``seconds``."""
    for value in NICE_SECONDS:
        if value >= seconds:
            return float(value)
    return float(math.ceil(seconds / 3600) * 3600)


def nice_at_most(seconds: float) -> float:
    """The largest round duration <= ``seconds`` (``seconds`` itself below 1 s)."""
    best = None
    for value in NICE_SECONDS:
        if value <= seconds:
            best = float(value)
    return best if best is not None else seconds


# --------------------------------------------------------------------------- pod join


def _token_in(name: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text) is not None


def _host(address: str) -> str:
    if address.startswith("["):
        return address[1 : address.find("]")] if "]" in address else address
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _match(pods: Sequence[str], row: LbBackendRaw, rule: str) -> str | None:
    if rule == "address":
        address = row.address or row.server
        hits = [p for p in pods if p == address]
        hits = hits or [p for p in pods if _host(p) == _host(address) and ":" not in p]
        return hits[0] if hits else None
    if row.server in pods:
        return row.server
    contained = [p for p in pods if p and _token_in(p, row.server)]
    return max(contained, key=len) if contained else None


def join_to_pods(
    pods: Sequence[str], backends: Sequence[LbBackendRaw], rule: str = "server"
) -> dict[str, tuple[float | None, float | None]]:
    """pod -> (current connections, session limit) from the LB's server rows.

    ``rule`` ``server``: the server name equals the pod, else contains it as a whole
    token (``be/llama-1`` matches ``llama-1``, ``llama-10`` does not); the longest pod
    name wins. ``address``: the row's address (or server name) equals the pod, or equals
    its host when the pod is named by a bare IP/host. Several rows on one pod (several
    LBs) add up; the limit is None unless every row has one. Unmatched pods are absent.
    """
    current: dict[str, list[float | None]] = {}
    limits: dict[str, list[float | None]] = {}
    for row in backends:
        pod = _match(pods, row, rule)
        if pod is None:
            continue
        current.setdefault(pod, []).append(row.current)
        limits.setdefault(pod, []).append(row.limit)
    out: dict[str, tuple[float | None, float | None]] = {}
    for pod, values in current.items():
        known = [v for v in values if v is not None]
        lims = limits[pod]
        limit = None if any(v is None for v in lims) else sum(v for v in lims if v is not None)
        out[pod] = (sum(known) if known else None, limit)
    return out


def pod_backends(
    pods: Sequence[str], backends: Sequence[LbBackendRaw], pod: str, rule: str = "server"
) -> tuple[LbBackendRaw, ...]:
    """The LB server rows ``join_to_pods`` joins to ``pod`` (same rule), in their order."""
    return tuple(row for row in backends if _match(pods, row, rule) == pod)


# ------------------------------------------------------------------ lb-idle-timeout


@dataclass(frozen=True)
class _Bound:
    seconds: float
    lower_bound: bool
    basis: str


def _value(summary: HistogramSummary | None, name: str) -> tuple[float | None, bool]:
    if summary is None or not summary.available:
        return None, False
    value = getattr(summary, name)
    return (value if isinstance(value, float | int) else None), name in summary.overflowed


def _longest_silence(latency: Mapping[str, HistogramSummary]) -> _Bound | None:
    """The longest silence a stream shows an LB: max(TTFT p99, inter-token p99)."""
    candidates = []
    for kind, label in (("ttft", "TTFT p99"), ("itl", "inter-token p99")):
        summary = latency.get(kind)
        if summary is not None and summary.per_request_mean:
            continue  # a per-request mean averages pauses away: it is no silence
        value, over = _value(summary, "p99")
        if value is not None:
            candidates.append(_Bound(float(value), over, label))
    return max(candidates, key=lambda b: b.seconds) if candidates else None


def _response_length(
    latency: Mapping[str, HistogramSummary], stream_includes_ttft: bool
) -> tuple[_Bound | None, _Bound | None]:
    """(p99, p90) of the whole response: stream (+ TTFT when the stream excludes it)."""
    out: list[_Bound | None] = []
    for name in ("p99", "p90"):
        stream, over = _value(latency.get("stream"), name)
        if stream is None:
            out.append(None)
            continue
        basis = f"stream {name}"
        ttft, ttft_over = _value(latency.get("ttft"), name)
        if not stream_includes_ttft and ttft is not None:
            stream, over, basis = stream + ttft, over or ttft_over, f"stream {name} + TTFT {name}"
        out.append(_Bound(float(stream), over, basis))
    return out[0], out[1]


def _where(timeout: LbTimeoutRaw) -> str:
    return f"{timeout.lb} `{timeout.name}`"


def idle_timeout_findings(
    latency: Mapping[str, HistogramSummary],
    timeouts: Sequence[LbTimeoutRaw],
    *,
    stream_includes_ttft: bool = False,
) -> list[Finding]:
    """``lb-idle-timeout`` per (LB, setting), judged on the setting's shortest value.

    Idle sort: critical when it is <= the longest silence (max of TTFT p99 and
    inter-token p99); warning when silences are unknown but the response p99 outlasts
    it. Total sort: critical when < response p90, warning when < response p99. A
    percentile that is a lower bound counts only when the timeout is below it.
    """
    worst: dict[tuple[str, str], tuple[LbTimeoutRaw, int]] = {}
    for timeout in timeouts:
        if timeout_sort(timeout) is None or timeout.seconds <= 0:
            continue
        key = (timeout.lb, timeout.name)
        seen = worst.get(key)
        if seen is None or timeout.seconds < seen[0].seconds:
            worst[key] = (timeout, (seen[1] if seen else 0) + 1)
        else:
            worst[key] = (seen[0], seen[1] + 1)
    idle = [t.seconds for t, _ in worst.values() if timeout_sort(t) == "idle"]
    shortest_idle = min(idle) if idle else None
    silence = _longest_silence(latency)
    itl = latency.get("itl")
    real_gaps = itl is not None and itl.available and not itl.per_request_mean
    gaps = itl.longest_observed if itl is not None and real_gaps else None
    p99, p90 = _response_length(latency, stream_includes_ttft)
    findings = []
    for timeout, count in worst.values():
        evidence: dict[str, object] = {
            "lb": timeout.lb,
            "kind": timeout.kind,
            "setting": timeout.name,
            "scope": timeout.scope,
            "timeout_seconds": timeout.seconds,
            "sort": timeout_sort(timeout),
            "scopes_with_this_setting": count,
        }
        if timeout_sort(timeout) == "idle":
            finding = _idle_finding(timeout, evidence, silence, p99, shortest_idle, gaps)
        else:
            finding = _total_finding(timeout, evidence, p99, p90)
        if finding is not None:
            findings.append(finding)
    return findings


def _keepalive(shortest_idle: float | None) -> str:
    if shortest_idle is None:
        return ""
    every = nice_at_most(shortest_idle / 2)
    return (
        f" Or have the server send an SSE comment (`: keep-alive`) every {fmt.seconds(every)}, "
        f"under the shortest idle timeout in the chain ({fmt.seconds(shortest_idle)})."
    )


def _rare_gap_finding(
    timeout: LbTimeoutRaw,
    evidence: dict[str, object],
    gaps: tuple[float, float] | None,
    shortest_idle: float | None,
) -> Finding | None:
    """The p99 gap is under the timeout, but the inter-token histogram saw gaps in a
    bucket reaching past it: those rarer, longer pauses (tool calls, preemption) are
    cut. Critical when the whole bucket is past the timeout, else warning."""
    if gaps is None or gaps[1] <= timeout.seconds:
        return None
    lower, upper = gaps
    evidence.update(longest_gap_bucket_seconds=[lower, upper])
    certain = lower >= timeout.seconds
    seen = (
        f"over {fmt.seconds(lower)}"
        if math.isinf(upper)
        else (f"between {fmt.seconds(lower)} and {fmt.seconds(upper)}")
    )
    target = nice_at_least(2 * (upper if math.isfinite(upper) else max(lower, timeout.seconds)))
    evidence["suggested_seconds"] = target
    return Finding(
        id="lb-idle-timeout",
        severity="critical" if certain else "warning",
        subject=timeout.lb,
        summary=(
            f"{_where(timeout)} is {fmt.seconds(timeout.seconds)} and some streams pause "
            f"{seen} between tokens: the LB cuts those mid-answer."
        ),
        evidence=evidence,
        advice=(
            f"Set {timeout.name} to at least {fmt.seconds(target)}, above the longest pause "
            "seen." + _keepalive(shortest_idle)
        ),
    )


def _gap_seen(gaps: tuple[float, float] | None) -> float | None:
    """The longest pause the highest occupied inter-token bucket vouches for: its upper
    bound, or its lower bound when it is +Inf (the pause is longer still)."""
    if gaps is None:
        return None
    lower, upper = gaps
    return upper if math.isfinite(upper) else lower


def _idle_finding(
    timeout: LbTimeoutRaw,
    evidence: dict[str, object],
    silence: _Bound | None,
    p99: _Bound | None,
    shortest_idle: float | None,
    gaps: tuple[float, float] | None = None,
) -> Finding | None:
    where = _where(timeout)
    if silence is not None:
        evidence.update(
            longest_silence_seconds=silence.seconds,
            longest_silence_is_lower_bound=silence.lower_bound,
            longest_silence_basis=silence.basis,
        )
        if timeout.seconds > silence.seconds:
            return _rare_gap_finding(timeout, evidence, gaps, shortest_idle)
        longest, basis = silence.seconds, "2x the longest silence"
        seen = _gap_seen(gaps)
        if seen is not None and seen > longest:  # rarer, longer pauses were observed
            longest, basis = seen, "2x the longest pause the inter-token histogram saw"
            evidence.update(longest_gap_bucket_seconds=list(gaps or ()))
        target = nice_at_least(2 * longest)
        evidence["suggested_seconds"] = target
        gap = fmt.seconds(silence.seconds, silence.lower_bound)
        return Finding(
            id="lb-idle-timeout",
            severity="critical",
            subject=timeout.lb,
            summary=(
                f"{where} is {fmt.seconds(timeout.seconds)} but streams go silent for {gap} "
                f"({silence.basis}): the LB cuts them mid-answer."
            ),
            evidence=evidence,
            advice=(
                f"Set {timeout.name} to at least {fmt.seconds(target)} ({basis})."
                + _keepalive(shortest_idle)
            ),
        )
    if p99 is None or timeout.seconds >= p99.seconds:
        return None
    evidence.update(response_p99_seconds=p99.seconds, response_p99_basis=p99.basis)
    target = nice_at_least(2 * p99.seconds)
    evidence["suggested_seconds"] = target
    return Finding(
        id="lb-idle-timeout",
        severity="warning",
        subject=timeout.lb,
        summary=(
            f"{where} is {fmt.seconds(timeout.seconds)}, streams last "
            f"{fmt.seconds(p99.seconds, p99.lower_bound)} ({p99.basis}) and token gaps are "
            "unknown: any pause that long cuts the stream."
        ),
        evidence=evidence,
        advice=(
            f"Export an inter-token histogram to know, or set {timeout.name} to at least "
            f"{fmt.seconds(target)}." + _keepalive(shortest_idle)
        ),
    )


def _total_finding(
    timeout: LbTimeoutRaw,
    evidence: dict[str, object],
    p99: _Bound | None,
    p90: _Bound | None,
) -> Finding | None:
    if p99 is None:
        return None
    evidence.update(
        response_p99_seconds=p99.seconds,
        response_p99_is_lower_bound=p99.lower_bound,
        response_p99_basis=p99.basis,
    )
    if timeout.seconds >= p99.seconds:
        return None
    severity = "critical" if p90 is not None and timeout.seconds < p90.seconds else "warning"
    share = "over 10 %" if severity == "critical" else "about 1 %"
    target = nice_at_least(2 * p99.seconds)
    evidence["suggested_seconds"] = target
    disable = " (or 0s to disable it on the streaming route)" if timeout.kind == "envoy" else ""
    return Finding(
        id="lb-idle-timeout",
        severity=severity,
        subject=timeout.lb,
        summary=(
            f"{_where(timeout)} ends every response at {fmt.seconds(timeout.seconds)} but "
            f"streams last {fmt.seconds(p99.seconds, p99.lower_bound)} ({p99.basis}): "
            f"{share} of answers are cut."
        ),
        evidence=evidence,
        advice=(
            f"Set {timeout.name} to at least {fmt.seconds(target)} (2x the stream p99){disable}."
        ),
    )


# ------------------------------------------------------------------- lb-disconnects


def _rate_sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def disconnect_rates(
    backends: Sequence[LbBackendRaw], aggregates: Sequence[LbBackendRaw] = ()
) -> dict[str, float | None]:
    """Per-second rate of each of ``COUNTERS`` and ``retries`` over all LBs.

    Per (LB, proxy): an aggregate row's rate wins when it has one (the LB's own total),
    else the server rows' rates add up. None when no row had that rate.
    """
    groups: dict[tuple[str, str], tuple[list[LbBackendRaw], list[LbBackendRaw]]] = {}
    for row in backends:
        groups.setdefault((row.lb, row.proxy), ([], []))[0].append(row)
    for row in aggregates:
        groups.setdefault((row.lb, row.proxy), ([], []))[1].append(row)
    out: dict[str, float | None] = {}
    for name in (*COUNTERS, "retries"):
        field = f"{name}_rate"
        per_group = []
        for servers, aggs in groups.values():
            total = _rate_sum([getattr(r, field) for r in aggs])
            if total is None:
                total = _rate_sum([getattr(r, field) for r in servers])
            per_group.append(total)
        out[name] = _rate_sum(per_group)
    return out


def disconnect_findings(
    latency: Mapping[str, HistogramSummary],
    backends: Sequence[LbBackendRaw],
    thresholds: Thresholds,
    aggregates: Sequence[LbBackendRaw] = (),
) -> list[Finding]:
    """``lb-disconnects`` when (aborts + timeouts + resets)/s over streams/s reaches
    ``thresholds.disconnect_ratio``: warning, critical at 10x. Streams/s is the stream
    (else TTFT) histogram's rate; when that is unknown any disconnect gives an ``info``."""
    rates = disconnect_rates(backends, aggregates)
    bad = _rate_sum([rates[name] for name in COUNTERS])
    if bad is None or bad <= 0:
        return []
    stream_rate = None
    for kind in ("stream", "ttft"):
        summary = latency.get(kind)
        if summary is not None and summary.available and summary.rate_per_s:
            stream_rate = summary.rate_per_s
            break
    ratio = bad / stream_rate if stream_rate else None
    if ratio is not None and ratio < thresholds.disconnect_ratio:
        return []
    if ratio is None:
        severity = "info"
    elif ratio >= 10 * thresholds.disconnect_ratio:
        severity = "critical"
    else:
        severity = "warning"
    lbs = sorted({r.lb for r in (*backends, *aggregates)})
    parts = [f"{name.replace('_', ' ')} {fmt.rate_nonzero(rates[name])}" for name in COUNTERS]
    breakdown = ", ".join(p for p, n in zip(parts, COUNTERS, strict=True) if rates[n])
    if ratio is None:
        head = f"LBs end {fmt.rate_nonzero(bad)} streams badly ({breakdown}); stream rate unknown."
    else:
        head = (
            f"{fmt.ratio(ratio)} of streams end in an LB abort/timeout/reset "
            f"({fmt.rate_nonzero(bad)} of {fmt.rate_nonzero(stream_rate)}: {breakdown}): "
            "users see cut answers and SDKs retry silently."
        )
    return [
        Finding(
            id="lb-disconnects",
            severity=severity,
            subject=", ".join(lbs) or "lb",
            summary=head,
            evidence={
                "disconnects_per_s": bad,
                **{f"{name}_per_s": rates[name] for name in (*COUNTERS, "retries")},
                "streams_per_s": stream_rate,
                "ratio": ratio,
                "threshold": thresholds.disconnect_ratio,
                "lbs": lbs,
            },
            advice=(
                "Server aborts/timeouts: an LB timeout or the pod closed the stream - compare "
                "the LB timeouts with TTFT, token gaps and stream length (lb-idle-timeout). "
                "Client aborts: clients gave up - check SDK read timeouts and retries."
            ),
        )
    ]


# --------------------------------------------------------------- connection-ceiling


@dataclass(frozen=True)
class PodCeiling:
    """How close one pod's open connections are to its tightest connection budget."""

    pod: str
    connections: float | None
    lb_limit: float | None
    fd_budget: float | None
    """FDs connections may use: max_fds minus the FDs the pod holds besides connections."""
    ceiling: float | None
    """min(lb_limit, fd_budget): concurrent streams the pod can hold."""
    bound: str | None
    """``LB session limit`` or ``FD budget``: which one is the ceiling."""
    share: float | None
    """connections / ceiling."""


def pod_ceiling(row: PodRow) -> PodCeiling:
    """The pod's connection ceiling. Connections are the LB's count, else in-flight
    requests (one connection each). FD budget = max_fds - max(open_fds - connections, 0),
    or max_fds when the base is unknown (an upper bound)."""
    conns = row.open_connections if row.open_connections is not None else row.in_flight
    fd_budget = None
    if row.max_fds:
        base = 0.0
        if row.open_fds is not None and conns is not None:
            base = max(row.open_fds - conns, 0.0)
        fd_budget = max(row.max_fds - base, 0.0)
    options = [
        (v, name)
        for v, name in ((row.connection_limit, "LB session limit"), (fd_budget, "FD budget"))
        if v is not None and v > 0
    ]
    if not options:
        return PodCeiling(row.pod, conns, row.connection_limit, fd_budget, None, None, None)
    ceiling, bound = min(options)
    share = conns / ceiling if conns is not None else None
    return PodCeiling(row.pod, conns, row.connection_limit, fd_budget, ceiling, bound, share)


def ceiling_findings(pods: Sequence[PodRow], thresholds: Thresholds) -> list[Finding]:
    """One ``connection-ceiling`` finding naming the worst pod, when any pod's
    connections reach ``thresholds.connection_warning`` of its ceiling (critical at
    ``CEILING_CRITICAL``). Evidence lists the ten worst pods."""
    hot = [
        c
        for c in map(pod_ceiling, pods)
        if c.share is not None and c.share >= thresholds.connection_warning
    ]
    if not hot:
        return []
    hot.sort(key=lambda c: (-(c.share or 0.0), c.pod))
    worst = hot[0]
    severity = "critical" if (worst.share or 0.0) >= CEILING_CRITICAL else "warning"
    others = f"; {len(hot)} pods above {fmt.ratio(thresholds.connection_warning)}"
    return [
        Finding(
            id="connection-ceiling",
            severity=severity,
            subject=worst.pod,
            summary=(
                f"{worst.pod} holds {fmt.count(worst.connections)} streams of its "
                f"{fmt.count(worst.ceiling)} {worst.bound} ({fmt.ratio(worst.share)})"
                f"{others if len(hot) > 1 else ''}: new streams will queue or fail."
            ),
            evidence={
                "pods": [
                    {
                        "pod": c.pod,
                        "connections": c.connections,
                        "lb_limit": c.lb_limit,
                        "fd_budget": c.fd_budget,
                        "ceiling": c.ceiling,
                        "bound": c.bound,
                        "share": c.share,
                    }
                    for c in hot[:10]
                ],
                "pods_over_threshold": len(hot),
                "warning_at": thresholds.connection_warning,
                "critical_at": CEILING_CRITICAL,
            },
            advice=(
                "Add pods or raise the ceiling (LB maxconn per server, the pod's open-file "
                "limit); scale on concurrent streams per pod, not CPU."
            ),
        )
    ]


def lb_findings(
    latency: Mapping[str, HistogramSummary],
    backends: Sequence[LbBackendRaw],
    timeouts: Sequence[LbTimeoutRaw],
    pods: Sequence[PodRow],
    thresholds: Thresholds,
    *,
    aggregates: Sequence[LbBackendRaw] = (),
    stream_includes_ttft: bool = False,
) -> list[Finding]:
    """All load-balancer findings: ``lb-idle-timeout``, ``lb-disconnects``,
    ``connection-ceiling`` (unsorted; the caller orders findings)."""
    return [
        *idle_timeout_findings(latency, timeouts, stream_includes_ttft=stream_includes_ttft),
        *disconnect_findings(latency, backends, thresholds, aggregates),
        *ceiling_findings(pods, thresholds),
    ]


# ------------------------------------------------------------------------- capacity


def _pods(count: int) -> str:
    return f"{count} pod" if count == 1 else f"{count} pods"


def capacity(
    pods: Sequence[PodRow],
    latency: Mapping[str, HistogramSummary],
    *,
    stream_includes_ttft: bool = False,
) -> Capacity:
    """Little's law (L = lambda x W): each pod sustains ceiling / W streams per second,
    where ceiling = min(LB session limit, FD budget) (``pod_ceiling``) and W is the mean
    time a stream holds its connection (stream mean, plus TTFT mean when the stream
    histogram excludes TTFT). The fleet sustains the sum over pods with a known ceiling.
    ``per_pod_streams_ceiling`` is the smallest per-pod ceiling (concurrent streams).
    Arrival is the stream (else TTFT) histogram's rate. Unknown parts stay None and the
    ``basis`` says why.
    """
    stream = latency.get("stream")
    ttft = latency.get("ttft")
    mean = stream.mean_seconds if stream is not None and stream.available else None
    mean_basis = "mean stream"
    ttft_mean = ttft.mean_seconds if ttft is not None and ttft.available else None
    if mean is not None and not stream_includes_ttft and ttft_mean is not None:
        mean, mean_basis = mean + ttft_mean, "mean stream + mean TTFT"
    arrival = None
    for summary in (stream, ttft):
        if summary is not None and summary.available and summary.rate_per_s is not None:
            arrival = summary.rate_per_s
            break
    ceilings = [c for c in map(pod_ceiling, pods) if c.ceiling is not None]
    smallest = min((c.ceiling for c in ceilings if c.ceiling is not None), default=None)
    if not ceilings:
        return Capacity(
            arrival_rate_per_s=arrival,
            mean_stream_seconds=mean,
            basis="No pod has a known connection ceiling (LB session limit or max FDs).",
        )
    total = sum(c.ceiling for c in ceilings if c.ceiling is not None)
    bounds = sorted({c.bound for c in ceilings if c.bound})
    left_out = len(pods) - len(ceilings)
    missing = f" ({left_out} of {len(pods)} pods have no known ceiling)" if left_out else ""
    if mean is None or mean <= 0:
        return Capacity(
            arrival_rate_per_s=arrival,
            per_pod_streams_ceiling=smallest,
            basis=(
                f"{_pods(len(ceilings))} hold at most {fmt.count(total)} streams at once"
                f"{missing}; the mean stream duration is unknown, so no rate."
            ),
        )
    sustainable = total / mean
    versus = f" vs {fmt.rate(arrival)} arriving" if arrival is not None else ""
    return Capacity(
        arrival_rate_per_s=arrival,
        mean_stream_seconds=mean,
        per_pod_streams_ceiling=smallest,
        sustainable_rate_per_s=sustainable,
        basis=(
            f"Little's law: {_pods(len(ceilings))} x their ceilings ({' / '.join(bounds)}) = "
            f"{fmt.count(total)} concurrent streams / {mean_basis} {fmt.seconds(mean)} = "
            f"{fmt.rate(sustainable)} sustainable{versus}{missing}."
        ),
    )
