"""Raw answers: the plain values every source returns and the core consumes.

A source (Prometheus, direct scrape, load balancer) fills a ``RawAnswers``; it never
computes percentiles or findings. Every mapping is keyed by pod name. A value that
could not be fetched is absent from its mapping (never 0), and the failure is listed
in ``errors`` with the part (query name) it broke.

Units are the exporter's own: histogram ``le`` bounds and ``_sum`` are in the unit
of the metric (Triton exports milliseconds); ``HistogramSpec.unit_seconds`` in the
preset says how to convert, and the core converts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

Buckets = Mapping[float, float]
"""Cumulative bucket values by upper bound ``le`` (``math.inf`` for +Inf)."""

HISTOGRAM_KINDS = ("ttft", "stream", "itl", "e2e")
"""Histogram subjects: time to first token, stream (body emission), inter-token, end-to-end."""


def frozen_map(values: Mapping[str, object] | None = None) -> Mapping[str, object]:
    """Return a read-only copy of ``values`` (empty when None)."""
    return MappingProxyType(dict(values or {}))


GroupLabels = tuple[tuple[str, str], ...]
"""One group's identity: sorted (label, value) pairs of the grouping labels (the model
labels, ``group_by`` labels and, with kube-state-metrics, ``WORKLOAD_KIND_LABEL`` /
``WORKLOAD_LABEL``). A label a series lacks is absent, as in PromQL's ``sum by``."""

WORKLOAD_KIND_LABEL = "workload_kind"
"""Label the pod -> workload join adds (``sources.kube.WORKLOAD_KIND_LABEL``)."""
WORKLOAD_LABEL = "workload"
"""Label the pod -> workload join adds: the workload's name (``sources.kube.WORKLOAD_LABEL``)."""


@dataclass(frozen=True)
class PodHistogram:
    """One pod's histogram as the server aggregated it (rates over the window).

    ``p99`` is ``histogram_quantile(0.99, sum by (pod, le) (rate(..._bucket)))`` in the
    metric's own unit (None when unknown); ``top_finite_rate`` is the largest finite
    bucket's rate (the max over finite ``le``, which the monotonicity fix makes the
    top bucket's count) and ``count_rate`` the +Inf bucket's: together they say whether
    the p99 lies in +Inf (see ``core.histogram.pod_p99``).
    """

    p99: float | None = None
    top_finite_rate: float | None = None
    count_rate: float | None = None


@dataclass(frozen=True)
class HistogramRaw:
    """One classic histogram over the window, aggregated as the views need it.

    ``fleet`` is ``sum by (le) (rate(<metric>_bucket[window]))`` over the fleet (None:
    no data). ``groups`` the same summed by (le, group labels). ``pods`` per-pod p99 and
    overflow inputs, only for kinds shown per pod (``PER_POD_KINDS``). ``sum_rate`` /
    ``count_rate`` are the fleet's ``_sum`` / ``_count`` rates. A source never sends
    per-pod buckets: the server (or the scrape source, locally) aggregates.
    """

    metric: str
    fleet: Buckets | None = None
    pods: Mapping[str, PodHistogram] = field(default_factory=dict)
    groups: Mapping[GroupLabels, Buckets] = field(default_factory=dict)
    sum_rate: float | None = None
    count_rate: float | None = None
    part: str | None = None
    """The ``QueryPart`` value that filled it (kinds sharing a metric share one part)."""
    metrics: tuple[str, ...] = ()
    """Every metric name asked, preferred first (per-pod fallbacks); empty: ``metric``."""


PER_POD_KINDS = frozenset({"ttft", "stream"})
"""Histogram kinds shown per pod (the pods table's p99 columns); others are fleet-only."""


WorkloadKind = Literal["Deployment", "StatefulSet", "LeaderWorkerSet", "DaemonSet"]
"""Owners a pod is grouped under: a ReplicaSet's pods belong to its Deployment."""
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = get_args(WorkloadKind)


@dataclass(frozen=True, order=True)
class WorkloadRef:
    """The workload a pod belongs to (kube-state-metrics owner series)."""

    kind: WorkloadKind
    name: str

    @property
    def label(self) -> str:
        """``Deployment/llama-serve``: how views name it."""
        return f"{self.kind}/{self.name}"


def workload_kind(text: str | None) -> WorkloadKind | None:
    """``text`` as a ``WorkloadKind`` (exact kube kind spelling), else None."""
    for kind in WORKLOAD_KINDS:
        if text == kind:
            return kind
    return None


