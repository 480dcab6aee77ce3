"""Snapshot + facts -> every artifact the findings call for. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from streamdash.advise.buckets import bucket_artifacts
from streamdash.advise.lb import lb_artifacts
from streamdash.advise.lint import lint_artifact
from streamdash.advise.model import AdviseFacts, Artifact
from streamdash.advise.slo import slo_artifacts
from streamdash.core.snapshot import Finding, Snapshot
from streamdash.presets import DEFAULT_PRESET, load_preset
from streamdash.settings import Settings


@dataclass(frozen=True)
class Advice:
    """What ``streamdash advise`` writes: artifacts (file names unique) and notes (why an
    expected artifact is missing, facts that could not be fetched)."""

    artifacts: tuple[Artifact, ...]
    notes: tuple[str, ...] = ()

    def for_finding(self, finding: Finding) -> tuple[Artifact, ...]:
        """The artifacts that answer ``finding``."""
        return tuple(a for a in self.artifacts if a.answers_finding(finding.id, finding.subject))


def advise(snapshot: Snapshot, facts: AdviseFacts, settings: Settings) -> Advice:
    """Buckets first (nothing else is measurable on an overflowing histogram), then the
    split SLO rules, the LB changes and the lint of the loaded rules."""
    preset = settings.preset or load_preset(DEFAULT_PRESET)
    slo, skipped = slo_artifacts(snapshot, facts, settings, preset)
    artifacts = [
        *bucket_artifacts(snapshot, preset),
        *slo,
        *lb_artifacts(snapshot, facts, settings, preset),
    ]
    lint = lint_artifact(snapshot, facts, preset)
    if lint is not None:
        artifacts.append(lint)
    notes = [*skipped, *facts.errors]
    if not snapshot.findings:
        notes.insert(0, "No findings in this window: only the SLO rules and the lint apply.")
    return Advice(artifacts=tuple(artifacts), notes=tuple(notes))
