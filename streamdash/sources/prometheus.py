"""The Prometheus source: a constant number of PromQL queries per refresh -> RawAnswers.

Queries (names are the keys of ``RawAnswers.queries`` and the ``part`` of errors):
``<kinds>_buckets`` per distinct histogram metric, ``sum_count``, ``pod_gauges``,
``cpu``, ``hpa`` and (``with_history``) ``history``: at most 9 requests, sent
concurrently, each bounded by the configured timeout. Nothing raises out of
``fetch``: a failed query becomes one ``SourceError`` line and its values stay absent.

``PrometheusConnect`` (prometheus-api-client) owns the HTTP session: auth, headers,
TLS and a no-retry policy so a dead server fails fast. Requests go through that session
directly so Prometheus's ``warnings`` and error bodies are not lost.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from streamdash.core.raw import (
    HISTOGRAM_KINDS,
    HistogramRaw,
    HistoryRaw,
    HpaRaw,
    RawAnswers,
    SeriesPoint,
    SourceError,
    WorkloadRef,
)
from streamdash.redact import redact_url
from streamdash.settings import Settings
from streamdash.sources import kube, promql

SOURCE = "prometheus"
_MAX_DETAIL = 240


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class _Answer:
    """One query's outcome: result rows or an error line, plus warnings."""

    result: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    warnings: tuple[str, ...] = ()


def _one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    cur: BaseException = exc
    while id(cur) not in seen:
        seen.add(id(cur))
        nxt = cur.__cause__ or cur.__context__
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            nxt = reason
        if nxt is None:
            break
        cur = nxt
    return cur


