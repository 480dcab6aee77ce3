"""Autoscalers against CPU: replicas each HPA runs vs replicas CPU alone implies.

Each HPA is compared with the pods it scales: the fleet pods whose workload
(``RawAnswers.pod_workloads``) is the HPA's scale target. Without owner or target
series the pods cannot be told apart; only a lone HPA then falls back to every fleet
pod (said in ``pods_basis`` and a note), never several HPAs at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streamdash.core.raw import HpaRaw, HpaTarget, WorkloadRef
from streamdash.core.snapshot import AutoscalerView, PodRow

KEDA_PREFIX = "keda-hpa-"
"""KEDA names the HPA it makes for a ScaledObject ``keda-hpa-<scaledobject>``."""


def keda_scaled_object(hpa_name: str) -> str | None:
    """The KEDA ScaledObject an HPA was made for, else None."""
    if hpa_name.startswith(KEDA_PREFIX) and len(hpa_name) > len(KEDA_PREFIX):
        return hpa_name[len(KEDA_PREFIX) :]
    return None


def pick_hpa(hpas: Sequence[HpaRaw], name: str | None) -> HpaRaw | None:
    """The HPA named ``name``; without a name, the only HPA reported; else None."""
    if name is not None:
        return next((h for h in hpas if h.name == name), None)
    return hpas[0] if len(hpas) == 1 else None


def scales_on_cpu(hpa: HpaRaw) -> bool:
    """True when one of the HPA's spec targets is the ``cpu`` resource."""
    return any(t.metric == "cpu" for t in hpa.targets) or hpa.target_metric == "cpu"


def cpu_target(
    hpa: HpaRaw | None, configured: float, request_per_pod: float | None = None
) -> tuple[float, str]:
    """The CPU utilization target as a fraction and where it came from.

    The HPA's own target when it scales on CPU: a utilization target as is, an
    average-value target (cores per pod) as its share of the request; else the
    configured one.
    """
    if hpa is None:
        return configured, "config"
    targets = hpa.targets
    if not targets and hpa.target_metric is not None and hpa.target_value is not None:
        targets = (HpaTarget(hpa.target_metric, hpa.target_type, hpa.target_value),)
    for t in targets:
        if t.is_cpu_utilization and t.value > 0:
            return t.value / 100.0, "hpa"
    for t in targets:
        if t.metric == "cpu" and t.target_type == "average" and t.value > 0 and request_per_pod:
            return t.value / request_per_pod, "hpa"
    return configured, "config"


def cpu_implied_replicas(
    total_cores: float | None, request_per_pod: float | None, target: float
) -> int | None:
    """``ceil(total CPU / (request per pod × target))`` — the HPA's CPU formula — at
    least 1; None when CPU or the request is unknown."""
    if total_cores is None or request_per_pod is None or request_per_pod <= 0 or target <= 0:
        return None
    needed = round(total_cores / (request_per_pod * target), 9)
    return max(1, math.ceil(needed))


def _known_sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def target_pods(
    hpa: HpaRaw,
    pods: Sequence[PodRow],
    pod_workloads: Mapping[str, WorkloadRef],
    alone: bool,
) -> tuple[tuple[PodRow, ...], str]:
    """The fleet pods ``hpa`` scales and how they were told (see ``pods_basis``)."""
    target = hpa.scale_target
    if target is not None and pod_workloads:
        return tuple(p for p in pods if pod_workloads.get(p.pod) == target), "scale_target"
    if hpa.scale_target_kind is not None and target is None and pod_workloads:
        return (), "scale_target"  # scales a kind pods are not grouped under
    if alone:
        return tuple(pods), "fleet"
    return (), "unknown"


