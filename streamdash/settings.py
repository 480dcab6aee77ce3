"""Frozen settings: what a loaded, validated configuration holds.

``streamdash.config`` builds these from YAML, environment and flags; everything else
only reads them. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def _redacted_repr(obj: object) -> str:
    """``Name(field=value, ...)`` of a dataclass, with a ``url`` field redacted."""
    from dataclasses import fields

    from streamdash.redact import redact_url

    parts = []
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if f.name == "url" and isinstance(value, str):
            value = redact_url(value)
        parts.append(f"{f.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


@dataclass(frozen=True)
class HistogramSpec:
    """Where one latency histogram lives for a server kind."""

    metric: str | None
    """Base name (no ``_bucket``); None when the server does not export it."""
    unit_seconds: float = 1.0
    """Multiply ``le`` and ``_sum`` by this to get seconds (Triton: 0.001)."""
    includes_ttft: bool = False
    """True when the 'stream' metric measures the whole request, TTFT included."""
    fallbacks: tuple[str, ...] = ()
    """Older names of the same histogram, tried per pod when it lacks ``metric``
    (vLLM <= 0.10: ``vllm:time_per_output_token_seconds``)."""
    per_request_mean: bool = False
    """One observation per request, its mean (TGI, TRT-LLM, OTel per-token metrics):
    long pauses are averaged away, so it never stands for a silence."""

    @property
    def metrics(self) -> tuple[str, ...]:
        """``metric`` then its fallbacks (empty when the server exports none)."""
        return (self.metric, *self.fallbacks) if self.metric else ()


@dataclass(frozen=True)
class Preset:
    """Metric names of one server kind (vLLM, SGLang, ...)."""

    name: str
    ttft: HistogramSpec
    stream: HistogramSpec
    itl: HistogramSpec
    e2e: HistogramSpec
    in_flight: str | None
    """Gauge of requests being served; may carry matchers, e.g. ``x{state="active"}``."""
    description: str = ""
    notes: tuple[str, ...] = ()
    fd_gap_notes: tuple[str, ...] = ()
    """Shown only when no pod has a process FD pair (e.g. vLLM with several API servers)."""
    model_labels: tuple[str, ...] = ()
    """Labels naming the model a series is about (vLLM/SGLang ``model_name``, Triton
    ``model`` + ``version``, OTel ``gen_ai_request_model``); empty: no model label."""

    def histogram(self, kind: str) -> HistogramSpec:
        """The spec for ``ttft``, ``stream``, ``itl`` or ``e2e``."""
        spec: HistogramSpec = getattr(self, kind)
        return spec


@dataclass(frozen=True)
class PrometheusSettings:
    url: str | None = None
    bearer_token: str | None = field(default=None, repr=False)
    """Resolved secret (from env or file); never printed."""
    basic_auth_user: str | None = None
    basic_auth_password: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    ca_file: str | None = None
    tls_verify: bool = True
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:
        """Like the generated repr, but the URL without userinfo and no secret fields."""
        from streamdash.redact import redact_url

        url = None if self.url is None else redact_url(self.url)
        return (
            f"PrometheusSettings(url={url!r}, basic_auth_user={self.basic_auth_user!r}, "
            f"ca_file={self.ca_file!r}, tls_verify={self.tls_verify!r}, "
            f"timeout_seconds={self.timeout_seconds!r})"
        )


@dataclass(frozen=True)
class HttpSettings:
    """Limits every source's HTTP requests share (``http:`` in the config)."""

    max_answer_bytes: int = 64 * 2**20
    """Largest answer accepted as sent (compressed or not); the read stops beyond it."""
    max_decoded_bytes: int = 256 * 2**20
    """Largest answer accepted after decompression (a gzip bomb stops here)."""
    redirects: str = "none"
    """``none`` (follow no redirect) or ``same-origin`` (same scheme, host and port)."""


@dataclass(frozen=True)
class Thresholds:
    fd_warning: float = 0.8
    fd_critical: float = 0.9
    divergence_ratio: float = 1.5
    blend_factor: float = 3.0
    """latency-blend: a view mixing groups whose p99s differ by more than this factor."""
    connection_warning: float = 0.8
    """Share of a pod's LB session limit or FD budget that raises connection-ceiling."""
    disconnect_ratio: float = 0.01
    """Aborts + timeouts per stream above which lb-disconnects fires."""


