"""A synthetic, deterministic streaming fleet: the series a real cluster would hold.

For every pod of every namespace the generator produces what Prometheus scrapes from
vLLM (classic histograms with vLLM's own bucket lists, ``_sum``/``_count``, the
in-flight gauge, ``process_open_fds``/``process_max_fds``), from cAdvisor
(``container_cpu_usage_seconds_total`` per container, plus the pod cgroup
``container=""`` and the pause ``container="POD"`` series, so double counting shows)
and from kube-state-metrics (CPU requests and HPA series).

``FleetSpec`` switches on the shapes tests need: a slow, quiet pod; a second
namespace that must never leak in; pods of another model in the same namespace; a pod
near its file-descriptor limit; stream buckets too small (overflow); low CPU with many
replicas (autoscaler divergence). Everything derives from ``FleetSpec.seed``.

Two outputs with the same content: ``fleet_series`` (a list for
``tests.support.prom.openmetrics_text``) and ``write_fleet_openmetrics`` (streams to a
file, for 5,000-pod benchmarks: ~100 series and ~18 kB of text per pod and point, so
5,000 pods x 15 points is ~1.4 GB; export fewer ``histograms`` or points to shrink it).
Counters are cumulative integers that start at a per-pod offset; bucket counts are
``round(N * cdf(le))`` so they are monotonic in both ``le`` and time.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

Series = tuple[str, Mapping[str, str], Sequence[tuple[float, float]]]

from streamdash.presets.buckets import (  # noqa: E402
    VLLM_ITL_BUCKETS,
    VLLM_REQUEST_LATENCY_BUCKETS,
    VLLM_TTFT_BUCKETS,
)

SHORT_STREAM_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Client-default-like buckets ending at 5 s: streams of 20 s all land in +Inf."""

TTFT_METRIC = "vllm:time_to_first_token_seconds"
STREAM_METRIC = "vllm:request_decode_time_seconds"
ITL_METRIC = "vllm:inter_token_latency_seconds"
OLD_ITL_METRIC = "vllm:time_per_output_token_seconds"
"""vLLM <= 0.10's name for the inter-token histogram."""
TRITON_METRIC = "nv_inference_first_response_histogram_ms"
TRITON_BUCKETS_MS: tuple[float, ...] = (100.0, 500.0, 2000.0, 5000.0)
E2E_METRIC = "vllm:e2e_request_latency_seconds"
IN_FLIGHT_METRIC = "vllm:num_requests_running"
CPU_METRIC = "container_cpu_usage_seconds_total"
CPU_REQUEST_METRIC = "kube_pod_container_resource_requests"
HPA_PREFIX = "kube_horizontalpodautoscaler_"


@dataclass(frozen=True)
class HpaSpec:
    """One HorizontalPodAutoscaler as kube-state-metrics exports it."""

    name: str = "llama-serve"
    current_replicas: int | None = None
    """None: the number of pods of the namespace's main deployment."""
    desired_replicas: int | None = None
    """None: same as current."""
    min_replicas: int = 2
    max_replicas: int = 64
    target_metric: str = "cpu"
    target_type: str = "utilization"
    target_value: float = 70.0
    more_targets: tuple[tuple[str, str, float], ...] = ()
    """Further spec targets (metric_name, metric_target_type, value), e.g. a custom metric."""
    scale_target: str | None = None
    """Deployment it scales (``kube_horizontalpodautoscaler_info``); None: the main one."""
    info: bool = True
    """Export ``kube_horizontalpodautoscaler_info`` (older kube-state-metrics: no)."""


