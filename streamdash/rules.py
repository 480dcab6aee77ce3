"""``streamdash rules``: print the recording rules that precompute what a refresh asks.

The rules are the Prometheus source's own queries for the configured namespace,
selector, preset and window(s), verbatim (``streamdash.sources.recorded``). Load the
file into Prometheus (``rule_files:``); streamdash probes for the recorded series once
per window and, when they exist, reads them instead of evaluating the queries.
"""

from __future__ import annotations

import dataclasses
import sys

from streamdash.config import ConfigError, parse_duration
from streamdash.settings import Settings
from streamdash.sources import recorded

_NO_URL = "http://rules.invalid"
"""A placeholder address: building the queries needs settings, never a request."""


def parse_windows(text: str | None, default: int) -> list[int]:
    """``"1m,5m"`` -> [60, 300] (sorted, unique); ``default`` when None. ConfigError on a
    bad or non-positive duration, naming the flag."""
    if text is None:
        return [default]
    out: set[int] = set()
    for piece in text.split(","):
        try:
            seconds = parse_duration(piece.strip())
        except ValueError:
            raise ConfigError(f"--windows: {piece.strip()!r} is not a duration (e.g. 5m)") from None
        if seconds < 1:
            raise ConfigError(f"--windows: {piece.strip()!r} must be at least 1 s")
        out.add(int(seconds))
    return sorted(out)


def rules_text(settings: Settings, windows: list[int], interval_seconds: float) -> str:
    """The rule file (YAML) for ``windows``; ValueError (one line) for settings that
    cannot form a query."""
    from streamdash.sources.prometheus import PrometheusSource

    if not settings.prometheus.url:
        prometheus = dataclasses.replace(settings.prometheus, url=_NO_URL)
        settings = dataclasses.replace(settings, prometheus=prometheus)
    source = PrometheusSource(settings)
    try:
        rules = [rule for window in windows for rule in source.recording_rules(window)]
    finally:
        source.close()
    return recorded.rule_file(rules, max(1, round(interval_seconds)))


def run_rules(settings: Settings, windows: str | None, interval_seconds: float) -> int:
    """Print the rule file to stdout; exit 0 (2 for settings that cannot form a query)."""
    chosen = parse_windows(windows, settings.window_seconds)
    try:
        text = rules_text(settings, chosen, interval_seconds)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    sys.stdout.write(text)
    return 0
