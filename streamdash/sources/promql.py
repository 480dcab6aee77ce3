"""PromQL text for the Prometheus source: pure builders, no I/O.

Every query asks by (pod, ...) once, so a refresh costs the same number of queries
whatever the pod count. Queries that bundle several parts with ``or`` tag each part
with ``label_replace`` into the label ``PART_LABEL`` so the answers can be told apart.

Label values are always rendered through ``quote`` (Go/PromQL string escaping), so a
namespace, pod or selector value containing quotes, backslashes or newlines can never
change the shape of a query.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

PART_LABEL = "streamdash_part"
"""Label added by ``tag`` to tell the parts of an ``or``-joined query apart."""

CPU_METRIC = "container_cpu_usage_seconds_total"
CPU_REQUEST_METRIC = "kube_pod_container_resource_requests"
HPA_PREFIX = "kube_horizontalpodautoscaler_"
HPA_SERIES = (
    "status_current_replicas",
    "status_desired_replicas",
    "spec_min_replicas",
    "spec_max_replicas",
    "spec_target_metric",
)
K8S_POD_LABEL = "pod"
"""The pod label of cAdvisor and kube-state-metrics series."""

_METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


# --------------------------------------------------------------------------- strings


def quote(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal (backslash, quote, controls escaped)."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0x80 <= ord(ch) < 0xA0:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def check_metric_name(name: str) -> str:
    """Return ``name`` if it is a valid metric name, else raise ValueError (one line)."""
    if not _METRIC_RE.fullmatch(name):
        raise ValueError(f"invalid metric name {name!r}")
    return name


def check_label_name(name: str) -> str:
    """Return ``name`` if it is a valid label name, else raise ValueError (one line)."""
    if not _LABEL_RE.fullmatch(name):
        raise ValueError(f"invalid label name {name!r}")
    return name


def duration(seconds: float) -> str:
    """A PromQL range duration, whole seconds, at least 1 s: ``300s``."""
    return f"{max(1, math.ceil(seconds))}s"


# --------------------------------------------------------------------------- matchers


@dataclass(frozen=True)
class Matcher:
    """One label matcher: ``name op "value"``."""

    name: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.name}{self.op}{quote(self.value)}"


def eq(name: str, value: str) -> Matcher:
    """The matcher ``name="value"``."""
    return Matcher(check_label_name(name), "=", value)


def _read_string(text: str, i: int, where: str) -> tuple[str, int]:
    """Parse a quoted string starting at ``text[i]``; return (value, index after it)."""
    q = text[i]
    i += 1
    if q == "`":
        end = text.find("`", i)
        if end < 0:
            raise ValueError(f"{where}: unterminated string at column {i}")
        return text[i:end], end + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == q:
            return "".join(out), i + 1
        if ch == "\n":
            break
        if ch == "\\":
            i += 1
            if i >= len(text):
                break
            esc = text[i]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
            elif esc in "\\\"'":
                out.append(esc)
            elif esc in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[esc]
                digits = text[i + 1 : i + 1 + width]
                if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise ValueError(f"{where}: bad \\{esc} escape at column {i}")
                out.append(chr(int(digits, 16)))
                i += width
            else:
                raise ValueError(f"{where}: unknown escape \\{esc} at column {i}")
        else:
            out.append(ch)
        i += 1
    raise ValueError(f"{where}: unterminated string")


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def parse_matchers(text: str | None, where: str = "selector") -> tuple[Matcher, ...]:
    """Parse ``a="x", b=~"y.*"`` (braces optional) into matchers.

    Raises ValueError with one line naming ``where`` and the column on bad input.
    """
    if text is None:
        return ()
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise ValueError(f"{where}: missing closing '}}' in {text!r}")
        body = body[1:-1]
    matchers: list[Matcher] = []
    i = _skip_space(body, 0)
    while i < len(body):
        m = _LABEL_RE.match(body, i)
        if not m:
            raise ValueError(f"{where}: expected a label name at column {i + 1} of {text!r}")
        name = m.group(0)
        i = _skip_space(body, m.end())
        op = next((o for o in _OPS if body.startswith(o, i)), None)
        if op is None:
            raise ValueError(f"{where}: expected =, !=, =~ or !~ after {name!r}")
        i = _skip_space(body, i + len(op))
        if i >= len(body) or body[i] not in "\"'`":
            raise ValueError(f"{where}: expected a quoted value after {name}{op}")
        value, i = _read_string(body, i, where)
        matchers.append(Matcher(name, op, value))
        i = _skip_space(body, i)
        if i < len(body):
            if body[i] != ",":
                raise ValueError(f"{where}: expected ',' at column {i + 1} of {text!r}")
            i = _skip_space(body, i + 1)
    return tuple(matchers)


def parse_metric_selector(text: str, where: str = "metric") -> tuple[str, tuple[Matcher, ...]]:
    """Split ``name{a="b"}`` into its metric name and matchers (ValueError on bad input)."""
    text = text.strip()
    brace = text.find("{")
    name = text if brace < 0 else text[:brace].strip()
    if not _METRIC_RE.fullmatch(name):
        raise ValueError(f"{where}: invalid metric name {name!r}")
    matchers = () if brace < 0 else parse_matchers(text[brace:], where)
    return name, matchers


def selector(metric: str, *groups: Sequence[Matcher]) -> str:
    """``metric{m1,m2,...}``: the matchers of every group, in order (duplicates dropped)."""
    seen: list[str] = []
    for group in groups:
        for m in group:
            text = m.render()
            if text not in seen:
                seen.append(text)
    return f"{check_metric_name(metric)}{{{','.join(seen)}}}" if seen else metric


def tag(expr: str, part: str) -> str:
    """``expr`` with ``PART_LABEL="part"`` added to every series."""
    return f"label_replace({expr}, {quote(PART_LABEL)}, {quote(part)}, {quote('')}, {quote('')})"


def union(parts: Sequence[str]) -> str:
    """Join already-tagged expressions with ``or``."""
    return " or ".join(parts)


# --------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """Who is asked: matchers for the app's metrics and for cluster (cAdvisor/KSM) metrics."""

    app: tuple[Matcher, ...]
    """namespace + the user's selector."""
    cluster: tuple[Matcher, ...]
    """namespace only."""
    pod_label: str = "pod"
    namespace: str | None = None

    @staticmethod
    def build(namespace: str | None, extra: str | None, pod_label: str = "pod") -> Scope:
        """From settings; raises ValueError (one line) for a bad selector or pod label."""
        ns = (eq("namespace", namespace),) if namespace else ()
        return Scope(
            app=ns + parse_matchers(extra, "selector"),
            cluster=ns,
            pod_label=check_label_name(pod_label),
            namespace=namespace,
        )


