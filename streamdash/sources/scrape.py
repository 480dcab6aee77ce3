"""Direct-scrape source: read the pods' own ``/metrics`` when there is no Prometheus.

Each ``fetch`` GETs every configured target concurrently (one round), parses the text
with ``prometheus_client``'s parser and keeps the round per target. Rates come from two
consecutive successful scrapes of the same target, with Prometheus's counter semantics:
``increase = cur - prev``, or ``cur`` when the counter went down (it restarted from 0).
A series seen only once (new pod, new bucket) has no rate yet and is left out, as a
Prometheus ``rate`` over one sample is empty; a series that disappeared is left out.
Rates span the window, like ``rate(x[window])``: each target keeps its scrapes of the
last ``window_seconds``, and a rate is the increase from the oldest of them to the newest
(summed scrape to scrape, so a counter reset in between is handled) divided by the time
between the starts of those two rounds. Until a window's worth of scrapes exists, rates
cover what there is, and the answer's note says over how long.

The first ``fetch`` has no previous round: it scrapes twice, ``prime_seconds`` apart.
The answer is the same ``RawAnswers`` the Prometheus source gives (``source_kind``
``scrape``); a target that is down or answers garbage becomes one ``SourceError``
(``source="scrape:<url>"``, ``part="target"``) and the other targets still count; when
no target answers, an extra error with ``part=None`` marks the whole source down.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from streamdash.core.histogram import aggregate
from streamdash.core.parts import HISTOGRAM_PARTS, QueryPart
from streamdash.core.raw import (
    HISTOGRAM_KINDS,
    PER_POD_KINDS,
    WORKLOAD_KIND_LABEL,
    WORKLOAD_LABEL,
    FdRaw,
    GroupLabels,
    HistogramRaw,
    HpaRaw,
    RawAnswers,
    SourceError,
    WorkloadRef,
)
from streamdash.redact import redact_url, split_userinfo
from streamdash.settings import Preset, ScrapeTarget, Settings
from streamdash.sources import fds, http, kube
from streamdash.sources.promql import (
    Matcher,
    group_plan,
    model_matchers,
    parse_matchers,
    parse_metric_selector,
)

SOURCE_KIND = "scrape"
ERROR_PART = str(QueryPart.TARGET)
MAX_BODY_BYTES = 20_000_000
"""Answers longer than this are refused (a pod's /metrics is tens of kilobytes)."""
ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"

OPEN_FDS = "process_open_fds"
MAX_FDS = "process_max_fds"
CPU_COUNTER = "container_cpu_usage_seconds_total"
CPU_REQUESTS = kube.CPU_REQUESTS
HPA_PREFIX = kube.HPA_PREFIX
K8S_POD_LABELS = ("pod", "pod_name")
"""Pod labels of cAdvisor / kube-state-metrics series (``pod_name`` before k8s 1.16)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")

LabelSet = tuple[tuple[str, str], ...]
Samples = Mapping[str, Mapping[LabelSet, float]]
"""Sample name -> label set (sorted pairs) -> value."""


@dataclass(frozen=True)
class Scrape:
    """One parsed answer of one target; ``at`` is the round's start (monotonic seconds)."""

    at: float
    samples: Samples


class ScrapeError(ValueError):
    """A target's answer that cannot be used; the message is one line."""


# --------------------------------------------------------------------------- parsing


def _one_line(text: str, limit: int = 160) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_exposition(text: str) -> dict[str, dict[LabelSet, float]]:
    """Parse Prometheus text format into samples (``ScrapeError`` on bad input).

    Uses ``prometheus_client.parser``; sample names stay as exposed (``_bucket``,
    ``_sum``, ``_count``, ``_total``, colons included). NaN samples are dropped.
    """
    out: dict[str, dict[LabelSet, float]] = defaultdict(dict)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                value = float(sample.value)
                if math.isnan(value):
                    continue
                out[sample.name][tuple(sorted(sample.labels.items()))] = value
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ScrapeError(f"not Prometheus text format: {_one_line(str(exc))}") from None
    return dict(out)


# --------------------------------------------------------------------------- delta math


def counter_increase(prev: float, cur: float) -> float:
    """Prometheus's increase between two samples: a decrease means a restart from 0."""
    return cur - prev if cur >= prev else cur


def series_increases(
    prev: Mapping[LabelSet, float], cur: Mapping[LabelSet, float]
) -> dict[LabelSet, float]:
    """Per-series increase for series present in both scrapes (others have no rate)."""
    return {
        labels: counter_increase(prev[labels], value)
        for labels, value in cur.items()
        if labels in prev
    }


def window_baseline(chain: Sequence[Scrape], cur: Scrape) -> Scrape | None:
    """A stand-in for the oldest scrape of ``chain`` such that ``cur - baseline`` is the
    increase summed scrape to scrape along ``chain`` then ``cur`` (counter resets in
    between counted as Prometheus does). Series missing from any scrape of the chain
    are left out (no rate). None when ``chain`` is empty."""
    if not chain:
        return None
    steps = [*chain, cur]
    values: dict[str, dict[LabelSet, float]] = {}
    for name, series in cur.samples.items():
        out: dict[LabelSet, float] = {}
        for labels, value in series.items():
            total = 0.0
            for a, b in pairwise(steps):
                before, after = a.samples.get(name, {}), b.samples.get(name, {})
                if labels not in before or labels not in after:
                    break
                total += counter_increase(before[labels], after[labels])
            else:
                out[labels] = value - total
        values[name] = out
    return Scrape(chain[0].at, values)


MAX_CHECKPOINTS = 16
"""Scrapes kept per target, spread over the window: memory is bounded by
``(MAX_CHECKPOINTS + 2) × series`` numbers per target whatever window ÷ refresh is."""
MAX_RETAINED = 4 * MAX_CHECKPOINTS
"""The bound once the window has changed: checkpoints are kept over the longest window
used this session (cycling ``w`` to 1m and back to 5m keeps the 5m baseline), at most
this many (``(MAX_RETAINED + 2) × series`` numbers per target)."""


class Retained:
    """What one target keeps for windowed rates, bounded by design.

    Every scrape updates a reset-corrected running total per series (Prometheus's
    counter rule, applied scrape to scrape, so no reset is missed); only checkpoints of
    those totals at least ``window / MAX_CHECKPOINTS`` apart are kept. The baseline is
    the oldest checkpoint within the window: rates span the window to within
    ``1 / MAX_CHECKPOINTS`` of it. Checkpoints older than the window are kept while a
    longer window was used this session (``MAX_RETAINED`` at most), so a shorter window
    for a while does not cost the longer one its baseline. A series missing from a
    scrape loses its checkpoints (no rate until it has history again), as with a chain
    of full scrapes.
    """

    def __init__(self, first: Scrape) -> None:
        self.longest = 0.0
        """The longest window asked so far (seconds)."""
        self.last = first
        self.offsets: dict[str, dict[LabelSet, float]] = {}
        self.checkpoints: deque[Scrape] = deque([Scrape(first.at, _copy(first.samples))])

    def advance(self, cur: Scrape, window_seconds: float) -> Scrape | None:
        """Take ``cur``; the baseline for ``cur - baseline`` = increase over the window."""
        corrected: dict[str, dict[LabelSet, float]] = {}
        offsets: dict[str, dict[LabelSet, float]] = {}
        for name, series in cur.samples.items():
            before = self.last.samples.get(name, {})
            old = self.offsets.get(name, {})
            offs: dict[LabelSet, float] = {}
            out: dict[LabelSet, float] = {}
            for labels, value in series.items():
                prev = before.get(labels)
                if prev is None:  # new, or back after a gap: no history
                    self._forget(name, labels)
                    off = 0.0
                else:
                    off = old.get(labels, 0.0) + (prev if value < prev else 0.0)
                if off:
                    offs[labels] = off
                out[labels] = value + off
            corrected[name], offsets[name] = out, offs
        for name, series in self.last.samples.items():  # gone from this scrape
            now = cur.samples.get(name, {})
            for labels in series:
                if labels not in now:
                    self._forget(name, labels)
        points = self.checkpoints
        self.longest = max(self.longest, window_seconds)
        while len(points) > 1 and (
            cur.at - points[0].at > self.longest or len(points) > MAX_RETAINED
        ):
            points.popleft()
        # the oldest within this window; the newest when even it is older (slow refresh)
        base = next((p for p in points if cur.at - p.at <= window_seconds), points[-1])
        baseline: dict[str, dict[LabelSet, float]] = {}
        for name, series in cur.samples.items():
            then = base.samples.get(name, {})
            total = corrected[name]
            baseline[name] = {
                labels: value - (total[labels] - then[labels])
                for labels, value in series.items()
                if labels in then
            }
        if cur.at - points[-1].at >= window_seconds / MAX_CHECKPOINTS:
            points.append(Scrape(cur.at, corrected))
        self.last, self.offsets = cur, offsets
        return Scrape(base.at, baseline)

    def _forget(self, name: str, labels: LabelSet) -> None:
        for point in self.checkpoints:
            series = point.samples.get(name)
            if series is not None and labels in series:
                del series[labels]  # type: ignore[attr-defined]


def _copy(samples: Samples) -> dict[str, dict[LabelSet, float]]:
    return {name: dict(series) for name, series in samples.items()}


def series_rates(prev: Scrape | None, cur: Scrape, name: str) -> dict[LabelSet, float]:
    """Per-second rate of every series of ``name`` between two scrapes (empty without
    a previous scrape or a positive interval)."""
    if prev is None or cur.at <= prev.at:
        return {}
    dt = cur.at - prev.at
    before = prev.samples.get(name, {})
    return {k: v / dt for k, v in series_increases(before, cur.samples.get(name, {})).items()}


# --------------------------------------------------------------------------- label logic


def matches(labels: Mapping[str, str], matchers: Sequence[Matcher]) -> bool:
    """PromQL matcher semantics: a missing label is the empty string; regexes anchor."""
    for m in matchers:
        value = labels.get(m.name, "")
        if m.op == "=" and value != m.value:
            return False
        if m.op == "!=" and value == m.value:
            return False
        if m.op in ("=~", "!~"):
            hit = re.fullmatch(m.value, value) is not None
            if hit != (m.op == "=~"):
                return False
    return True


def target_host(url: str) -> str:
    """``host:port`` of a target URL (the pod name of last resort)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or url
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return url


@dataclass(frozen=True)
class _View:
    """How one target's samples map to pods under the settings."""

    target: ScrapeTarget
    namespace: str | None
    pod_labels: tuple[str, ...]
    namespace_labels: tuple[str, ...] = ("namespace",)

    def keep(self, labels: Mapping[str, str]) -> bool:
        ns = next((labels[n] for n in self.namespace_labels if labels.get(n)), None)
        return self.namespace is None or not ns or ns == self.namespace

    def pod(self, labels: Mapping[str, str]) -> str:
        if self.target.pod:
            return self.target.pod
        for name in self.pod_labels:
            value = labels.get(name)
            if value:
                return value
        return target_host(self.target.url)


@dataclass(frozen=True)
class TargetRound:
    """One target's previous and current scrape (``prev`` None: no rates yet)."""

    target: ScrapeTarget
    prev: Scrape | None
    cur: Scrape


def _add(into: dict[str, float], key: str, value: float) -> None:
    into[key] = into.get(key, 0.0) + value


def _each(
    rounds: Iterable[TargetRound],
    view_of: Callable[[ScrapeTarget], _View],
    name: str,
    rates: bool,
    matchers: Sequence[Matcher] = (),
) -> Iterable[tuple[_View, dict[str, str], float]]:
    """(view, labels, value or rate) of every kept series of ``name``."""
    for r in rounds:
        view = view_of(r.target)
        values = series_rates(r.prev, r.cur, name) if rates else r.cur.samples.get(name, {})
        for label_set, value in values.items():
            labels = dict(label_set)
            if view.keep(labels) and matches(labels, matchers):
                yield view, labels, value


def _histogram(
    rounds: Sequence[TargetRound],
    view_of: Callable[[ScrapeTarget], _View],
    metrics: Sequence[str],
    selector: Sequence[Matcher],
    group_by: Sequence[str],
    per_pod: bool,
    part: str,
    members: dict[str, set[GroupLabels]],
    owners: Mapping[str, WorkloadRef] | None = None,
) -> HistogramRaw:
    """The same aggregates Prometheus computes for ``promql.histogram_query``, locally:
    each pod uses the first metric of ``metrics`` it exports (per-pod fallbacks)."""
    by_pod: dict[str, dict[float, float]] = defaultdict(dict)
    groups: dict[GroupLabels, dict[float, float]] = defaultdict(dict)
    chosen: dict[str, str] = {}
    for metric in metrics:
        seen: set[str] = set()
        for view, labels, rate in _each(rounds, view_of, f"{metric}_bucket", True, selector):
            pod_name = view.pod(labels)
            if chosen.get(pod_name, metric) != metric:
                continue
            seen.add(pod_name)
            try:
                le = float(labels["le"])
            except (KeyError, ValueError):
                continue
            pod = by_pod[pod_name]
            pod[le] = pod.get(le, 0.0) + rate
            key = tuple(sorted((g, labels[g]) for g in group_by if labels.get(g)))
            if key or group_by:
                members.setdefault(pod_name, set()).add(key)
            owner = (owners or {}).get(pod_name)
            if owner is not None:  # as the Prometheus source's owner join labels it
                joined = {**dict(key), WORKLOAD_KIND_LABEL: owner.kind, WORKLOAD_LABEL: owner.name}
                key = tuple(sorted(joined.items()))
            if key or group_by or owners:
                group = groups[key]
                group[le] = group.get(le, 0.0) + rate
        for pod_name in seen:
            chosen.setdefault(pod_name, metric)
    totals: dict[str, float] = {}
    for suffix in ("_sum", "_count"):
        for metric in metrics:
            for view, labels, rate in _each(rounds, view_of, metric + suffix, True, selector):
                if chosen.get(view.pod(labels)) == metric:
                    _add(totals, suffix, rate)
    return aggregate(
        metrics[0],
        {pod: dict(buckets) for pod, buckets in by_pod.items()},
        per_pod=per_pod,
        sum_rate=totals.get("_sum"),
        count_rate=totals.get("_count"),
        groups={key: dict(b) for key, b in groups.items()},
        part=part,
    )


def _kube_samples(
    rounds: Sequence[TargetRound], view_of: Callable[[ScrapeTarget], _View]
) -> Iterable[tuple[_View, kube.Sample]]:
    """(view, kube-state-metrics sample) of every kept ``kube_*`` series of the rounds."""
    for r in rounds:
        view = view_of(r.target)
        for name, series in r.cur.samples.items():
            if not name.startswith("kube_"):
                continue
            for label_set, value in series.items():
                labels = dict(label_set)
                if view.keep(labels):
                    yield view, (name, labels, value)


@dataclass(frozen=True)
class ScrapedFields:
    """The ``RawAnswers`` fields one refresh's rounds give (same names and meaning)."""

    histograms: Mapping[str, HistogramRaw] = field(default_factory=dict)
    open_fds: Mapping[str, float] = field(default_factory=dict)
    max_fds: Mapping[str, float] = field(default_factory=dict)
    fds: Mapping[str, FdRaw] = field(default_factory=dict)
    in_flight: Mapping[str, float] = field(default_factory=dict)
    cpu_cores: Mapping[str, float] = field(default_factory=dict)
    cpu_request_cores: Mapping[str, float] = field(default_factory=dict)
    hpas: tuple[HpaRaw, ...] = ()
    pod_workloads: Mapping[str, WorkloadRef] = field(default_factory=dict)
    pod_groups: Mapping[str, tuple[GroupLabels, ...]] = field(default_factory=dict)


def _chains(preset: Preset) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Metric chain (name and fallbacks) -> the histogram kinds it fills."""
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for kind in HISTOGRAM_KINDS:
        chain = preset.histogram(kind).metrics
        if chain:
            out[chain] = (*out.get(chain, ()), kind)
    return out


def answers_from_rounds(
    settings: Settings,
    preset: Preset,
    rounds: Sequence[TargetRound],
) -> ScrapedFields:
    """The RawAnswers fields computed from one refresh's rounds (pure).

    Raises ValueError (one line) for a bad selector or in-flight metric in the settings.
    """
    app_pod_labels = tuple(dict.fromkeys((settings.pod_label, "pod")))
    k8s_pod_labels = tuple(dict.fromkeys((settings.pod_label, *K8S_POD_LABELS)))
    ns_labels = tuple(dict.fromkeys((settings.namespace_label, "namespace")))
    app_views = {
        r.target: _View(r.target, settings.namespace, app_pod_labels, ns_labels) for r in rounds
    }
    k8s_views = {r.target: _View(r.target, settings.namespace, k8s_pod_labels) for r in rounds}
    selector = parse_matchers(settings.selector)
    selector = (*selector, *model_matchers(settings))
    group_by, by_workload = group_plan(settings)
    owners = kube.read_owners(
        [sample for _, sample in _kube_samples(rounds, k8s_views.__getitem__)],
        lambda labels: labels.get("pod"),
    )
    members: dict[str, set[GroupLabels]] = {}
    histograms: dict[str, HistogramRaw] = {}
    for chain, kinds in _chains(preset).items():
        hist = _histogram(
            rounds,
            app_views.__getitem__,
            chain,
            selector,
            group_by,
            bool(PER_POD_KINDS.intersection(kinds)),
            HISTOGRAM_PARTS[kinds[0]],
            members,
            owners if by_workload else {},
        )
        for kind in kinds:
            histograms[kind] = hist
    pair_rows: list[fds.ProcessRow] = []
    for r in rounds:
        view = app_views[r.target]
        limits = r.cur.samples.get(MAX_FDS, {})
        for label_set, value in r.cur.samples.get(OPEN_FDS, {}).items():
            labels = dict(label_set)
            if label_set in limits and view.keep(labels):
                labels.setdefault("instance", target_host(r.target.url))
                pair_rows.append((view.pod(labels), labels, value, limits[label_set]))
    containers: list[fds.ContainerRow] = []
    for metric, what in (("container_file_descriptors", "fds"), ("container_sockets", "sockets")):
        for view, labels, value in _each(rounds, k8s_views.__getitem__, metric, False):
            container = labels.get("container", "")
            if container not in ("", "POD"):
                containers.append((view.pod(labels), container, what, value))
    in_flight: dict[str, float] = {}
    if preset.in_flight:
        metric, extra = parse_metric_selector(preset.in_flight, "in_flight")
        for view, labels, value in _each(
            rounds, app_views.__getitem__, metric, False, (*extra, *selector)
        ):
            _add(in_flight, view.pod(labels), value)
    cpu: dict[str, float] = {}
    for view, labels, rate in _each(rounds, k8s_views.__getitem__, CPU_COUNTER, True):
        container = labels.get("container", labels.get("container_name", ""))
        if container not in ("", "POD"):
            _add(cpu, view.pod(labels), rate)
    samples = list(_kube_samples(rounds, k8s_views.__getitem__))
    requests: dict[str, float] = {}
    for view, sample in samples:
        for pod, cores in kube.read_cpu_requests([sample], view.pod).items():
            _add(requests, pod, cores)
    kube_samples = [sample for _, sample in samples]
    fleet = {pod for h in histograms.values() for pod in h.pods} | set(in_flight) | set(members)
    fleet |= {pod for pod, *_ in pair_rows}
    fd_map = fds.with_cadvisor(fds.worst_pairs(pair_rows), containers, sorted(fleet))
    workloads = kube.read_owners(kube_samples, lambda labels: labels.get("pod"))
    return ScrapedFields(
        histograms=histograms,
        open_fds={p: f.open_fds for p, f in fd_map.items() if f.open_fds is not None},
        max_fds={p: f.max_fds for p, f in fd_map.items() if f.max_fds is not None},
        fds=fd_map,
        in_flight=in_flight,
        cpu_cores=cpu,
        cpu_request_cores=requests,
        hpas=kube.read_hpas(kube_samples),
        pod_workloads={pod: w for pod, w in workloads.items() if pod in fleet},
        pod_groups={pod: tuple(sorted(keys)) for pod, keys in members.items()},
    )


def interval_note(rounds: Sequence[TargetRound]) -> str | None:
    """'rates over the last N s' for the spans used, None without rates."""
    gaps = sorted({round(r.cur.at - r.prev.at, 1) for r in rounds if r.prev is not None})
    if not gaps:
        return None
    text = f"{gaps[0]:g}" if len(gaps) == 1 else f"{gaps[0]:g}–{gaps[-1]:g}"
    return f"direct scrape: rates over the last {text} s (scrapes kept for the window)"


# --------------------------------------------------------------------------- the source


class ScrapeSource:
    """Scrapes ``settings.scrape`` targets directly; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        prime_seconds: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from streamdash.presets import DEFAULT_PRESET, load_preset

        self.settings = settings
        self.preset = settings.preset or load_preset(DEFAULT_PRESET)
        self.targets = tuple(settings.scrape)
        self.prime_seconds = (
            prime_seconds if prime_seconds is not None else min(2.0, settings.refresh_seconds)
        )
        policy = http.policy_for(settings, max_answer_bytes=MAX_BODY_BYTES)
        self._http = http.HttpxTransport(policy, {"Accept": ACCEPT}, transport)
        self._closed = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(16, len(self.targets))), thread_name_prefix="scrape"
        )
        self._history: dict[ScrapeTarget, Retained] = {}
        self._lock = threading.Lock()
        self.last_span_seconds: float | None = None
        """The longest span the last ``fetch``'s rates cover (None: no rates yet)."""

    def describe(self) -> str:
        return f"direct scrape of {len(self.targets)} targets"

    def close(self) -> None:
        """Release the HTTP client and the worker threads."""
        self._closed.set()
        self._http.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _get(self, target: ScrapeTarget, at: float) -> Scrape | SourceError:
        where = redact_url(target.url)
        source = f"{SOURCE_KIND}:{where}"
        url, user, password = split_userinfo(target.url)
        auth = (user, password or "") if user is not None else None
        try:
            answer = self._http.get(url, auth=auth)
        except http.HttpError as exc:
            return SourceError(source, f"GET {where} failed: {exc}", ERROR_PART)
        if answer.status != 200:
            return SourceError(source, f"GET {where} answered HTTP {answer.status}", ERROR_PART)
        body = answer.body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return SourceError(source, f"{where}: answer is not UTF-8 text", ERROR_PART)
        try:
            return Scrape(at, parse_exposition(text))
        except ScrapeError as exc:
            return SourceError(source, f"{where}: {exc}", ERROR_PART)

    def _round(self) -> list[tuple[ScrapeTarget, Scrape | SourceError]]:
        at = time.monotonic()
        futures = [(t, self._pool.submit(self._get, t, at)) for t in self.targets]
        return [(t, f.result()) for t, f in futures]

    def fetch(self, window_seconds: int, now: float | None = None) -> RawAnswers:
        """Scrape every target once (twice on the first call) and return the answers.

        Never raises for target failures: they are listed in ``errors``.
        """
        with self._lock:
            return self._fetch(window_seconds, now)

    def _fetch(self, window_seconds: int, now: float | None) -> RawAnswers:
        taken_at = time.time() if now is None else now
        sent = 0
        if not self._history and self.targets:
            for target, got in self._round():
                sent += 1
                if isinstance(got, Scrape):
                    self._history[target] = Retained(got)
            self._closed.wait(self.prime_seconds)  # close() ends the wait at once
        results = self._round()
        sent += len(results)
        errors: list[SourceError] = []
        rounds: list[TargetRound] = []
        for target, got in results:
            if isinstance(got, SourceError):
                errors.append(got)
                continue
            rounds.append(TargetRound(target, self._baseline(target, got, window_seconds), got))
        if self.targets and not rounds:
            errors.append(SourceError(SOURCE_KIND, "no scrape target answered", None))
        if not self.targets:
            errors.append(SourceError(SOURCE_KIND, "no scrape targets configured", None))
        notes: list[str] = []
        fields = ScrapedFields()
        try:
            fields = answers_from_rounds(self.settings, self.preset, rounds)
        except ValueError as exc:
            errors.append(SourceError(SOURCE_KIND, _one_line(str(exc)), None))
        spans = [r.cur.at - r.prev.at for r in rounds if r.prev is not None]
        self.last_span_seconds = max(spans) if spans else None
        note = interval_note(rounds)
        if note:
            notes.append(note)
        return RawAnswers(
            taken_at=taken_at,
            window_seconds=window_seconds,
            source_kind=SOURCE_KIND,
            source_url=", ".join(redact_url(t.url) for t in self.targets) or None,
            queries=self._queries(),
            query_count=sent,
            errors=tuple(errors),
            notes=tuple(notes),
            histograms=fields.histograms,
            open_fds=fields.open_fds,
            max_fds=fields.max_fds,
            fds=fields.fds,
            in_flight=fields.in_flight,
            cpu_cores=fields.cpu_cores,
            cpu_request_cores=fields.cpu_request_cores,
            hpas=fields.hpas,
            pod_workloads=fields.pod_workloads,
            pod_groups=fields.pod_groups,
        )

    def _baseline(self, target: ScrapeTarget, cur: Scrape, window_seconds: int) -> Scrape | None:
        """Remember ``cur``; return the baseline for rates over the window (see module)."""
        kept = self._history.get(target)
        if kept is None:
            self._history[target] = Retained(cur)
            return None
        return kept.advance(cur, window_seconds)

    def _queries(self) -> dict[str, str]:
        """Part name -> what was read, with the Prometheus source's part names."""
        n = len(self.targets)
        out: dict[str, str] = {}
        for chain, kinds in _chains(self.preset).items():
            names = " or ".join(f"{m}_bucket" for m in chain)
            out[HISTOGRAM_PARTS[kinds[0]]] = (
                f"{names}: increase over the window, {n} targets; fleet, group and "
                "per-pod p99 computed locally"
            )
        gauges = ", ".join(x for x in (OPEN_FDS, MAX_FDS, self.preset.in_flight) if x)
        out[QueryPart.POD_GAUGES] = f"{gauges}: last scrape of {n} targets"
        out[QueryPart.CPU] = (
            f"{CPU_COUNTER} (container not '' or 'POD'): increase over the window; "
            f'{CPU_REQUESTS}{{resource="cpu"}}: last scrape'
        )
        out[QueryPart.HPA] = f"{HPA_PREFIX}*: last scrape"
        return {str(name): text for name, text in out.items()}
