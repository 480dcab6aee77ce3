"""The Snapshot: the one immutable contract between getting data and showing it.

Every view (TUI panels, markdown, JSON) renders a ``Snapshot`` and nothing else.
Unknown values are ``None`` (JSON ``null``), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streamdash.core.raw import (
    AlertRaw,
    HistoryRaw,
    HpaTarget,
    LbBackendRaw,
    LbFrontendRaw,
    LbTimeoutRaw,
    SourceError,
)

SCHEMA = "streamdash.snapshot/v1"
SEVERITIES = ("critical", "warning", "info")
PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


@dataclass(frozen=True)
class BucketAdvice:
    """Proposed bucket upper bounds (seconds) whose top covers the observed tail."""

    buckets: tuple[float, ...]
    basis: str
    """How the advice was derived, in one sentence a person can check."""


@dataclass(frozen=True)
class HistogramSummary:
    """Fleet-wide view of one latency histogram (all values in seconds)."""

    subject: str
    """``ttft``, ``stream`` or ``itl``."""
    metric: str | None
    """Base metric name; None when the preset's server does not export it."""
    available: bool
    """False when the server lacks this histogram or no data came back."""
    note: str | None = None
    """E.g. 'TGI exports no TTFT histogram' or 'includes TTFT'."""
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    rate_per_s: float | None = None
    mean_seconds: float | None = None
    top_finite_bucket: float | None = None
    overflow_fraction: float | None = None
    overflowed: tuple[str, ...] = ()
    """Names of the percentiles (``p50``...) whose rank falls in +Inf: lower bounds."""
    bucket_bounds: tuple[float, ...] = ()
    longest_observed: tuple[float, float] | None = None
    """(lower, upper) bounds of the highest bucket that got observations in the window:
    the longest value seen lies in it (upper is +Inf past the top bucket)."""
    advice: BucketAdvice | None = None
    promql: str | None = None
    per_request_mean: bool = False
    """The metric gets one observation per request, its mean (TGI/TRT-LLM/OTel
    per-token): it never stands for a pause between tokens."""


@dataclass(frozen=True)
class GroupView:
    """One group of the fleet: a workload serving a model (or whatever ``group_by``
    names), with its own latency split and its pods' worst numbers."""

    name: str
    """Display name, e.g. ``Deployment/llama-serve model_name=llama``."""
    workload_kind: str | None = None
    workload: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """Group labels other than the workload (model labels, ``group_by`` labels)."""
    pods: tuple[str, ...] = ()
    latency: Mapping[str, HistogramSummary] = field(default_factory=dict)
    """Keyed ``ttft``, ``stream``, ``itl``, like ``Snapshot.latency``."""
    fd_worst_pod: str | None = None
    fd_worst_utilization: float | None = None
    in_flight: float | None = None
    cpu_cores: float | None = None


@dataclass(frozen=True)
class PodRow:
    """One pod of the fleet; None where the source had no value."""

    pod: str
    open_connections: float | None = None
    connection_limit: float | None = None
    open_fds: float | None = None
    max_fds: float | None = None
    fd_utilization: float | None = None
    fd_source: str | None = None
    """``process`` (a process's open/max pair) or ``cadvisor`` (container count, no limit)."""
    fd_origin: str | None = None
    """Whose FD figures these are: ``container vllm``, ``job proxy``, ``cAdvisor container x``."""
    sockets: float | None = None
    """cAdvisor ``container_sockets`` of that container, when exported."""
    cpu_cores: float | None = None
    cpu_request_cores: float | None = None
    in_flight: float | None = None
    ttft_p99: float | None = None
    ttft_p99_overflowed: bool = False
    stream_p99: float | None = None
    stream_p99_overflowed: bool = False
    stream_rate_per_s: float | None = None


