"""``promtool check rules`` / ``promtool test rules`` on generated rule files, and input
series for rule unit tests built from a test fleet (``tests.support.fleet``)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from tests.support.fleet import Series
from tests.support.prom import PROMTOOL

TIMEOUT_S = 120


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` (bounded in time); the caller asserts on the return code."""
    return subprocess.run(
        [str(PROMTOOL), *args], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd
    )


def _series_name(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def input_series(series: Iterable[Series], keep: Sequence[str]) -> list[dict[str, str]]:
    """promtool ``input_series`` for the series whose name starts with one of ``keep``;
    the first point is at t=0 and points are one ``interval`` apart (as generated)."""
    out = []
    for name, labels, points in series:
        if not any(name.startswith(k) for k in keep):
            continue
        values = " ".join(f"{v:g}" for _, v in points)
        out.append({"series": _series_name(name, dict(labels)), "values": values})
    return out
