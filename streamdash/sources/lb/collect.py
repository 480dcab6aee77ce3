"""All configured load balancers, fetched concurrently, with counter rates between refreshes.

``LoadBalancers(settings_list, timeout).fetch(now)`` returns one frozen ``LbAnswers``.
It remembers each LB's previous sample, so from the second refresh on every counter of a
row (``client_aborts``, ``server_aborts``, ``timeouts``, ``retries``, ``resets``) also has
its per-second ``*_rate``: (now - before) / elapsed. A counter that went down was reset
(LB restart): the increase is counted from 0, as Prometheus ``rate`` does. A row or LB
seen for the first time, or a failed fetch, has rates None. Never raises for LB failures.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from streamdash.core.raw import LbBackendRaw, LbFrontendRaw, LbTimeoutRaw, SourceError
from streamdash.settings import LoadBalancerSettings
from streamdash.sources.http import HttpPolicy, HttpxTransport
from streamdash.sources.lb import envoy, haproxy, nginx
from streamdash.sources.lb.common import MAX_BODY_CHARS, LbSample, lb_name, source_name

COUNTERS = ("client_aborts", "server_aborts", "timeouts", "retries", "resets")
"""Counter fields of ``LbBackendRaw``; each has a ``<name>_rate`` field."""
MAX_WORKERS = 8

Fetcher = Callable[[HttpxTransport, LoadBalancerSettings], LbSample]
FETCHERS: Mapping[str, Fetcher] = {
    "haproxy": haproxy.fetch,
    "envoy": envoy.fetch,
    "nginx": nginx.fetch,
}


@dataclass(frozen=True)
class LbAnswers:
    """One refresh of every configured load balancer."""

    backends: tuple[LbBackendRaw, ...] = ()
    """Per-server rows (join these to pods)."""
    aggregates: tuple[LbBackendRaw, ...] = ()
    """Per-backend / cluster / HCM totals (``server`` ``BACKEND`` or ``*``)."""
    frontends: tuple[LbFrontendRaw, ...] = ()
    timeouts: tuple[LbTimeoutRaw, ...] = ()
    errors: tuple[SourceError, ...] = ()
    sources: tuple[str, ...] = ()
    """``kind:url`` per configured LB, no credentials."""


def counter_rate(before: float | None, after: float | None, seconds: float) -> float | None:
    """Per-second increase of a counter between two samples ``seconds`` apart.

    None when either sample is unknown or ``seconds`` <= 0; a decrease is a reset, so
    the increase is ``after`` itself (counted from 0).
    """
    if before is None or after is None or seconds <= 0:
        return None
    increase = after - before if after >= before else after
    return increase / seconds


def with_rates(
    rows: Sequence[LbBackendRaw],
    previous: Mapping[tuple[str, str], LbBackendRaw],
    seconds: float,
) -> tuple[LbBackendRaw, ...]:
    """``rows`` with ``*_rate`` set from ``previous`` rows (keyed by (proxy, server))."""
    out = []
    for row in rows:
        before = previous.get((row.proxy, row.server))
        if before is None:
            out.append(row)
            continue
        rates = {
            f"{name}_rate": counter_rate(getattr(before, name), getattr(row, name), seconds)
            for name in COUNTERS
        }
        out.append(dataclasses.replace(row, **rates))  # type: ignore[arg-type]
    return tuple(out)


def _cloud(settings: LoadBalancerSettings) -> LbSample:
    """A cloud LB has no stats endpoint: only its stated idle timeout."""
    if settings.idle_timeout_seconds is None:
        return LbSample()
    timeout = LbTimeoutRaw(
        lb_name(settings), "cloud", "idle timeout", settings.idle_timeout_seconds, "settings"
    )
    return LbSample(timeouts=(timeout,))


@dataclass
class _Previous:
    at: float
    rows: dict[tuple[str, str], LbBackendRaw]


class LoadBalancers:
    """Every configured LB; ``fetch`` is thread-safe (one refresh at a time)."""

    def __init__(
        self,
        settings_list: Sequence[LoadBalancerSettings],
        timeout: float,
        *,
        client: HttpxTransport | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        """``policy`` (limits, redirects; default: ``timeout`` and the defaults) is capped
        at ``MAX_BODY_CHARS`` per answer."""
        self._settings = tuple(settings_list)
        base = policy or HttpPolicy(timeout_seconds=timeout)
        base = dataclasses.replace(
            base,
            max_answer_bytes=min(base.max_answer_bytes, MAX_BODY_CHARS),
            max_decoded_bytes=min(base.max_decoded_bytes, MAX_BODY_CHARS),
        )
        self._client = client or HttpxTransport(base)
        self._owns_client = client is None
        self._previous: dict[int, _Previous] = {}
        self._lock = threading.Lock()

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(source_name(s) for s in self._settings)

    def _one(self, settings: LoadBalancerSettings) -> LbSample:
        if settings.kind == "cloud":
            return _cloud(settings)
        fetcher = FETCHERS.get(settings.kind)
        if fetcher is None:
            message = f"unknown load balancer kind {settings.kind!r}"
            return LbSample(errors=(SourceError(source_name(settings), message),))
        try:
            return fetcher(self._client, settings)
        except Exception as exc:  # a bug must not take the dashboard down; say what broke
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return LbSample(errors=(SourceError(source_name(settings), message),))

    def fetch(self, now: float) -> LbAnswers:
        """Fetch all LBs concurrently; ``now`` is the refresh's unix time (for rates)."""
        with self._lock:
            if not self._settings:
                return LbAnswers()
            workers = min(MAX_WORKERS, len(self._settings))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                samples = list(pool.map(self._one, self._settings))
            backends: list[LbBackendRaw] = []
            aggregates: list[LbBackendRaw] = []
            frontends: list[LbFrontendRaw] = []
            timeouts: list[LbTimeoutRaw] = []
            errors: list[SourceError] = []
            for index, sample in enumerate(samples):
                rows = (*sample.backends, *sample.aggregates)
                before = self._previous.get(index)
                if before is not None:
                    seconds = now - before.at
                    sample = dataclasses.replace(
                        sample,
                        backends=with_rates(sample.backends, before.rows, seconds),
                        aggregates=with_rates(sample.aggregates, before.rows, seconds),
                    )
                if rows or not sample.errors:
                    self._previous[index] = _Previous(now, {(r.proxy, r.server): r for r in rows})
                else:
                    self._previous.pop(index, None)
                backends += sample.backends
                aggregates += sample.aggregates
                frontends += sample.frontends
                timeouts += sample.timeouts
                errors += sample.errors
            return LbAnswers(
                backends=tuple(backends),
                aggregates=tuple(aggregates),
                frontends=tuple(frontends),
                timeouts=tuple(timeouts),
                errors=tuple(errors),
                sources=self.sources,
            )

    def close(self) -> None:
        """Close the HTTP client when this object created it."""
        if self._owns_client:
            self._client.close()