FdSourceKind = Literal["process", "cadvisor"]
"""Where a pod's FD numbers come from: a process's own ``process_open_fds`` /
``process_max_fds`` pair, or cAdvisor's per-container count (no limit known)."""


@dataclass(frozen=True)
class FdRaw:
    """A pod's FD figures: its worst process pair (open / max of the same series), or,
    when no process exports a pair, cAdvisor's busiest container."""

    kind: FdSourceKind
    open_fds: float | None
    max_fds: float | None = None
    container: str | None = None
    job: str | None = None
    instance: str | None = None
    sockets: float | None = None
    """cAdvisor ``container_sockets`` of the same container, when exported."""

    @property
    def origin(self) -> str:
        """``container vllm`` / ``job proxy`` / ``cAdvisor container vllm``: whose numbers."""
        who = (
            f"container {self.container}"
            if self.container
            else f"job {self.job}"
            if self.job
            else f"instance {self.instance}"
            if self.instance
            else "the pod"
        )
        return f"cAdvisor {who}" if self.kind == "cadvisor" else who


@dataclass(frozen=True)
class HpaTarget:
    """One ``kube_horizontalpodautoscaler_spec_target_metric`` series of an HPA."""

    metric: str
    """``metric_name``: ``cpu``, ``memory`` or a custom / external metric's name."""
    target_type: str | None
    """``metric_target_type``: ``utilization``, ``value`` or ``average``."""
    value: float

    @property
    def is_cpu_utilization(self) -> bool:
        return self.metric == "cpu" and self.target_type == "utilization"


@dataclass(frozen=True)
class HpaRaw:
    """One HorizontalPodAutoscaler as kube-state-metrics reports it (None = not reported).

    ``target_metric`` / ``target_type`` / ``target_value`` repeat one of ``targets``
    (the CPU utilization one when there is one) for readers of a single target.
    """

    name: str
    current_replicas: float | None = None
    desired_replicas: float | None = None
    min_replicas: float | None = None
    max_replicas: float | None = None
    target_metric: str | None = None
    """``metric_name`` label of ``kube_horizontalpodautoscaler_spec_target_metric``."""
    target_type: str | None = None
    """``metric_target_type``: ``utilization``, ``value`` or ``average``."""
    target_value: float | None = None
    """The target as exported; for CPU utilization a percentage (70 = 70 %)."""
    namespace: str | None = None
    scale_target_kind: str | None = None
    """``scaletargetref_kind`` of ``kube_horizontalpodautoscaler_info`` (any kind)."""
    scale_target_name: str | None = None
    targets: tuple[HpaTarget, ...] = ()
    """Every spec target, CPU utilization first, then by metric name."""

    @property
    def scale_target(self) -> WorkloadRef | None:
        """The scaled workload when it is a kind pods are grouped under, else None."""
        kind = workload_kind(self.scale_target_kind)
        if kind is None or not self.scale_target_name:
            return None
        return WorkloadRef(kind, self.scale_target_name)


@dataclass(frozen=True)
class LbBackendRaw:
    """One server row of a load balancer (HAProxy server, Envoy host, ...).

    Counters are per-second rates over the window where the source can compute a rate
    (two samples, or Prometheus), else None. Gauges are current values.
    """

    lb: str
    """The load balancer's name as configured (e.g. ``haproxy`` or the URL's host)."""
    kind: str
    """``haproxy``, ``envoy`` or ``nginx``."""
    proxy: str
    """Backend / cluster name."""
    server: str
    """Server / host name as the LB knows it."""
    address: str | None = None
    current: float | None = None
    maximum: float | None = None
    limit: float | None = None
    total: float | None = None
    client_aborts: float | None = None
    server_aborts: float | None = None
    timeouts: float | None = None
    retries: float | None = None
    resets: float | None = None
    status: str | None = None
    client_aborts_rate: float | None = None
    server_aborts_rate: float | None = None
    timeouts_rate: float | None = None
    retries_rate: float | None = None
    resets_rate: float | None = None


@dataclass(frozen=True)
class LbTimeoutRaw:
    """A timeout configured on a load balancer that can cut a streaming response."""

    lb: str
    kind: str
    name: str
    """What the setting is called where the user changes it, e.g. ``timeout server``."""
    seconds: float
    scope: str | None = None
    """Which backend / route / listener it applies to, when known."""