# --------------------------------------------------------------------------- queries


def bucket_rates(metric: str, scope: Scope, window_s: float) -> str:
    """Per-pod, per-``le`` bucket rates of one classic histogram."""
    sel = selector(f"{metric}_bucket", scope.app)
    return f"sum by ({scope.pod_label}, le) (rate({sel}[{duration(window_s)}]))"


def fleet_bucket_rates(metric: str, scope: Scope, window_s: float) -> str:
    """Fleet-wide, per-``le`` bucket rates: for histograms no view shows per pod."""
    sel = selector(f"{metric}_bucket", scope.app)
    return f"sum by (le) (rate({sel}[{duration(window_s)}]))"


PER_POD_KINDS = frozenset({"ttft", "stream"})
"""Histogram kinds shown per pod (the pods table's p99 columns); others are fleet-only."""


def sum_count_rates(metrics: Sequence[str], scope: Scope, window_s: float) -> str:
    """Per-pod rates of every ``_sum`` and ``_count``, tagged ``sum:<metric>`` / ``count:<m>``."""
    parts = []
    for metric in metrics:
        for suffix in ("sum", "count"):
            sel = selector(f"{metric}_{suffix}", scope.app)
            expr = f"sum by ({scope.pod_label}) (rate({sel}[{duration(window_s)}]))"
            parts.append(tag(expr, f"{suffix}:{metric}"))
    return union(parts)


def pod_gauges(in_flight: str | None, scope: Scope) -> str:
    """``open_fds``, ``max_fds`` and (when the preset has one) ``in_flight`` by pod.

    FD gauges come from the client library's process collector, which carries none of
    the app's own labels: they are selected by namespace only (the caller keeps only the
    fleet's pods). The in-flight gauge gets its own matchers merged with the app scope.
    """
    by = scope.pod_label
    parts = [
        tag(f"max by ({by}) ({selector('process_open_fds', scope.cluster)})", "open_fds"),
        tag(f"max by ({by}) ({selector('process_max_fds', scope.cluster)})", "max_fds"),
    ]
    if in_flight:
        name, own = parse_metric_selector(in_flight, "in_flight")
        parts.append(tag(f"sum by ({by}) ({selector(name, own, scope.app)})", "in_flight"))
    return union(parts)


def _cpu_usage(scope: Scope, window_s: float, extra: Sequence[Matcher] = ()) -> str:
    not_pod = (Matcher("container", "!=", ""), Matcher("container", "!=", "POD"))
    sel = selector(CPU_METRIC, scope.cluster, extra, not_pod)
    return f"sum by ({K8S_POD_LABEL}) (rate({sel}[{duration(window_s)}]))"


def _cpu_requests(scope: Scope) -> str:
    sel = selector(CPU_REQUEST_METRIC, scope.cluster, (eq("resource", "cpu"), eq("unit", "core")))
    return f"sum by ({K8S_POD_LABEL}) ({sel})"


def cpu(scope: Scope, window_s: float) -> str:
    """cAdvisor CPU cores by pod (no pod-cgroup ``""`` or pause ``POD`` series) and CPU requests."""
    return union(
        [tag(_cpu_usage(scope, window_s), "cpu"), tag(_cpu_requests(scope), "cpu_request")]
    )


