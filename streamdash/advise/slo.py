"""Split latency SLOs as Prometheus rules: TTFT ("did it respond") and stream duration
("did it finish"), each the ratio of requests under a target, with multi-window,
multi-burn-rate alerts (the SRE workbook's 1 h/5 m at 14.4x and 6 h/30 m at 6x).

The target must be a bucket bound that exists in the data; the ``le`` matcher accepts
both spellings of it (``120`` and ``120.0``). A target above the top finite bucket gets
no rules: new buckets come first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streamdash import format as fmt
from streamdash.advise.lelabels import bounds_of, le_matcher, same_bound
from streamdash.advise.model import AdviseFacts, Artifact
from streamdash.core.raw import WORKLOAD_KIND_LABEL, WORKLOAD_LABEL
from streamdash.core.snapshot import HistogramSummary, Snapshot
from streamdash.settings import Preset, Settings
from streamdash.sources import promql

SLO_KINDS: tuple[str, ...] = ("ttft", "stream")
QUESTION = {"ttft": "did it respond", "stream": "did it finish"}
TITLE = {"ttft": "TTFT", "stream": "Stream duration"}
ALERT_NAME = {"ttft": "StreamdashTTFTBudgetBurn", "stream": "StreamdashStreamBudgetBurn"}
WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h")


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window alert: both windows must burn faster than ``factor``."""

    long: str
    short: str
    factor: float
    budget_share: str
    """What that burn rate spends, in words (SRE workbook, 30-day budget)."""
    for_: str


BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("1h", "5m", 14.4, "2 % of a 30-day error budget in 1 hour", "2m"),
    BurnWindow("6h", "30m", 6.0, "5 % of a 30-day error budget in 6 hours", "15m"),
)


@dataclass(frozen=True)
class SloPlan:
    """What one SLI's rules are built on (all seconds except ``le_value``)."""

    kind: str
    metric: str
    target_seconds: float
    le_value: float
    """The bound in the metric's own unit (Triton: milliseconds)."""
    le_texts: tuple[str, ...]
    objective: float
    target_source: str
    """Why this target, in one sentence."""


def record_name(kind: str, window: str) -> str:
    """``slo:ttft_under_target:ratio_rate5m``."""
    return f"slo:{kind}_under_target:ratio_rate{window}"


def _num(value: float) -> str:
    """Compact decimal text for rule thresholds and labels (no float noise)."""
    text = f"{round(value, 12):.12g}"
    return text


def _group_by(settings: Settings, snapshot: Snapshot) -> tuple[tuple[str, ...], bool]:
    """(labels, join workloads?): ``namespace`` (when set) and the label names the
    Snapshot's groups carry on the metric itself (model labels, ``group_by`` labels), plus
    ``workload_kind`` / ``workload`` when a group names a workload. The workload is no label
    of the metric, so the rates then go through the kube-state-metrics owner join
    (``promql.with_workloads``): one SLO series per workload and model."""
    labels = ["namespace"] if settings.namespace else []
    workloads = False
    for group in snapshot.groups:
        workloads = workloads or group.workload is not None
        for name in group.labels:
            try:
                labels.append(promql.check_label_name(name))
            except ValueError:
                continue
    if workloads:
        labels += [WORKLOAD_KIND_LABEL, WORKLOAD_LABEL]
    return tuple(dict.fromkeys(labels)), workloads


def _choose_bound(
    summary: HistogramSummary, wanted: float, bounds: Sequence[float]
) -> tuple[float | None, str]:
    """The largest bucket bound <= ``wanted`` (a stricter SLO, never a looser one)."""
    at_or_below = [b for b in bounds if b <= wanted * (1 + 1e-9)]
    if not at_or_below:
        return None, (
            f"the target {fmt.seconds(wanted)} is below the smallest bucket "
            f"({fmt.seconds(bounds[0])}): add a bucket at the target first"
        )
    bound = at_or_below[-1]
    if same_bound(bound, wanted):
        return bound, ""
    return bound, (
        f"{fmt.seconds(wanted)} is not a bucket bound of {summary.metric}, so the rules use "
        f"the next bound below, {fmt.seconds(bound)} (stricter); add a {fmt.seconds(wanted)} "
        "bucket to measure the target exactly"
    )


