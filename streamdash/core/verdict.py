"""The verdict: what an on-call engineer reads first, in one line, from one Snapshot.

Pure and total. ``verdict(snapshot)`` says, in order of precedence:

- ``unreachable``: the primary source answered nothing — "could not read <source>:
  <reason>" comes first, whatever values were carried from an earlier refresh;
- ``critical`` / ``warning``: counts by severity and the worst findings in a few words;
- ``loading``: the early first frame, some latency histograms not answered yet
  (``Snapshot.pending``): nothing is judged as clear, no data or degraded until they come;
- ``no-data``: the source answered but had nothing for the selector (never "healthy");
- ``degraded``: no finding, but some source (an LB, some targets, a query) failed, so
  an all-clear cannot be given;
- ``info``: only informational findings;
- ``clear``: every source answered, there was data, and nothing looks wrong.

Other sources' failures and ``Snapshot.cautions`` (clock skew, a span too short to
support a finding) ride along in ``problems`` / ``cautions``. Every view (TUI header,
markdown, JSON ``verdict``, ``check``'s first line) renders this one value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from streamdash import format as fmt
from streamdash.core.names import shared_prefix, short
from streamdash.core.raw import SourceError
from streamdash.core.snapshot import SEVERITIES, Finding, Snapshot

VerdictState = Literal[
    "unreachable", "critical", "warning", "loading", "no-data", "degraded", "info", "clear"
]
VERDICT_STATES: tuple[VerdictState, ...] = (
    "unreachable",
    "critical",
    "warning",
    "loading",
    "no-data",
    "degraded",
    "info",
    "clear",
)
"""Worst first."""
PENDING_NAMES = {"ttft": "TTFT", "stream": "stream", "itl": "ITL", "e2e": "e2e"}
"""How the verdict names a pending histogram kind."""
WORST_SHOWN = 3
"""How many findings the one line names."""
_QUERY_PREFIX = re.compile(r"^query '[^']*' to \S+: ")


@dataclass(frozen=True)
class Verdict:
    """One Snapshot's verdict; ``line`` is the text every view shows first."""

    state: VerdictState
    counts: Mapping[str, int] = field(default_factory=dict)
    """Findings per severity (``critical``, ``warning``, ``info``), zeros included."""
    worst: tuple[str, ...] = ()
    """The worst findings (at most ``WORST_SHOWN``), each in a few plain words."""
    failing_source: str | None = None
    """The primary source that answered nothing (``unreachable`` only)."""
    reason: str | None = None
    """Why it answered nothing, one line."""
    problems: tuple[str, ...] = ()
    """Other failures, each ``could not read <source>: <reason>``."""
    no_data: str | None = None
    """``no data for <selector>`` when the source answered with nothing for it."""
    cautions: tuple[str, ...] = ()
    """Facts that weaken the verdict (clock skew, short span), from the Snapshot."""
    carried: bool = False
    """``unreachable`` only: values from an earlier refresh are still shown."""
    pending: tuple[str, ...] = ()
    """Latency histograms not answered yet (``Snapshot.pending``)."""

    @property
    def waiting_text(self) -> str:
        """``waiting for TTFT, stream latency`` ("" when nothing is pending)."""
        if not self.pending:
            return ""
        names = [PENDING_NAMES.get(k, k) for k in self.pending]
        return f"waiting for {', '.join(names)} latency"

    @property
    def headline(self) -> str:
        """The first phrase: the failure, the counts, ``no data …`` or ``all clear``."""
        if self.state == "unreachable":
            return f"could not read {self.failing_source}: {self.reason}"
        counted = [f"{self.counts.get(s, 0)} {s}" for s in SEVERITIES if self.counts.get(s)]
        if counted:
            return ", ".join(counted)
        if self.state == "loading":
            return f"loading: {self.waiting_text}"
        if self.state == "no-data":
            return self.no_data or "no data"
        if self.state == "degraded":
            return "no findings, but not every source answered"
        return "all clear"

    @property
    def line(self) -> str:
        """The whole verdict in one line: headline · worst findings · problems · cautions."""
        parts = [self.headline, *self.worst]
        if self.pending and self.state != "loading":
            parts.append(self.waiting_text)
        if self.state == "unreachable" and self.carried:
            parts.append("numbers shown are from before the failure")
        elif self.no_data and self.counts and any(self.counts.values()):
            parts.append(self.no_data)
        parts += [*self.problems, *self.cautions]
        return " · ".join(parts)


