"""Groups of the fleet: a workload serving a model, each with its own latency split.

Pure functions over ``RawAnswers``: the group buckets the source sent
(``HistogramRaw.groups``, summed by the server by ``le`` and the group labels), the pods'
group membership (``RawAnswers.pod_groups``: model / label groups; ``pod_workloads``:
the kube-state-metrics owner) and the pods table. Findings about groups name the group
as their subject: ``latency-blend`` (a view mixing groups whose p99s differ by more than
``Thresholds.blend_factor``) and ``histogram-overflow`` per group.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from streamdash import format as fmt
from streamdash.core.findings import SUBJECT_TITLES, overflow_findings
from streamdash.core.histogram import fleet_buckets, summarize
from streamdash.core.raw import (
    WORKLOAD_KIND_LABEL,
    WORKLOAD_LABEL,
    GroupLabels,
    HistogramRaw,
    RawAnswers,
)
from streamdash.core.snapshot import Finding, GroupView, HistogramSummary, PodRow
from streamdash.settings import Preset, Settings

LATENCY_KINDS = ("ttft", "stream", "itl")
_WORKLOAD_LABELS = (WORKLOAD_KIND_LABEL, WORKLOAD_LABEL)


def _split(key: GroupLabels) -> tuple[str | None, str | None, dict[str, str]]:
    labels = dict(key)
    kind, name = labels.pop(WORKLOAD_KIND_LABEL, None), labels.pop(WORKLOAD_LABEL, None)
    return kind, name, labels


def group_name(kind: str | None, workload: str | None, labels: Mapping[str, str]) -> str:
    """``Deployment/llama-serve model_name=llama``; ``(no workload)`` / ``(unlabelled)``
    for series without the grouping labels."""
    parts = [f"{kind or 'workload'}/{workload}"] if workload else []
    parts += [f"{k}={v}" for k, v in sorted(labels.items())]
    return " ".join(parts) or "(ungrouped series)"


def _label_key(key: GroupLabels) -> GroupLabels:
    return tuple((k, v) for k, v in key if k not in _WORKLOAD_LABELS)


def _members(
    raw: RawAnswers,
    kind: str | None,
    workload: str | None,
    labels: GroupLabels,
    joined: bool,
) -> tuple[str, ...]:
    """The pods of one group: serving its labels (``pod_groups``) and owned by its
    workload (``pod_workloads``); with no workload in the key, the pods the owner join
    left unlabelled (all of them when no join ran)."""
    out = []
    for pod in sorted(set(raw.pod_groups) | set(raw.pod_workloads)):
        if labels and labels not in raw.pod_groups.get(pod, ()):
            continue
        if not labels and raw.pod_groups and pod not in raw.pod_groups:
            continue
        owner = raw.pod_workloads.get(pod)
        if workload is not None:
            if owner is None or (owner.kind, owner.name) != (kind, workload):
                continue
        elif joined and owner is not None:
            continue
        out.append(pod)
    return tuple(out)


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return math.fsum(known) if known else None


def _group_latency(
    raw: RawAnswers, preset: Preset, key: GroupLabels
) -> dict[str, HistogramSummary]:
    out = {}
    e2e = raw.histograms.get("e2e")
    e2e_raw = (
        HistogramRaw(e2e.metric, fleet=e2e.groups.get(key)) if e2e and key in e2e.groups else None
    )
    for kind in LATENCY_KINDS:
        hist = raw.histograms.get(kind)
        group = HistogramRaw(hist.metric, fleet=hist.groups.get(key)) if hist else None
        summary = summarize(
            kind,
            preset.histogram(kind),
            group,
            e2e_spec=preset.e2e,
            e2e_raw=e2e_raw,
            preset_name=preset.name,
        )
        part = hist.part if hist is not None else None
        query = raw.queries.get(part) if part else None
        out[kind] = dataclasses.replace(summary, promql=query) if query else summary
    return out


def group_views(raw: RawAnswers, preset: Preset, pods: Sequence[PodRow]) -> tuple[GroupView, ...]:
    """One view per group the source's group buckets name, most requests first."""
    keys: set[GroupLabels] = set()
    for hist in raw.histograms.values():
        keys.update(hist.groups)
    rows = {row.pod: row for row in pods}
    joined = any(WORKLOAD_LABEL in dict(k) for k in keys)
    views = []
    for key in keys:
        kind, workload, labels = _split(key)
        members = _members(raw, kind, workload, _label_key(key), joined)
        in_group = [rows[p] for p in members if p in rows]
        worst = max(
            (r for r in in_group if r.fd_utilization is not None),
            key=lambda r: r.fd_utilization or 0.0,
            default=None,
        )
        views.append(
            GroupView(
                name=group_name(kind, workload, labels),
                workload_kind=kind,
                workload=workload,
                labels=labels,
                pods=members,
                latency=_group_latency(raw, preset, key),
                fd_worst_pod=worst.pod if worst else None,
                fd_worst_utilization=worst.fd_utilization if worst else None,
                in_flight=_sum([r.in_flight for r in in_group]),
                cpu_cores=_sum([r.cpu_cores for r in in_group]),
            )
        )

    def weight(view: GroupView) -> tuple[float, str]:
        rates = [s.rate_per_s or 0.0 for s in view.latency.values()]
        return (-max(rates, default=0.0), view.name)

    return tuple(sorted(views, key=weight))


