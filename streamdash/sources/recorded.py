"""Recording rules for what a refresh asks, and reading the series they record. No I/O.

Every rule is one of the source's own queries, verbatim: the expression is the text
``PrometheusSource.queries`` sends (built by ``streamdash.sources.promql``), so rules and
live queries cannot drift. A rule records ``streamdash:<part>:<window>`` with the label
``streamdash_rule="<hash>"``, the hash of the query's name and text: a source whose query
would differ (another namespace, selector, preset, window or streamdash version) finds
no series under its hash and asks live. Reading a recorded part is one plain selector
(``streamdash:ttft_buckets:300s{streamdash_rule="..."}``): an index lookup of the
already-aggregated rows, whatever the pod count.

Not recorded: bare selectors (the HPA series: their ``__name__`` is part of the answer,
and reading them is already a lookup).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

RULE_LABEL = "streamdash_rule"
"""The label every recorded series carries: the hash of the query it records."""
PREFIX = "streamdash"
GROUP = "streamdash"
HISTORY = "history"
"""The charts' query: recorded like the others (its parts are single fleet series), and
read back with a range query over the recorded series."""
_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class Rule:
    """One recording rule: the record name, the live query it records, and its hash."""

    part: str
    window_seconds: int
    expr: str
    record: str
    hash: str

    @property
    def selector(self) -> str:
        """The PromQL that reads what this rule records, in the live answer's shape: the
        rule's label and the metric name dropped (``sum without`` over rows that differ in
        every other label, so nothing is summed), which a third of the answer's bytes
        would otherwise repeat on every row."""
        return f'sum without ({RULE_LABEL}) ({self.record}{{{RULE_LABEL}="{self.hash}"}})'


def recordable(expr: str) -> bool:
    """False for a bare series selector (its answer's metric names are the answer)."""
    return not expr.lstrip().startswith("{")


def rule_hash(part: str, expr: str) -> str:
    """12 hex digits naming exactly this query (name and text)."""
    return hashlib.sha256(f"{part}\n{expr}".encode()).hexdigest()[:12]


def record_name(part: str, window_seconds: int) -> str:
    """``streamdash:<part>:<window>s``, the part's name made a valid metric name."""
    return f"{PREFIX}:{_NAME_RE.sub('_', part)}:{int(window_seconds)}s"


def rules_for(queries: Mapping[str, str], window_seconds: int) -> list[Rule]:
    """The rules recording every recordable query of one window's refresh."""
    return [
        Rule(part, window_seconds, expr, record_name(part, window_seconds), rule_hash(part, expr))
        for part, expr in queries.items()
        if recordable(expr)
    ]


def rule_file(rules: Iterable[Rule], interval_seconds: int) -> str:
    """A Prometheus rule file (YAML) with one group evaluating ``rules`` every
    ``interval_seconds``; each rule says in a comment-free way what it records (its
    labels carry the hash the source looks for)."""
    group = {
        "name": GROUP,
        "interval": f"{int(interval_seconds)}s",
        "rules": [
            {"record": r.record, "expr": r.expr, "labels": {RULE_LABEL: r.hash}} for r in rules
        ],
    }
    return yaml.safe_dump({"groups": [group]}, sort_keys=False, width=100_000)


def probe_query(rules: Iterable[Rule]) -> str | None:
    """One instant query answering which of ``rules`` have recorded series now:
    ``count by (streamdash_rule) ({streamdash_rule=~"h1|h2|..."})``."""
    hashes = sorted({r.hash for r in rules})
    if not hashes:
        return None
    return f'count by ({RULE_LABEL}) ({{{RULE_LABEL}=~"{"|".join(hashes)}"}})'


def is_recorded(expr: str) -> bool:
    """True for the selector that reads a recorded part (``Rule.selector``)."""
    return expr.startswith(f"sum without ({RULE_LABEL}) ({PREFIX}:") and f'{{{RULE_LABEL}="' in expr


def present(rows: Iterable[Mapping[str, object]]) -> frozenset[str]:
    """The hashes a probe's answer rows name."""
    out = set()
    for row in rows:
        metric = row.get("metric")
        if isinstance(metric, dict) and isinstance(metric.get(RULE_LABEL), str):
            out.add(metric[RULE_LABEL])
    return frozenset(out)


__all__ = [
    "HISTORY",
    "RULE_LABEL",
    "Rule",
    "is_recorded",
    "present",
    "probe_query",
    "record_name",
    "recordable",
    "rule_file",
    "rule_hash",
    "rules_for",
]
