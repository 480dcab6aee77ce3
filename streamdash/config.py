"""Loading configuration: YAML file + environment + flags -> frozen ``Settings``.

Precedence: flags > environment > file > preset. Every problem raises ``ConfigError``
whose text is one line naming the file, the line and the key (``streamdash.yaml:7:
prometheus.timeout: expected a duration like 10s, got 'soon'``). Nothing here prints.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from streamdash.presets import DEFAULT_PRESET, load_preset, preset_names
from streamdash.redact import redact_url
from streamdash.settings import (
    HistogramSpec,
    HttpSettings,
    LoadBalancerSettings,
    Preset,
    PrometheusSettings,
    ScrapeTarget,
    Settings,
    SloSettings,
    SloTarget,
    Thresholds,
)
from streamdash.sources import promql

LB_KINDS = ("haproxy", "envoy", "nginx", "cloud")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class ConfigError(Exception):
    """Bad configuration; ``str()`` is one line with file, line and key."""


MAX_SHOWN = 60
"""A bad value is shown cut to this many characters."""
MAX_NODES = 20_000
"""Nodes a config may expand to through aliases (an alias bomb stops here)."""
_SAFE_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp", "merge", "binary")
)


def shown(value: object) -> str:
    """``repr(value)`` on one line, cut to ``MAX_SHOWN`` characters (never expanded
    beyond that: aliases in a value are not followed)."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = MAX_SHOWN
    short.maxlist = short.maxdict = short.maxlevel = 3
    text = " ".join(short.repr(value).split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def check_url(url: str, where: str) -> str:
    """``url`` when it is ``http(s)://host...``; else ``ConfigError`` (one line, no
    userinfo) with a did-you-mean for a URL without a scheme."""
    from urllib.parse import urlsplit

    from streamdash.redact import redact_url

    safe = redact_url(url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"{where}: not a valid URL: {shown(safe)}") from None
    if parts.scheme in ("http", "https") and host:
        return url
    if re.match(r"^https?:?/+", url, re.I) and "://" not in url[:8]:
        fixed = re.sub(r"^(https?):?/+", r"\1://", safe, count=1, flags=re.I)
        raise ConfigError(f"{where}: {shown(safe)} is not a URL; did you mean {shown(fixed)}?")
    if "://" in url:
        scheme = url.split("://", 1)[0]
        scheme_shown = shown(scheme)[1:-1]
        raise ConfigError(
            f"{where}: {scheme_shown}:// is not supported; use http:// or https:// "
            f"(got {shown(safe)})"
        )
    raise ConfigError(
        f"{where}: {shown(safe)} has no scheme; did you mean {shown('http://' + safe)}?"
    )


def _check_tree(node: yaml.Node, file: str) -> None:
    """Reject unknown tags and alias expansions beyond ``MAX_NODES`` (one line)."""
    budget = MAX_NODES
    stack = [node]
    while stack:
        cur = stack.pop()
        budget -= 1
        if budget < 0:
            line = cur.start_mark.line + 1
            raise ConfigError(
                f"{file}:{line}: the config expands to more than {MAX_NODES} values "
                "(YAML aliases); write it out plainly"
            )
        if cur.tag not in _SAFE_TAGS:
            line = cur.start_mark.line + 1
            raise ConfigError(
                f"{file}:{line}: unknown YAML tag {shown(cur.tag)}; streamdash reads plain YAML"
            )
        if isinstance(cur, yaml.MappingNode):
            for key, value in cur.value:
                stack += (key, value)
        elif isinstance(cur, yaml.SequenceNode):
            stack += cur.value


def parse_duration(text: object) -> float:
    """``"5m"`` -> 300.0; a bare number is seconds. Raises ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(text)
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class _Where:
    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class _Doc:
    """A YAML mapping with the line of every key, so errors can point at it."""

    def __init__(self, node: yaml.Node, file: str, path: str = "") -> None:
        self.node, self.file, self.path = node, file, path

    def where(self, node: yaml.Node | None = None) -> _Where:
        mark = (node or self.node).start_mark
        return _Where(self.file, mark.line + 1)

    def fail(self, key: str, message: str, node: yaml.Node | None = None) -> ConfigError:
        key = key if key.isprintable() else repr(key)
        dotted = f"{self.path}.{key}" if self.path else key
        return ConfigError(f"{self.where(node)}: {dotted}: {message}")

    def items(self, allowed: tuple[str, ...]) -> dict[str, tuple[Any, yaml.Node]]:
        if not isinstance(self.node, yaml.MappingNode):
            label = self.path or "the file"
            raise ConfigError(f"{self.where()}: {label}: expected a mapping of keys")
        out: dict[str, tuple[Any, yaml.Node]] = {}
        for key_node, value_node in self.node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{self.where(key_node)}: {self.path or 'the file'}: "
                                  "a key must be a plain name")  # fmt: skip
            key = str(key_node.value)
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.fail(key, f"unknown key{extra}", key_node)
            if key in out:
                raise self.fail(key, "given twice", key_node)
            out[key] = (_plain(value_node), value_node)
        return out

    def child(self, key: str, node: yaml.Node) -> _Doc:
        dotted = f"{self.path}.{key}" if self.path else key
        return _Doc(node, self.file, dotted)


def _plain(node: yaml.Node) -> Any:
    if node is None:
        return None
    try:
        return yaml.safe_load(yaml.serialize(node))
    except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
        line = node.start_mark.line + 1
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())[:120]
        raise ConfigError(
            f"{node.start_mark.name}:{line}: cannot read this value: {problem}"
        ) from None


def _typed(doc: _Doc, key: str, node: yaml.Node, value: Any, kind: str) -> Any:
    """Check ``value`` against ``kind``; None (YAML null) passes for every kind."""
    if value is None:
        return None
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "str": (lambda v: isinstance(v, str), "a string"),
        "bool": (lambda v: isinstance(v, bool), "true or false"),
        "num": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
        "fraction": (
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 10,
            "a number above 0 (0.7 means 70 %)",
        ),
        "map": (lambda v: isinstance(v, dict), "a mapping"),
        "list": (lambda v: isinstance(v, list), "a list"),
    }
    if kind == "duration":
        try:
            return parse_duration(value)
        except ValueError:
            raise doc.fail(
                key, f"expected a duration like 30s, 5m or 1h, got {shown(value)}", node
            ) from None
    test, words = checks[kind]
    if not test(value):
        raise doc.fail(key, f"expected {words}, got {shown(value)}", node)
    return value


def _read_secret_file(doc: _Doc, key: str, node: yaml.Node, path: str, base: Path) -> str:
    full = (base / os.path.expanduser(path)).resolve()
    try:
        return full.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise doc.fail(key, f"cannot read {full}: {exc.strerror or exc}", node) from None


def _env_secret(doc: _Doc, key: str, node: yaml.Node, name: str, env: Mapping[str, str]) -> str:
    if name not in env:
        raise doc.fail(key, f"environment variable {name} is not set", node)
    return env[name]


def _prometheus(doc: _Doc, env: Mapping[str, str], base: Path) -> dict[str, Any]:
    keys = (
        "url",
        "bearer_token_env",
        "bearer_token_file",
        "basic_auth",
        "headers",
        "ca_file",
        "tls_verify",
        "timeout",
    )
    out: dict[str, Any] = {}
    for key, (value, node) in doc.items(keys).items():
        if key == "url":
            out["url"] = _typed(doc, key, node, value, "str")
            if out["url"] is not None:
                _url_in_file(doc, key, node, out["url"])
        elif key == "bearer_token_env" and value is not None:
            out["bearer_token"] = _env_secret(
                doc, key, node, _typed(doc, key, node, value, "str"), env
            )
        elif key == "bearer_token_file" and value is not None:
            path = _typed(doc, key, node, value, "str")
            out["bearer_token"] = _read_secret_file(doc, key, node, path, base)
        elif key == "basic_auth" and value is not None:
            sub = doc.child(key, node)
            parts = sub.items(("username", "password_env", "password_file"))
            for k, (v, n) in parts.items():
                v = _typed(sub, k, n, v, "str")
                if k == "username":
                    out["basic_auth_user"] = v
                elif k == "password_env" and v is not None:
                    out["basic_auth_password"] = _env_secret(sub, k, n, v, env)
                elif k == "password_file" and v is not None:
                    out["basic_auth_password"] = _read_secret_file(sub, k, n, v, base)
            if "basic_auth_user" not in out:
                raise sub.fail("username", "basic_auth needs a username", node)
        elif key == "headers" and value is not None:
            _typed(doc, key, node, value, "map")
            out["headers"] = _headers(doc.child(key, node), value)
        elif key == "ca_file" and value is not None:
            path = (base / os.path.expanduser(_typed(doc, key, node, value, "str"))).resolve()
            problem = _ca_problem(str(path))
            if problem:
                raise doc.fail(key, problem, node)
            out["ca_file"] = str(path)
        elif key == "tls_verify" and value is not None:
            out["tls_verify"] = _typed(doc, key, node, value, "bool")
        elif key == "timeout" and value is not None:
            out["timeout_seconds"] = _typed(doc, key, node, value, "duration")
    return out


_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _headers(doc: _Doc, value: Mapping[Any, Any]) -> dict[str, str]:
    """Header name -> value; both must be non-empty strings without control characters."""
    out: dict[str, str] = {}
    for (key_node, value_node), (name, text) in zip(doc.node.value, value.items(), strict=False):
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise doc.fail(str(name), "not a valid HTTP header name", key_node)
        if not isinstance(text, str) or not text.strip():
            got = "nothing" if text is None else shown(text)
            raise doc.fail(name, f"a header value must be a non-empty string, got {got}",
                           value_node)  # fmt: skip
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise doc.fail(name, "a header value must not contain control characters", value_node)
        out[name] = text
    return out


def _ca_problem(path: str) -> str | None:
    """Why ``path`` cannot be the CA bundle (None when it can)."""
    if not Path(path).is_file():
        return f"no such file: {path}"
    from streamdash.sources.http import check_ca_file

    problem = check_ca_file(path)
    return f"{path}: {problem}" if problem else None


def _url_in_file(doc: _Doc, key: str, node: yaml.Node, url: str) -> None:
    try:
        check_url(url, "x")
    except ConfigError as exc:
        raise doc.fail(key, str(exc).removeprefix("x: "), node) from None


_METRIC_KEYS = ("ttft", "stream", "itl", "e2e")


def _metrics(doc: _Doc, preset: Preset) -> Preset:
    keys = (
        *_METRIC_KEYS,
        *(f"{k}_unit_seconds" for k in _METRIC_KEYS),
        *(f"{k}_includes_ttft" for k in _METRIC_KEYS),
        *(f"{k}_fallbacks" for k in _METRIC_KEYS),
        *(f"{k}_per_request_mean" for k in _METRIC_KEYS),
        "in_flight",
        "model_labels",
    )
    changes: dict[str, Any] = {}
    items = doc.items(keys)
    for kind in _METRIC_KEYS:
        spec: HistogramSpec = changes.get(kind, preset.histogram(kind))
        if kind in items:
            value, node = items[kind]
            name = _typed(doc, kind, node, value, "str")
            if name is not None:
                try:
                    name = promql.check_metric_name(name)  # a quoted UTF-8 name loses quotes
                except ValueError as exc:
                    raise doc.fail(kind, str(exc), node) from None
            spec = replace(spec, metric=name)
        if f"{kind}_unit_seconds" in items:
            value, node = items[f"{kind}_unit_seconds"]
            unit = _typed(doc, f"{kind}_unit_seconds", node, value, "num")
            if unit is None or unit <= 0:
                raise doc.fail(f"{kind}_unit_seconds", "expected a positive number", node)
            spec = replace(spec, unit_seconds=float(unit))
        if f"{kind}_includes_ttft" in items:
            value, node = items[f"{kind}_includes_ttft"]
            spec = replace(spec, includes_ttft=bool(_typed(doc, kind, node, value, "bool")))
        if f"{kind}_fallbacks" in items:
            key = f"{kind}_fallbacks"
            value, node = items[key]
            names = []
            for name in _typed(doc, key, node, value, "list") or []:
                try:
                    names.append(promql.check_metric_name(str(name)))
                except ValueError as exc:
                    raise doc.fail(key, str(exc), node) from None
            spec = replace(spec, fallbacks=tuple(names))
        if f"{kind}_per_request_mean" in items:
            key = f"{kind}_per_request_mean"
            value, node = items[key]
            spec = replace(spec, per_request_mean=bool(_typed(doc, key, node, value, "bool")))
        changes[kind] = spec
    if "model_labels" in items:
        value, node = items["model_labels"]
        changes["model_labels"] = _label_list(doc, "model_labels", node, value)
    if "in_flight" in items:
        value, node = items["in_flight"]
        gauge = _typed(doc, "in_flight", node, value, "str")
        if gauge is not None:
            try:
                promql.parse_metric_selector(gauge, "in_flight")
            except ValueError as exc:
                raise doc.fail("in_flight", _after_where(str(exc)), node) from None
        changes["in_flight"] = gauge
    return replace(preset, **changes)


def _label_list(doc: _Doc, key: str, node: yaml.Node, value: Any) -> tuple[str, ...]:
    """A list of label names (``group_by`` also takes ``workload`` and ``model``)."""
    out = []
    for item in _typed(doc, key, node, value, "list") or []:
        name = str(item)
        if key == "group_by" and name in ("workload", "model"):
            out.append(name)
            continue
        try:
            out.append(promql.check_label_name(name))
        except ValueError as exc:
            raise doc.fail(key, str(exc), node) from None
    return tuple(out)


def _thresholds(doc: _Doc) -> Thresholds:
    keys = (
        "fd_warning",
        "fd_critical",
        "divergence_ratio",
        "connection_warning",
        "disconnect_ratio",
    )
    values = {}
    for key, (value, node) in doc.items((*keys, "blend_factor")).items():
        if value is not None and key == "blend_factor":
            factor = _typed(doc, key, node, value, "num")
            if factor <= 1:
                raise doc.fail(key, f"expected a factor above 1, got {value!r}", node)
            values[key] = float(factor)
        elif value is not None:
            values[key] = float(_typed(doc, key, node, value, "fraction"))
    result = Thresholds(**values)
    if result.fd_warning > result.fd_critical:
        raise doc.fail("fd_warning", "must not be above fd_critical")
    return result


def _load_balancers(doc: _Doc, node: yaml.Node, value: Any) -> tuple[LoadBalancerSettings, ...]:
    _typed(doc, "load_balancers", node, value, "list")
    out = []
    keys = ("kind", "url", "name", "idle_timeout", "pod_match", "config_file")
    for index, item_node in enumerate(node.value if isinstance(node, yaml.SequenceNode) else []):
        sub = doc.child(f"load_balancers[{index}]", item_node)
        sub.path = f"load_balancers[{index}]"
        items = sub.items(keys)
        kind = items.get("kind", (None, item_node))
        if kind[0] not in LB_KINDS:
            raise sub.fail(
                "kind", f"expected one of {', '.join(LB_KINDS)}, got {shown(kind[0])}", kind[1]
            )
        fields: dict[str, Any] = {"kind": kind[0]}
        for key, (v, n) in items.items():
            if key == "idle_timeout":
                fields["idle_timeout_seconds"] = _typed(sub, key, n, v, "duration")
            elif key == "pod_match":
                if v not in ("server", "address"):
                    raise sub.fail(key, f"expected server or address, got {shown(v)}", n)
                fields[key] = v
            elif key != "kind":
                fields[key] = _typed(sub, key, n, v, "str")
        if kind[0] != "cloud" and not fields.get("url"):
            raise sub.fail("url", f"a {kind[0]} load balancer needs a url", item_node)
        if fields.get("url"):
            _url_in_file(sub, "url", items.get("url", (None, item_node))[1], fields["url"])
        if kind[0] == "cloud" and fields.get("idle_timeout_seconds") is None:
            raise sub.fail("idle_timeout", "a cloud load balancer needs idle_timeout", item_node)
        out.append(_lb_settings(fields))
    return tuple(out)


def _lb_settings(fields: dict[str, Any]) -> LoadBalancerSettings:
    known = set(LoadBalancerSettings.__dataclass_fields__)
    return LoadBalancerSettings(**{k: v for k, v in fields.items() if k in known})


def _scrape(doc: _Doc, node: yaml.Node, value: Any) -> tuple[ScrapeTarget, ...]:
    _typed(doc, "scrape", node, value, "list")
    out = []
    for index, item_node in enumerate(node.value if isinstance(node, yaml.SequenceNode) else []):
        item = _plain(item_node)
        if isinstance(item, str):
            _url_in_file(doc, f"scrape[{index}]", item_node, item)
            out.append(ScrapeTarget(url=item))
            continue
        sub = doc.child(f"scrape[{index}]", item_node)
        sub.path = f"scrape[{index}]"
        items = sub.items(("url", "pod"))
        url = items.get("url", (None, item_node))
        if not isinstance(url[0], str):
            raise sub.fail("url", "each scrape target needs a url", url[1])
        _url_in_file(sub, "url", url[1], url[0])
        pod = items.get("pod", (None, item_node))
        out.append(ScrapeTarget(url=url[0], pod=_typed(sub, "pod", pod[1], pod[0], "str")))
    return tuple(out)


def read_targets_file(path: Path) -> tuple[ScrapeTarget, ...]:
    """Scrape targets, one per line: ``URL [POD]``; ``#`` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read targets file: {exc.strerror or exc}") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2:
            raise ConfigError(f"{path}:{number}: expected 'URL [POD]', got {shown(line.strip())}")
        check_url(words[0], f"{path}:{number}")
        out.append(ScrapeTarget(url=words[0], pod=words[1] if len(words) == 2 else None))
    return tuple(out)


TOP_KEYS = (
    "prometheus",
    "preset",
    "metrics",
    "namespace",
    "selector",
    "pod_label",
    "namespace_label",
    "hpa",
    "cpu_target_utilization",
    "window",
    "refresh",
    "history",
    "theme",
    "bell_on_critical",
    "export_dir",
    "keymap",
    "thresholds",
    "load_balancers",
    "scrape",
    "targets_file",
    "fallback",
    "slo",
    "alertmanager_url",
    "record_on_quit",
    "session_snapshots",
    "model",
    "group_by",
    "ensembles",
    "http",
    "scrape_interval",
)


def parse_config_text(text: str, file: str, env: Mapping[str, str], base: Path) -> Settings:
    """Settings from YAML ``text`` (file name ``file`` for messages) over the defaults."""
    try:
        loader = yaml.SafeLoader(text)
        loader.name = file  # marks (and so every error line) carry the file name
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(exc.problem).split())
        raise ConfigError(f"{file}{line}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {' '.join(str(exc).split())}") from None
    settings = Settings(config_path=file)
    if root is None:
        return settings
    _check_tree(root, file)
    doc = _Doc(root, file)
    items = doc.items(TOP_KEYS)
    preset_name = DEFAULT_PRESET
    if "preset" in items:
        value, node = items["preset"]
        preset_name = _typed(doc, "preset", node, value, "str") or DEFAULT_PRESET
        if preset_name not in preset_names():
            raise doc.fail("preset", _unknown_preset(preset_name), node)
    preset = load_preset(preset_name)
    fields: dict[str, Any] = {}
    for key, (value, node) in items.items():
        if key == "prometheus" and value is not None:
            fields["prometheus"] = PrometheusSettings(
                **_prometheus(doc.child(key, node), env, base)
            )
        elif key == "metrics" and value is not None:
            preset = _metrics(doc.child(key, node), preset)
        elif key in ("namespace", "selector", "hpa", "theme", "pod_label", "namespace_label"):
            fields[key] = _typed(doc, key, node, value, "str")
            try:
                if key == "selector":
                    promql.parse_matchers(fields[key], "selector")
                elif key in ("pod_label", "namespace_label") and fields[key] is not None:
                    promql.check_label_name(fields[key])
            except ValueError as exc:
                raise doc.fail(key, _after_where(str(exc)), node) from None
        elif key in ("export_dir", "record_on_quit") and value is not None:
            fields[key] = str(base / os.path.expanduser(_typed(doc, key, node, value, "str")))
        elif key == "session_snapshots" and value is not None:
            count = _typed(doc, key, node, value, "num")
            if not isinstance(count, int) or count < 1:
                raise doc.fail(key, f"expected a whole number of at least 1, got {count!r}", node)
            fields[key] = count
        elif key == "cpu_target_utilization" and value is not None:
            fields[key] = float(_typed(doc, key, node, value, "fraction"))
        elif key in ("window", "refresh", "history") and value is not None:
            seconds = _typed(doc, key, node, value, "duration")
            too_low = _floor_problem(key, seconds)
            if too_low:
                raise doc.fail(key, too_low, node)
            name = {"window": "window_seconds", "refresh": "refresh_seconds"}.get(
                key, "history_seconds"
            )
            fields[name] = int(seconds) if name != "refresh_seconds" else seconds
        elif key == "bell_on_critical" and value is not None:
            fields[key] = bool(_typed(doc, key, node, value, "bool"))
        elif key == "keymap" and value is not None:
            _typed(doc, key, node, value, "map")
            fields["keymap"] = {str(k): str(v) for k, v in value.items()}
        elif key == "thresholds" and value is not None:
            fields["thresholds"] = _thresholds(doc.child(key, node))
        elif key == "load_balancers" and value is not None:
            fields["load_balancers"] = _load_balancers(doc, node, value)
        elif key == "scrape" and value is not None:
            fields["scrape"] = _scrape(doc, node, value)
        elif key == "targets_file" and value is not None:
            path = base / os.path.expanduser(_typed(doc, key, node, value, "str"))
            try:
                targets = read_targets_file(path)
            except ConfigError as exc:
                raise doc.fail(key, str(exc), node) from None
            fields["scrape"] = fields.get("scrape", ()) + targets
        elif key == "slo" and value is not None:
            fields["slo"] = _slo(doc.child(key, node))
        elif key == "alertmanager_url" and value is not None:
            url = _typed(doc, key, node, value, "str")
            try:
                fields[key] = _alertmanager_url(url, key)
            except ConfigError as exc:
                raise doc.fail(key, _after_where(str(exc)), node) from None
        elif key == "model":
            fields["model"] = _typed(doc, key, node, value, "str")
        elif key == "group_by" and value is not None:
            fields["group_by"] = _label_list(doc, key, node, value)
        elif key == "ensembles" and value is not None:
            items_ = _typed(doc, key, node, value, "list") or []
            fields["ensembles"] = tuple(str(v) for v in items_)
        elif key == "scrape_interval" and value is not None:
            seconds = _typed(doc, key, node, value, "duration")
            if seconds <= 0:
                raise doc.fail(key, "must be longer than 0 s", node)
            fields["scrape_interval_seconds"] = seconds
        elif key == "http" and value is not None:
            fields["http"] = _http(doc.child(key, node))
        elif key == "fallback" and value is not None:
            if value != "scrape":
                raise doc.fail(key, f"expected scrape (or null), got {shown(value)}", node)
            fields["fallback"] = value
    for label_key in ("pod_label", "namespace_label"):
        if fields.get(label_key) is None:
            fields.pop(label_key, None)
    if fields.get("theme") is None:
        fields.pop("theme", None)
    return replace(settings, preset=preset, **fields)