# ------------------------------------------------------------------------ the function


def primary_errors(snapshot: Snapshot) -> tuple[SourceError, ...]:
    """This refresh's errors of the primary source (``source`` starts with its kind)."""
    return tuple(e for e in snapshot.errors if e.source.startswith(snapshot.source.kind))


def primary_unreachable(snapshot: Snapshot) -> bool:
    """True when every request to the primary source failed (nothing came back). With
    no request count (0), only a whole-source error (``part`` None) says so."""
    primary = primary_errors(snapshot)
    if not snapshot.query_count:
        return any(e.part is None for e in primary)
    return len(primary) >= snapshot.query_count


def _reason(error: SourceError) -> str:
    return fmt.safe_label(_QUERY_PREFIX.sub("", error.message), 160)


def _source_label(snapshot: Snapshot) -> str:
    kind, url = snapshot.source.kind, snapshot.source.url
    if not url:
        return kind
    targets = [u for u in url.split(", ") if u]
    if kind.startswith("scrape") and len(targets) > 1:
        return f"{len(targets)} scrape targets"
    return f"{kind} {fmt.safe_label(url, 80)}"


def _unreachable_reason(errors: tuple[SourceError, ...]) -> str:
    """The first distinct reason, preferring a per-target/query one over a summary line."""
    specific = [e for e in errors if e.part is not None] or list(errors)
    reasons = list(dict.fromkeys(_reason(e) for e in specific))
    if len(reasons) > 1:
        return f"{reasons[0]} (and {len(reasons) - 1} more)"
    return reasons[0] if reasons else "no answer"


def _problems(snapshot: Snapshot, skip_primary: bool) -> tuple[str, ...]:
    """``could not read <source>: <reason>`` per failing source (first reason each)."""
    by_source: dict[str, list[SourceError]] = {}
    primary = set(primary_errors(snapshot)) if skip_primary else set()
    for error in snapshot.errors:
        if error not in primary:
            by_source.setdefault(error.source, []).append(error)
    out = []
    for source, errors in by_source.items():
        reason = _reason(errors[0])
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        out.append(f"could not read {fmt.safe_label(source, 80)}: {reason}{more}")
    answered_parts = {e.part for e in snapshot.errors}
    for part in snapshot.stale:
        if part.part not in answered_parts:
            out.append(f"{part.part} is stale: {fmt.safe_label(part.reason, 120)}")
    return tuple(out)


def _selector(snapshot: Snapshot) -> str:
    metrics = [h.metric for h in snapshot.latency.values() if h.metric]
    what = f"{snapshot.preset} metrics" if not metrics else ", ".join(dict.fromkeys(metrics[:2]))
    ns = snapshot.namespace
    where = f' in namespace "{fmt.safe_label(ns, 60)}"' if ns else ""
    return f"{what}{where}"


def no_data(snapshot: Snapshot) -> str | None:
    """``no data for <selector>`` when no pod and no latency histogram came back."""
    has_latency = any(h.available for h in snapshot.latency.values())
    if snapshot.pods or has_latency or snapshot.pending:
        return None
    return f"no data for {_selector(snapshot)}"


