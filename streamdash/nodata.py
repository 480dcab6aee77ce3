"""No data is never healthy: say so when the primary source answered with nothing.

``no_data_line(snapshot, settings)`` is the one line ``check`` prints (and exits 2 on)
when the source answered but the selector matched no series of the preset's metrics
(wrong namespace, preset or selector regex, or a clock far off the source's). Pure:
it reads only the Snapshot and the Settings.
"""

from __future__ import annotations

from streamdash.core.snapshot import Snapshot
from streamdash.settings import Settings
from streamdash.sources import promql

NO_DATA_EXIT = 2
"""``check``'s exit code for no data (the same as an unreachable source: nothing to judge)."""


def has_data(snapshot: Snapshot) -> bool:
    """True when the snapshot holds anything measured about the fleet."""
    if snapshot.pods:
        return True
    return any(h.rate_per_s is not None or h.p99 is not None for h in snapshot.latency.values())


def describe_selector(settings: Settings) -> str:
    """``{namespace="llm",model_name="x"}`` with the preset's name and TTFT metric."""
    preset = settings.preset
    name = preset.name if preset else "vllm"
    metric = preset.ttft.metric if preset else None
    if settings.scrape and not settings.prometheus.url:
        where = f"{len(settings.scrape)} scrape target(s)"
    else:
        try:
            scope = promql.Scope.build(settings.namespace, settings.selector, settings.pod_label)
            matchers = ",".join(m.render() for m in scope.app)
        except ValueError:
            matchers = ""
        where = "{" + matchers + "}" if matchers else "all namespaces"
    return f"{where} (preset {name}{f', {metric}' if metric else ''})"


def no_data_line(snapshot: Snapshot, settings: Settings) -> str | None:
    """``no data for <selector>: …`` when nothing was measured; None otherwise."""
    if has_data(snapshot):
        return None
    return (
        f"no data for {describe_selector(settings)}: the source answered, but no series "
        "matched; check the namespace, preset and selector"
    )