def _slo_target(doc: _Doc, kind: str) -> SloTarget:
    values: dict[str, float] = {}
    for key, (value, node) in doc.items(("target", "objective")).items():
        if value is None:
            continue
        if key == "target":
            seconds = float(_typed(doc, key, node, value, "duration"))
            if seconds <= 0:
                raise doc.fail(key, "must be longer than 0 s", node)
            values["target_seconds"] = seconds
        else:
            values["objective"] = _objective(doc, key, node, value)
    return SloTarget(**values)


def _objective(doc: _Doc, key: str, node: yaml.Node, value: Any) -> float:
    share = float(_typed(doc, key, node, value, "fraction"))
    if not 0 < share < 1:
        raise doc.fail(key, f"must be between 0 and 1 (e.g. 0.99), got {value!r}", node)
    return share


def _slo(doc: _Doc) -> SloSettings:
    """``slo:`` -> SloSettings: ``objective`` and per SLI (``ttft``, ``stream``) a
    ``target`` duration and an ``objective`` share."""
    result = SloSettings()
    for key, (value, node) in doc.items(("objective", "ttft", "stream")).items():
        if value is None:
            continue
        if key == "objective":
            result = replace(result, objective=_objective(doc, key, node, value))
        else:
            _typed(doc, key, node, value, "map")
            target = _slo_target(doc.child(key, node), key)
            result = (
                replace(result, ttft=target) if key == "ttft" else replace(result, stream=target)
            )
    return result