@dataclass(frozen=True)
class FleetSpec:
    """What fleet to generate. Defaults: 3 healthy vLLM pods in namespace ``llm``."""

    pods: int = 3
    namespace: str = "llm"
    deployment: str = "llama-serve"
    model_name: str = "llama"
    job: str = "vllm"
    container: str = "vllm"
    sidecar: str | None = "proxy"
    """A second container in each pod (CPU and requests only); None for none."""
    seed: int = 7

    requests_per_second: float = 2.0
    """Per pod, on average; varies slowly over time."""
    ttft_median_s: float = 0.25
    stream_median_s: float = 15.0
    itl_median_s: float = 0.03
    sigma: float = 0.6
    """Log-normal spread of every latency."""

    histograms: tuple[str, ...] = ("ttft", "stream", "itl", "e2e")
    """Which vLLM histograms to export (fewer = smaller benchmark files)."""
    ttft_buckets: tuple[float, ...] = VLLM_TTFT_BUCKETS
    stream_buckets: tuple[float, ...] = VLLM_REQUEST_LATENCY_BUCKETS
    itl_buckets: tuple[float, ...] = VLLM_ITL_BUCKETS
    e2e_buckets: tuple[float, ...] = VLLM_REQUEST_LATENCY_BUCKETS

    slow_pods: int = 0
    """How many of the pods (the last ones) are slow and quiet."""
    slow_requests_per_second: float = 0.05
    slow_latency_factor: float = 10.0

    fd_near_limit_pods: int = 0
    """How many pods (the first ones) sit near their FD limit."""
    max_fds: int = 65536
    near_limit_max_fds: int = 1024
    near_limit_open_fds: int = 1001

    cpu_cores_per_pod: float = 0.4
    """Usage of the main container; the sidecar adds 5 % of it."""
    cpu_request_cores: float = 1.0
    sidecar_cpu_request_cores: float = 0.1

    hpa: HpaSpec | None = field(default_factory=HpaSpec)
    extra_hpas: tuple[str, ...] = ()
    """More HPAs in the same namespace (same numbers, other names)."""

    other_namespace: str | None = None
    """A second namespace with the same metrics and model that must never leak in."""
    other_namespace_pods: int = 2
    other_model: str | None = None
    """Pods of another model in the same namespace (for selector tests)."""
    other_model_pods: int = 2
    other_model_latency_factor: float = 1.0
    """Latencies of the other model's pods, relative to the main model's (for blends)."""
    old_vllm_pods: int = 0
    """How many main pods (the last ones) are vLLM <= 0.10: their inter-token histogram
    is ``vllm:time_per_output_token_seconds`` (same buckets), not the current name."""

    # -- kube-state-metrics shapes (fleets-k8s)
    owners: bool = True
    """Export ``kube_pod_owner`` / ``kube_replicaset_owner`` (with an old ReplicaSet at 0
    replicas per Deployment), as kube-state-metrics does."""
    more_hpas: tuple[HpaSpec, ...] = ()
    """Further HPAs in the namespace, each with its own scale target and targets."""
    process_fds: bool = True
    """The server exports ``process_open_fds`` / ``process_max_fds`` (SGLang, TGI: no)."""
    sidecar_fds: tuple[float, float] | None = None
    """(open, max) of the sidecar's own process pair, e.g. (50, 1048576) for a proxy."""
    cadvisor_fds: bool = False
    """cAdvisor ``container_file_descriptors`` / ``container_sockets`` per container."""
    app_labels_style: str = "kube-prometheus"
    """``kubernetes_sd``: the app's own series (histograms, gauges, process FDs) carry
    ``kubernetes_namespace`` / ``kubernetes_pod_name`` as Prometheus's example config
    labels them; cAdvisor and kube-state-metrics keep ``namespace`` / ``pod``."""


@dataclass(frozen=True)
class PodPlan:
    """One generated pod and the traits it was given."""

    namespace: str
    pod: str
    model_name: str
    index: int
    slow: bool
    fd_near_limit: bool
    requests_per_second: float
    latency_factor: float
    cpu_cores: float
    old_vllm: bool = False


def _suffix(seed: int, *parts: object) -> str:
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int(digest, 16)
    chars = []
    for _ in range(5):
        n, r = divmod(n, len(alphabet))
        chars.append(alphabet[r])
    return "".join(chars)


