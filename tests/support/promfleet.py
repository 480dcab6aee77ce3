"""Simulated fleets (``tests.support.fleet``) served by a real Prometheus.

``start_fleets_prometheus`` backfills every ``FleetSpec`` of a test module into one
Prometheus (600 s of samples every 15 s, ending at ``end``); ``prometheus_settings`` is
the Settings a test points at it (vLLM preset, 5 s timeout unless overridden);
``fetch_once`` one refresh of a ``PrometheusSource`` (no history), closed after.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamdash.core.raw import RawAnswers
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources.prometheus import PrometheusSource
from tests.support.fleet import FleetSpec, fleet_series
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus


def start_fleets_prometheus(
    workdir: Path, specs: Sequence[FleetSpec], end: float, duration_s: int = 600, step_s: int = 15
) -> PrometheusServer:
    """A running Prometheus holding every fleet of ``specs``; the caller must ``stop()`` it."""
    series: list[Any] = []
    types: dict[str, str] = {}
    for spec in specs:
        s, t = fleet_series(spec, end, duration_s=duration_s, step_s=step_s)
        series += s
        types.update(t)
    return start_prometheus(workdir, openmetrics=openmetrics_text(series, types))


def prometheus_settings(url: str, **overrides: Any) -> Settings:
    """Settings for Prometheus at ``url`` (``prometheus=`` replaces the whole block)."""
    prom = overrides.pop("prometheus", PrometheusSettings(url=url, timeout_seconds=5.0))
    overrides.setdefault("preset", load_preset("vllm"))
    return Settings(prometheus=prom, **overrides)


def fetch_once(settings: Settings, window_s: int, now: float) -> RawAnswers:
    """One refresh at ``now`` over ``window_s`` (no history); the source is closed after."""
    source = PrometheusSource(settings)
    try:
        return source.fetch(window_s, with_history=False, now=now)
    finally:
        source.close()