def autoscaler_view(
    hpa: HpaRaw | None,
    pods: Sequence[PodRow],
    configured_target: float,
    pod_workloads: Mapping[str, WorkloadRef] | None = None,
    alone: bool = True,
) -> AutoscalerView | None:
    """One HPA's section, or None when no HPA was found. ``alone``: it is the only HPA
    in scope (see ``target_pods``)."""
    if hpa is None:
        return None
    mine, basis = target_pods(hpa, pods, pod_workloads or {}, alone)
    total = _known_sum([p.cpu_cores for p in mine])
    requests = [p.cpu_request_cores for p in mine if p.cpu_request_cores is not None]
    request = sum(requests) / len(requests) if requests else None
    target, source = cpu_target(hpa, configured_target, request)
    implied = cpu_implied_replicas(total, request, target)
    ratio = None
    if implied is not None and hpa.current_replicas is not None:
        ratio = hpa.current_replicas / implied
    return AutoscalerView(
        name=hpa.name,
        current_replicas=hpa.current_replicas,
        desired_replicas=hpa.desired_replicas,
        min_replicas=hpa.min_replicas,
        max_replicas=hpa.max_replicas,
        target_metric=hpa.target_metric,
        target_type=hpa.target_type,
        target_value=hpa.target_value,
        cpu_cores=total,
        cpu_request_cores=request,
        cpu_target_utilization=target,
        cpu_target_source=source,
        cpu_implied_replicas=implied,
        divergence_ratio=ratio,
        namespace=hpa.namespace,
        scale_target_kind=hpa.scale_target_kind,
        scale_target_name=hpa.scale_target_name,
        targets=hpa.targets,
        scales_on_cpu=scales_on_cpu(hpa),
        keda_scaled_object=keda_scaled_object(hpa.name),
        pod_count=len(mine) if basis != "unknown" else None,
        pods_basis=basis,
    )


@dataclass(frozen=True)
class Autoscalers:
    """The autoscaler section of a snapshot: every HPA shown and the picked one."""

    views: tuple[AutoscalerView, ...]
    picked: AutoscalerView | None
    notes: tuple[str, ...]


def autoscalers(
    hpas: Sequence[HpaRaw],
    pods: Sequence[PodRow],
    pod_workloads: Mapping[str, WorkloadRef],
    wanted: str | None,
    configured_target: float,
) -> Autoscalers:
    """``--hpa NAME`` shows that HPA alone; without it every HPA in scope is shown and
    the only one is also ``picked``."""
    notes: list[str] = []
    alone = len(hpas) == 1
    if wanted is not None:
        matches = [h for h in hpas if h.name == wanted]
        if not matches:
            names = ", ".join(sorted({h.name for h in hpas})[:10])
            found = f" (found: {names})" if names else ""
            notes.append(f"HPA {wanted!r} was not found in kube-state-metrics{found}.")
            return Autoscalers((), None, tuple(notes))
        if len(matches) > 1:
            notes.append(f"HPA {wanted!r} exists in {len(matches)} namespaces; set a namespace.")
        shown = matches
    else:
        shown = list(hpas)
    views = []
    for hpa in shown:
        view = autoscaler_view(hpa, pods, configured_target, pod_workloads, alone)
        if view is None:
            continue
        views.append(view)
        if view.pods_basis == "fleet" and hpa.scale_target is None:
            notes.append(
                f"HPA {hpa.name}: kube-state-metrics reports no scale target "
                "(kube_horizontalpodautoscaler_info): CPU is summed over every fleet pod."
            )
        elif view.pods_basis == "fleet":
            notes.append(
                f"HPA {hpa.name}: no pod owner series (kube_pod_owner): CPU is summed over "
                "every fleet pod, not only its target's."
            )
        elif view.pods_basis == "unknown":
            notes.append(
                f"HPA {hpa.name}: its pods cannot be told from the others (no "
                "kube_pod_owner / kube_horizontalpodautoscaler_info): CPU-implied replicas n/a."
            )
        elif view.pod_count == 0:
            notes.append(
                f"HPA {hpa.name} scales {hpa.scale_target_kind}/{hpa.scale_target_name}, "
                "which has no pods in this view: CPU-implied replicas n/a."
            )
    picked = views[0] if len(views) == 1 else None
    return Autoscalers(tuple(views), picked, tuple(notes))