def _group(
    spec: FleetSpec,
    namespace: str,
    model: str,
    deployment: str,
    count: int,
    main: bool,
    factor: float = 1.0,
) -> list[PodPlan]:
    plans = []
    rng = random.Random(f"{spec.seed}/{namespace}/{model}")
    replica_set = _suffix(spec.seed, namespace, deployment)
    used: set[str] = set()
    for i in range(count):
        name = _suffix(spec.seed, namespace, deployment, i)
        salt = 0
        while name in used:  # 27^5 names: large fleets collide; re-derive, stay unique
            salt += 1
            name = _suffix(spec.seed, namespace, deployment, i, salt)
        used.add(name)
        slow = main and i >= count - spec.slow_pods
        near = main and i < spec.fd_near_limit_pods
        jitter = rng.uniform(0.85, 1.15)
        plans.append(
            PodPlan(
                namespace=namespace,
                pod=f"{deployment}-{replica_set}-{name}",
                model_name=model,
                index=i,
                slow=slow,
                fd_near_limit=near,
                requests_per_second=(
                    spec.slow_requests_per_second if slow else spec.requests_per_second * jitter
                ),
                latency_factor=factor
                * (spec.slow_latency_factor if slow else rng.uniform(0.9, 1.1)),
                cpu_cores=spec.cpu_cores_per_pod * rng.uniform(0.9, 1.1),
                old_vllm=main and i >= count - spec.old_vllm_pods,
            )
        )
    return plans


def plan_fleet(spec: FleetSpec) -> tuple[PodPlan, ...]:
    """Every pod the spec generates: main pods first, then other model, other namespace."""
    plans = _group(spec, spec.namespace, spec.model_name, spec.deployment, spec.pods, True)
    if spec.other_model:
        plans += _group(
            spec,
            spec.namespace,
            spec.other_model,
            f"{spec.other_model}-serve",
            spec.other_model_pods,
            False,
            spec.other_model_latency_factor,
        )
    if spec.other_namespace:
        plans += _group(
            spec,
            spec.other_namespace,
            spec.model_name,
            spec.deployment,
            spec.other_namespace_pods,
            False,
        )
    return tuple(plans)


def main_pods(spec: FleetSpec) -> list[str]:
    """Names of the pods in ``spec.namespace`` serving ``spec.model_name``."""
    return [
        p.pod
        for p in plan_fleet(spec)
        if p.namespace == spec.namespace and p.model_name == spec.model_name
    ]


def fleet_types(spec: FleetSpec) -> dict[str, str]:
    """Family name -> OpenMetrics type for ``openmetrics_text``."""
    names = (TTFT_METRIC, STREAM_METRIC, ITL_METRIC, OLD_ITL_METRIC, E2E_METRIC, TRITON_METRIC)
    types = {m: "histogram" for m in names}
    types[CPU_METRIC[: -len("_total")]] = "counter"
    return types


# --------------------------------------------------------------------------- generation


def _cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2.0))))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class _Clock:
    def __init__(self, end: float, duration_s: int, step_s: int) -> None:
        if step_s <= 0 or duration_s < 0:
            raise ValueError(f"need step_s > 0 and duration_s >= 0, got {step_s}, {duration_s}")
        n = duration_s // step_s
        self.times = [end - (n - k) * step_s for k in range(n + 1)]
        self.step_s = step_s


def _cumulative_requests(spec: FleetSpec, plan: PodPlan, clock: _Clock) -> list[int]:
    rng = random.Random(f"{spec.seed}/requests/{plan.namespace}/{plan.pod}")
    total = rng.randrange(500, 5000) if plan.requests_per_second >= 0.5 else rng.randrange(5, 50)
    out = []
    phase = rng.uniform(0, 2 * math.pi)
    for k in range(len(clock.times)):
        wave = 1.0 + 0.3 * math.sin(phase + k / 12.0)
        if k:
            total += _poisson(rng, plan.requests_per_second * clock.step_s * wave)
        out.append(total)
    return out


def _mean_lognormal(median: float, sigma: float) -> float:
    return median * math.exp(sigma * sigma / 2.0)


