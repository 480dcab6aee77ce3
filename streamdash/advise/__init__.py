"""``streamdash advise``: the rules and config a Snapshot's findings call for.

Pure generation: every artifact is built from a ``Snapshot`` plus ``AdviseFacts``
(answers the sources fetched: the real ``le`` texts of each histogram, the rules
Prometheus has loaded, the LB config files) and the SLO settings. No I/O here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamdash.advise.model import AdviseFacts, Artifact, LoadedRule

if TYPE_CHECKING:
    from streamdash.advise.build import advise

__all__ = ["AdviseFacts", "Artifact", "LoadedRule", "advise"]


def __getattr__(name: str) -> object:
    """``advise`` is imported on first use: the dashboard's first frame needs only the
    model (the generators cost about a fifth of the TUI's import time)."""
    if name == "advise":
        from streamdash.advise.build import advise

        return advise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
