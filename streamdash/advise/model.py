"""The typed values advise works on: facts in, artifacts out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ArtifactKind = Literal[
    "slo-rules",
    "buckets",
    "haproxy",
    "haproxy-patched",
    "nginx",
    "nginx-patched",
    "envoy",
    "ingress-nginx",
    "cloud-lb",
    "keepalive",
    "lint",
]
Language = Literal["yaml", "haproxy", "nginx", "text", "shell"]
RuleKind = Literal["alerting", "recording"]


@dataclass(frozen=True)
class Artifact:
    """One thing to paste into a repo, with why it is needed."""

    name: str
    """File name under ``--output DIR``, e.g. ``slo-ttft.rules.yaml``."""
    kind: ArtifactKind
    title: str
    why: str
    """One paragraph citing the evidence (numbers from the Snapshot)."""
    body: str
    """The content itself, ready to paste (ends with a newline)."""
    language: Language
    answers: tuple[tuple[str, str], ...] = ()
    """(finding id, finding subject) pairs this artifact answers; empty for lint."""

    def answers_finding(self, finding_id: str, subject: str) -> bool:
        """True when this artifact is part of the fix for that finding."""
        return (finding_id, subject) in self.answers or (finding_id, "*") in self.answers


@dataclass(frozen=True)
class LoadedRule:
    """One rule Prometheus has loaded (``/api/v1/rules``)."""

    group: str
    file: str
    kind: RuleKind
    name: str
    """``alert`` name or ``record`` name."""
    expr: str


@dataclass(frozen=True)
class AdviseFacts:
    """What advise needs beyond the Snapshot, fetched by the sources.

    Absent is unknown: a metric missing from ``le_texts`` was not asked or had no
    series; ``rules`` is None when the rules could not be read.
    """

    le_texts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Base metric name -> the ``le`` label values exactly as the server stores them."""
    rules: tuple[LoadedRule, ...] | None = None
    lb_configs: Mapping[str, str] = field(default_factory=dict)
    """LB config file path -> its text (HAProxy, nginx)."""
    errors: tuple[str, ...] = ()
    """One line per fact that could not be fetched."""
