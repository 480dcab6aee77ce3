"""``streamdash advise``: the rules and config a Snapshot's findings call for.

Pure generation: every artifact is built from a ``Snapshot`` plus ``AdviseFacts``
(answers the sources fetched: the real ``le`` texts of each histogram, the rules
Prometheus has loaded, the LB config files) and the SLO settings. No I/O here.
"""

from streamdash.advise.build import advise
from streamdash.advise.model import AdviseFacts, Artifact, LoadedRule

__all__ = ["AdviseFacts", "Artifact", "LoadedRule", "advise"]
