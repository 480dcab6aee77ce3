"""PromQL text for the Prometheus source: pure builders, no I/O.

Every query asks by (pod, ...) once, so a refresh costs the same number of queries
whatever the pod count. Queries that bundle several parts with ``or`` tag each part
with ``label_replace`` into the label ``PART_LABEL`` so the answers can be told apart.

Label values are always rendered through ``quote`` (Go/PromQL string escaping), so a
namespace, pod or selector value containing quotes, backslashes or newlines can never
change the shape of a query.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from streamdash.core.raw import WORKLOAD_KIND_LABEL, WORKLOAD_LABEL
from streamdash.settings import Settings

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
_UTF8_METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.]*")
"""Prometheus 3 UTF-8 names as OTel writes them (dots); anything else must be quoted."""
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


def unquote_metric(name: str) -> str:
    """A metric name as written in config: ``"any name"`` (Prometheus 3 quoting) loses its
    quotes; anything else is returned unchanged."""
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        value, _ = _read_string(name, 0, "metric")
        return value
    return name


def is_legacy_name(name: str) -> bool:
    """True when ``name`` can be written bare in any PromQL (``[a-zA-Z_:][a-zA-Z0-9_:]*``)."""
    return _METRIC_RE.fullmatch(name) is not None


def check_metric_name(name: str) -> str:
    """Return ``name`` if it is a usable metric name, else raise ValueError (one line).

    Classic names, dotted Prometheus 3 UTF-8 names (``gen_ai.server.x_seconds``) and,
    given in double quotes, any UTF-8 name without control characters are accepted;
    the quotes are removed.
    """
    raw = name.strip()
    if raw.startswith('"'):
        try:
            value = unquote_metric(raw)
        except ValueError:
            raise ValueError(f"invalid metric name {name!r}") from None
        if value and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            return value
        raise ValueError(f"invalid metric name {name!r}")
    if not _UTF8_METRIC_RE.fullmatch(raw):
        raise ValueError(f"invalid metric name {name!r}")
    return raw


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
    """Split ``name{a="b"}`` (or Prometheus 3's ``{"name", a="b"}``) into its metric name
    and matchers (ValueError on bad input)."""
    text = text.strip()
    if text.startswith('{"'):
        value, end = _read_string(text, 1, where)
        rest = text[end:].strip()
        rest = rest[1:] if rest.startswith(",") else rest
        return check_metric_name(quote(value)), parse_matchers("{" + rest, where)
    if text.startswith('"'):
        value, end = _read_string(text, 0, where)
        name, tail = check_metric_name(quote(value)), text[end:].strip()
        return name, (parse_matchers(tail, where) if tail else ())
    brace = text.find("{")
    name = text if brace < 0 else text[:brace].strip()
    try:
        check_metric_name(name)
    except ValueError:
        raise ValueError(f"{where}: invalid metric name {name!r}") from None
    matchers = () if brace < 0 else parse_matchers(text[brace:], where)
    return name, matchers


def selector(metric: str, *groups: Sequence[Matcher]) -> str:
    """``metric{m1,m2,...}``: the matchers of every group, in order (duplicates dropped).

    A name that is not a classic one (dots, Prometheus 3 UTF-8) is selected with a quoted
    ``{__name__="..."}`` matcher, which Prometheus 3 (equal to ``{"name"}``), Prometheus 2
    and VictoriaMetrics all read.
    """
    seen: list[str] = []
    for group in groups:
        for m in group:
            text = m.render()
            if text not in seen:
                seen.append(text)
    if not is_legacy_name(metric):
        check_metric_name(quote(metric) if not _UTF8_METRIC_RE.fullmatch(metric) else metric)
        return "{" + ",".join([f"__name__={quote(metric)}", *seen]) + "}"
    return f"{metric}{{{','.join(seen)}}}" if seen else metric


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
    namespace_label: str = "namespace"
    """The label naming the namespace on the app's own series (``kubernetes_namespace``
    under Prometheus's example config); cAdvisor / kube-state-metrics keep ``namespace``."""

    @property
    def process(self) -> tuple[Matcher, ...]:
        """Matchers for the app's process series (FDs): its namespace label only."""
        return (eq(self.namespace_label, self.namespace),) if self.namespace else ()

    @staticmethod
    def build(
        namespace: str | None,
        extra: str | None,
        pod_label: str = "pod",
        namespace_label: str = "namespace",
    ) -> Scope:
        """From settings; raises ValueError (one line) for a bad selector or label name."""
        ns = (eq("namespace", namespace),) if namespace else ()
        app_ns = (eq(namespace_label, namespace),) if namespace else ()
        return Scope(
            app=app_ns + parse_matchers(extra, "selector"),
            cluster=ns,
            pod_label=check_label_name(pod_label),
            namespace=namespace,
            namespace_label=check_label_name(namespace_label),
        )


# --------------------------------------------------------------------------- groups


def group_plan(settings: Settings) -> tuple[tuple[str, ...], bool]:
    """(group labels, join workloads?) from ``group_by`` (default workload + model)."""
    preset = settings.preset
    wanted = settings.group_by if settings.group_by is not None else ("workload", "model")
    labels: list[str] = []
    for item in wanted:
        if item == "model":
            labels += list(preset.model_labels) if preset else []
        elif item != "workload":
            labels.append(check_label_name(item))
    return tuple(dict.fromkeys(labels)), "workload" in wanted


def model_matchers(settings: Settings) -> tuple[Matcher, ...]:
    """``--model NAME`` as a matcher on the preset's first model label (ValueError when
    the preset has none)."""
    if not settings.model:
        return ()
    labels = settings.preset.model_labels if settings.preset else ()
    if not labels:
        name = settings.preset.name if settings.preset else "this preset"
        raise ValueError(f"--model: preset {name!r} has no model label (set group_by instead)")
    return (eq(labels[0], settings.model),)


# --------------------------------------------------------------------------- queries


NAMESPACE_LABEL = "namespace"
"""The namespace label the pod joins match on (kube-prometheus convention)."""


class Piece(StrEnum):
    """The tagged pieces (``PART_LABEL`` values) inside one part's ``or``-joined query."""

    FLEET = "fleet"
    GROUP = "group"
    POD_P99 = "pod_p99"
    POD_TOP = "pod_top"
    POD_COUNT = "pod_count"
    SUM = "sum"
    COUNT = "count"
    MEMBER = "member"
    OPEN_FDS = "open_fds"
    MAX_FDS = "max_fds"
    CONTAINER_FDS = "container_fds"
    CONTAINER_SOCKETS = "container_sockets"
    IN_FLIGHT = "in_flight"
    CPU = "cpu"
    CPU_REQUEST = "cpu_request"


def rate_chain(
    metrics: Sequence[str],
    suffix: str,
    scope: Scope,
    window_s: float,
    extra: Sequence[Matcher] = (),
) -> str:
    """Per-series rates of ``<metric><suffix>``, each pod using the first metric of
    ``metrics`` it exports (``a or on (namespace, pod) b``): a fleet mixing server
    versions (vLLM <= 0.10's old inter-token name) keeps every pod, none counted twice.
    Parenthesized when there is more than one metric."""
    rates = [
        f"rate({selector(f'{m}{suffix}', scope.app, extra)}[{duration(window_s)}])" for m in metrics
    ]
    if len(rates) == 1:
        return rates[0]
    return "(" + f" or on ({NAMESPACE_LABEL}, {scope.pod_label}) ".join(rates) + ")"


def fleet_buckets(metrics: Sequence[str], scope: Scope, window_s: float) -> str:
    """The fleet's bucket rates: ``sum by (le)``."""
    return f"sum by (le) ({rate_chain(metrics, '_bucket', scope, window_s)})"


def with_workloads(expr: str, scope: Scope) -> str:
    """``expr``'s series with the workload labels of their pod joined on (the
    kube-state-metrics owner join of ``sources.kube.by_workload``); series of pods without
    an owner stay, unlabelled (``or on (namespace, pod)``), so no pod drops out."""
    from streamdash.sources import kube  # kube builds on this module's quoting

    joined = kube.by_workload(
        expr, scope.cluster, pod_label=scope.pod_label, namespace_label=scope.namespace_label
    )
    return f"{joined} or on ({NAMESPACE_LABEL}, {scope.pod_label}) {expr}"


def _group_by(labels: Sequence[str], workloads: bool) -> list[str]:
    out = [check_label_name(label) for label in labels]
    if workloads:
        out += [WORKLOAD_KIND_LABEL, WORKLOAD_LABEL]
    return list(dict.fromkeys(out))


def pod_keys(scope: Scope) -> list[str]:
    """The labels that name one pod of the app: namespace (both spellings) and pod."""
    return list(dict.fromkeys([NAMESPACE_LABEL, scope.namespace_label, scope.pod_label]))


def owners(metrics: Sequence[str], scope: Scope) -> str:
    """A vector of 1 per pod exporting ``metrics``' buckets, labelled with its workload
    where kube-state-metrics names one (``kube.workload_join``) and without one otherwise,
    so a join on it keeps every pod. The pod set comes from the bucket series themselves
    (their newest samples only: a tenth of what their rates read), so a pod exporting an
    odd histogram (no ``+Inf``, no ``_count``) is still kept."""
    from streamdash.sources import kube  # kube builds on this module's quoting

    keys = ", ".join(pod_keys(scope))
    pods = " or ".join(selector(f"{m}_bucket", scope.app) for m in metrics)
    join = kube.workload_join(
        scope.cluster, pod_label=scope.pod_label, namespace_label=scope.namespace_label
    )
    return f"({join} or on ({keys}) group by ({keys}) ({pods}))"


def group_buckets(
    metrics: Sequence[str],
    scope: Scope,
    window_s: float,
    labels: Sequence[str],
    workloads: bool,
) -> str | None:
    """Bucket rates per group: ``sum by (le, <labels>[, workload labels])``. None without
    groups. The workload comes from joining each pod's summed bucket rates on ``owners``:
    the buckets' rates are evaluated once (a join with an ``or`` fallback on the rates
    themselves would evaluate them twice), and no pod drops out."""
    by = _group_by(labels, workloads)
    if not by:
        return None
    chain = rate_chain(metrics, "_bucket", scope, window_s)
    if workloads:
        keys = pod_keys(scope)
        inner = ", ".join(dict.fromkeys([*keys, "le", *_group_by(labels, False)]))
        chain = (
            f"sum by ({inner}) ({chain}) * on ({', '.join(keys)}) "
            f"group_left ({WORKLOAD_KIND_LABEL}, {WORKLOAD_LABEL}) {owners(metrics, scope)}"
        )
    return f"sum by (le, {', '.join(by)}) ({chain})"


def pod_p99(metrics: Sequence[str], scope: Scope, window_s: float) -> str:
    """Each pod's p99, computed by the server."""
    chain = rate_chain(metrics, "_bucket", scope, window_s)
    return f"histogram_quantile(0.99, sum by ({scope.pod_label}, le) ({chain}))"


def pod_top_bucket(metrics: Sequence[str], scope: Scope, window_s: float) -> str:
    """Each pod's top finite bucket rate: the max over finite ``le`` of the cumulative
    rates (what ``histogram_quantile``'s monotonicity fix makes of the top bucket)."""
    finite = (Matcher("le", "!=", "+Inf"),)
    chain = rate_chain(metrics, "_bucket", scope, window_s, finite)
    return f"max by ({scope.pod_label}) (sum by ({scope.pod_label}, le) ({chain}))"


def pod_count(metrics: Sequence[str], scope: Scope, window_s: float) -> str:
    """Each pod's +Inf bucket rate (its observations per second)."""
    chain = rate_chain(metrics, "_bucket", scope, window_s, (eq("le", "+Inf"),))
    return f"sum by ({scope.pod_label}) ({chain})"


def fleet_rate(metrics: Sequence[str], suffix: str, scope: Scope, window_s: float) -> str:
    """The fleet's rate of ``_sum`` or ``_count``."""
    return f"sum({rate_chain(metrics, suffix, scope, window_s)})"


def histogram_query(
    metrics: Sequence[str],
    scope: Scope,
    window_s: float,
    *,
    per_pod: bool,
    group_labels: Sequence[str] = (),
    workloads: bool = False,
) -> str:
    """One request for one histogram: group buckets (or, without groups, the fleet's),
    ``_sum``/``_count`` rates and (``per_pod``) each pod's p99, top-bucket and +Inf rates,
    each tagged with its ``Piece``. With groups the fleet's buckets are their sum (the
    groups partition every series), which the reader adds up: Prometheus then evaluates
    the bucket rates once for both. Rows: buckets x groups + 2 + 3 per pod, never
    buckets per pod."""
    groups = group_buckets(metrics, scope, window_s, group_labels, workloads)
    if groups:
        parts = [tag(groups, Piece.GROUP)]
    else:
        parts = [tag(fleet_buckets(metrics, scope, window_s), Piece.FLEET)]
    parts.append(tag(fleet_rate(metrics, "_sum", scope, window_s), Piece.SUM))
    parts.append(tag(fleet_rate(metrics, "_count", scope, window_s), Piece.COUNT))
    if per_pod:
        parts.append(tag(pod_p99(metrics, scope, window_s), Piece.POD_P99))
        parts.append(tag(pod_top_bucket(metrics, scope, window_s), Piece.POD_TOP))
        parts.append(tag(pod_count(metrics, scope, window_s), Piece.POD_COUNT))
    return union(parts)


def group_members(
    chains: Sequence[Sequence[str]],
    in_flight: str | None,
    scope: Scope,
    labels: Sequence[str],
) -> str | None:
    """Which label groups (models...) each pod serves: ``group by (pod, <labels>)`` over
    the histograms' ``_count`` series and the in-flight gauge. None without labels. (A
    pod's workload comes from the kube-state-metrics join, ``RawAnswers.pod_workloads``.)"""
    by = _group_by(labels, False)
    if not by:
        return None
    series = [selector(f"{m}_count", scope.app) for chain in chains for m in chain]
    if in_flight:
        name, own = parse_metric_selector(in_flight, "in_flight")
        series.append(selector(name, own, scope.app))
    if not series:
        return None
    return f"group by ({scope.pod_label}, {', '.join(by)}) ({' or '.join(series)})"


def fd_parts(scope: Scope) -> list[str]:
    """Each pod's worst FD pair: ``open_fds`` / ``max_fds`` are the two series of the one
    process (same labels: job, container, instance) whose open / max is highest in the
    pod, with their labels; ``container_fds`` / ``container_sockets`` are cAdvisor's
    per-container counts (for servers that export no process metrics)."""
    by = scope.pod_label
    open_sel = selector("process_open_fds", scope.process)
    max_sel = selector("process_max_fds", scope.process)
    worst = f"topk by ({by}) (1, {open_sel} / {max_sel})"
    not_pod = (Matcher("container", "!=", ""), Matcher("container", "!=", "POD"))
    parts = [
        tag(f"{open_sel} and {worst}", Piece.OPEN_FDS),
        tag(f"{max_sel} and {worst}", Piece.MAX_FDS),
    ]
    for metric, part in (
        ("container_file_descriptors", Piece.CONTAINER_FDS),
        ("container_sockets", Piece.CONTAINER_SOCKETS),
    ):
        sel = selector(metric, scope.cluster, not_pod)
        parts.append(tag(f"max by ({K8S_POD_LABEL}, container) ({sel})", part))
    return parts


def pod_gauges(in_flight: str | None, scope: Scope, members: str | None = None) -> str:
    """``open_fds``, ``max_fds`` and (when the preset has one) ``in_flight`` by pod.

    FD gauges come from the client library's process collector, which carries none of
    the app's own labels: they are selected by namespace only (the caller keeps only the
    fleet's pods). The in-flight gauge gets its own matchers merged with the app scope.
    ``members`` (``group_members``) rides along, tagged ``member``.
    """
    by = scope.pod_label
    parts = fd_parts(scope)
    if in_flight:
        name, own = parse_metric_selector(in_flight, "in_flight")
        parts.append(tag(f"sum by ({by}) ({selector(name, own, scope.app)})", Piece.IN_FLIGHT))
    if members:
        parts.append(tag(members, Piece.MEMBER))
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
        [
            tag(_cpu_usage(scope, window_s), Piece.CPU),
            tag(_cpu_requests(scope), Piece.CPU_REQUEST),
        ]
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
    # every name of every fallback chain: a pod exporting only an old name still counts
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


def quantile(q: float, metrics: Sequence[str], scope: Scope, window_s: float) -> str:
    """``histogram_quantile(q, sum by (le) (rate(<metric>_bucket{...}[w])))`` over the
    scope's series (per-pod fallbacks as in ``rate_chain``)."""
    return f"histogram_quantile({q:g}, {fleet_buckets(metrics, scope, window_s)})"


def history(
    ttft: Sequence[str] | None,
    stream: Sequence[str] | None,
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
        parts.append(tag(quantile(0.99, ttft, scope, window_s), "ttft_p99"))
    if stream:
        parts.append(tag(quantile(0.99, stream, scope, window_s), "stream_p99"))
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


def pod_queries(
    pod: str,
    ttft: Sequence[str] | None,
    stream: Sequence[str] | None,
    in_flight: str | None,
    scope: Scope,
    window_s: float,
) -> dict[str, str]:
    """One pod's chart series, each its own query: ``ttft_p99``, ``stream_p99`` (when the
    preset has the histogram), ``open_fds``, ``cpu_cores``, ``in_flight`` (when it has
    the gauge). The pod screen shows them to paste; ``pod_history`` sends them as one."""
    app_pod = (*scope.app, eq(scope.pod_label, pod))
    cluster_app_pod = (*scope.cluster, eq(scope.pod_label, pod))
    one = dataclasses.replace(scope, app=app_pod)
    out: dict[str, str] = {}
    if ttft:
        out["ttft_p99"] = quantile(0.99, ttft, one, window_s)
    if stream:
        out["stream_p99"] = quantile(0.99, stream, one, window_s)
    out["open_fds"] = f"max({selector('process_open_fds', cluster_app_pod)})"
    k8s_pod = (eq(K8S_POD_LABEL, pod),)
    out["cpu_cores"] = f"sum({_cpu_usage(scope, window_s, k8s_pod)})"
    if in_flight:
        name, own = parse_metric_selector(in_flight, "in_flight")
        out["in_flight"] = f"sum({selector(name, own, app_pod)})"
    return out


def pod_history(
    pod: str,
    ttft: Sequence[str] | None,
    stream: Sequence[str] | None,
    in_flight: str | None,
    scope: Scope,
    window_s: float,
) -> str:
    """One range query for one pod: ``pod_queries``, each tagged with its name."""
    queries = pod_queries(pod, ttft, stream, in_flight, scope, window_s)
    return union([tag(query, name) for name, query in queries.items()])


def history_step(history_seconds: float) -> int:
    """Range-query step: about 240 points, never under 15 s."""
    return max(15, math.ceil(history_seconds / 240))
