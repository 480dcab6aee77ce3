"""The live Refresher: sources -> raw answers -> carry-forward -> Snapshot.

This is the only place that decides which source is primary (Prometheus or direct
scrape) and when ``fallback: scrape`` switches between them.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from streamdash import sanitise
from streamdash.core.build import build_snapshot
from streamdash.core.carry import LB_PART, Carried, carry_forward, carry_lb
from streamdash.core.history import append_point
from streamdash.core.raw import HistoryRaw, RawAnswers, SourceError
from streamdash.core.snapshot import Snapshot, StalePart
from streamdash.export.json import iso
from streamdash.floors import window_note
from streamdash.redact import redact_url, scrub
from streamdash.settings import Settings
from streamdash.sources import promql
from streamdash.sources.prometheus import PrometheusSource

if TYPE_CHECKING:
    from streamdash.sources.lb.collect import LoadBalancers
    from streamdash.sources.scrape import ScrapeSource


_HistoryResult = tuple[HistoryRaw | None, SourceError | None, tuple[str, ...], tuple[int, int]]
"""A background history fetch: history, error, warnings, (window, step) key."""


def source_unreachable(raw: RawAnswers) -> bool:
    """True when every request to the primary source failed (nothing came back); the
    same rule as ``core.verdict.primary_unreachable`` applies to the Snapshot."""
    primary = [e for e in raw.errors if e.source.startswith(raw.source_kind)]
    if not raw.query_count:
        return any(e.part is None for e in primary)
    return len(primary) >= raw.query_count


class LiveRefresher:
    """Refresher over the configured sources. Never raises for a source failure."""

    def __init__(
        self,
        settings: Settings,
        *,
        with_history: bool = True,
        scrape_prime_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.with_history = with_history
        self.prometheus = (
            PrometheusSource(settings, recorded=True) if settings.prometheus.url else None
        )
        self.scrape: ScrapeSource | None = None
        if settings.scrape:
            from streamdash.sources.scrape import ScrapeSource

            self.scrape = ScrapeSource(settings, prime_seconds=scrape_prime_seconds)
        self.lbs: LoadBalancers | None = None
        if settings.load_balancers:
            from streamdash.sources.http import policy_for
            from streamdash.sources.lb.collect import LoadBalancers

            policy = dataclasses.replace(policy_for(settings), verify=True)  # LBs: system CAs
            self.lbs = LoadBalancers(
                settings.load_balancers, settings.prometheus.timeout_seconds, policy=policy
            )
        self.live_kind = "prometheus" if self.prometheus else "scrape"
        self._carried: Carried | None = None
        self._history_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._history_job: Future[_HistoryResult] | None = None
        self._history: HistoryRaw | None = None
        self._history_window: int | None = None
        self._history_at: tuple[int, int] | None = None
        """Prometheus's last chart history and the (window, step) it was fetched for."""
        self._own_history: HistoryRaw | None = None
        """History recorded from our own snapshots when the source keeps none."""
        self._last_build: tuple[RawAnswers, tuple[StalePart, ...], Snapshot] | None = None
        """The last snapshot built, and what from (its raw answers' time left out)."""
        self.reused_builds = 0
        """Refreshes whose snapshot was the last one's (same answers, same stale parts)."""
        self._early: tuple[int, Future[Snapshot]] | None = None
        """A first refresh started before the TUI was imported (``start_early``)."""
        self._partial_lock = threading.Lock()
        self._partial_listener: Callable[[Snapshot], None] | None = None
        self._early_partial: Snapshot | None = None
        """The early refresh's first frame, kept until ``refresh`` asks for it."""
        from streamdash.sources.http import tls_warning

        self._tls_note = tls_warning(settings)
        self._secrets = (
            settings.prometheus.bearer_token,
            settings.prometheus.basic_auth_password,
            *settings.prometheus.headers.values(),
        )

    def _history_key(self, window_seconds: int, now: float) -> tuple[int, int]:
        """(window, step number): Prometheus's history only changes when a new step of
        the chart begins (its range is aligned to the step) or the window changes."""
        step = promql.history_step(self.settings.history_seconds)
        return window_seconds, math.floor(now / step)

    HISTORY_GRACE_SECONDS = 1.0
    """How long a refresh waits, after its own queries, for the charts' range query."""
    FIRST_HISTORY_GRACE_SECONDS = 0.0
    """The same for the first refresh: the first frame never waits on the charts; the
    TUI takes their answer as soon as it arrives (``history_follow_up``)."""

    def _history_query(self, window_seconds: int) -> str | None:
        assert self.prometheus is not None
        return self.prometheus.sent_queries(window_seconds, with_history=True).get("history")

    def _start_history(self, window_seconds: int, now: float) -> None:
        """Start fetching the charts' history in the background when a chart step has
        passed or the window changed, so it runs alongside this refresh's queries."""
        key = self._history_key(window_seconds, now)
        if not self.with_history or key == self._history_at or self._history_job is not None:
            return
        assert self.prometheus is not None
        source = self.prometheus
        hpa = self.settings.hpa
        if hpa is None and self._carried is not None and self._carried.raw.hpas:
            hpa = self._carried.raw.hpas[0].name

        def fetch() -> _HistoryResult:
            history, error, notes = source.fetch_history(window_seconds, hpa, now)
            return history, error, notes, key

        self._history_job = self._history_pool.submit(fetch)

    def _with_history(self, raw: RawAnswers, window_seconds: int) -> RawAnswers:
        """``raw`` with the charts' history. A refresh waits for a running fetch at most
        ``HISTORY_GRACE_SECONDS`` after its own queries: on a small fleet the history is
        as fresh as the rest; on a big one the slow range query never holds a refresh
        (the first included) and its answer is taken by a later refresh."""
        errors: tuple[SourceError, ...] = ()
        job = self._history_job
        if job is not None:
            first = self._carried is None
            grace = self.FIRST_HISTORY_GRACE_SECONDS if first else self.HISTORY_GRACE_SECONDS
            wait([job], timeout=grace)
            if job.done():
                self._history_job = None
                history, error, notes, key = job.result()
                if notes:
                    raw = dataclasses.replace(raw, notes=raw.notes + notes)
                text = self._history_query(key[0])
                if text is not None:  # the refresh that brings (or fails) it names and counts it
                    raw = dataclasses.replace(
                        raw,
                        queries={**raw.queries, "history": text},
                        query_count=raw.query_count + 1,
                    )
                if error is not None:
                    errors = (error,)
                elif history is not None:
                    self._history, self._history_window = history, key[0]
                    self._history_at = key
        current = self._history is not None and self._history_window == window_seconds
        return dataclasses.replace(
            raw, history=self._history if current else None, errors=raw.errors + errors
        )

    def _partial_snapshot(self, raw: RawAnswers) -> Snapshot:
        """The early first frame: what has answered, built alone (nothing carried, no LB
        rows yet), latency pending."""
        clean = sanitise.raw_answers(dataclasses.replace(raw, errors=self._scrubbed(raw)))
        return build_snapshot(clean, self.settings, ())

    def _scrubbed(self, raw: RawAnswers) -> tuple[SourceError, ...]:
        """``raw``'s errors with every configured secret masked."""
        return tuple(
            SourceError(e.source, scrub(e.message, self._secrets), e.part) for e in raw.errors
        )

    def _fetch_primary(
        self,
        window_seconds: int,
        now: float,
        on_partial: Callable[[Snapshot], None] | None = None,
    ) -> RawAnswers:
        if self.prometheus is not None:
            first = self._carried is None
            if not first:  # beside this refresh's queries, as a step of the chart passes
                self._start_history(window_seconds, now)
            partial = None
            if on_partial is not None:
                listener = on_partial

                def partial(raw: RawAnswers) -> None:
                    try:
                        listener(self._partial_snapshot(raw))
                    except Exception:  # an early frame is a courtesy: the refresh goes on
                        return

            raw = self.prometheus.fetch(
                window_seconds, with_history=False, now=now, on_partial=partial
            )
            if first:  # after them: the hour-long range query must not slow the first frame
                self._start_history(window_seconds, now)
            if self.with_history:
                raw = self._with_history(raw, window_seconds)
            use_fallback = self.settings.fallback == "scrape" and self.scrape is not None
            if not (use_fallback and source_unreachable(raw)):
                self.live_kind = "prometheus"
                return raw
            assert self.scrape is not None
            fallback = self.scrape.fetch(window_seconds, now=now)
            self.live_kind = "scrape (fallback)"
            note = "Prometheus is unreachable: showing direct scrape (fallback: scrape)."
            # One line for the dead primary, tied to no part: the scrape's fresh values
            # must not be marked stale by Prometheus's per-query failures.
            down = SourceError(raw.source_kind, raw.errors[0].message, None)
            return dataclasses.replace(
                fallback, errors=(down, *fallback.errors), notes=(note, *fallback.notes)
            )
        assert self.scrape is not None
        return self.scrape.fetch(window_seconds, now=now)

    def fetch_raw(
        self,
        window_seconds: int,
        at: float | None = None,
        on_partial: Callable[[Snapshot], None] | None = None,
    ) -> RawAnswers:
        """One refresh's raw answers from every source, LB rows included. ``at``: ask
        Prometheus for that past instant instead (load balancers, which only report the
        present, are then left out and a note says so). ``on_partial``: see
        ``refresh``."""
        now = time.time() if at is None else at
        raw = self._fetch_primary(window_seconds, now, on_partial)
        if at is not None:
            note = f"Prometheus evaluated at {iso(at)} (--at), not now."
            if self.lbs is not None:
                note += " Load balancers report only the present: not asked."
            raw = dataclasses.replace(raw, notes=(note, *raw.notes))
        elif self.lbs is not None:
            lb = self.lbs.fetch(time.time())  # when the LB was sampled: its rates span that
            raw = dataclasses.replace(
                raw,
                lb_backends=raw.lb_backends + tuple(lb.backends),
                lb_aggregates=raw.lb_aggregates + tuple(lb.aggregates),
                lb_frontends=raw.lb_frontends + tuple(lb.frontends),
                lb_timeouts=raw.lb_timeouts + tuple(lb.timeouts),
                errors=raw.errors + tuple(lb.errors),
            )
        if self.settings.alertmanager_url:
            from streamdash.sources.alertmanager import fetch_alerts

            alerts, error = fetch_alerts(
                self.settings.alertmanager_url,
                self.settings.namespace,
                self.settings.prometheus.timeout_seconds,
            )
            raw = dataclasses.replace(
                raw, alerts=alerts, errors=raw.errors + ((error,) if error else ())
            )
        errors = self._scrubbed(raw)
        notes = raw.notes
        floor = window_note(self.settings, window_seconds, self.live_kind != "prometheus")
        if floor:
            notes = (*notes, floor)
        if self._tls_note:
            notes = (*notes, self._tls_note)
        return sanitise.raw_answers(dataclasses.replace(raw, errors=errors, notes=notes))

    def start_early(self, window_seconds: int) -> None:
        """Start the first refresh now, in a thread, so its queries overlap whatever the
        caller does next (importing and starting the TUI). The next ``refresh`` over the
        same window returns its result instead of asking again."""
        if self._early is not None:
            return
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-refresh")
        job = pool.submit(self._refresh, window_seconds, self._keep_early_partial)
        self._early = (window_seconds, job)
        pool.shutdown(wait=False)

    def _keep_early_partial(self, snapshot: Snapshot) -> None:
        with self._partial_lock:
            listener = self._partial_listener
            if listener is None:
                self._early_partial = snapshot
        if listener is not None:
            listener(snapshot)

    def refresh(self, window_seconds: int) -> Snapshot:
        """Fetch, build and return a Snapshot."""
        return self.refresh_first(window_seconds, None)

    def refresh_first(
        self, window_seconds: int, on_partial: Callable[[Snapshot], None] | None
    ) -> Snapshot:
        """``refresh``; on the first refresh (later ones carry the last values)
        ``on_partial`` gets an early Snapshot when the latency histograms answer last:
        the pods' FDs, CPU and the HPA, ``pending`` naming the histograms still on their
        way. Called from the refreshing thread, at most once."""
        early, self._early = self._early, None
        if early is not None:
            window, job = early
            if on_partial is not None and window == window_seconds:
                with self._partial_lock:
                    kept, self._early_partial = self._early_partial, None
                    if kept is None:
                        self._partial_listener = on_partial
                if kept is not None and not job.done():
                    on_partial(kept)
            try:
                snapshot = job.result()  # _refresh never raises for a source failure
            finally:
                with self._partial_lock:
                    self._partial_listener, self._early_partial = None, None
            if window == window_seconds:
                return snapshot
        first = self._carried is None
        return self._refresh(window_seconds, on_partial if first else None)

    def history_pending(self, timeout: float) -> bool:
        """Wait at most ``timeout`` for a chart history fetch the last refresh left
        running; True when one has finished and ``history_follow_up`` can take it.
        Changes nothing (safe beside a running refresh)."""
        job = self._history_job
        if job is None:
            return True  # nothing to wait for: the follow-up returns None at once
        wait([job], timeout=timeout)
        return job.done()

    def history_follow_up(self, window_seconds: int) -> Snapshot | None:
        """The last snapshot rebuilt with a finished history fetch (no new queries);
        None when none finished or it brought no history for this window. Lets the
        first frame show numbers before the charts."""
        job = self._history_job
        if job is None or not job.done() or self._carried is None or not self.with_history:
            return None
        raw = self._with_history(self._carried.raw, window_seconds)
        if raw.history is None:
            return None
        # the history is now shown: a later failure of its query carries it from here
        good_at = {**self._carried.good_at, "history": raw.taken_at}
        self._carried = Carried(raw, self._carried.stale, good_at)
        return build_snapshot(raw, self.settings, self._carried.stale)

    def _refresh(
        self, window_seconds: int, on_partial: Callable[[Snapshot], None] | None = None
    ) -> Snapshot:
        raw = self.fetch_raw(window_seconds, on_partial=on_partial)
        sources = self.lbs.sources if self.lbs is not None else ()
        raw, lb_stale, lb_good_at = carry_lb(self._carried, raw, sources)
        carried = carry_forward(self._carried, raw)
        good_at = dict(carried.good_at)
        if lb_good_at is not None:
            good_at[LB_PART] = lb_good_at
        self._carried = Carried(carried.raw, carried.stale + lb_stale, good_at)
        snapshot = self._build(self._carried.raw, self._carried.stale)
        if self.live_kind != "prometheus" and self.with_history:  # scrape keeps no history
            self._own_history = append_point(
                self._own_history,
                snapshot,
                self.settings.history_seconds,
                self.settings.refresh_seconds,
            )
            snapshot = dataclasses.replace(snapshot, history=self._own_history)
        return snapshot

    def _build(self, raw: RawAnswers, stale: tuple[StalePart, ...]) -> Snapshot:
        """``build_snapshot``, which is pure and reads the time only to stamp the
        Snapshot: answers equal to the last refresh's but for their time (recorded
        series between two rule evaluations) give the last snapshot, restamped."""
        timeless = dataclasses.replace(raw, taken_at=0.0)
        last = self._last_build
        if last is not None and last[1] == stale and last[0] == timeless:
            self.reused_builds += 1
            return dataclasses.replace(last[2], taken_at=raw.taken_at)
        snapshot = build_snapshot(raw, self.settings, stale)
        self._last_build = (timeless, stale, snapshot)
        return snapshot

    def pod_history(self, pod: str, window_seconds: int) -> HistoryRaw | None:
        if self.prometheus is None or self.live_kind != "prometheus":
            return None
        return self.prometheus.fetch_pod_history(pod, window_seconds)

    def describe(self) -> str:
        if self.live_kind.startswith("scrape"):
            n = len(self.settings.scrape)
            return f"{self.live_kind}: {n} target{'s' if n != 1 else ''}"
        url = self.settings.prometheus.url or ""
        return f"prometheus {redact_url(url)}"

    def close(self) -> None:
        self._history_pool.shutdown(wait=False, cancel_futures=True)
        if self.prometheus is not None:
            self.prometheus.close()
        if self.lbs is not None:
            self.lbs.close()
