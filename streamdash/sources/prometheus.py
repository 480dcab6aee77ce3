"""The Prometheus source: a constant number of PromQL queries per refresh -> RawAnswers.

Queries (``QueryPart`` values: the keys of ``RawAnswers.queries`` and the ``part`` of
errors): one ``<kind>_buckets`` per distinct histogram (its fleet and group buckets,
``_sum``/``_count`` rates and, for TTFT and stream, each pod's p99 and overflow inputs,
all aggregated by Prometheus), ``pod_gauges`` (with group membership), ``cpu``, ``hpa``
and (``with_history``) ``history``: at most 8 requests whatever the pod count, sent
concurrently, each bounded by the configured timeout. Nothing raises out of
``fetch``: a failed query becomes one ``SourceError`` line and its values stay absent.

``PrometheusConnect`` (prometheus-api-client) owns the HTTP session: auth, headers,
TLS and a no-retry policy so a dead server fails fast. Requests go through that session
directly so Prometheus's ``warnings`` and error bodies are not lost.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from streamdash import sanitise
from streamdash.core.history import splice
from streamdash.core.parts import HISTOGRAM_PARTS, QueryPart
from streamdash.core.raw import (
    HISTOGRAM_KINDS,
    PER_POD_KINDS,
    WORKLOAD_KIND_LABEL,
    WORKLOAD_LABEL,
    FdRaw,
    GroupLabels,
    HistogramRaw,
    HistoryRaw,
    HpaRaw,
    PodHistogram,
    RawAnswers,
    SeriesPoint,
    SourceError,
    WorkloadRef,
)
from streamdash.redact import one_line, redact_url, split_userinfo
from streamdash.settings import Settings
from streamdash.sources import fds, http, kube, promql, recorded, unchanged
from streamdash.sources import labels as conventions

SOURCE = "prometheus"
PROBE = "recorded_probe"
"""The query name of the one probe for recorded series (first refresh of a window)."""
_MAX_DETAIL = 240
SKEW_RESEND_SECONDS = 2.0
HISTORY_REASK_STEPS = 4
"""How many of the newest chart steps an incremental history fetch asks again (their
values can still change while late samples arrive); 4 x 15 s covers a 1 min lag."""
"""A clock skew (from ``Date``, 1 s resolution) from which queries use the server's."""


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class _Answer:
    """One query's outcome: result rows or an error line, plus warnings."""

    result: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    warnings: tuple[str, ...] = ()
    skew: float | None = None
    """Server clock minus ours from the ``Date`` header (±0.5 s), when there was one."""
    digest: bytes | None = None
    """A refresh's instant answer without its timestamps (``unchanged.digest``)."""
    body: bytes | None = None
    """Not decoded yet: the body equals the last assembled refresh's (same digest)."""