def _histogram(
    name: str,
    labels: dict[str, str],
    buckets: Sequence[float],
    median: float,
    sigma: float,
    counts: list[int],
    times: list[float],
) -> Iterator[Series]:
    for le in buckets:
        p = _cdf(le, median, sigma)
        yield (
            f"{name}_bucket",
            {**labels, "le": _le_text(le)},
            [(t, float(round(n * p))) for t, n in zip(times, counts, strict=True)],
        )
    yield (
        f"{name}_bucket",
        {**labels, "le": "+Inf"},
        [(t, float(n)) for t, n in zip(times, counts, strict=True)],
    )
    mean = _mean_lognormal(median, sigma)
    yield f"{name}_sum", labels, [(t, n * mean) for t, n in zip(times, counts, strict=True)]
    yield f"{name}_count", labels, [(t, float(n)) for t, n in zip(times, counts, strict=True)]


def _le_text(le: float) -> str:
    return repr(float(le))


def _styled(spec: FleetSpec, labels: dict[str, str]) -> dict[str, str]:
    """``labels`` under ``spec.app_labels_style`` (the app's own series only)."""
    if spec.app_labels_style != "kubernetes_sd":
        return labels
    out = {k: v for k, v in labels.items() if k not in ("namespace", "pod")}
    return {
        "kubernetes_namespace": labels["namespace"],
        "kubernetes_pod_name": labels["pod"],
        **out,
    }


def _app_labels(spec: FleetSpec, plan: PodPlan) -> dict[str, str]:
    return _styled(
        spec,
        {
            "namespace": plan.namespace,
            "pod": plan.pod,
            "container": spec.container,
            "job": spec.job,
            "model_name": plan.model_name,
            "engine": "0",
        },
    )


def _process_labels(spec: FleetSpec, plan: PodPlan) -> dict[str, str]:
    return _styled(
        spec,
        {
            "namespace": plan.namespace,
            "pod": plan.pod,
            "container": spec.container,
            "job": spec.job,
        },
    )


def _in_flight(spec: FleetSpec, plan: PodPlan, counts: list[int], step: int) -> list[float]:
    e2e_mean = _mean_lognormal(
        (spec.ttft_median_s + spec.stream_median_s) * plan.latency_factor, spec.sigma
    )
    out = [0.0]
    for a, b in itertools.pairwise(counts):
        out.append(float(round((b - a) / step * e2e_mean)))
    out[0] = out[1] if len(out) > 1 else 0.0
    return out


def iter_fleet_series(
    spec: FleetSpec, end: float, duration_s: int = 900, step_s: int = 15
) -> Iterator[Series]:
    """Yield every series, each family's series contiguous (streaming-friendly)."""
    clock = _Clock(end, duration_s, step_s)
    times = clock.times
    plans = plan_fleet(spec)
    counts = {p.pod + "\0" + p.namespace: _cumulative_requests(spec, p, clock) for p in plans}

    def n_of(p: PodPlan) -> list[int]:
        return counts[p.pod + "\0" + p.namespace]

    histograms = {
        "ttft": (TTFT_METRIC, spec.ttft_buckets, spec.ttft_median_s),
        "stream": (STREAM_METRIC, spec.stream_buckets, spec.stream_median_s),
        "itl": (ITL_METRIC, spec.itl_buckets, spec.itl_median_s),
        "e2e": (E2E_METRIC, spec.e2e_buckets, spec.ttft_median_s + spec.stream_median_s),
    }
    for kind in spec.histograms:
        name, buckets, median = histograms[kind]
        ordered = [(name, p) for p in plans if not (kind == "itl" and p.old_vllm)]
        if kind == "itl":  # vLLM <= 0.10 pods: the old name, its family after the new one
            ordered += [(OLD_ITL_METRIC, p) for p in plans if p.old_vllm]
        for name, p in ordered:
            yield from _histogram(
                name,
                _app_labels(spec, p),
                buckets,
                median * p.latency_factor,
                spec.sigma,
                n_of(p),
                times,
            )

    for p in plans:
        flight = _in_flight(spec, p, n_of(p), step_s)
        yield IN_FLIGHT_METRIC, _app_labels(spec, p), list(zip(times, flight, strict=True))
    for p in plans if spec.process_fds else ():
        if p.fd_near_limit:
            fds = [float(spec.near_limit_open_fds)] * len(times)
        else:
            flight = _in_flight(spec, p, n_of(p), step_s)
            fds = [40.0 + 2 * f for f in flight]
        yield "process_open_fds", _process_labels(spec, p), list(zip(times, fds, strict=True))
    for p in plans if spec.process_fds else ():
        limit = float(spec.near_limit_max_fds if p.fd_near_limit else spec.max_fds)
        yield "process_max_fds", _process_labels(spec, p), [(t, limit) for t in times]

    yield from _fd_extra_series(spec, plans, n_of, step_s, times)
    yield from _cpu_series(spec, plans, clock)
    yield from _request_series(spec, plans, times)
    yield from _hpa_series(spec, plans, times)
    yield from _owner_series(spec, plans, times)


