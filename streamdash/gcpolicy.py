"""Garbage-collector settings for the long-running shells (the dashboard).

A refresh decodes one dict and one list per answer row (13,000 rows at 1,000 pods on
recorded series) and keeps them until the Snapshot is built. Under CPython's default
thresholds (700, 10, 10) they outlive the young collections, are promoted to the oldest
generation, and push it past its 25 % growth trigger: a full collection over the whole
heap (Textual's widgets, the session buffer) about every 1.4 s, measured at 43 % of the
dashboard's CPU. ``tune`` makes young collections rare enough that a refresh's rows die
young; ``settle`` moves what start-up built into the permanent generation, so full
collections no longer walk it. Reference counting still frees every object at once;
only reference cycles wait for a collection.

``STREAMDASH_GC=default`` keeps CPython's settings (the benchmark compares both).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from typing import Literal

GcPolicy = Literal["tuned", "default"]

THRESHOLDS = (50_000, 20, 10)
"""Young generation every 50,000 net container allocations (CPython: 700): a refresh's
answer rows are freed before one happens; the middle generation every 20 of those."""

ENV = "STREAMDASH_GC"

_applied: GcPolicy | None = None
"""What ``tune`` applied in this process (None: never called, e.g. under the tests)."""


def policy_from(env: Mapping[str, str]) -> GcPolicy:
    """``default`` when ``STREAMDASH_GC`` says so; ``tuned`` otherwise."""
    return "default" if env.get(ENV, "").strip().lower() == "default" else "tuned"


def tune() -> GcPolicy:
    """Apply the environment's policy (``policy_from``) to this process; return it."""
    global _applied
    chosen = policy_from(os.environ)
    if chosen == "tuned":
        gc.set_threshold(*THRESHOLDS)
    _applied = chosen
    return chosen


def settle() -> bool:
    """After start-up: collect once, then freeze the survivors out of later collections.
    Only where ``tune`` applied ``tuned`` in this process (True when it froze); each call
    freezes what has been built since the last."""
    if _applied != "tuned":
        return False
    gc.collect()
    gc.freeze()
    return True