def plan_slo(
    kind: str, snapshot: Snapshot, facts: AdviseFacts, settings: Settings, preset: Preset
) -> tuple[SloPlan | None, str]:
    """The SLI's plan, or None and the one-sentence reason there is none."""
    summary = snapshot.latency.get(kind)
    spec = preset.histogram(kind)
    title = TITLE[kind]
    if summary is None or not summary.available or summary.metric is None:
        return None, f"no {title} histogram: {preset.name} does not export one or it had no data"
    unit = spec.unit_seconds
    texts = facts.le_texts.get(summary.metric)
    if texts:
        bounds = tuple(b * unit for b in bounds_of(texts))
    else:
        bounds = tuple(b for b in summary.bucket_bounds if math.isfinite(b))
    if not bounds:
        return None, f"the {title} histogram {summary.metric} has no finite buckets"
    top = bounds[-1]
    wanted_cfg = settings.slo.target(kind)
    objective = wanted_cfg.objective or settings.slo.objective
    if wanted_cfg.target_seconds is not None:
        wanted = wanted_cfg.target_seconds
        source = f"target {fmt.seconds(wanted)} from the config (slo.{kind}.target)"
    else:
        p99 = summary.p99
        if p99 is None:
            return None, f"no {title} p99 to suggest a target from; set slo.{kind}.target"
        if "p99" in summary.overflowed:
            return None, (
                f"the {title} p99 is above the top bucket ({fmt.seconds(top)}), so no target "
                "can be suggested and no ratio under it measured: new buckets come first "
                "(see the buckets artifact)"
            )
        above = [b for b in bounds if b >= p99 * (1 - 1e-9)]
        wanted = above[0] if above else top
        source = (
            f"target {fmt.seconds(wanted)} suggested from the observed p99 "
            f"({fmt.seconds(p99)}): the first bucket bound at or above it; set "
            f"slo.{kind}.target to choose your own"
        )
    if wanted > top * (1 + 1e-9):
        return None, (
            f"the {title} target {fmt.seconds(wanted)} lies above the top finite bucket of "
            f"{summary.metric} ({fmt.seconds(top)}): every slower request lands in +Inf, so the "
            "ratio under the target cannot be measured. New buckets come first (see the "
            "buckets artifact), then these rules"
        )
    bound, note = _choose_bound(summary, wanted, bounds)
    if bound is None:
        return None, note
    if note:
        source = f"{source}; {note}"
    le_value = bound / unit
    return (
        SloPlan(
            kind=kind,
            metric=summary.metric,
            target_seconds=bound,
            le_value=le_value,
            le_texts=tuple(texts or ()),
            objective=objective,
            target_source=source,
        ),
        "",
    )


