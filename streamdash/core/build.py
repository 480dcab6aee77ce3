"""Raw answers -> Snapshot: the one pure function every view's data goes through."""

from __future__ import annotations

import dataclasses

from streamdash.core.autoscaler import autoscalers
from streamdash.core.findings import (
    divergence_findings,
    fd_findings,
    overflow_findings,
    worst_first,
)
from streamdash.core.groups import (
    blend_findings,
    ensemble_fleet,
    group_by_of,
    group_notes,
    group_overflow_findings,
    group_views,
)
from streamdash.core.histogram import summarize
from streamdash.core.lb import capacity, join_to_pods, lb_findings
from streamdash.core.parts import HISTOGRAM_PARTS
from streamdash.core.pods import fleet_pods, pod_rows
from streamdash.core.raw import RawAnswers
from streamdash.core.snapshot import (
    HistogramSummary,
    LoadBalancerView,
    Snapshot,
    SourceInfo,
    StalePart,
)
from streamdash.presets import DEFAULT_PRESET, load_preset
from streamdash.redact import redact_url
from streamdash.settings import Preset, Settings

LATENCY_KINDS = ("ttft", "stream", "itl")


def _latency(raw: RawAnswers, preset: Preset) -> dict[str, HistogramSummary]:
    out = {}
    for kind in LATENCY_KINDS:
        summary = summarize(
            kind,
            preset.histogram(kind),
            raw.histograms.get(kind),
            e2e_spec=preset.e2e,
            e2e_raw=raw.histograms.get("e2e"),
            preset_name=preset.name,
        )
        hist = raw.histograms.get(kind)
        part = hist.part if hist is not None and hist.part else HISTOGRAM_PARTS[kind]
        promql = raw.queries.get(part)
        out[kind] = dataclasses.replace(summary, promql=promql) if promql else summary
    return out


def lb_sources(settings: Settings) -> tuple[str, ...]:
    """Configured load balancers as ``kind url`` (or ``kind name``) lines, no credentials."""
    lines = []
    for lb in settings.load_balancers:
        where = redact_url(lb.url) if lb.url else (lb.name or "")
        lines.append(f"{lb.kind} {where}".strip())
    return tuple(lines)


def build_snapshot(
    raw: RawAnswers,
    settings: Settings,
    stale: tuple[StalePart, ...] = (),
) -> Snapshot:
    """Turn one refresh's raw answers into a Snapshot. Pure and total: never raises on
    odd numbers; unknown stays None. ``stale`` marks parts carried from an earlier
    refresh (see ``core.carry``)."""
    preset = settings.preset or load_preset(DEFAULT_PRESET)
    latency = _latency(ensemble_fleet(raw, preset, settings.ensembles), preset)
    rule = settings.load_balancers[0].pod_match if settings.load_balancers else "server"
    connections = join_to_pods(fleet_pods(raw), raw.lb_backends, rule)
    pods = pod_rows(raw, preset, connections)
    scalers = autoscalers(
        raw.hpas, pods, raw.pod_workloads, settings.hpa, settings.cpu_target_utilization
    )
    groups = group_views(raw, preset, pods)
    notes = [*raw.notes, *preset.notes, *scalers.notes, *group_notes(raw, settings, preset)]
    several = len(groups) > 1
    if pods and not any(p.max_fds is not None for p in pods):  # no process FD pair anywhere
        notes.extend(preset.fd_gap_notes)
    counted = sum(1 for p in pods if p.fd_source == "cadvisor")
    if counted:
        notes.append(
            f"FD use of {counted} of {len(pods)} pods is cAdvisor's container_file_descriptors "
            "(their server exports no process_open_fds / process_max_fds): no limit known, "
            "so no FD utilization."
        )
    waiting = bool(raw.pending)  # latency not answered yet: judge only what came
    findings = [
        # several groups: overflow is named per group, and a blend of unlike groups flagged
        *(
            ()
            if waiting
            else group_overflow_findings(groups)
            if several
            else overflow_findings(latency)
        ),
        *(
            blend_findings(latency, groups, settings.thresholds.blend_factor)
            if several and not waiting
            else ()
        ),
        *fd_findings(pods, settings.thresholds, raw.queries.get("pod_gauges")),
        *(
            finding
            for view in scalers.views
            for finding in divergence_findings(
                view,
                settings.thresholds,
                [q for k, q in raw.queries.items() if k in ("hpa", "cpu")],
            )
        ),
        *(
            ()
            if waiting
            else lb_findings(
                latency,
                raw.lb_backends,
                raw.lb_timeouts,
                pods,
                settings.thresholds,
                aggregates=raw.lb_aggregates,
                stream_includes_ttft=preset.stream.includes_ttft,
            )
        ),
    ]
    return Snapshot(
        taken_at=raw.taken_at,
        source=SourceInfo(kind=raw.source_kind, url=raw.source_url),
        window_seconds=raw.window_seconds,
        preset=preset.name,
        namespace=settings.namespace,
        latency=latency,
        pods=pods,
        autoscaler=scalers.picked,
        autoscalers=scalers.views,
        load_balancer=LoadBalancerView(
            backends=raw.lb_backends,
            frontends=raw.lb_frontends,
            timeouts=raw.lb_timeouts,
            sources=lb_sources(settings),
        ),
        capacity=capacity(pods, latency, stream_includes_ttft=preset.stream.includes_ttft),
        findings=worst_first(findings),
        errors=raw.errors,
        stale=stale,
        queries=dict(raw.queries),
        query_count=raw.query_count,
        history=raw.history,
        notes=tuple(dict.fromkeys(notes)),
        alerts=raw.alerts,
        groups=groups,
        group_by=group_by_of(settings, preset),
        pending=raw.pending,
    )