def ensemble_fleet(raw: RawAnswers, preset: Preset, ensembles: Sequence[str]) -> RawAnswers:
    """``raw`` with each histogram's fleet buckets re-summed over the named ensemble
    models only (Triton: an ensemble's sub-models count each of its requests again, so
    the fleet must not add them). Unchanged without ensembles or a model label."""
    if not ensembles or not preset.model_labels:
        return raw
    label = preset.model_labels[0]
    histograms = {}
    for kind, hist in raw.histograms.items():
        chosen = {k: b for k, b in hist.groups.items() if dict(k).get(label) in ensembles}
        fleet = fleet_buckets({repr(k): b for k, b in chosen.items()}) if chosen else None
        histograms[kind] = dataclasses.replace(hist, fleet=fleet, pods=hist.pods)
    return dataclasses.replace(raw, histograms=histograms)


def group_by_of(settings: Settings, preset: Preset) -> tuple[str, ...]:
    """``group_by`` as label names (``model`` expanded to the preset's model labels)."""
    wanted = settings.group_by if settings.group_by is not None else ("workload", "model")
    out: list[str] = []
    for item in wanted:
        out += list(preset.model_labels) if item == "model" else [item]
    return tuple(dict.fromkeys(out))


def group_notes(raw: RawAnswers, settings: Settings, preset: Preset) -> list[str]:
    """What a reader needs to know about how the fleet was grouped."""
    notes = []
    wanted = settings.group_by if settings.group_by is not None else ("workload", "model")
    keys = {k for h in raw.histograms.values() for k in h.groups}
    joined = any(WORKLOAD_LABEL in dict(k) for k in keys)
    if "workload" in wanted and keys and not joined and not raw.pod_workloads:
        others = [w for w in wanted if w != "workload"]
        shown = ", ".join(
            (", ".join(preset.model_labels) or "nothing") if w == "model" else w for w in others
        )
        notes.append(
            "No kube-state-metrics owner series (kube_pod_owner): not grouped by workload; "
            f"grouped by {shown or 'nothing'} (group_by)."
        )
    if settings.ensembles:
        names = ", ".join(settings.ensembles)
        notes.append(f"Fleet latency sums only the ensemble model(s) {names}, not sub-models.")
    elif preset.name == "triton":
        label = preset.model_labels[0] if preset.model_labels else "model"
        models = {dict(k).get(label) for k in keys} - {None}
        if len(models) > 1:
            notes.append(
                f"Triton: {len(models)} models summed in the fleet row; an ensemble's "
                "sub-models count each of its requests again; name the ensembles in "
                "config (ensembles: [...]) or read the per-model rows."
            )
    return notes


def blend_findings(
    fleet: Mapping[str, HistogramSummary], groups: Sequence[GroupView], factor: float
) -> list[Finding]:
    """``latency-blend`` per latency kind when the groups' p99s differ by more than
    ``factor``: warning when the fleet p99 understates the slowest group by more than
    ``factor`` (the blended number hides it), info otherwise. Subject: the slowest group."""
    findings = []
    for kind in LATENCY_KINDS:
        known = [
            (g, g.latency[kind].p99)
            for g in groups
            if kind in g.latency and g.latency[kind].p99 is not None
        ]
        p99s = [(g, float(p)) for g, p in known if p is not None and p > 0]
        if len(p99s) < 2:
            continue
        slow, high = max(p99s, key=lambda t: t[1])
        fast, low = min(p99s, key=lambda t: t[1])
        if high / low <= factor:
            continue
        fleet_p99 = fleet[kind].p99 if kind in fleet else None
        hides = fleet_p99 is not None and fleet_p99 > 0 and high / fleet_p99 > factor
        title = SUBJECT_TITLES.get(kind, kind)
        over = "p99" in slow.latency[kind].overflowed
        findings.append(
            Finding(
                id="latency-blend",
                severity="warning" if hides else "info",
                subject=slow.name,
                summary=(
                    f"{title} p99 differs {fmt.multiple(high / low)} between groups: "
                    f"{slow.name} {fmt.seconds(high, over)}, {fast.name} {fmt.seconds(low)}"
                    + (
                        f"; the fleet p99 ({fmt.seconds(fleet_p99)}) hides the slow one."
                        if hides
                        else "; read the per-group rows, not the fleet row."
                    )
                ),
                evidence={
                    "kind": kind,
                    "groups": {g.name: p for g, p in p99s},
                    "fleet_p99": fleet_p99,
                    "ratio": high / low,
                    "blend_factor": factor,
                },
                advice=(
                    "Judge each group on its own row (or filter with --model); the fleet "
                    "row blends models or workloads that are not alike."
                ),
                promql=tuple(q for q in (slow.latency[kind].promql,) if q),
            )
        )
    return findings


def group_overflow_findings(groups: Sequence[GroupView]) -> list[Finding]:
    """``histogram-overflow`` per group (subject: the group, evidence: the histogram)."""
    out = []
    for group in groups:
        for finding in overflow_findings(group.latency):
            evidence = {**finding.evidence, "kind": finding.subject, "group": group.name}
            summary = f"{group.name}: {finding.summary}"
            out.append(
                dataclasses.replace(finding, subject=group.name, summary=summary, evidence=evidence)
            )
    return out
