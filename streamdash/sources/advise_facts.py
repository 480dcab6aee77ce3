"""Facts ``streamdash advise`` needs beyond a Snapshot: the ``le`` texts each histogram
really has (one query for all of them), the rules Prometheus has loaded, and the LB
config files. The only I/O of advise; the generation itself is pure."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from streamdash.advise.lint import bucket_metrics
from streamdash.advise.model import AdviseFacts, LoadedRule
from streamdash.core.snapshot import Snapshot
from streamdash.settings import Settings
from streamdash.sources import promql
from streamdash.sources.prometheus import PrometheusSource

MAX_CONFIG_CHARS = 2_000_000


def le_query(metrics: Iterable[str], scope: promql.Scope) -> str:
    """``count by (__name__, le) ({__name__=~"a_bucket|b_bucket", <scope>})``."""
    names = "|".join(f"{promql.check_metric_name(m)}_bucket" for m in metrics)
    matchers = [promql.Matcher("__name__", "=~", names), *scope.app]
    return f"count by (__name__, le) ({{{','.join(m.render() for m in matchers)}}})"


def parse_rules(data: Any) -> tuple[LoadedRule, ...]:
    """``/api/v1/rules`` data -> rules; malformed entries are skipped."""
    out: list[LoadedRule] = []
    groups = data.get("groups") if isinstance(data, dict) else None
    for group in groups if isinstance(groups, list) else ():
        if not isinstance(group, dict):
            continue
        for rule in group.get("rules") or ():
            if not isinstance(rule, dict) or rule.get("type") not in ("alerting", "recording"):
                continue
            name, expr = rule.get("name"), rule.get("query")
            if not isinstance(name, str) or not isinstance(expr, str):
                continue
            out.append(
                LoadedRule(
                    group=str(group.get("name", "")),
                    file=str(group.get("file", "")),
                    kind=rule["type"],
                    name=name,
                    expr=expr,
                )
            )
    return tuple(out)


def parse_le_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Rows of ``le_query`` -> base metric -> le texts (sorted by value, as stored)."""
    from streamdash.advise.lelabels import parse_le

    found: dict[str, set[str]] = {}
    for row in rows:
        labels = row.get("metric") or {}
        name, le = labels.get("__name__"), labels.get("le")
        if not isinstance(name, str) or not isinstance(le, str) or not name.endswith("_bucket"):
            continue
        found.setdefault(name[: -len("_bucket")], set()).add(le)
    return {
        m: tuple(sorted(texts, key=lambda t: (parse_le(t) is None, parse_le(t) or 0.0, t)))
        for m, texts in found.items()
    }


def read_lb_configs(settings: Settings) -> tuple[dict[str, str], list[str]]:
    """LB config file path -> text, and one line per file that could not be read."""
    texts: dict[str, str] = {}
    errors: list[str] = []
    for lb in settings.load_balancers:
        if not lb.config_file or lb.config_file in texts:
            continue
        try:
            with open(lb.config_file, encoding="utf-8", errors="replace") as handle:
                texts[lb.config_file] = handle.read(MAX_CONFIG_CHARS)
        except OSError as exc:
            errors.append(f"cannot read {lb.config_file}: {exc.strerror or exc}")
    return texts, errors


def fetch_facts(settings: Settings, snapshot: Snapshot) -> AdviseFacts:
    """Two Prometheus requests (rules, then one ``le`` query) and the LB config files.
    Never raises for a source failure: what failed is one line in ``errors``."""
    configs, errors = read_lb_configs(settings)
    if not settings.prometheus.url:
        errors.append(
            "no Prometheus: le texts and loaded rules not asked (rules use both spellings)"
        )
        return AdviseFacts(lb_configs=configs, errors=tuple(errors))
    source = PrometheusSource(settings)
    try:
        data, error = source.api_data("/api/v1/rules")
        rules = parse_rules(data) if error is None else None
        if error is not None:
            errors.append(f"cannot read the loaded rules: {error}")
        metrics = [s.metric for s in snapshot.latency.values() if s.metric]
        preset = settings.preset
        if preset is not None and preset.e2e.metric:
            metrics.append(preset.e2e.metric)
        metrics += bucket_metrics(rules or ())
        unique = list(dict.fromkeys(metrics))
        le_texts: dict[str, tuple[str, ...]] = {}
        if unique:
            scope = promql.Scope.build(
                settings.namespace, settings.selector, settings.pod_label, settings.namespace_label
            )
            rows, error = source.instant_rows(le_query(unique, scope), time.time())
            if error is not None:
                errors.append(f"cannot ask the le texts: {error}")
            le_texts = parse_le_rows(rows)
        return AdviseFacts(le_texts=le_texts, rules=rules, lb_configs=configs, errors=tuple(errors))
    finally:
        source.close()