def verdict(snapshot: Snapshot) -> Verdict:
    """The verdict of ``snapshot`` (see the module docstring for the precedence)."""
    counts = {s: sum(f.severity == s for f in snapshot.findings) for s in SEVERITIES}
    prefix = shared_prefix(p.pod for p in snapshot.pods)
    worst = tuple(phrase(f, prefix) for f in snapshot.findings[:WORST_SHOWN])
    cautions = tuple(fmt.safe_label(c, 160) for c in snapshot.cautions)
    if primary_unreachable(snapshot):
        return Verdict(
            state="unreachable",
            counts=counts,
            failing_source=_source_label(snapshot),
            reason=_unreachable_reason(primary_errors(snapshot)),
            problems=_problems(snapshot, skip_primary=True),
            cautions=cautions,
            carried=any(p.last_good_at is not None for p in snapshot.stale),
        )
    problems = _problems(snapshot, skip_primary=False)
    empty = no_data(snapshot)
    state: VerdictState
    if counts["critical"]:
        state = "critical"
    elif counts["warning"]:
        state = "warning"
    elif snapshot.pending:
        state = "loading"
    elif empty:
        state = "no-data"
    elif problems:
        state = "degraded"
    elif counts["info"]:
        state = "info"
    else:
        state = "clear"
    return Verdict(
        state=state,
        counts=counts,
        worst=worst,
        problems=problems,
        no_data=empty,
        cautions=cautions,
        pending=snapshot.pending,
    )


# ------------------------------------------------------------------ findings in words


def _pct(value: object) -> str:
    """A share as a whole percentage (``83 %``); one decimal under 10 %."""
    if not isinstance(value, (int, float)):
        return fmt.NA
    pct = float(value) * 100
    return f"{pct:.0f} %" if pct >= 10 else fmt.ratio(float(value))


_SUBJECT_WORDS = {
    "ttft": ("TTFT", "first tokens"),
    "stream": ("stream", "streams"),
    "itl": ("inter-token", "token gaps"),
}


def phrase(finding: Finding, pod_prefix: str = "") -> str:
    """A finding in a few plain words for the verdict line, e.g. ``stream buckets hide
    83 % of streams``, ``llama-…fz8lw FDs 94 %``, ``LB timeout server 60 s cuts
    streams``. Unknown ids fall back to the summary's first clause."""
    e = finding.evidence
    pod = fmt.safe_label(short(finding.subject, pod_prefix), 40)
    if finding.id == "histogram-overflow" and _float(e.get("overflow_fraction")) is not None:
        title, things = _SUBJECT_WORDS.get(finding.subject, (finding.subject, "observations"))
        return f"{title} buckets hide {_pct(e.get('overflow_fraction'))} of {things}"
    if finding.id == "fd-exhaustion" and _float(e.get("fd_utilization")) is not None:
        return f"{pod} FDs {_pct(e.get('fd_utilization'))}"
    seconds = _float(e.get("timeout_seconds"))
    if finding.id == "lb-idle-timeout" and seconds is not None:
        return f"LB {e.get('setting', 'timeout')} {fmt.seconds(seconds)} cuts streams"
    if finding.id == "lb-disconnects":
        ratio = _float(e.get("ratio"))
        if ratio is not None:
            return f"LB cuts {_pct(ratio)} of streams"
        if _float(e.get("disconnects_per_s")) is not None:
            return f"LB cuts {fmt.rate(_float(e.get('disconnects_per_s')))} streams"
    if finding.id == "connection-ceiling":
        pods = e.get("pods")
        if isinstance(pods, list) and pods and isinstance(pods[0], dict):
            top = pods[0]
            return f"{pod} streams at {_pct(top.get('share'))} of its {top.get('bound', 'ceiling')}"
    if finding.id == "autoscaler-cpu-divergence" and e.get("cpu_implied_replicas") is not None:
        return (
            f"HPA {fmt.safe_label(finding.subject, 40)} runs "
            f"{fmt.count(_float(e.get('current_replicas')))} pods, CPU needs "
            f"{fmt.count(_float(e.get('cpu_implied_replicas')))}"
        )
    return _first_clause(finding.summary)


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _first_clause(summary: str, limit: int = 60) -> str:
    text = fmt.safe_label(summary, 400)
    for stop in (": ", "; ", ". "):
        if stop in text:
            text = text.split(stop, 1)[0]
    return fmt.safe_label(text, limit)