@dataclass(frozen=True)
class LoadBalancerSettings:
    kind: str
    """``haproxy``, ``envoy``, ``nginx`` or ``cloud``."""
    url: str | None = None
    name: str | None = None
    idle_timeout_seconds: float | None = None
    """For ``cloud`` LBs (AWS ALB: 60 s default) or to state a timeout the LB hides."""
    pod_match: str = "server"
    """How LB rows join pods: ``server`` name or ``address`` (host:port)."""
    config_file: str | None = None
    """The LB's own config file (haproxy.cfg, nginx.conf) to read stream-cutting timeouts
    from; not read when None."""

    def __repr__(self) -> str:
        """The generated repr, with the URL's userinfo removed."""
        return _redacted_repr(self)


@dataclass(frozen=True)
class ScrapeTarget:
    url: str
    pod: str | None = None
    """Pod name; default: the ``pod`` label of the samples, else the target's host:port."""

    def __repr__(self) -> str:
        """The generated repr, with the URL's userinfo removed."""
        return _redacted_repr(self)


@dataclass(frozen=True)
class SloTarget:
    """One SLI's service-level objective: share ``objective`` of requests under
    ``target_seconds``. None: suggested from the observed p99 / the default objective."""

    target_seconds: float | None = None
    objective: float | None = None


@dataclass(frozen=True)
class SloSettings:
    """``slo:`` config: split TTFT ("did it respond") and stream ("did it finish") SLOs."""

    objective: float = 0.99
    """Default share of requests that must meet the target (both SLIs)."""
    ttft: SloTarget = field(default_factory=SloTarget)
    stream: SloTarget = field(default_factory=SloTarget)

    def target(self, kind: str) -> SloTarget:
        """The ``ttft`` or ``stream`` objective."""
        value: SloTarget = getattr(self, kind)
        return value


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    preset: Preset | None = None
    namespace: str | None = None
    selector: str | None = None
    """Extra label matchers for the app's metrics, e.g. ``model_name="llama"``."""
    pod_label: str = "pod"
    namespace_label: str = "namespace"
    """Label naming the namespace on the app's series (``kubernetes_namespace``,
    ``exported_namespace``, ``k8s_namespace_name``); cluster metrics keep ``namespace``."""
    hpa: str | None = None
    cpu_target_utilization: float = 0.7
    window_seconds: int = 300
    refresh_seconds: float = 5.0
    history_seconds: int = 3600
    theme: str = "streamdash-dark"
    bell_on_critical: bool = False
    """Ring the terminal bell once when a new critical finding appears (TUI)."""
    export_dir: str | None = None
    record_on_quit: str | None = None
    """Write the session's snapshots here on quit (a recording file, or a directory)."""
    session_snapshots: int = 720
    """Snapshots the TUI keeps in memory for the timeline and ``R`` (oldest dropped)."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    load_balancers: tuple[LoadBalancerSettings, ...] = ()
    scrape: tuple[ScrapeTarget, ...] = ()
    fallback: str | None = None
    """``scrape`` to switch to direct scrape when Prometheus fails."""
    model: str | None = None
    """Only this model (the preset's first model label), ``--model``."""
    group_by: tuple[str, ...] | None = None
    """What groups are made of: ``workload`` (kube-state-metrics owners), ``model`` (the
    preset's model labels) and/or label names. None: ``("workload", "model")``."""
    ensembles: tuple[str, ...] = ()
    """Triton ensembles: the fleet row sums only these models (their sub-models count
    every request again)."""
    config_path: str | None = None
    slo: SloSettings = field(default_factory=SloSettings)
    alertmanager_url: str | None = None
    """Alertmanager base URL: its firing alerts for the namespace are shown beside the
    findings."""
    http: HttpSettings = field(default_factory=HttpSettings)
    scrape_interval_seconds: float = 15.0
    """How often Prometheus scrapes the pods (for the window floor's note)."""
    clock_skew_note_seconds: float = 5.0
    """A source clock this far from ours becomes a note (queries use the source's)."""