def _cpu_series(spec: FleetSpec, plans: Sequence[PodPlan], clock: _Clock) -> Iterator[Series]:
    for p in plans:
        base = {"namespace": p.namespace, "pod": p.pod, "job": "kubelet"}
        containers = [(spec.container, p.cpu_cores)]
        if spec.sidecar:
            containers.append((spec.sidecar, p.cpu_cores * 0.05))
        pause = 0.001
        start = 10_000.0 + p.index
        total = sum(c for _, c in containers) + pause
        for container, cores in [*containers, ("POD", pause), ("", total * 1.02)]:
            points = [(t, start * cores + (t - clock.times[0]) * cores) for t in clock.times]
            yield CPU_METRIC, {**base, "container": container}, points


def _request_series(
    spec: FleetSpec, plans: Sequence[PodPlan], times: list[float]
) -> Iterator[Series]:
    for p in plans:
        base = {"namespace": p.namespace, "pod": p.pod, "job": "kube-state-metrics"}
        rows = [(spec.container, spec.cpu_request_cores)]
        if spec.sidecar:
            rows.append((spec.sidecar, spec.sidecar_cpu_request_cores))
        for container, cores in rows:
            labels = {**base, "container": container, "node": "node-1"}
            yield (
                CPU_REQUEST_METRIC,
                {**labels, "resource": "cpu", "unit": "core"},
                [(t, cores) for t in times],
            )
            yield (
                CPU_REQUEST_METRIC,
                {**labels, "resource": "memory", "unit": "byte"},
                [(t, 8.0 * 2**30) for t in times],
            )


def _fd_extra_series(
    spec: FleetSpec,
    plans: Sequence[PodPlan],
    n_of: Callable[[PodPlan], list[int]],
    step_s: int,
    times: list[float],
) -> Iterator[Series]:
    """The sidecar's own process FD pair and cAdvisor's per-container FD / socket counts."""
    if spec.sidecar and spec.sidecar_fds is not None:
        for name, value in (("process_open_fds", spec.sidecar_fds[0]),
                            ("process_max_fds", spec.sidecar_fds[1])):  # fmt: skip
            for p in plans:
                side = {"container": spec.sidecar, "job": spec.sidecar}
                labels = _styled(spec, {"namespace": p.namespace, "pod": p.pod, **side})
                yield name, labels, [(t, value) for t in times]
    if not spec.cadvisor_fds:
        return
    for metric, scale in (("container_file_descriptors", 1.0), ("container_sockets", 0.5)):
        for p in plans:
            flight = _in_flight(spec, p, n_of(p), step_s)
            base = {"namespace": p.namespace, "pod": p.pod, "job": "kubelet"}
            main = [(t, round((40.0 + 2 * f) * scale)) for t, f in zip(times, flight, strict=True)]
            yield metric, {**base, "container": spec.container}, main
            if spec.sidecar:
                yield (
                    metric,
                    {**base, "container": spec.sidecar},
                    [(t, 12.0 * scale) for t in times],
                )


def deployment_of(pod: str) -> str:
    """The Deployment a generated pod belongs to (names are ``<deploy>-<rs>-<suffix>``)."""
    return pod.rsplit("-", 2)[0]