def _one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _describe_http(answer: http.Answer, secrets: tuple[str, ...]) -> str:
    """One line for a non-200 answer; the body is masked before it is cut."""
    status = f"HTTP {answer.status} {answer.reason}".rstrip()
    hint = {401: " (check the bearer token or basic auth)", 403: " (access denied)"}.get(
        answer.status, ""
    )
    if hint:  # an auth failure's body may echo the credentials back: never show it
        return f"{status}{hint}"
    try:
        body = sanitise.loads_json(answer.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        error = one_line(str(body["error"]), _MAX_DETAIL, secrets)
        return f"{status}: {one_line(str(body.get('errorType', 'error')), 40, secrets)}: {error}"
    text = one_line(answer.text, 120, secrets) if answer.body else ""
    return status + (f": {text}" if text else "")


def _parse_body(content: bytes, secrets: tuple[str, ...] = ()) -> _Answer:
    try:
        body = sanitise.loads_json(content)
    except ValueError as exc:
        return _Answer(error=f"malformed JSON in the answer ({_one_line(str(exc), 80)})")
    if not isinstance(body, dict):
        return _Answer(error="malformed answer: not a JSON object")
    warnings = tuple(one_line(str(w), _MAX_DETAIL, secrets) for w in body.get("warnings") or ())
    if body.get("status") != "success":
        kind = one_line(str(body.get("errorType", "error")), 40, secrets)
        detail = one_line(str(body.get("error", "")), _MAX_DETAIL, secrets)
        return _Answer(
            error=f'"status":"error": {kind}: {detail}',
            warnings=warnings,
        )
    data = body.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        return _Answer(error="malformed answer: no data.result list", warnings=warnings)
    return _Answer(result=result, warnings=warnings)


def _number(raw: Any) -> float | None:
    """A sample value (string in the API) as float; None for NaN or garbage."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _instant(row: Mapping[str, Any]) -> float | None:
    pair = row.get("value")
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    return _number(pair[1])


def _bucket_rate(row: Mapping[str, Any]) -> float | None:
    """A bucket rate; NaN is kept (it is Prometheus's answer and makes the percentiles
    that depend on it unknown, as in ``histogram_quantile``); None for garbage."""
    pair = row.get("value")
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    try:
        return float(pair[1])
    except (TypeError, ValueError):
        return None


def _labels(row: Mapping[str, Any]) -> Mapping[str, str]:
    metric = row.get("metric")
    return metric if isinstance(metric, dict) else {}


def _points(row: Mapping[str, Any]) -> tuple[SeriesPoint, ...]:
    values = row.get("values")
    out = []
    for pair in values if isinstance(values, list) else ():
        if isinstance(pair, list | tuple) and len(pair) == 2:
            t = _number(pair[0])
            if t is not None:
                out.append(SeriesPoint(t=t, v=_number(pair[1])))
    return tuple(out)


# --------------------------------------------------------------------------- the source


@dataclass(frozen=True)
class _HistPlan:
    """One histogram request: its metric chain and the kinds it fills."""

    metrics: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def per_pod(self) -> bool:
        return bool(PER_POD_KINDS.intersection(self.kinds))


@dataclass(frozen=True)
class _Plan:
    """What the preset and settings ask for."""

    histograms: Mapping[QueryPart, _HistPlan]
    in_flight: str | None
    ttft: tuple[str, ...] | None
    stream: tuple[str, ...] | None
    group_labels: tuple[str, ...] = ()
    workloads: bool = False


def _plan(settings: Settings) -> _Plan:
    preset = settings.preset
    if preset is None:
        return _Plan({}, None, None, None)
    by_chain: dict[tuple[str, ...], tuple[str, ...]] = {}
    for kind in HISTOGRAM_KINDS:
        chain = preset.histogram(kind).metrics
        for metric in chain:
            promql.check_metric_name(metric)
        if chain:
            by_chain[chain] = (*by_chain.get(chain, ()), kind)
    if preset.in_flight:
        promql.parse_metric_selector(preset.in_flight, "in_flight")
    labels, workloads = promql.group_plan(settings)
    return _Plan(
        histograms={HISTOGRAM_PARTS[k[0]]: _HistPlan(c, k) for c, k in by_chain.items()},
        in_flight=preset.in_flight,
        ttft=preset.ttft.metrics or None,
        stream=preset.stream.metrics or None,
        group_labels=labels,
        workloads=workloads,
    )


def source_scope(settings: Settings) -> promql.Scope:
    """Who the source asks: namespace, selector and ``--model`` (ValueError, one line,
    for a bad selector or label name)."""
    scope = promql.Scope.build(
        settings.namespace, settings.selector, settings.pod_label, settings.namespace_label
    )
    return dataclasses.replace(scope, app=(*scope.app, *promql.model_matchers(settings)))


def pod_promql(settings: Settings, pod: str, window_seconds: int) -> dict[str, str]:
    """The queries of ``fetch_pod_history`` for ``pod``, one per chart series, as this
    source would send them (``promql.pod_queries``); ValueError for settings that cannot
    form a query."""
    plan = _plan(settings)
    return promql.pod_queries(
        pod, plan.ttft, plan.stream, plan.in_flight, source_scope(settings), window_seconds
    )


_R = TypeVar("_R")


class PrometheusSource:
    """Fetches one refresh's ``RawAnswers`` from Prometheus; never raises from ``fetch``.

    The constructor raises ValueError (one line) for settings that cannot form a query:
    no URL, a bad selector, pod label or metric name.
    """

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        *,
        recorded: bool = False,
    ) -> None:
        prom = settings.prometheus
        if not prom.url:
            raise ValueError("prometheus.url is not set")
        parts = urlsplit(prom.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"prometheus.url must be http(s)://host[:port][/path], got {redact_url(prom.url)!r}"
            )
        self._settings = settings
        self._scope = source_scope(settings)
        self._plan = _plan(settings)
        self._timeout = float(prom.timeout_seconds)
        self.source_url = redact_url(prom.url).rstrip("/")
        clean, url_user, url_password = split_userinfo(prom.url)
        clean_parts = urlsplit(clean)
        base = urlunsplit((clean_parts.scheme, clean_parts.netloc, parts.path.rstrip("/"), "", ""))

        headers = dict(prom.headers)
        if prom.bearer_token:
            headers["Authorization"] = f"Bearer {prom.bearer_token}"
        user, password = prom.basic_auth_user, prom.basic_auth_password
        if user is None and url_user:
            user, password = url_user, url_password or ""
        auth = (user, password or "") if user is not None else None
        basic = base64.b64encode(f"{user}:{password or ''}".encode()).decode() if auth else None
        secrets = (prom.bearer_token, password, basic, *prom.headers.values())
        self._secrets = tuple(s for s in secrets if s and len(s) >= 3)

        session = http.NoRedirectSession()
        self._policy = http.policy_for(settings)
        session.verify = self._policy.verify
        self._client = PrometheusConnect(
            url=base,
            headers=headers,
            retry=Retry(total=0, connect=0, read=0, status=0, redirect=0, raise_on_status=False),
            auth=auth,
            session=session,
            timeout=self._timeout,
        )
        self._session = session
        self._http = http.RequestsTransport(session, self._policy, clock)
        self._clock = clock
        self._skew: float | None = None
        """Prometheus's clock minus ours, seconds (None until measured)."""
        self._skew_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=9, thread_name_prefix="streamdash-prom")
        self._closed = False
        self._probed = False
        self._use_recorded = recorded
        """Probe for streamdash's recorded series (``streamdash rules``) and read them."""
        self._recorded: dict[int, frozenset[str]] = {}
        """window -> hashes of the rules whose series exist (probed once per window)."""
        self.last_history_error: SourceError | None = None
        """Why the last ``fetch_pod_history`` returned None (None when it succeeded)."""
        self._charts: _ChartCache | None = None
        """The last chart history answered, to ask only for the steps after it."""
        self._last: _LastRefresh | None = None
        """The last assembled refresh, reused while its answers stay the same."""
        self.reused_refreshes = 0
        """Refreshes answered exactly as the last (their answers were not decoded again)."""

    def __repr__(self) -> str:
        return f"PrometheusSource(url={self.source_url!r})"

    # -- HTTP

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _request(
        self, path: str, params: Mapping[str, str], same_at: float | None = None
    ) -> _Answer:
        """One API request; with ``same_at`` (a refresh's instant query asked at that
        time) an answer equal to the last assembled refresh's is not decoded."""
        try:
            answer = self._http.request(
                "POST",
                f"{self._client.url}{path}",
                data=params,
                headers=self._client.headers,
                auth=self._client.auth,
            )
        except http.HttpError as exc:
            return _Answer(error=str(exc))
        skew = None
        if answer.server_date is not None:  # Date has 1 s resolution: its middle
            skew = answer.server_date + 0.5 - answer.local_mid
        if answer.status != 200:
            return _Answer(error=_describe_http(answer, self._secrets), skew=skew)
        digest = None
        if same_at is not None:
            digest = unchanged.digest(answer.body, same_at)
            last = self._last
            query = params.get("query", "")
            if digest is not None and last is not None and last.digests.get(query) == digest:
                return _Answer(skew=skew, digest=digest, body=answer.body)
        return dataclasses.replace(
            _parse_body(answer.body, self._secrets), skew=skew, digest=digest
        )

    def _decoded(self, answer: _Answer) -> _Answer:
        """``answer`` with its rows (decoding a body ``_request`` kept undecoded)."""
        if answer.body is None:
            return answer
        parsed = _parse_body(answer.body, self._secrets)
        return dataclasses.replace(parsed, skew=answer.skew, digest=answer.digest)

    def api_data(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> tuple[Any, str | None]:
        """GET an API path (``/api/v1/rules``): the answer's ``data``, or None and one
        error line (credentials scrubbed). For callers outside the refresh (advise)."""
        query = urlencode(dict(params or {}))
        try:
            answer = self._http.request(
                "GET",
                f"{self._client.url}{path}" + (f"?{query}" if query else ""),
                headers=self._client.headers,
                auth=self._client.auth,
            )
        except http.HttpError as exc:
            return None, self._scrub(f"{path}: {exc}")
        if answer.status != 200:
            return None, self._scrub(f"{path}: {_describe_http(answer, self._secrets)}")
        try:
            body = sanitise.loads_json(answer.body)
        except ValueError:
            return None, f"{path}: malformed JSON in the answer"
        if not isinstance(body, dict) or body.get("status") != "success":
            return None, f"{path}: the answer is not status success"
        return body.get("data"), None

    def instant_rows(self, promql_text: str, at: float) -> tuple[list[dict[str, Any]], str | None]:
        """One instant query for callers outside the refresh: rows, or [] and an error."""
        answer = self._query(promql_text, at)
        return answer.result, (self._scrub(answer.error) if answer.error else None)

    def _query(self, promql_text: str, at: float, *, refresh: bool = False) -> _Answer:
        """An instant query (``refresh``: one of a refresh's, see ``_request``)."""
        params = {"query": promql_text, "time": f"{at:.3f}"}
        return self._request("/api/v1/query", params, at if refresh else None)

    def _query_range(self, promql_text: str, start: float, end: float, step: int) -> _Answer:
        params = {
            "query": promql_text,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": str(step),
        }
        return self._request("/api/v1/query_range", params)

    def _error(self, part: str, message: str) -> SourceError:
        line = self._scrub(f"query {str(part)!r} to {self.source_url}: {message}")
        return SourceError(source=SOURCE, part=str(part), message=line)

    # -- fetch

    def queries(self, window_seconds: int, *, with_history: bool = True) -> dict[str, str]:
        """Query name -> PromQL for one refresh (what ``fetch`` sends)."""
        scope, plan = self._scope, self._plan
        out: dict[str, str] = {}
        for part, hist in plan.histograms.items():
            out[part] = promql.histogram_query(
                hist.metrics,
                scope,
                window_seconds,
                per_pod=hist.per_pod,
                group_labels=plan.group_labels,
                workloads=plan.workloads,
            )
        members = promql.group_members(
            [h.metrics for h in plan.histograms.values()],
            plan.in_flight,
            scope,
            plan.group_labels,
        )
        out[QueryPart.POD_GAUGES] = promql.pod_gauges(plan.in_flight, scope, members)
        out[QueryPart.CPU] = promql.cpu(scope, window_seconds)
        out[QueryPart.HPA] = kube.kube_query(scope.cluster)
        if with_history:
            names = [m for h in plan.histograms.values() for m in h.metrics]
            fleet = promql.fleet_pods(names, plan.in_flight, scope)
            if fleet:  # CPU-implied replicas over the scaled workload's pods only
                fleet = kube.scaled_pods(fleet, scope.cluster, self._settings.hpa)
            history = promql.history(
                plan.ttft,
                plan.stream,
                fleet,
                scope,
                window_seconds,
                self._settings.hpa,
                self._settings.cpu_target_utilization,
            )
            if history:
                out[QueryPart.HISTORY] = history
        return {str(name): text for name, text in out.items()}  # plain str keys

    def fetch(
        self,
        window_seconds: int,
        *,
        with_history: bool = True,
        now: float | None = None,
        on_partial: Callable[[RawAnswers], None] | None = None,
    ) -> RawAnswers:
        """Send every query concurrently and assemble the answers; never raises.

        When ``namespace`` finds no pods (and no query failed), one probe query looks
        for the other label conventions (``sources.labels``); a match is adopted for
        this and every later refresh and said in a note, else the note lists the
        namespaces that do export the preset's series.

        Without ``now`` the instant is Prometheus's clock (ours corrected by the skew its
        ``Date`` headers show; on the first fetch a skew of ``SKEW_RESEND_SECONDS`` or
        more sends the queries again at the corrected instant).

        ``on_partial`` (the TUI's first frame) is called once, from this thread, with
        the answers so far when every part but some histograms has answered: those
        histograms' kinds are in ``RawAnswers.pending``. Not called when all answer
        together.
        """
        first = self._skew is None
        at = self.server_now() if now is None else float(now)
        raw = self._fetch(window_seconds, with_history, at, on_partial)
        skew = self._skew
        if now is None and first and skew is not None and abs(skew) >= SKEW_RESEND_SECONDS:
            # asked at our (wrong) instant: ask again at Prometheus's before judging
            again = self._fetch_probed(window_seconds, with_history, self.server_now())
            raw = dataclasses.replace(again, query_count=again.query_count + raw.query_count)
        else:
            raw = self._probe_after(raw, window_seconds, with_history, at)
        note = self.skew_note()
        if note:
            raw = dataclasses.replace(raw, notes=(*raw.notes, note))
        return raw

    def _fetch_probed(self, window_seconds: int, with_history: bool, at: float) -> RawAnswers:
        """One round at ``at``, with the label-convention probe when nothing matched."""
        raw = self._fetch(window_seconds, with_history, at)
        return self._probe_after(raw, window_seconds, with_history, at)

    def _probe_after(
        self, raw: RawAnswers, window_seconds: int, with_history: bool, at: float
    ) -> RawAnswers:
        """``raw``, or (no pods found) the answers after the label-convention probe."""
        if not self._needs_probe(raw):
            return raw
        self._probed = True
        convention, note, sent = self._probe(at)
        if convention is None:
            return dataclasses.replace(
                raw, notes=(*raw.notes, note), query_count=raw.query_count + sent
            )
        settings = self._settings
        self._scope = promql.Scope.build(
            settings.namespace, settings.selector, convention.pod_label, convention.namespace_label
        )
        again = self._fetch(window_seconds, with_history, at)
        return dataclasses.replace(
            again,
            notes=(note, *again.notes),
            query_count=raw.query_count + sent + again.query_count,
        )

    def server_now(self) -> float:
        """Now by Prometheus's clock as far as known (ours when the skew is small)."""
        skew = self._skew or 0.0
        return self._clock() + (skew if abs(skew) >= SKEW_RESEND_SECONDS else 0.0)

    @property
    def clock_skew(self) -> float | None:
        """Prometheus's clock minus ours, seconds (±0.5 s); None until an answer came."""
        return self._skew

    def skew_note(self) -> str | None:
        """One note when the skew is over ``clock_skew_note_seconds``."""
        skew = self._skew
        if skew is None or abs(skew) <= self._settings.clock_skew_note_seconds:
            return None
        side = "ahead of" if skew < 0 else "behind"
        return (
            f"clock: this machine's clock is {abs(skew):.0f} s {side} Prometheus's "
            "(its Date header); queries are evaluated at Prometheus's time"
        )

    def _needs_probe(self, raw: RawAnswers) -> bool:
        settings = self._settings
        if self._probed or not settings.namespace or raw.errors or self._closed:
            return False
        if self._scope.namespace_label != "namespace" or not self._probe_series():
            return False
        return not raw.in_flight and not any(h.pods for h in raw.histograms.values())

    def _probe_series(self) -> list[str]:
        series = [f"{m}_count" for h in self._plan.histograms.values() for m in h.metrics]
        if self._plan.in_flight:
            series.append(promql.parse_metric_selector(self._plan.in_flight, "in_flight")[0])
        return list(dict.fromkeys(series))

    def _bounded(self, call: Callable[[], _R]) -> _R:
        """``call()`` (a prometheus-api-client lookup) within the same whole-request
        deadline as every other request; ``http.HttpError`` past it."""
        return http.with_deadline(lambda _deadline, _cancel: call(), self._policy.timeout_seconds)

    def _probe(self, at: float) -> tuple[conventions.Convention | None, str, int]:
        """(convention found, note, requests sent) — through prometheus-api-client's
        ``custom_query`` / ``get_label_values`` on this source's session and timeout."""
        namespace = self._settings.namespace or ""
        series = self._probe_series()
        query = conventions.probe_query(series, namespace)
        try:
            rows = self._bounded(
                lambda: self._client.custom_query(query, params={"time": f"{at:.3f}"})
            )
        except (
            PrometheusApiClientException,
            requests.RequestException,
            ValueError,
            http.HttpError,
        ) as exc:
            return (
                None,
                self._scrub(f"label convention probe failed: {_one_line(str(exc), 120)}"),
                1,
            )
        found = conventions.read_probe(rows if isinstance(rows, list) else [])
        if found is not None:
            return found, conventions.adopted_note(namespace, found), 1
        match = "{" + conventions.series_matcher(series).render() + "}"
        try:
            names = self._bounded(
                lambda: self._client.get_label_values("namespace", params={"match[]": match})
            )
        except (
            PrometheusApiClientException,
            requests.RequestException,
            ValueError,
            http.HttpError,
        ):
            names = []
        listed = sorted(str(n) for n in names) if isinstance(names, list) else []
        return None, conventions.missing_note(namespace, listed), 2

    def _fetch(
        self,
        window_seconds: int,
        with_history: bool,
        at: float,
        on_partial: Callable[[RawAnswers], None] | None = None,
    ) -> RawAnswers:
        """One round of queries at ``at``; remembers the skew the answers' Date shows."""
        raw, skew = self._fetch_at(at, window_seconds, with_history, on_partial)
        if skew is not None:
            self._skew = skew
        return raw

    def _fetch_at(
        self,
        at: float,
        window_seconds: int,
        with_history: bool,
        on_partial: Callable[[RawAnswers], None] | None = None,
    ) -> tuple[RawAnswers, float | None]:
        probe = self._probe_recorded(window_seconds, at) if not self._closed else None
        queries = self.sent_queries(window_seconds, with_history=with_history)
        history_s = self._settings.history_seconds
        step = promql.history_step(history_s)
        futures: dict[str, Future[_Answer]] = {}
        if self._closed:
            answers = {name: _Answer(error="the source is closed") for name in queries}
            return self._assemble(at, window_seconds, queries, answers, step, sent=0), None
        for name, text in queries.items():
            if name == "history":
                end = math.floor(at / step) * step  # aligned: equal answers within a step
                futures[name] = self._pool.submit(
                    self._query_range, text, end - history_s, end, step
                )
            else:
                futures[name] = self._pool.submit(self._query, text, at, refresh=True)
        if on_partial is not None:
            self._partial(at, window_seconds, queries, futures, step, on_partial)
        answers = {name: f.result() for name, f in futures.items()}
        skews = sorted(x.skew for x in answers.values() if x.skew is not None)
        skew = skews[len(skews) // 2] if skews else None
        key = (window_seconds, tuple(queries.items()))
        last = self._last
        if (
            probe is None
            and last is not None
            and last.key == key
            and last.digests == {queries[name]: a.digest for name, a in answers.items()}
        ):
            self.reused_refreshes += 1
            return dataclasses.replace(last.raw, taken_at=at), skew
        answers = {name: self._decoded(a) for name, a in answers.items()}
        self._check_recorded(window_seconds, queries, answers)
        if probe is not None:  # sent before the others, so this refresh reads the series
            queries = {PROBE: probe[0], **queries}
            answers = {PROBE: probe[1], **answers}
        raw = self._assemble(at, window_seconds, queries, answers, step, sent=len(answers))
        self._remember(key, answers, raw, probe is None)
        return raw, skew

    def _remember(
        self,
        key: tuple[int, tuple[tuple[str, str], ...]],
        answers: Mapping[str, _Answer],
        raw: RawAnswers,
        plain: bool,
    ) -> None:
        """Keep ``raw`` for reuse when every answer of the refresh has a digest (no
        errors, no range query) and it sent nothing but its own queries (``plain``)."""
        whole = all(a.digest is not None and a.error is None for a in answers.values())
        if not (plain and whole):
            self._last = None
            return
        texts = dict(key[1])
        digests = {texts[name]: a.digest for name, a in answers.items()}
        self._last = _LastRefresh(key, digests, raw)

    def _partial(
        self,
        at: float,
        window_seconds: int,
        queries: Mapping[str, str],
        futures: Mapping[str, Future[_Answer]],
        step: int,
        on_partial: Callable[[RawAnswers], None],
    ) -> None:
        """Once every part but the histograms has answered, hand the answers so far to
        ``on_partial`` with the unanswered histograms' kinds pending (nothing when all
        have answered by then). The histograms are the slow queries: the pods' FDs, CPU
        and the HPA can be shown seconds before the latency."""
        slow = {part: futures[part] for part in self._plan.histograms if part in futures}
        wait([f for name, f in futures.items() if name not in slow and name != "history"])
        waiting = [part for part, f in slow.items() if not f.done()]
        if not waiting:
            return
        answered = {
            name: self._decoded(f.result())
            for name, f in futures.items()
            if name != "history" and name not in waiting and f.done()
        }
        raw = self._assemble(at, window_seconds, queries, answered, step, sent=len(answered))
        kinds = tuple(k for part in waiting for k in self._plan.histograms[part].kinds)
        on_partial(dataclasses.replace(raw, pending=kinds))

    # -- recorded series (streamdash rules)

    def recording_rules(self, window_seconds: int) -> list[recorded.Rule]:
        """The recording rules for one window: this source's own queries, verbatim."""
        return recorded.rules_for(self.queries(window_seconds, with_history=True), window_seconds)

    def sent_queries(self, window_seconds: int, *, with_history: bool = True) -> dict[str, str]:
        """``queries`` with every part whose recorded series exist read from them."""
        queries = self.queries(window_seconds, with_history=with_history)
        found = self._recorded.get(window_seconds)
        if not found:
            return queries
        rules = {r.part: r for r in recorded.rules_for(queries, window_seconds)}
        return {
            name: rules[name].selector if name in rules and rules[name].hash in found else text
            for name, text in queries.items()
        }

    def recorded_parts(self, window_seconds: int) -> frozenset[str]:
        """Parts read from recorded series over this window (after the probe)."""
        found = self._recorded.get(window_seconds, frozenset())
        return frozenset(r.part for r in self.recording_rules(window_seconds) if r.hash in found)

    def _probe_recorded(self, window_seconds: int, at: float) -> tuple[str, _Answer] | None:
        """Once per window: which of this window's rules have series. A failed probe
        is not kept (the next refresh asks again) and leaves every part live."""
        if not self._use_recorded or window_seconds in self._recorded:
            return None
        text = recorded.probe_query(self.recording_rules(window_seconds))
        if text is None:
            return None
        answer = self._query(text, at)
        if answer.error is not None:
            return None
        self._recorded[window_seconds] = recorded.present(answer.result)
        return text, answer

    def _check_recorded(
        self, window_seconds: int, sent: Mapping[str, str], answers: Mapping[str, _Answer]
    ) -> None:
        """A recorded part that answered nothing (rules removed, series gone stale):
        ask live from the next refresh on, after a new probe."""
        if not self._recorded.get(window_seconds):
            return
        for name, text in sent.items():
            answer = answers.get(name)
            if recorded.is_recorded(text) and answer is not None and not answer.result:
                self._recorded.pop(window_seconds, None)
                return

    def fetch_range(
        self, window_seconds: int, start: float, end: float, step: int
    ) -> list[RawAnswers]:
        """The refresh's own queries as range queries (one each, so a constant number):
        one ``RawAnswers`` per step from ``start`` to ``end``, each as ``fetch`` at that
        instant would have assembled it (a series absent at a step is absent there).
        A failed query is an error in every step's answers; never raises. Parts whose
        recorded series the probe found are read from them, as a refresh reads them."""
        queries = self.sent_queries(window_seconds, with_history=False)
        if self._closed:
            return []
        futures = {
            name: self._pool.submit(self._query_range, text, start, end, step)
            for name, text in queries.items()
        }
        answers = {name: f.result() for name, f in futures.items()}
        times: list[float] = []
        t = start
        while t <= end + 1e-9:
            times.append(t)
            t += step
        per_time: dict[str, dict[float, list[dict[str, Any]]]] = {}
        for name, answer in answers.items():
            slices: dict[float, list[dict[str, Any]]] = {}
            for row in answer.result:
                for point in row.get("values", ()):
                    at = round(float(point[0]), 3)
                    slices.setdefault(at, []).append(
                        {"metric": row.get("metric", {}), "value": point}
                    )
            per_time[name] = slices
        out = []
        for at in times:
            key = round(at, 3)
            instant = {
                name: _Answer(
                    result=per_time[name].get(key, []), error=a.error, warnings=a.warnings
                )
                for name, a in answers.items()
            }
            out.append(self._assemble(at, window_seconds, queries, instant, step, len(queries)))
        return out

    def fetch_history(
        self, window_seconds: int, hpa_name: str | None, now: float | None = None
    ) -> tuple[HistoryRaw | None, SourceError | None, tuple[str, ...]]:
        """Only the charts' range query (the slowest one), for a background fetch.

        Returns the history or the one-line error, and Prometheus's warnings as notes;
        never raises. The range ends at the last step boundary, so answers are equal
        within a step.
        """
        text = self.sent_queries(window_seconds, with_history=True).get("history")
        if text is None or self._closed:
            return None, None, ()
        at = self.server_now() if now is None else float(now)
        history_s = self._settings.history_seconds
        step = promql.history_step(history_s)
        end = math.floor(at / step) * step
        oldest = float(end - history_s)
        start = oldest
        cache = self._charts
        if cache is not None and cache.key == (text, step, hpa_name) and oldest < cache.end <= end:
            # asked before: only the steps after the last answer, plus a few again in
            # case samples arrived late (scrape and rule lag) for the newest points
            start = max(oldest, cache.end - HISTORY_REASK_STEPS * step)
        answer = self._query_range(text, start, end, step)
        notes = tuple(self._scrub(f"history: Prometheus warning: {w}") for w in answer.warnings)
        if answer.error:
            return None, self._error("history", answer.error), notes
        history = _history(answer.result, step, hpa_name)
        if start > oldest and cache is not None:
            history = splice(cache.history, history, start, oldest)
        self._charts = _ChartCache((text, step, hpa_name), end, history)
        return history, None, notes

    def _assemble(
        self,
        at: float,
        window_seconds: int,
        queries: Mapping[str, str],
        answers: Mapping[str, _Answer],
        step: int,
        sent: int,
    ) -> RawAnswers:
        errors = [self._error(n, a.error) for n, a in answers.items() if a.error]
        notes = [
            self._scrub(f"{n}: Prometheus warning: {w}")
            for n, a in answers.items()
            for w in a.warnings
        ]
        ok = {n: a.result for n, a in answers.items() if a.error is None}
        pod_label = self._scope.pod_label

        histograms: dict[str, HistogramRaw] = {}
        group_by = (
            (*self._plan.group_labels, WORKLOAD_KIND_LABEL, WORKLOAD_LABEL)
            if self._plan.workloads
            else self._plan.group_labels
        )
        for part, plan in self._plan.histograms.items():
            rows = ok.get(part)
            if rows is None:
                continue
            hist = _histogram(rows, plan, part, pod_label, group_by)
            for kind in plan.kinds:
                histograms[kind] = hist
        pod_rows = _by_piece(ok.get(QueryPart.POD_GAUGES, ()))
        in_flight = _by_pod(pod_rows.get(promql.Piece.IN_FLIGHT, ()), pod_label)
        members = _members(
            pod_rows.get(promql.Piece.MEMBER, ()), pod_label, self._plan.group_labels
        )
        fleet = {pod for h in histograms.values() for pod in h.pods} | set(in_flight)
        cpu_rows = _by_piece(ok.get(QueryPart.CPU, ()))
        cpu = {p: _by_pod(rows, promql.K8S_POD_LABEL) for p, rows in cpu_rows.items()}
        fd_map = _fds(pod_rows, pod_label, fleet)

        def only_fleet(values: Mapping[str, float]) -> dict[str, float]:
            return {pod: v for pod, v in values.items() if pod in fleet}

        hpas: tuple[HpaRaw, ...] = ()
        workloads: dict[str, WorkloadRef] = {}
        if QueryPart.HPA in ok:
            hpas, workloads = _kube(ok[QueryPart.HPA])
        if not fleet and not any(a.error for a in answers.values()):
            notes.append(f"no pods export the preset's metrics within {self._describe_scope()}")

        history = None
        if QueryPart.HISTORY in ok:
            chosen_name = self._settings.hpa or (hpas[0].name if len(hpas) == 1 else None)
            history = _history(ok[QueryPart.HISTORY], step, chosen_name)
        return RawAnswers(
            taken_at=at,
            window_seconds=window_seconds,
            source_kind=SOURCE,
            source_url=self.source_url,
            histograms=histograms,
            open_fds={p: f.open_fds for p, f in fd_map.items() if f.open_fds is not None},
            max_fds={p: f.max_fds for p, f in fd_map.items() if f.max_fds is not None},
            fds=fd_map,
            cpu_cores=only_fleet(cpu.get(promql.Piece.CPU, {})),
            cpu_request_cores=only_fleet(cpu.get(promql.Piece.CPU_REQUEST, {})),
            in_flight=in_flight,
            pod_groups=members,
            hpas=hpas,
            pod_workloads={pod: w for pod, w in workloads.items() if pod in fleet},
            history=history,
            queries=dict(queries),
            query_count=sent,
            errors=tuple(errors),
            notes=tuple(notes),
        )

    def _describe_scope(self) -> str:
        matchers = self._scope.app
        return "{" + ",".join(m.render() for m in matchers) + "}" if matchers else "all namespaces"

    def fetch_pod_history(
        self, pod: str, window_seconds: int, now: float | None = None
    ) -> HistoryRaw | None:
        """One range query for one pod's detail charts.

        None on failure; ``last_history_error`` then says why.
        """
        at = self.server_now() if now is None else float(now)
        plan = self._plan
        text = promql.pod_history(
            pod, plan.ttft, plan.stream, plan.in_flight, self._scope, window_seconds
        )
        history_s = self._settings.history_seconds
        step = promql.history_step(history_s)
        answer = self._query_range(text, at - history_s, at, step)
        if answer.error:
            self.last_history_error = self._error("pod_history", answer.error)
            return None
        self.last_history_error = None
        series: dict[str, tuple[SeriesPoint, ...]] = {}
        for row in answer.result:
            part = _labels(row).get(promql.PART_LABEL)
            if part:
                series[part] = _points(row)
        return HistoryRaw(series=series, step_seconds=float(step))

    def close(self) -> None:
        """Stop the worker threads and close the HTTP session; never waits on a request."""
        self._closed = True
        self._http.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


@dataclass(frozen=True)
class _LastRefresh:
    key: tuple[int, tuple[tuple[str, str], ...]]
    """(window, the queries sent) of the refresh."""
    digests: dict[str, bytes | None]
    """PromQL text -> its answer's ``unchanged.digest`` (``_request`` sees the text)."""
    raw: RawAnswers


@dataclass(frozen=True)
class _ChartCache:
    key: tuple[str, int, str | None]
    """(range query text, step, HPA) the history answered."""
    end: float
    history: HistoryRaw


# --------------------------------------------------------------------------- parsing


def _by_piece(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by their ``PART_LABEL`` piece (untagged rows are dropped), so each
    reader walks only its own rows."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        piece = _labels(row).get(promql.PART_LABEL)
        if piece:
            out.setdefault(piece, []).append(row)
    return out


def _by_pod(rows: Iterable[Mapping[str, Any]], pod_label: str) -> dict[str, float]:
    """pod -> value of one piece's rows (rows without a pod or a number are skipped)."""
    out: dict[str, float] = {}
    for row in rows:
        pod, value = _labels(row).get(pod_label), _instant(row)
        if pod and value is not None:
            out[pod] = value
    return out


def _group_key(labels: Mapping[str, str], group_by: tuple[str, ...]) -> GroupLabels:
    return tuple(sorted((name, labels[name]) for name in group_by if labels.get(name)))


def _histogram(
    rows: Iterable[Mapping[str, Any]],
    plan: _HistPlan,
    part: QueryPart,
    pod_label: str,
    group_by: tuple[str, ...],
) -> HistogramRaw:
    """One histogram part's tagged rows (see ``promql.histogram_query``)."""
    fleet: dict[float, float] = {}
    groups: dict[GroupLabels, dict[float, float]] = {}
    per_pod: dict[str, dict[str, float | None]] = {}
    totals: dict[str, float | None] = {}
    piece = promql.Piece
    for row in rows:
        labels = _labels(row)
        tagged = labels.get(promql.PART_LABEL)
        if tagged in (piece.FLEET, piece.GROUP):
            le, value = _number(labels.get("le")), _bucket_rate(row)
            if le is None or value is None:
                continue
            into = (
                fleet
                if tagged == piece.FLEET
                else groups.setdefault(_group_key(labels, group_by), {})
            )
            into[le] = into.get(le, 0.0) + value  # "1" and "1.0" are one bound
        elif tagged in (piece.SUM, piece.COUNT):
            totals[tagged] = _instant(row)
        elif tagged in (piece.POD_P99, piece.POD_TOP, piece.POD_COUNT):
            pod = labels.get(pod_label)
            if pod:
                per_pod.setdefault(pod, {})[tagged] = _instant(row)
    pods = {
        pod: PodHistogram(
            p99=v.get(piece.POD_P99),
            top_finite_rate=v.get(piece.POD_TOP),
            count_rate=v.get(piece.POD_COUNT),
        )
        for pod, v in per_pod.items()
    }
    if not fleet and groups:  # asked with groups: the fleet is their sum
        for buckets in groups.values():
            for le, value in buckets.items():
                fleet[le] = fleet.get(le, 0.0) + value
    return HistogramRaw(
        metric=plan.metrics[0],
        fleet=fleet or None,
        pods=pods,
        groups=groups,
        sum_rate=totals.get(piece.SUM),
        count_rate=totals.get(piece.COUNT),
        part=part,
        metrics=plan.metrics,
    )


def _members(
    rows: Iterable[Mapping[str, Any]], pod_label: str, group_by: tuple[str, ...]
) -> dict[str, tuple[GroupLabels, ...]]:
    """pod -> its groups, from the ``member`` rows of ``pod_gauges`` (``_by_piece``)."""
    out: dict[str, list[GroupLabels]] = {}
    for row in rows:
        labels = _labels(row)
        pod = labels.get(pod_label)
        if not pod:
            continue
        key = _group_key(labels, group_by)
        if key not in out.setdefault(pod, []):
            out[pod].append(key)
    return {pod: tuple(sorted(keys)) for pod, keys in out.items()}


def _fds(
    rows: Mapping[str, Sequence[Mapping[str, Any]]], pod_label: str, fleet: set[str]
) -> dict[str, FdRaw]:
    """The ``pod_gauges`` FD parts (``promql.fd_parts``; ``rows`` by piece, from
    ``_by_piece``) as each fleet pod's worst pair."""
    dropped = (promql.PART_LABEL, "__name__")

    def process(piece: str) -> list[tuple[str, dict[str, str], float]]:
        out = []
        for row in rows.get(piece, ()):
            metric = _labels(row)
            pod, value = metric.get(pod_label), _instant(row)
            if pod and value is not None:
                labels = {k: v for k, v in metric.items() if k not in dropped}
                out.append((pod, labels, value))
        return out

    pairs = fds.worst_pairs(
        fds.pair_series(process(promql.Piece.OPEN_FDS), process(promql.Piece.MAX_FDS))
    )
    containers: list[fds.ContainerRow] = []
    for piece, what in (
        (promql.Piece.CONTAINER_FDS, "fds"),
        (promql.Piece.CONTAINER_SOCKETS, "sockets"),
    ):
        for row in rows.get(piece, ()):
            metric = _labels(row)
            pod, value = metric.get(promql.K8S_POD_LABEL), _instant(row)
            if pod and value is not None:
                containers.append((pod, metric.get("container", ""), what, value))
    return fds.with_cadvisor(pairs, containers, sorted(fleet))


def _kube(rows: Iterable[Mapping[str, Any]]) -> tuple[tuple[HpaRaw, ...], dict[str, WorkloadRef]]:
    """The ``hpa`` part's answer (``kube.kube_query``): every HPA and pod -> workload."""
    samples: list[kube.Sample] = []
    joined: list[Mapping[str, str]] = []
    for row in rows:
        labels = _labels(row)
        if labels.get(promql.PART_LABEL) == kube.JOIN_PART:
            joined.append(labels)
            continue
        value = _instant(row)
        if value is not None:
            samples.append((str(labels.get("__name__", "")), labels, value))
    return kube.read_hpas(samples), kube.read_join(joined)


def _history(rows: Iterable[Mapping[str, Any]], step: int, hpa_name: str | None) -> HistoryRaw:
    """Series by part; ``replicas`` only for ``hpa_name`` (without one: the only HPA)."""
    rows = list(rows)
    if hpa_name is None:
        names = {
            _labels(r).get("horizontalpodautoscaler")
            for r in rows
            if _labels(r).get(promql.PART_LABEL) == "replicas"
        }
        hpa_name = names.pop() if len(names) == 1 else None
    series: dict[str, tuple[SeriesPoint, ...]] = {}
    for row in rows:
        labels = _labels(row)
        part = labels.get(promql.PART_LABEL)
        if not part:
            continue
        if part == "replicas" and (
            hpa_name is None or labels.get("horizontalpodautoscaler") != hpa_name
        ):
            continue
        series[part] = _points(row)
    return HistoryRaw(series=series, step_seconds=float(step))
