"""Built-in presets: one YAML file per server kind, loaded once and cached."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from streamdash.settings import HistogramSpec, Preset

DEFAULT_PRESET = "vllm"
_KINDS = ("ttft", "stream", "itl", "e2e")


def preset_names() -> tuple[str, ...]:
    """Names of the built-in presets, sorted."""
    files = resources.files(__name__).iterdir()
    return tuple(sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml")))


def _spec(raw: Any) -> HistogramSpec:
    raw = raw or {}
    return HistogramSpec(
        metric=raw.get("metric"),
        unit_seconds=float(raw.get("unit_seconds", 1.0)),
        includes_ttft=bool(raw.get("includes_ttft", False)),
        fallbacks=tuple(raw.get("fallbacks") or ()),
        per_request_mean=bool(raw.get("per_request_mean", False)),
    )


@cache
def load_preset(name: str) -> Preset:
    """The built-in preset ``name``; raises KeyError for an unknown name."""
    if name not in preset_names():
        raise KeyError(name)
    text = resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return Preset(
        name=name,
        ttft=_spec(raw.get("ttft")),
        stream=_spec(raw.get("stream")),
        itl=_spec(raw.get("itl")),
        e2e=_spec(raw.get("e2e")),
        in_flight=raw.get("in_flight"),
        description=str(raw.get("description", "")),
        notes=tuple(raw.get("notes") or ()),
        fd_gap_notes=tuple(raw.get("fd_gap_notes") or ()),
        model_labels=tuple(raw.get("model_labels") or ()),
    )