def _owner_series(
    spec: FleetSpec, plans: Sequence[PodPlan], times: list[float]
) -> Iterator[Series]:
    """``kube_pod_owner`` (pod -> ReplicaSet) and ``kube_replicaset_owner`` (ReplicaSet ->
    Deployment, plus each Deployment's old ReplicaSet kept at 0 replicas)."""
    if not spec.owners:
        return
    ksm = {"job": "kube-state-metrics"}
    replica_sets: dict[tuple[str, str], str] = {}
    for p in plans:
        rs = p.pod.rsplit("-", 1)[0]
        replica_sets[(p.namespace, rs)] = deployment_of(p.pod)
        labels = {
            "namespace": p.namespace,
            "pod": p.pod,
            "owner_kind": "ReplicaSet",
            "owner_name": rs,
            "owner_is_controller": "true",
            **ksm,
        }
        yield "kube_pod_owner", labels, [(t, 1.0) for t in times]
    for namespace, deployment in sorted({(ns, d) for (ns, _), d in replica_sets.items()}):
        replica_sets[(namespace, f"{deployment}-0ld0")] = deployment
    for (namespace, rs), deployment in sorted(replica_sets.items()):
        labels = {
            "namespace": namespace,
            "replicaset": rs,
            "owner_kind": "Deployment",
            "owner_name": deployment,
            "owner_is_controller": "true",
            **ksm,
        }
        yield "kube_replicaset_owner", labels, [(t, 1.0) for t in times]
    for (namespace, rs), _ in sorted(replica_sets.items()):
        replicas = (
            0.0
            if rs.endswith("-0ld0")
            else float(
                sum(1 for p in plans if p.namespace == namespace and p.pod.startswith(rs + "-"))
            )
        )
        labels = {"namespace": namespace, "replicaset": rs, **ksm}
        yield "kube_replicaset_spec_replicas", labels, [(t, replicas) for t in times]


def _hpa_series(spec: FleetSpec, plans: Sequence[PodPlan], times: list[float]) -> Iterator[Series]:
    hpas: list[tuple[str, HpaSpec, int]] = []

    def pods_of(namespace: str, deployment: str) -> int:
        return sum(
            1 for p in plans if p.namespace == namespace and deployment_of(p.pod) == deployment
        )

    if spec.hpa is not None:
        main = sum(
            1 for p in plans if p.namespace == spec.namespace and p.model_name == spec.model_name
        )
        hpas.append((spec.namespace, spec.hpa, main))
        hpas += [(spec.namespace, HpaSpec(name=n), main) for n in spec.extra_hpas]
        if spec.other_namespace:
            hpas.append((spec.other_namespace, spec.hpa, spec.other_namespace_pods))
    for extra in spec.more_hpas:
        hpas.append(
            (spec.namespace, extra, pods_of(spec.namespace, extra.scale_target or spec.deployment))
        )
    values: list[tuple[str, dict[str, str], float]] = []
    for namespace, hpa, pods in hpas:
        labels = {
            "namespace": namespace,
            "horizontalpodautoscaler": hpa.name,
            "job": "kube-state-metrics",
        }
        current = hpa.current_replicas if hpa.current_replicas is not None else pods
        desired = hpa.desired_replicas if hpa.desired_replicas is not None else current
        values += [
            ("status_current_replicas", labels, float(current)),
            ("status_desired_replicas", labels, float(desired)),
            ("spec_min_replicas", labels, float(hpa.min_replicas)),
            ("spec_max_replicas", labels, float(hpa.max_replicas)),
        ]
        for metric, kind, value in (
            (hpa.target_metric, hpa.target_type, hpa.target_value),
            *hpa.more_targets,
        ):
            target = {**labels, "metric_name": metric, "metric_target_type": kind}
            values.append(("spec_target_metric", target, value))
        if hpa.info:
            info = {
                **labels,
                "scaletargetref_api_version": "apps/v1",
                "scaletargetref_kind": "Deployment",
                "scaletargetref_name": hpa.scale_target or spec.deployment,
            }
            values.append(("info", info, 1.0))
    for suffix in (
        "status_current_replicas",
        "status_desired_replicas",
        "spec_min_replicas",
        "spec_max_replicas",
        "spec_target_metric",
        "info",
    ):
        for name, labels, value in values:
            if name == suffix:
                yield HPA_PREFIX + suffix, labels, [(t, value) for t in times]