def _describe_exception(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, requests.Timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "answer cut short: the connection closed before the whole body arrived"
    root = _root_cause(exc)
    text = str(root)
    if isinstance(root, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if isinstance(root, socket.gaierror) or "Name or service not known" in text:
        return "cannot resolve host"
    if isinstance(root, ssl.SSLError | requests.exceptions.SSLError):
        return f"TLS error: {_one_line(getattr(root, 'reason', None) or text, 120)}"
    if isinstance(root, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(root, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed ({type(root).__name__})"
    return f"request failed ({type(exc).__name__})"


def _describe_http(response: requests.Response) -> str:
    status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
    hint = {401: " (check the bearer token or basic auth)", 403: " (access denied)"}.get(
        response.status_code, ""
    )
    if hint:  # an auth failure's body may echo the credentials back: never show it
        return f"{status}{hint}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return f"{status}{hint}: {body.get('errorType', 'error')}: {_one_line(str(body['error']))}"
    text = _one_line(response.text, 120) if response.text else ""
    return f"{status}{hint}" + (f": {text}" if text else "")


def _parse_body(response: requests.Response) -> _Answer:
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        return _Answer(error=f"malformed JSON in the answer ({_one_line(str(exc), 80)})")
    if not isinstance(body, dict):
        return _Answer(error="malformed answer: not a JSON object")
    warnings = tuple(_one_line(str(w)) for w in body.get("warnings") or ())
    if body.get("status") != "success":
        kind = body.get("errorType", "error")
        return _Answer(
            error=f'"status":"error": {kind}: {_one_line(str(body.get("error", "")))}',
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
class _Plan:
    """What the preset asks for: histogram metrics (deduped) and the in-flight gauge."""

    kinds_by_metric: Mapping[str, tuple[str, ...]]
    in_flight: str | None
    ttft: str | None
    stream: str | None


def _plan(settings: Settings) -> _Plan:
    preset = settings.preset
    kinds_by_metric: dict[str, tuple[str, ...]] = {}
    if preset is None:
        return _Plan({}, None, None, None)
    for kind in HISTOGRAM_KINDS:
        metric = preset.histogram(kind).metric
        if metric:
            promql.check_metric_name(metric)
            kinds_by_metric[metric] = (*kinds_by_metric.get(metric, ()), kind)
    if preset.in_flight:
        promql.parse_metric_selector(preset.in_flight, "in_flight")
    return _Plan(
        kinds_by_metric=kinds_by_metric,
        in_flight=preset.in_flight,
        ttft=preset.ttft.metric,
        stream=preset.stream.metric,
    )


class PrometheusSource:
    """Fetches one refresh's ``RawAnswers`` from Prometheus; never raises from ``fetch``.

    The constructor raises ValueError (one line) for settings that cannot form a query:
    no URL, a bad selector, pod label or metric name.
    """

    def __init__(self, settings: Settings) -> None:
        prom = settings.prometheus
        if not prom.url:
            raise ValueError("prometheus.url is not set")
        parts = urlsplit(prom.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"prometheus.url must be http(s)://host[:port][/path], got {redact_url(prom.url)!r}"
            )
        self._settings = settings
        self._scope = promql.Scope.build(settings.namespace, settings.selector, settings.pod_label)
        self._plan = _plan(settings)
        self._timeout = float(prom.timeout_seconds)
        self.source_url = redact_url(prom.url).rstrip("/")
        base = urlunsplit(
            (parts.scheme, parts.netloc.rpartition("@")[2], parts.path.rstrip("/"), "", "")
        )

        headers = dict(prom.headers)
        if prom.bearer_token:
            headers["Authorization"] = f"Bearer {prom.bearer_token}"
        user, password = prom.basic_auth_user, prom.basic_auth_password
        if user is None and parts.username:
            user, password = parts.username, parts.password or ""
        auth = (user, password or "") if user is not None else None
        basic = base64.b64encode(f"{user}:{password or ''}".encode()).decode() if auth else None
        secrets = (prom.bearer_token, password, basic, *prom.headers.values())
        self._secrets = tuple(s for s in secrets if s and len(s) >= 3)

        session = requests.Session()
        session.verify = prom.ca_file if prom.ca_file else prom.tls_verify
        self._client = PrometheusConnect(
            url=base,
            headers=headers,
            retry=Retry(total=0, connect=0, read=0, status=0, redirect=0, raise_on_status=False),
            auth=auth,
            session=session,
            timeout=self._timeout,
        )
        self._session = session
        self._pool = ThreadPoolExecutor(max_workers=9, thread_name_prefix="streamdash-prom")
        self._closed = False
        self.last_history_error: SourceError | None = None
        """Why the last ``fetch_pod_history`` returned None (None when it succeeded)."""

    def __repr__(self) -> str:
        return f"PrometheusSource(url={self.source_url!r})"

    # -- HTTP

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _request(self, path: str, params: Mapping[str, str]) -> _Answer:
        try:
            response = self._session.request(
                method="POST",
                url=f"{self._client.url}{path}",
                data=dict(params),
                headers=self._client.headers,
                auth=self._client.auth,
                timeout=self._timeout,
            )
        except (requests.RequestException, OSError) as exc:
            return _Answer(error=_describe_exception(exc, self._timeout))
        try:
            if response.status_code != 200:
                return _Answer(error=_describe_http(response))
            return _parse_body(response)
        finally:
            response.close()

    def api_data(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> tuple[Any, str | None]:
        """GET an API path (``/api/v1/rules``): the answer's ``data``, or None and one
        error line (credentials scrubbed). For callers outside the refresh (advise)."""
        try:
            response = self._session.get(
                f"{self._client.url}{path}",
                params=dict(params or {}),
                headers=self._client.headers,
                auth=self._client.auth,
                timeout=self._timeout,
            )
        except (requests.RequestException, OSError) as exc:
            return None, self._scrub(f"{path}: {_describe_exception(exc, self._timeout)}")
        try:
            if response.status_code != 200:
                return None, self._scrub(f"{path}: {_describe_http(response)}")
            try:
                body = json.loads(response.content)
            except ValueError:
                return None, f"{path}: malformed JSON in the answer"
            if not isinstance(body, dict) or body.get("status") != "success":
                return None, f"{path}: the answer is not status success"
            return body.get("data"), None
        finally:
            response.close()

    def instant_rows(self, promql_text: str, at: float) -> tuple[list[dict[str, Any]], str | None]:
        """One instant query for callers outside the refresh: rows, or [] and an error."""
        answer = self._query(promql_text, at)
        return answer.result, (self._scrub(answer.error) if answer.error else None)

    def _query(self, promql_text: str, at: float) -> _Answer:
        return self._request("/api/v1/query", {"query": promql_text, "time": f"{at:.3f}"})

    def _query_range(self, promql_text: str, start: float, end: float, step: int) -> _Answer:
        params = {
            "query": promql_text,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": str(step),
        }
        return self._request("/api/v1/query_range", params)

    def _error(self, part: str, message: str) -> SourceError:
        line = self._scrub(f"query {part!r} to {self.source_url}: {message}")
        return SourceError(source=SOURCE, part=part, message=line)

    # -- fetch

    def queries(self, window_seconds: int, *, with_history: bool = True) -> dict[str, str]:
        """Query name -> PromQL for one refresh (what ``fetch`` sends)."""
        scope, plan = self._scope, self._plan
        out: dict[str, str] = {}
        for metric, kinds in plan.kinds_by_metric.items():
            per_pod = promql.PER_POD_KINDS.intersection(kinds)
            build = promql.bucket_rates if per_pod else promql.fleet_bucket_rates
            out[f"{'+'.join(kinds)}_buckets"] = build(metric, scope, window_seconds)
        if plan.kinds_by_metric:
            out["sum_count"] = promql.sum_count_rates(
                list(plan.kinds_by_metric), scope, window_seconds
            )
        out["pod_gauges"] = promql.pod_gauges(plan.in_flight, scope)
        out["cpu"] = promql.cpu(scope, window_seconds)
        out["hpa"] = kube.kube_query(scope.cluster)
        if with_history:
            fleet = promql.fleet_pods(list(plan.kinds_by_metric), plan.in_flight, scope)
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
                out["history"] = history
        return out

    def fetch(
        self, window_seconds: int, *, with_history: bool = True, now: float | None = None
    ) -> RawAnswers:
        """Send every query concurrently and assemble the answers; never raises."""
        at = time.time() if now is None else float(now)
        queries = self.queries(window_seconds, with_history=with_history)
        history_s = self._settings.history_seconds
        step = promql.history_step(history_s)
        futures: dict[str, Future[_Answer]] = {}
        if self._closed:
            answers = {name: _Answer(error="the source is closed") for name in queries}
            return self._assemble(at, window_seconds, queries, answers, step, sent=0)
        for name, text in queries.items():
            if name == "history":
                end = math.floor(at / step) * step  # aligned: equal answers within a step
                futures[name] = self._pool.submit(
                    self._query_range, text, end - history_s, end, step
                )
            else:
                futures[name] = self._pool.submit(self._query, text, at)
        answers = {name: f.result() for name, f in futures.items()}
        return self._assemble(at, window_seconds, queries, answers, step, sent=len(futures))

    def fetch_history(
        self, window_seconds: int, hpa_name: str | None, now: float | None = None
    ) -> tuple[HistoryRaw | None, SourceError | None, tuple[str, ...]]:
        """Only the charts' range query (the slowest one), for a background fetch.

        Returns the history or the one-line error, and Prometheus's warnings as notes;
        never raises. The range ends at the last step boundary, so answers are equal
        within a step.
        """
        text = self.queries(window_seconds, with_history=True).get("history")
        if text is None or self._closed:
            return None, None, ()
        at = time.time() if now is None else float(now)
        history_s = self._settings.history_seconds
        step = promql.history_step(history_s)
        end = math.floor(at / step) * step
        answer = self._query_range(text, end - history_s, end, step)
        notes = tuple(self._scrub(f"history: Prometheus warning: {w}") for w in answer.warnings)
        if answer.error:
            return None, self._error("history", answer.error), notes
        return _history(answer.result, step, hpa_name), None, notes

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
        sums = _tagged_by_pod(ok.get("sum_count", ()), pod_label)
        for metric, kinds in self._plan.kinds_by_metric.items():
            rows = ok.get(f"{'+'.join(kinds)}_buckets")
            if rows is None:
                continue
            per_pod = bool(promql.PER_POD_KINDS.intersection(kinds))
            by_pod = _buckets_by_pod(rows, pod_label) if per_pod else {}
            fleet_only = None if per_pod else _fleet_buckets(rows)
            for kind in kinds:
                histograms[kind] = HistogramRaw(
                    metric=metric,
                    by_pod=by_pod,
                    sum_rate_by_pod=sums.get(f"sum:{metric}", {}),
                    count_rate_by_pod=sums.get(f"count:{metric}", {}),
                    fleet=fleet_only,
                )
        gauges = _tagged_by_pod(ok.get("pod_gauges", ()), pod_label)
        fleet = {pod for h in histograms.values() for pod in h.by_pod} | set(
            gauges.get("in_flight", {})
        )
        cpu = _tagged_by_pod(ok.get("cpu", ()), promql.K8S_POD_LABEL)

        def only_fleet(values: Mapping[str, float]) -> dict[str, float]:
            return {pod: v for pod, v in values.items() if pod in fleet}

        hpas: tuple[HpaRaw, ...] = ()
        workloads: dict[str, WorkloadRef] = {}
        if "hpa" in ok:
            hpas, workloads = _kube(ok["hpa"])
        if not fleet and not any(a.error for a in answers.values()):
            notes.append(f"no pods export the preset's metrics within {self._describe_scope()}")

        history = None
        if "history" in ok:
            chosen_name = self._settings.hpa or (hpas[0].name if len(hpas) == 1 else None)
            history = _history(ok["history"], step, chosen_name)
        return RawAnswers(
            taken_at=at,
            window_seconds=window_seconds,
            source_kind=SOURCE,
            source_url=self.source_url,
            histograms=histograms,
            open_fds=only_fleet(gauges.get("open_fds", {})),
            max_fds=only_fleet(gauges.get("max_fds", {})),
            cpu_cores=only_fleet(cpu.get("cpu", {})),
            cpu_request_cores=only_fleet(cpu.get("cpu_request", {})),
            in_flight=dict(gauges.get("in_flight", {})),
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
        at = time.time() if now is None else float(now)
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
        """Stop the worker threads and close the HTTP session."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


# --------------------------------------------------------------------------- parsing


def _tagged_by_pod(
    rows: Iterable[Mapping[str, Any]], pod_label: str
) -> dict[str, dict[str, float]]:
    """part -> pod -> value, from rows tagged with ``PART_LABEL``."""
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        labels = _labels(row)
        part, pod = labels.get(promql.PART_LABEL), labels.get(pod_label)
        value = _instant(row)
        if part and pod and value is not None:
            out.setdefault(part, {})[pod] = value
    return out


def _buckets_by_pod(
    rows: Iterable[Mapping[str, Any]], pod_label: str
) -> dict[str, dict[float, float]]:
    out: dict[str, dict[float, float]] = {}
    for row in rows:
        labels = _labels(row)
        pod, le = labels.get(pod_label), _number(labels.get("le"))
        value = _bucket_rate(row)
        if pod and le is not None and value is not None:
            buckets = out.setdefault(pod, {})
            buckets[le] = buckets.get(le, 0.0) + value  # "1" and "1.0" are one bound
    return out


def _fleet_buckets(rows: Iterable[Mapping[str, Any]]) -> dict[float, float] | None:
    """``sum by (le)`` rows as le -> rate; None when nothing came back (no data)."""
    out: dict[float, float] = {}
    for row in rows:
        le = _number(_labels(row).get("le"))
        value = _bucket_rate(row)
        if le is not None and value is not None:
            out[le] = out.get(le, 0.0) + value  # "1" and "1.0" are one bound
    return out or None


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