def _ratio_expr(
    plan: SloPlan, scope: promql.Scope, window: str, by: Sequence[str], workloads: bool = False
) -> str:
    matchers = [m.render() for m in scope.app]
    good_sel = ",".join([*matchers, le_matcher(plan.le_value, plan.le_texts)])
    all_sel = ",".join(matchers)
    grouping = f"sum by ({', '.join(by)})" if by else "sum"
    bucket = promql.check_metric_name(plan.metric + "_bucket")
    count = promql.check_metric_name(plan.metric + "_count")

    def rate(metric: str, sel: str) -> str:
        expr = f"rate({metric}{{{sel}}}[{window}])" if sel else f"rate({metric}[{window}])"
        return promql.with_workloads(expr, scope) if workloads else expr

    good = f"{grouping} ({rate(bucket, good_sel)})"
    total = f"{grouping} ({rate(count, all_sel)})"
    return f"{good}\n/\n{total}"


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _yaml_str(value: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def rules_yaml(
    plan: SloPlan, scope: promql.Scope, by: Sequence[str], workloads: bool = False
) -> str:
    """The rule file: recording rules for every window, then the two burn-rate alerts."""
    kind = plan.kind
    target = _num(plan.target_seconds)
    budget = _num(1 - plan.objective)
    lines = [
        "groups:",
        f"  - name: streamdash-slo-{kind}",
        "    rules:",
    ]
    for window in WINDOWS:
        lines += [
            f"      - record: {record_name(kind, window)}",
            "        expr: |",
            _indent(_ratio_expr(plan, scope, window, by, workloads), 10),
            "        labels:",
            f"          slo: {kind}",
            f'          slo_target_seconds: "{target}"',
        ]
    for burn in BURN_WINDOWS:
        threshold = _num(burn.factor * (1 - plan.objective))
        expr = (
            f"(1 - {record_name(kind, burn.long)}) > {threshold}\n"
            "and\n"
            f"(1 - {record_name(kind, burn.short)}) > {threshold}"
        )
        summary = (
            f"{TITLE[kind]} SLO ({QUESTION[kind]}): requests over "
            f"{fmt.seconds(plan.target_seconds)} "
            f"burn the error budget {_num(burn.factor)}x too fast ({burn.long}/{burn.short})"
        )
        description = (
            f"{{{{ $value | humanizePercentage }}}} of requests took longer than "
            f"{fmt.seconds(plan.target_seconds)} over {burn.short} and {burn.long}; the objective "
            f"allows {_num(100 * (1 - plan.objective))} %. This rate spends {burn.budget_share}."
        )
        lines += [
            f"      - alert: {ALERT_NAME[kind]}{'Fast' if burn.long == '1h' else 'Slow'}",
            "        expr: |",
            _indent(expr, 10),
            f"        for: {burn.for_}",
            "        labels:",
            "          severity: critical",
            f"          slo: {kind}",
            f'          window: "{burn.long}"',
            "        annotations:",
            f"          summary: {_yaml_str(summary)}",
            f"          description: {_yaml_str(description)}",
        ]
    del budget
    return "\n".join(lines) + "\n"


def slo_artifacts(
    snapshot: Snapshot, facts: AdviseFacts, settings: Settings, preset: Preset
) -> tuple[list[Artifact], list[str]]:
    """One rule file per SLI that can be measured, and one line per SLI that cannot."""
    scope = promql.Scope.build(
        settings.namespace, settings.selector, settings.pod_label, settings.namespace_label
    )
    by, workloads = _group_by(settings, snapshot)
    artifacts: list[Artifact] = []
    skipped: list[str] = []
    answers = _answers(snapshot)
    for kind in SLO_KINDS:
        plan, reason = plan_slo(kind, snapshot, facts, settings, preset)
        if plan is None:
            skipped.append(f"No {TITLE[kind]} SLO: {reason}.")
            continue
        summary = snapshot.latency[kind]
        verified = (
            f"the le matcher accepts {', '.join(repr(t) for t in _seen(plan))} — the text(s) "
            "Prometheus holds for that bound, and both spellings across Prometheus 2 and 3"
            if plan.le_texts
            else "the le texts could not be asked from the server, so the matcher accepts both "
            "spellings of the bound (120 and 120.0)"
        )
        why = (
            f'{TITLE[kind]} answers "{QUESTION[kind]}" and gets its own SLO, never blended with '
            f"the other: {summary.metric} p99 is "
            f"{fmt.seconds(summary.p99, 'p99' in summary.overflowed)} at "
            f"{fmt.rate(summary.rate_per_s)} over the last "
            f"{fmt.duration(snapshot.window_seconds)}. "
            f"Objective: {_num(100 * plan.objective)} % of requests under "
            f"{fmt.seconds(plan.target_seconds)} ({plan.target_source}); {verified}. The alerts "
            "follow the SRE workbook's multi-window burn rates: 14.4x over 1 h and 5 m, 6x over "
            "6 h and 30 m."
            + (
                f" One series per {', '.join(by)}"
                + (
                    " (the workload joined from kube-state-metrics' kube_pod_owner and "
                    "kube_replicaset_owner; pods without an owner keep their own series)."
                    if workloads
                    else "."
                )
                if by
                else " Fleet-wide (the snapshot has no groups to split by)."
            )
        )
        artifacts.append(
            Artifact(
                name=f"slo-{kind}.rules.yaml",
                kind="slo-rules",
                title=f"{TITLE[kind]} SLO: recording rules and burn-rate alerts",
                why=why,
                body=rules_yaml(plan, scope, by, workloads),
                language="yaml",
                answers=answers.get(kind, ()),
            )
        )
    return artifacts, skipped


def _seen(plan: SloPlan) -> list[str]:
    from streamdash.advise.lelabels import parse_le

    return [
        t for t in plan.le_texts if (p := parse_le(t)) is not None and same_bound(p, plan.le_value)
    ]


def _answers(snapshot: Snapshot) -> Mapping[str, tuple[tuple[str, str], ...]]:
    """SLO rules answer overflow findings on their histogram (once buckets are fixed) and
    the latency-blend finding, when present."""
    out: dict[str, list[tuple[str, str]]] = {}
    for f in snapshot.findings:
        if f.id in ("histogram-overflow", "latency-blend") and f.subject in SLO_KINDS:
            out.setdefault(f.subject, []).append((f.id, f.subject))
        elif f.id == "latency-blend":
            for kind in SLO_KINDS:
                out.setdefault(kind, []).append((f.id, f.subject))
    return {k: tuple(v) for k, v in out.items()}