def _alertmanager_url(url: str, where: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: expected http(s)://host[:port], got {redact_url(url)!r}")
    return url


def _floor_problem(key: str, seconds: float) -> str | None:
    from streamdash.floors import MIN_REFRESH_SECONDS, MIN_WINDOW_SECONDS

    if key == "refresh" and seconds < MIN_REFRESH_SECONDS:
        return f"must be at least {MIN_REFRESH_SECONDS:g} s (got {seconds:g} s)"
    if key == "window" and seconds < MIN_WINDOW_SECONDS:
        return f"must be at least {MIN_WINDOW_SECONDS} s (got {seconds:g} s)"
    if seconds <= 0:
        return "must be longer than 0 s"
    return None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20,
               "GB": 10**9, "GiB": 2**30}  # fmt: skip


def _http(doc: _Doc) -> HttpSettings:
    out: dict[str, Any] = {}
    for key, (value, node) in doc.items(
        ("max_answer_bytes", "max_decoded_bytes", "redirects")
    ).items():
        if value is None:
            continue
        if key == "redirects":
            if value not in ("none", "same-origin"):
                raise doc.fail(key, f"expected none or same-origin, got {shown(value)}", node)
            out[key] = value
            continue
        match = _SIZE.match(str(value)) if not isinstance(value, bool) else None
        size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)]) if match else 0
        if size < 1024:
            raise doc.fail(
                key, f"expected a size like 64MiB (at least 1 KiB), got {shown(value)}", node
            )
        out[key] = size
    return HttpSettings(**out)


