"""The findings timeline as a markdown section (exports, ``replay --timeline``)."""

from __future__ import annotations

from collections.abc import Sequence

from streamdash.core.timeline import Change, TimelineEntry
from streamdash.export.json import iso
from streamdash.export.markdown import md_code, md_text


def _change(e: TimelineEntry) -> str:
    if e.change is Change.SEVERITY:
        return f"{e.previous_severity} → {e.severity}"
    if e.change is Change.CLEARED:
        return f"cleared (was {e.severity})"
    return f"appeared ({e.severity})"


def render_timeline(entries: Sequence[TimelineEntry], scope: str) -> str:
    """``## Findings timeline`` with one table row per entry (UTC times; ``since``: the
    frame before, the change lies in between)."""
    lines = ["## Findings timeline", "", md_text(scope), ""]
    if not entries:
        return "\n".join([*lines, "No finding appeared, changed or cleared.", ""])
    lines += [
        "| time (UTC) | since | change | finding | subject | summary |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        since = iso(e.since) if e.since is not None else "start"
        lines.append(
            f"| {iso(e.at)} | {since} | {md_text(_change(e))} | {md_code(e.finding_id)} "
            f"| {md_text(e.subject)} | {md_text(e.summary)} |"
        )
    return "\n".join([*lines, ""])
