"""JSON of schema ``streamdash.snapshot/v1`` -> ``Snapshot``: the exporter's inverse.

Driven by the dataclass definitions, not by a list of keys: every field of every
dataclass reachable from ``Snapshot`` is read from the JSON key of the same name and
converted to the field's type hint (dataclasses, ``tuple[X, ...]``, ``Mapping[str, X]``,
``X | None``, Enum, Literal, numbers, strings), so fields other modules add to the
Snapshot round-trip without code here. Contract:

- a missing key takes the field's default; unknown keys are ignored (newer files load);
- ``null`` for a required number is NaN (the exporter writes NaN as ``null``);
- a number field holding a string is an RFC 3339 time (``taken_at``, ``last_good_at``),
  and a sibling ``<field>_unix`` key, when present, is preferred (it is exact);
- a dataclass that is a value of a mapping takes a missing required ``str`` field
  from its key (``latency.ttft`` has no ``subject`` key: it is ``ttft``);
- anything else that does not fit raises ``SnapshotLoadError`` naming the key path.

``render_json(load_snapshot(json.loads(render_json(s))))`` equals ``render_json(s)``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from streamdash.core.snapshot import SCHEMA, Snapshot


class SnapshotLoadError(ValueError):
    """The JSON is not a snapshot; ``str()`` is one line naming the key path and why."""


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _where(path: str) -> str:
    return path or "(top level)"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "a number"
    )


def parse_time(text: str) -> float:
    """RFC 3339 / ISO 8601 (``2026-11-23T22:15:00Z``) -> Unix seconds; ValueError if not."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return parsed.timestamp()


def _number(value: object, hint: type, path: str) -> float | int:
    if isinstance(value, bool):
        raise SnapshotLoadError(f"{_where(path)}: expected a number, got true/false")
    if value is None:
        return math.nan
    if isinstance(value, str):
        try:
            seconds = parse_time(value)
        except ValueError:
            raise SnapshotLoadError(
                f"{_where(path)}: expected a number or an RFC 3339 time, got {value[:40]!r}"
            ) from None
        return int(seconds) if hint is int else seconds
    if not isinstance(value, (int, float)):
        raise SnapshotLoadError(f"{_where(path)}: expected a number, got {_kind(value)}")
    if hint is int:
        return int(value)
    return value  # an int where a float is typed stays an int: it exports the same


def _plain(value: object) -> object:
    """Free-form data (``Mapping[str, object]`` evidence): kept as JSON gave it."""
    return value


def convert(value: object, hint: Any, path: str = "", key: str | None = None) -> Any:
    """``value`` (parsed JSON) as an instance of the type ``hint`` (see module contract)."""
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return _plain(value)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        problems = []
        for option in (o for o in options if o is not type(None)):
            try:
                return convert(value, option, path, key)
            except SnapshotLoadError as exc:
                problems.append(str(exc))
        raise SnapshotLoadError(problems[0] if problems else f"{_where(path)}: no type fits")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(a) for a in typing.get_args(hint))
            raise SnapshotLoadError(f"{_where(path)}: {value!r} is not one of {allowed}")
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise SnapshotLoadError(f"{_where(path)}: unknown value {value!r}") from None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass(value, hint, path, key)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list):
            raise SnapshotLoadError(f"{_where(path)}: expected a list, got {_kind(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise SnapshotLoadError(f"{_where(path)}: expected {len(args)} items")
        return tuple(
            convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if origin in (Mapping, dict, typing.Mapping) or hint is dict:
        args = typing.get_args(hint) or (str, Any)
        if not isinstance(value, dict):
            raise SnapshotLoadError(f"{_where(path)}: expected an object, got {_kind(value)}")
        return {
            convert(k, args[0], path): convert(v, args[1], f"{path}.{k}", str(k))
            for k, v in value.items()
        }
    if origin is list:
        if not isinstance(value, list):
            raise SnapshotLoadError(f"{_where(path)}: expected a list, got {_kind(value)}")
        (arg,) = typing.get_args(hint) or (Any,)
        return [convert(v, arg, f"{path}[{i}]") for i, v in enumerate(value)]
    if hint in (float, int):
        return _number(value, hint, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise SnapshotLoadError(f"{_where(path)}: expected true/false, got {_kind(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise SnapshotLoadError(f"{_where(path)}: expected a string, got {_kind(value)}")
        return value
    raise SnapshotLoadError(f"{_where(path)}: cannot read a value of type {hint!r}")


def _dataclass(value: object, cls: type, path: str, key: str | None) -> Any:
    if not isinstance(value, dict):
        raise SnapshotLoadError(f"{_where(path)}: expected an object, got {_kind(value)}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        sub = f"{path}.{f.name}" if path else f.name
        exact = value.get(f"{f.name}_unix")
        if isinstance(exact, (int, float)) and not isinstance(exact, bool):
            kwargs[f.name] = convert(exact, hints[f.name], sub)
        elif f.name in value:
            kwargs[f.name] = convert(value[f.name], hints[f.name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if key is not None and hints[f.name] is str:
                kwargs[f.name], key = key, None
            else:
                raise SnapshotLoadError(f"{_where(path)}: missing key {f.name!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SnapshotLoadError(f"{_where(path)}: {exc}") from None


def load_snapshot(data: object) -> Snapshot:
    """Parsed JSON of a ``streamdash.snapshot/v1`` document -> ``Snapshot``."""
    if not isinstance(data, dict):
        raise SnapshotLoadError(f"expected a JSON object, got {_kind(data)}")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise SnapshotLoadError(f"schema is {schema!r}, expected {SCHEMA!r}")
    snapshot: Snapshot = convert(data, Snapshot)
    return snapshot


def loads_snapshot(text: str | bytes) -> Snapshot:
    """JSON text -> ``Snapshot`` (``SnapshotLoadError`` for bad JSON too)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotLoadError(f"not JSON: {exc}") from None
    return load_snapshot(data)