@dataclass(frozen=True)
class AutoscalerView:
    """The HPA against what CPU alone would need (the HPA's own formula)."""

    name: str
    current_replicas: float | None = None
    desired_replicas: float | None = None
    min_replicas: float | None = None
    max_replicas: float | None = None
    target_metric: str | None = None
    target_type: str | None = None
    target_value: float | None = None
    cpu_cores: float | None = None
    cpu_request_cores: float | None = None
    """CPU request per pod (cores)."""
    cpu_target_utilization: float | None = None
    cpu_target_source: str | None = None
    """``hpa`` when the HPA scales on CPU, else ``config``."""
    cpu_implied_replicas: int | None = None
    divergence_ratio: float | None = None
    namespace: str | None = None
    scale_target_kind: str | None = None
    """What the HPA scales (``scaletargetref_kind``), None when not reported."""
    scale_target_name: str | None = None
    targets: tuple[HpaTarget, ...] = ()
    """Every spec target of the HPA (CPU utilization first)."""
    scales_on_cpu: bool = False
    """True only when one of ``targets`` is the ``cpu`` resource."""
    keda_scaled_object: str | None = None
    """The KEDA ScaledObject this HPA was made for (``keda-hpa-<name>``)."""
    pod_count: int | None = None
    """How many fleet pods CPU was summed over (None: they could not be told)."""
    pods_basis: str | None = None
    """``scale_target``: the pods of the HPA's own target; ``fleet``: every fleet pod
    (the only HPA, and kube-state-metrics has no owner / target series); ``unknown``."""


@dataclass(frozen=True)
class LoadBalancerView:
    """What the load balancers in front of the fleet report."""

    backends: tuple[LbBackendRaw, ...] = ()
    frontends: tuple[LbFrontendRaw, ...] = ()
    timeouts: tuple[LbTimeoutRaw, ...] = ()
    sources: tuple[str, ...] = ()
    """Configured LB sources (kind and URL without credentials)."""


@dataclass(frozen=True)
class Capacity:
    """Little's-law capacity: sustainable streams/s against the arrival rate."""

    arrival_rate_per_s: float | None = None
    mean_stream_seconds: float | None = None
    per_pod_streams_ceiling: float | None = None
    sustainable_rate_per_s: float | None = None
    basis: str | None = None


@dataclass(frozen=True)
class Finding:
    """One diagnosis a person acts on."""

    id: str
    severity: str
    subject: str
    summary: str
    evidence: Mapping[str, object] = field(default_factory=dict)
    advice: str | None = None
    promql: tuple[str, ...] = ()


@dataclass(frozen=True)
class StalePart:
    """A part of the snapshot that shows the last good values, not this refresh's."""

    part: str
    """Query / source part name, e.g. ``ttft``, ``pods``, ``hpa``, ``lb:haproxy``."""
    panel: str
    """Which panel it feeds: ``latency``, ``pods``, ``autoscaler``, ``lb``."""
    reason: str
    last_good_at: float | None
    """Unix seconds of the values shown; None when there never were any."""


@dataclass(frozen=True)
class SourceInfo:
    kind: str
    url: str | None


@dataclass(frozen=True)
class Snapshot:
    """One refresh's complete, render-ready picture of the fleet."""

    taken_at: float
    """Unix seconds."""
    source: SourceInfo
    window_seconds: int
    preset: str
    namespace: str | None
    latency: Mapping[str, HistogramSummary]
    """Keyed ``ttft``, ``stream``, ``itl``."""
    pods: tuple[PodRow, ...] = ()
    """Worst first."""
    autoscaler: AutoscalerView | None = None
    """The HPA picked with ``--hpa``, or the only one; None when several are shown."""
    autoscalers: tuple[AutoscalerView, ...] = ()
    """Every HPA shown: the picked one, else all in scope (by namespace, name)."""
    load_balancer: LoadBalancerView = field(default_factory=LoadBalancerView)
    capacity: Capacity = field(default_factory=Capacity)
    findings: tuple[Finding, ...] = ()
    """Worst first."""
    errors: tuple[SourceError, ...] = ()
    stale: tuple[StalePart, ...] = ()
    queries: Mapping[str, str] = field(default_factory=dict)
    query_count: int = 0
    history: HistoryRaw | None = None
    notes: tuple[str, ...] = ()
    cautions: tuple[str, ...] = ()
    """Facts that weaken the verdict (clock skew, a span too short for a finding); the
    verdict line (``core.verdict``) carries them."""
    alerts: tuple[AlertRaw, ...] = ()
    """Alerts firing in Alertmanager for the namespace, shown beside the findings."""
    groups: tuple[GroupView, ...] = ()
    """The fleet's groups (workload x model, or ``group_by``), largest first; views show
    one row per group when there is more than one."""
    group_by: tuple[str, ...] = ()
    """What the groups are made of: ``workload`` and/or label names."""
    pending: tuple[str, ...] = ()
    """Histogram kinds still on their way (``RawAnswers.pending``): the TUI's early first
    frame only. Their numbers are not known yet, so no finding that reads them is made
    and the verdict says ``loading`` instead of judging."""
    schema: str = SCHEMA
