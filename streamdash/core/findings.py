"""Findings from the fleet's numbers: pure rules, thresholds from settings.

Ids are stable: ``histogram-overflow``, ``fd-exhaustion``, ``autoscaler-cpu-divergence``
here; the load-balancer ids come from ``core.lb``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from streamdash import format as fmt
from streamdash.core.snapshot import (
    SEVERITIES,
    AutoscalerView,
    Finding,
    HistogramSummary,
    PodRow,
)
from streamdash.settings import Thresholds

SUBJECT_TITLES = {"ttft": "TTFT", "stream": "Stream duration", "itl": "Inter-token latency"}


def overflow_findings(latency: Mapping[str, HistogramSummary]) -> list[Finding]:
    """``histogram-overflow`` for each histogram whose p50/p90/p99 falls in +Inf.

    Critical when p90 or p50 is overflowed (the bulk of the tail is unknown), warning
    when only p99 is.
    """
    findings = []
    for subject, summary in latency.items():
        if not summary.overflowed or summary.top_finite_bucket is None:
            continue
        severity = "warning" if summary.overflowed == ("p99",) else "critical"
        title = SUBJECT_TITLES.get(subject, subject)
        top = fmt.seconds(summary.top_finite_bucket)
        share = fmt.ratio(summary.overflow_fraction)
        names = "/".join(summary.overflowed)
        advice = None
        if summary.advice is not None:
            advice = (
                f"Set the buckets of {summary.metric} to: {fmt.bounds(summary.advice.buckets)}. "
                f"{summary.advice.basis}"
            )
        findings.append(
            Finding(
                id="histogram-overflow",
                severity=severity,
                subject=subject,
                summary=(
                    f"{title} {names} above the top bucket ({top}): {share} of observations "
                    f"land in +Inf, so these percentiles are only lower bounds (> {top})."
                ),
                evidence={
                    "metric": summary.metric,
                    "top_finite_bucket": summary.top_finite_bucket,
                    "overflow_fraction": summary.overflow_fraction,
                    "overflowed": list(summary.overflowed),
                    "p50": summary.p50,
                    "p90": summary.p90,
                    "p99": summary.p99,
                    "mean_seconds": summary.mean_seconds,
                },
                advice=advice,
                promql=(summary.promql,) if summary.promql else (),
            )
        )
    return findings


def fd_findings(
    pods: Sequence[PodRow], thresholds: Thresholds, promql: str | None = None
) -> list[Finding]:
    """``fd-exhaustion`` per pod: warning at ``fd_warning``, critical at ``fd_critical``."""
    findings = []
    for pod in pods:
        util = pod.fd_utilization
        if util is None or util < thresholds.fd_warning:
            continue
        severity = "critical" if util >= thresholds.fd_critical else "warning"
        findings.append(
            Finding(
                id="fd-exhaustion",
                severity=severity,
                subject=pod.pod,
                summary=(
                    f"{pod.pod} uses {fmt.count(pod.open_fds)} of {fmt.count(pod.max_fds)} file "
                    f"descriptors ({fmt.ratio(util)}"
                    + (f", {pod.fd_origin}" if pod.fd_origin else "")
                    + "): each open stream holds one, new streams will fail with EMFILE."
                ),
                evidence={
                    "open_fds": pod.open_fds,
                    "max_fds": pod.max_fds,
                    "fd_utilization": util,
                    "fd_origin": pod.fd_origin,
                    "in_flight": pod.in_flight,
                    "warning_at": thresholds.fd_warning,
                    "critical_at": thresholds.fd_critical,
                },
                advice=(
                    "Raise the pod's open-file limit (LimitNOFILE / ulimit -n) above peak "
                    "concurrent streams plus a base, or cap concurrent streams per pod so the "
                    "load balancer sends the excess elsewhere."
                ),
                promql=(promql,) if promql else (),
            )
        )
    return findings


def describe_targets(view: AutoscalerView) -> str:
    """``cpu (utilization 70) and vllm:num_requests_running (average 8)``: every target."""
    parts = [
        f"{t.metric} ({t.target_type} {fmt.count(t.value)})" if t.target_type else t.metric
        for t in view.targets
    ]
    if not parts:
        return view.target_metric or "an unknown metric"
    return " and ".join(parts)


def autoscaler_name(view: AutoscalerView) -> str:
    """``HPA llama-serve (scales Deployment/llama-serve)``, KEDA's HPAs named as such."""
    text = f"HPA {view.name}"
    if view.keda_scaled_object:
        text = f"KEDA ScaledObject {view.keda_scaled_object} (HPA {view.name})"
    if view.scale_target_name:
        text += f" for {view.scale_target_kind}/{view.scale_target_name}"
    return text


def divergence_findings(
    autoscaler: AutoscalerView | None, thresholds: Thresholds, promql: Iterable[str] = ()
) -> list[Finding]:
    """``autoscaler-cpu-divergence`` when replicas / CPU-implied replicas >= threshold."""
    if autoscaler is None or autoscaler.divergence_ratio is None:
        return []
    ratio = autoscaler.divergence_ratio
    if ratio < thresholds.divergence_ratio:
        return []
    scaled_on = describe_targets(autoscaler)
    what = autoscaler_name(autoscaler)
    subject = autoscaler.name
    return [
        Finding(
            id="autoscaler-cpu-divergence",
            severity="warning",
            subject=subject,
            summary=(
                f"{what} runs {fmt.count(autoscaler.current_replicas)} pods but CPU "
                f"needs {fmt.count(autoscaler.cpu_implied_replicas)} ({fmt.multiple(ratio)}): "
                f"it scales on {scaled_on}, and streams hold concurrency long after CPU is done."
            ),
            evidence={
                "current_replicas": autoscaler.current_replicas,
                "cpu_implied_replicas": autoscaler.cpu_implied_replicas,
                "divergence_ratio": ratio,
                "cpu_cores": autoscaler.cpu_cores,
                "cpu_request_cores": autoscaler.cpu_request_cores,
                "cpu_target_utilization": autoscaler.cpu_target_utilization,
                "cpu_target_source": autoscaler.cpu_target_source,
                "target_metric": autoscaler.target_metric,
                "hpa": autoscaler.name,
                "namespace": autoscaler.namespace,
                "scale_target": (
                    f"{autoscaler.scale_target_kind}/{autoscaler.scale_target_name}"
                    if autoscaler.scale_target_name
                    else None
                ),
                "pod_count": autoscaler.pod_count,
                "pods_basis": autoscaler.pods_basis,
                "targets": [
                    {"metric": t.metric, "type": t.target_type, "value": t.value}
                    for t in autoscaler.targets
                ],
                "formula": "ceil(total CPU cores / (CPU request per pod x CPU target))",
            },
            advice=(
                "Before scaling in, check connections and FDs per pod: with long streams the "
                "concurrency target, not CPU, is the real ceiling. Size the concurrency target "
                "from per-pod connection capacity, or scale on CPU/tokens per second instead."
            ),
            promql=tuple(promql),
        )
    ]


def worst_first(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Sort by severity (critical first), then id, then subject; stable and total."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return tuple(sorted(findings, key=lambda f: (rank.get(f.severity, len(rank)), f.id, f.subject)))