def hpa(scope: Scope) -> str:
    """All kube-state-metrics HPA series the source reads, in the namespace."""
    names = "|".join(HPA_SERIES)
    name_matcher = Matcher("__name__", "=~", f"{HPA_PREFIX}({names})")
    return "{" + ",".join(m.render() for m in (name_matcher, *scope.cluster)) + "}"


def fleet_pods(metrics: Sequence[str], in_flight: str | None, scope: Scope) -> str | None:
    """Pods exporting the preset's histograms or in-flight gauge, as ``{pod=...}`` series.

    Reads each histogram's ``_count`` (one series per pod) rather than its ``_bucket``
    series (one per bucket): the same pods, a fraction of the work at fleet scale.
    """
    parts = [f"group by ({scope.pod_label}) ({selector(f'{m}_count', scope.app)})" for m in metrics]
    if in_flight:
        name, own = parse_metric_selector(in_flight, "in_flight")
        parts.append(f"group by ({scope.pod_label}) ({selector(name, own, scope.app)})")
    if not parts:
        return None
    expr = " or ".join(parts)
    if scope.pod_label != K8S_POD_LABEL:
        src = quote(scope.pod_label)
        expr = (
            f"label_replace({expr}, {quote(K8S_POD_LABEL)}, {quote('$1')}, {src}, {quote('(.*)')})"
        )
    return f"group by ({K8S_POD_LABEL}) ({expr})"


def quantile(q: float, metric: str, matchers: Sequence[Matcher], window_s: float) -> str:
    """``histogram_quantile(q, sum by (le) (rate(<metric>_bucket{...}[w])))``."""
    sel = selector(f"{metric}_bucket", matchers)
    return f"histogram_quantile({q:g}, sum by (le) (rate({sel}[{duration(window_s)}])))"


def history(
    ttft: str | None,
    stream: str | None,
    fleet: str | None,
    scope: Scope,
    window_s: float,
    hpa_name: str | None,
    default_target: float,
) -> str | None:
    """One range query: ``ttft_p99``, ``stream_p99``, ``replicas`` (by HPA name) and
    ``cpu_implied_replicas`` = ceil(fleet CPU / (avg pod CPU request x target)).

    The target is the HPA's CPU utilization target when kube-state-metrics exports
    one, else ``default_target`` (a fraction, 0.7 = 70 %).
    """
    parts = []
    if ttft:
        parts.append(tag(quantile(0.99, ttft, scope.app, window_s), "ttft_p99"))
    if stream:
        parts.append(tag(quantile(0.99, stream, scope.app, window_s), "stream_p99"))
    named = (eq("horizontalpodautoscaler", hpa_name),) if hpa_name else ()
    current = selector(f"{HPA_PREFIX}status_current_replicas", scope.cluster, named)
    parts.append(tag(f"sum by (horizontalpodautoscaler) ({current})", "replicas"))
    if fleet:
        cpu_target = (eq("metric_name", "cpu"), eq("metric_target_type", "utilization"))
        target_sel = selector(f"{HPA_PREFIX}spec_target_metric", scope.cluster, named, cpu_target)
        target = f"(max({target_sel}) / 100 or vector({default_target:g}))"
        used = f"sum({_cpu_usage(scope, window_s)} and on ({K8S_POD_LABEL}) {fleet})"
        request = f"avg({_cpu_requests(scope)} and on ({K8S_POD_LABEL}) {fleet})"
        parts.append(tag(f"ceil({used} / ({request} * {target}))", "cpu_implied_replicas"))
    return union(parts) if parts else None


def pod_history(
    pod: str,
    ttft: str | None,
    stream: str | None,
    in_flight: str | None,
    scope: Scope,
    window_s: float,
) -> str:
    """One range query for one pod: ``ttft_p99``, ``stream_p99``, ``open_fds``,
    ``cpu_cores``, ``in_flight``."""
    app_pod = (*scope.app, eq(scope.pod_label, pod))
    cluster_app_pod = (*scope.cluster, eq(scope.pod_label, pod))
    parts = []
    if ttft:
        parts.append(tag(quantile(0.99, ttft, app_pod, window_s), "ttft_p99"))
    if stream:
        parts.append(tag(quantile(0.99, stream, app_pod, window_s), "stream_p99"))
    parts.append(tag(f"max({selector('process_open_fds', cluster_app_pod)})", "open_fds"))
    k8s_pod = (eq(K8S_POD_LABEL, pod),)
    parts.append(tag(f"sum({_cpu_usage(scope, window_s, k8s_pod)})", "cpu_cores"))
    if in_flight:
        name, own = parse_metric_selector(in_flight, "in_flight")
        parts.append(tag(f"sum({selector(name, own, app_pod)})", "in_flight"))
    return union(parts)


def history_step(history_seconds: float) -> int:
    """Range-query step: about 240 points, never under 15 s."""
    return max(15, math.ceil(history_seconds / 240))