@dataclass(frozen=True)
class LbFrontendRaw:
    """Aggregate numbers of a load balancer with no per-backend rows (nginx stub_status)."""

    lb: str
    kind: str
    active: float | None = None
    reading: float | None = None
    writing: float | None = None
    waiting: float | None = None
    accepted: float | None = None
    handled: float | None = None
    requests: float | None = None


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a time series: unix seconds and value (None for a gap)."""

    t: float
    v: float | None


@dataclass(frozen=True)
class HistoryRaw:
    """Range-query series for the charts (last hour): name -> points.

    Names: ``ttft_p99``, ``stream_p99``, ``replicas``, ``cpu_implied_replicas``.
    """

    series: Mapping[str, tuple[SeriesPoint, ...]]
    step_seconds: float


@dataclass(frozen=True)
class AlertRaw:
    """One alert Alertmanager has firing (active, not silenced or inhibited)."""

    name: str
    """The ``alertname`` label."""
    severity: str | None = None
    """The ``severity`` label, as the rule set it."""
    summary: str | None = None
    """The ``summary`` (else ``description``) annotation."""
    starts_at: str | None = None
    """RFC 3339 time the alert started firing."""
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = "alertmanager"


@dataclass(frozen=True)
class SourceError:
    """A failure of one source or one query; ``part`` names what it broke."""

    source: str
    message: str
    part: str | None = None


@dataclass(frozen=True)
class RawAnswers:
    """Everything one refresh fetched; the only input of ``core.build.build_snapshot``."""

    taken_at: float
    """Unix seconds when the fetch started."""
    window_seconds: int
    source_kind: str
    """``prometheus``, ``scrape`` or ``demo``."""
    source_url: str | None
    """The source address with any credentials removed."""
    histograms: Mapping[str, HistogramRaw] = field(default_factory=dict)
    """Keyed by ``HISTOGRAM_KINDS``; a kind is absent when not configured or not fetched."""
    open_fds: Mapping[str, float] = field(default_factory=dict)
    max_fds: Mapping[str, float] = field(default_factory=dict)
    """``open_fds`` / ``max_fds``: the pair of ``fds`` (absent where it has no value)."""
    fds: Mapping[str, FdRaw] = field(default_factory=dict)
    """pod -> its worst FD pair and whose it is (empty when the source gave none)."""
    cpu_cores: Mapping[str, float] = field(default_factory=dict)
    cpu_request_cores: Mapping[str, float] = field(default_factory=dict)
    in_flight: Mapping[str, float] = field(default_factory=dict)
    pod_groups: Mapping[str, tuple[GroupLabels, ...]] = field(default_factory=dict)
    """pod -> the groups (model / label / workload) whose series it exports."""
    hpas: tuple[HpaRaw, ...] = ()
    """Every HPA kube-state-metrics reports in scope (the core picks / compares)."""
    pod_workloads: Mapping[str, WorkloadRef] = field(default_factory=dict)
    """pod -> its workload (kube-state-metrics owners); empty without kube-state-metrics."""
    lb_backends: tuple[LbBackendRaw, ...] = ()
    lb_aggregates: tuple[LbBackendRaw, ...] = ()
    """Per-backend / cluster totals (HAProxy ``BACKEND`` rows), not joined to pods."""
    lb_frontends: tuple[LbFrontendRaw, ...] = ()
    lb_timeouts: tuple[LbTimeoutRaw, ...] = ()
    history: HistoryRaw | None = None
    queries: Mapping[str, str] = field(default_factory=dict)
    """Query name -> the PromQL (or URL) that produced it, for evidence and export."""
    query_count: int = 0
    """How many requests this refresh sent to the primary source."""
    errors: tuple[SourceError, ...] = ()
    notes: tuple[str, ...] = ()
    """Facts a reader needs (e.g. 'direct scrape: rates over the last 5 s')."""
    alerts: tuple[AlertRaw, ...] = ()
    """Alerts firing in Alertmanager for the namespace (when an Alertmanager is set)."""
    pending: tuple[str, ...] = ()
    """Histogram kinds (``HISTOGRAM_KINDS``) asked for but not answered yet: set only on
    the early first frame (``PrometheusSource.fetch(on_partial=...)``), which the TUI
    shows until the whole refresh arrives; never stored, exported or carried."""