def _after_where(message: str) -> str:
    """``"selector: bad x"`` -> ``"bad x"`` (the caller names the key itself)."""
    head, sep, rest = message.partition(": ")
    return rest if sep and " " not in head else message


def _unknown_preset(name: str) -> str:
    hint = difflib.get_close_matches(name, preset_names(), n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown preset {name!r}{extra}; choose from {', '.join(preset_names())}"


def find_config_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """``--config``, else ./streamdash.yaml, else $XDG_CONFIG_HOME/streamdash/config.yaml."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{explicit}: config file not found")
        return path
    local = cwd / "streamdash.yaml"
    if local.is_file():
        return local
    xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = xdg / "streamdash" / "config.yaml"
    return user if user.is_file() else None


@dataclass(frozen=True)
class Overrides:
    """Values given as command-line flags (None = not given)."""

    config: str | None = None
    prometheus_url: str | None = None
    preset: str | None = None
    namespace: str | None = None
    hpa: str | None = None
    window: str | None = None
    refresh: str | None = None
    theme: str | None = None
    selector: str | None = None
    model: str | None = None
    scrape: tuple[str, ...] = ()
    load_balancers: tuple[LoadBalancerSettings, ...] = ()
    alertmanager_url: str | None = None
    ca_file: str | None = None


_LB_FLAG = {"haproxy": "stats", "envoy": "admin", "nginx": "status"}


def load_settings(flags: Overrides, env: Mapping[str, str], cwd: Path) -> Settings:
    """The effective Settings: flags > env > file > preset defaults."""
    path = find_config_file(flags.config, env, cwd)
    if path is None:
        settings = Settings(preset=load_preset(DEFAULT_PRESET))
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}") from None
        settings = parse_config_text(text, str(path), env, path.parent)
    env_url = env.get("STREAMDASH_PROMETHEUS_URL") or env.get("PROMETHEUS_URL")
    if env_url:
        name = (
            "STREAMDASH_PROMETHEUS_URL"
            if env.get("STREAMDASH_PROMETHEUS_URL")
            else "PROMETHEUS_URL"
        )
        check_url(env_url, name)
        settings = replace(settings, prometheus=replace(settings.prometheus, url=env_url))
    return apply_flags(settings, flags)


def apply_flags(settings: Settings, flags: Overrides) -> Settings:
    """Settings with the command-line flags laid over them."""
    changes: dict[str, Any] = {}
    if flags.prometheus_url:
        check_url(flags.prometheus_url, "--prometheus-url")
        changes["prometheus"] = replace(settings.prometheus, url=flags.prometheus_url)
    if flags.ca_file:
        path = str(Path(flags.ca_file).expanduser().resolve())
        problem = _ca_problem(path)
        if problem:
            raise ConfigError(f"--ca-file: {problem}")
        prom = changes.get("prometheus", settings.prometheus)
        changes["prometheus"] = replace(prom, ca_file=path)
    if flags.preset:
        if flags.preset not in preset_names():
            raise ConfigError(f"--preset: {_unknown_preset(flags.preset)}")
        base = load_preset(flags.preset)
        changes["preset"] = base
    for name in ("namespace", "hpa", "theme", "selector", "model"):
        value = getattr(flags, name)
        if value is not None:
            changes[name] = value
    if flags.selector is not None:
        try:
            promql.parse_matchers(flags.selector, "--selector")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    for name, field_name in (("window", "window_seconds"), ("refresh", "refresh_seconds")):
        value = getattr(flags, name)
        if value is None:
            continue
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise ConfigError(
                f"--{name}: expected a duration like 30s, 5m or 1h, got {shown(value)}"
            ) from None
        problem = _floor_problem(name, seconds)
        if problem:
            raise ConfigError(f"--{name}: {problem}")
        changes[field_name] = int(seconds) if field_name == "window_seconds" else seconds
    if flags.scrape:
        for url in flags.scrape:
            check_url(url, "--scrape")
        changes["scrape"] = tuple(ScrapeTarget(url=u) for u in flags.scrape)
    for lb in flags.load_balancers:
        if lb.url is not None:
            check_url(lb.url, f"--{lb.kind}-{_LB_FLAG.get(lb.kind, 'url')}")
    if flags.load_balancers:
        changes["load_balancers"] = settings.load_balancers + flags.load_balancers
    if flags.alertmanager_url:
        changes["alertmanager_url"] = _alertmanager_url(
            flags.alertmanager_url, "--alertmanager-url"
        )
    return replace(settings, **changes)
