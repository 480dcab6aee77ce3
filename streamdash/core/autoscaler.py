"""The autoscaler against CPU: replicas the HPA runs vs replicas CPU alone implies."""

from __future__ import annotations

import math
from collections.abc import Sequence

from streamdash.core.raw import HpaRaw
from streamdash.core.snapshot import AutoscalerView, PodRow


def pick_hpa(hpas: Sequence[HpaRaw], name: str | None) -> HpaRaw | None:
    """The HPA named ``name``; without a name, the only HPA reported; else None."""
    if name is not None:
        return next((h for h in hpas if h.name == name), None)
    return hpas[0] if len(hpas) == 1 else None


def cpu_target(hpa: HpaRaw | None, configured: float) -> tuple[float, str]:
    """The CPU utilization target as a fraction and where it came from.

    The HPA's own target when it scales on CPU utilization, else the configured one.
    """
    if (
        hpa is not None
        and hpa.target_metric == "cpu"
        and hpa.target_type == "utilization"
        and hpa.target_value is not None
        and hpa.target_value > 0
    ):
        return hpa.target_value / 100.0, "hpa"
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


def autoscaler_view(
    hpa: HpaRaw | None, pods: Sequence[PodRow], configured_target: float
) -> AutoscalerView | None:
    """The autoscaler section, or None when no HPA was found."""
    if hpa is None:
        return None
    total = _known_sum([p.cpu_cores for p in pods])
    requests = [p.cpu_request_cores for p in pods if p.cpu_request_cores is not None]
    request = sum(requests) / len(requests) if requests else None
    target, source = cpu_target(hpa, configured_target)
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
    )