def fleet_series(
    spec: FleetSpec, end: float, duration_s: int = 900, step_s: int = 15
) -> tuple[list[Series], dict[str, str]]:
    """All series (sample name, labels, points) and the family types, for ``openmetrics_text``.

    Points run from ``end - duration_s`` to ``end`` every ``step_s`` seconds.
    """
    return list(iter_fleet_series(spec, end, duration_s, step_s)), fleet_types(spec)


# --------------------------------------------------------------------------- Triton


@dataclass(frozen=True)
class TritonModel:
    """One model a Triton pod serves: first-response latency (ms) and requests/s."""

    name: str
    median_ms: float
    requests_per_second: float
    version: str = "1"


TRITON_ENSEMBLE: tuple[TritonModel, ...] = (
    TritonModel("ens", 1200.0, 2.0),
    TritonModel("preprocess", 8.0, 300.0),
    TritonModel("tokenize", 3.0, 300.0),
    TritonModel("llm", 1100.0, 2.0),
)
"""An ensemble (``ens``) and its sub-models: each ensemble request runs the sub-models
again (batched pre-processing and tokenizing many times over), so a fleet sum of all
four is dominated by the fast sub-models and hides the ensemble's own latency."""


def iter_triton_series(
    namespace: str,
    pods: Sequence[str],
    end: float,
    models: Sequence[TritonModel] = TRITON_ENSEMBLE,
    duration_s: int = 900,
    step_s: int = 15,
    sigma: float = 0.5,
) -> Iterator[Series]:
    """Triton's first-response histogram (milliseconds, labels ``model``/``version``) and
    pending-request gauge for each pod and model."""
    clock = _Clock(end, duration_s, step_s)
    for model in models:
        for pod in pods:
            rng = random.Random(f"triton/{namespace}/{pod}/{model.name}")
            total, counts = rng.randrange(100, 1000), []
            for k in range(len(clock.times)):
                if k:
                    total += _poisson(rng, model.requests_per_second * step_s)
                counts.append(total)
            labels = {
                "namespace": namespace,
                "pod": pod,
                "job": "triton",
                "model": model.name,
                "version": model.version,
            }
            yield from _histogram(
                TRITON_METRIC, labels, TRITON_BUCKETS_MS, model.median_ms, sigma, counts,
                clock.times,
            )  # fmt: skip
    for pod in pods:
        labels = {
            "namespace": namespace,
            "pod": pod,
            "job": "triton",
            "model": "ens",
            "version": "1",
        }
        yield "nv_inference_pending_request_count", labels, [(t, 1.0) for t in clock.times]


# --------------------------------------------------------------------------- streaming


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _write_family_header(out: TextIO, name: str, types: Mapping[str, str]) -> str:
    for suffix, kind in (
        ("_bucket", "histogram"),
        ("_sum", "histogram"),
        ("_count", "histogram"),
        ("_total", "counter"),
    ):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == kind:
            family = name[: -len(suffix)]
            out.write(f"# TYPE {family} {kind}\n")
            return family
    out.write(f"# TYPE {name} gauge\n")
    return name


def write_fleet_openmetrics(
    spec: FleetSpec, path: Path, end: float, duration_s: int = 900, step_s: int = 15
) -> int:
    """Stream the fleet as OpenMetrics text (ending ``# EOF``) to ``path``; return series count.

    Same content as ``openmetrics_text(*fleet_series(...))`` without holding it in memory.
    """
    types = fleet_types(spec)
    written = 0
    family: str | None = None
    with path.open("w", encoding="utf-8") as out:
        for name, labels, points in iter_fleet_series(spec, end, duration_s, step_s):
            base = name
            for suffix in ("_bucket", "_sum", "_count", "_total"):
                if name.endswith(suffix) and name[: -len(suffix)] in types:
                    base = name[: -len(suffix)]
                    break
            if base != family:
                family = _write_family_header(out, name, types)
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            selector = f"{name}{{{label_text}}}"
            out.writelines(f"{selector} {float(v)!r} {t:.3f}\n" for t, v in points)
            written += 1
        out.write("# EOF\n")
    return written
