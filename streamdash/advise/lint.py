"""Lint the rules Prometheus has loaded against the data and the Snapshot:

- ``le-missing``: a matcher on ``le`` that matches none of the histogram's real ``le``
  texts (vLLM's example rules match ``le="120"`` where the client writes ``"120.0"``);
- ``quantile-overflow``: ``histogram_quantile`` over a histogram whose rank for that
  quantile falls in +Inf: the rule sees the top bucket, not the latency;
- ``latency-blend``: a latency rule on a metric that adds TTFT and stream duration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from streamdash import format as fmt
from streamdash.advise.lelabels import le_matcher, parse_le
from streamdash.advise.model import AdviseFacts, Artifact, LoadedRule
from streamdash.core.snapshot import Snapshot
from streamdash.settings import Preset

LintId = Literal["le-missing", "quantile-overflow", "latency-blend"]
MAX_METRICS = 50
"""At most this many histogram metrics are asked for their ``le`` texts."""

_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\s*\{([^{}]*)\}")
_LE = re.compile(r"\ble\s*(=~|!~|!=|=)\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)")
_QUANTILE = re.compile(r"histogram_quantile\s*\(\s*([0-9.eE+-]+)\s*,")
_BUCKET_NAME = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\b")


@dataclass(frozen=True)
class LintIssue:
    id: LintId
    rule: LoadedRule
    message: str


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "`":
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def bucket_metrics(rules: Sequence[LoadedRule]) -> tuple[str, ...]:
    """Base names of every ``<name>_bucket`` the rules use (for the ``le`` query)."""
    names: dict[str, None] = {}
    for rule in rules:
        for m in _BUCKET_NAME.finditer(rule.expr):
            names[m.group(1)] = None
    return tuple(names)[:MAX_METRICS]


def _le_issues(rule: LoadedRule, le_texts: Mapping[str, tuple[str, ...]]) -> list[LintIssue]:
    out = []
    for sel in _SELECTOR.finditer(rule.expr):
        metric, inner = sel.group(1), sel.group(2)
        texts = le_texts.get(metric)
        if not texts:
            continue
        for m in _LE.finditer(inner):
            op, value = m.group(1), _unquote(m.group(2))
            if op == "=":
                hit = value in texts
            elif op == "=~":
                try:
                    pattern = re.compile(value)
                except re.error:
                    continue
                hit = any(pattern.fullmatch(t) for t in texts)
            else:
                continue
            if hit:
                continue
            bound = parse_le(value) if op == "=" else None
            near = [t for t in texts if bound is not None and parse_le(t) == bound]
            if near and bound is not None:
                hint = (
                    f' The data has le="{near[0]}" for that bound: match both spellings '
                    f"with {le_matcher(bound, texts)}."
                )
            else:
                hint = f" It has: {', '.join(texts[:12])}{' ...' if len(texts) > 12 else ''}."
            out.append(
                LintIssue(
                    "le-missing",
                    rule,
                    f'{metric}_bucket{{le{op}"{value}"}} matches no series: no bucket of '
                    f"{metric} has that le text, so the rule is always empty"
                    f"{' and never fires' if rule.kind == 'alerting' else ''}.{hint}",
                )
            )
    return out


def _quantile_issues(rule: LoadedRule, snapshot: Snapshot) -> list[LintIssue]:
    out = []
    for m in _QUANTILE.finditer(rule.expr):
        try:
            q = float(m.group(1))
        except ValueError:
            continue
        for summary in snapshot.latency.values():
            if summary.metric is None or summary.overflow_fraction is None:
                continue
            if f"{summary.metric}_bucket" not in rule.expr:
                continue
            if summary.overflow_fraction <= 1 - q + 1e-12:
                continue
            out.append(
                LintIssue(
                    "quantile-overflow",
                    rule,
                    f"histogram_quantile({q:g}) over {summary.metric}: "
                    f"{fmt.ratio(summary.overflow_fraction)} of observations are above the top "
                    f"bucket ({fmt.seconds(summary.top_finite_bucket)}), so this returns "
                    f"{fmt.seconds(summary.top_finite_bucket)} however slow it gets. New "
                    "buckets first (see the buckets artifact).",
                )
            )
    return out


def _blend_metrics(preset: Preset) -> dict[str, str]:
    """Metric -> why it blends TTFT and stream."""
    out = {}
    if preset.e2e.metric:
        out[preset.e2e.metric] = "end-to-end latency = queue + TTFT + stream"
    if preset.stream.metric and preset.stream.includes_ttft:
        out[preset.stream.metric] = "this server's stream histogram includes TTFT"
    return out


def _blend_issues(rule: LoadedRule, preset: Preset) -> list[LintIssue]:
    out = []
    for metric, why in _blend_metrics(preset).items():
        used = re.search(re.escape(metric) + r"_(bucket|sum|count)\b", rule.expr)
        if not used:
            continue
        out.append(
            LintIssue(
                "latency-blend",
                rule,
                f"latency rule on {metric} ({why}): one slow first token and one long "
                "answer look alike, and a long answer is not a failure. Use the split TTFT "
                "and stream SLOs (slo-ttft / slo-stream artifacts) instead.",
            )
        )
    return out


def lint_rules(snapshot: Snapshot, facts: AdviseFacts, preset: Preset) -> list[LintIssue]:
    """Every issue of every loaded rule, in rule order."""
    issues: list[LintIssue] = []
    for rule in facts.rules or ():
        issues += _le_issues(rule, facts.le_texts)
        issues += _quantile_issues(rule, snapshot)
        issues += _blend_issues(rule, preset)
    return issues


def lint_artifact(snapshot: Snapshot, facts: AdviseFacts, preset: Preset) -> Artifact | None:
    """The lint report; None when the rules were not read."""
    if facts.rules is None:
        return None
    issues = lint_rules(snapshot, facts, preset)
    lines = []
    for issue in issues:
        r = issue.rule
        lines.append(
            f"- [{issue.id}] {r.kind} rule {r.name!r} (group {r.group!r}, {r.file}): "
            f"{issue.message}"
        )
    body = "\n".join(lines) + "\n" if lines else "No issues in the loaded rules.\n"
    rules = len(facts.rules)
    why = (
        f"Prometheus has {rules} rule{'s' if rules != 1 else ''} loaded; {len(issues)} "
        f"issue{'s' if len(issues) != 1 else ''} found against the real le texts of "
        f"{len(facts.le_texts)} histogram{'s' if len(facts.le_texts) != 1 else ''} and this "
        "snapshot's overflow. A rule on an le that does not exist is silently empty: it "
        "neither fires nor errors."
    )
    return Artifact("lint.txt", "lint", "Lint of the loaded rules", why, body, "text")
