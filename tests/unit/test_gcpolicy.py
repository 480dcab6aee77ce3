"""The dashboard's collector settings: applied in its own process, opt-out honoured.

Each case runs in a fresh interpreter: the policy changes process-wide state that the
test process must keep at CPython's defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from streamdash import gcpolicy

PROBE = """
import gc, json, sys
from streamdash import gcpolicy
before = gc.get_threshold()
settled_early = gcpolicy.settle()
applied = gcpolicy.tune()
junk = [[i] for i in range(1000)]
settled = gcpolicy.settle()
print(json.dumps({
    "before": before, "after": gc.get_threshold(), "applied": applied,
    "settled_early": settled_early, "settled": settled, "frozen": gc.get_freeze_count(),
}))
"""


def _probe(**env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if k != gcpolicy.ENV}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=base | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_policy_from_environment() -> None:
    assert gcpolicy.policy_from({}) == "tuned"
    assert gcpolicy.policy_from({"STREAMDASH_GC": " Default "}) == "default"
    assert gcpolicy.policy_from({"STREAMDASH_GC": "anything"}) == "tuned"


def test_tuned_raises_thresholds_and_freezes_start_up() -> None:
    got = _probe()
    assert got["applied"] == "tuned"
    assert got["after"] == list(gcpolicy.THRESHOLDS)
    assert got["settled_early"] is False  # before tune(): nothing frozen
    assert got["settled"] is True
    assert isinstance(got["frozen"], int) and got["frozen"] > 1000


def test_default_keeps_cpython_settings() -> None:
    got = _probe(STREAMDASH_GC="default")
    assert got["applied"] == "default"
    assert got["after"] == got["before"]
    assert got["settled"] is False
    assert got["frozen"] == 0
