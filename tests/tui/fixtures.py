"""Fixture data for the TUI tests and scripts/screenshots.py: a fleet in trouble.

``sample_snapshot`` builds the Snapshot directly from the contract dataclasses.
``ScriptedRefresher`` is a real ``Refresher`` whose answers the test scripts: it
returns queued snapshots, or raises a queued exception (the fault a real source
cannot be made to produce on demand), and records every window it was asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace

from streamdash.core.raw import (
    HistoryRaw,
    HpaTarget,
    LbBackendRaw,
    LbTimeoutRaw,
    SeriesPoint,
    SourceError,
)
from streamdash.core.snapshot import (
    AutoscalerView,
    BucketAdvice,
    Capacity,
    Finding,
    HistogramSummary,
    LoadBalancerView,
    PodRow,
    Snapshot,
    SourceInfo,
    StalePart,
)

NOW = 1_795_000_000.0
"""A fixed 'now' (unix seconds) so ages and charts are reproducible."""
HOSTILE_POD = "llama-[bold]x[/bold]"


AUTOSCALER = AutoscalerView(
    name="llama-serve",
    current_replicas=12,
    desired_replicas=12,
    min_replicas=4,
    max_replicas=20,
    target_metric="cpu",
    target_type="utilization",
    target_value=70,
    cpu_cores=2.1,
    cpu_request_cores=0.5,
    cpu_target_utilization=0.7,
    cpu_target_source="hpa",
    cpu_implied_replicas=6,
    divergence_ratio=2.0,
    namespace="llm",
    scale_target_kind="Deployment",
    scale_target_name="llama-serve",
    targets=(
        HpaTarget("cpu", "utilization", 70),
        HpaTarget("vllm:num_requests_running", "average", 8),
    ),
    scales_on_cpu=True,
    pod_count=12,
    pods_basis="scale_target",
)


def _series(
    values: Iterable[float | None], now: float, step: float = 60.0
) -> tuple[SeriesPoint, ...]:
    vals = list(values)
    return tuple(SeriesPoint(now - (len(vals) - 1 - i) * step, v) for i, v in enumerate(vals))


def sample_history(now: float = NOW) -> HistoryRaw:
    ttft = [0.6 + 0.4 * ((i * 7) % 11) / 11 + (1.8 if 40 <= i <= 48 else 0) for i in range(61)]
    stream = [min(5.0, 2.5 + i * 0.06) for i in range(61)]
    replicas = [8.0 if i < 20 else 12.0 for i in range(61)]
    implied = [4.0 + (i % 5) / 4 for i in range(61)]
    return HistoryRaw(
        series={
            "ttft_p99": _series(ttft, now),
            "stream_p99": _series(stream, now),
            "replicas": _series(replicas, now),
            "cpu_implied_replicas": _series(implied, now),
        },
        step_seconds=60.0,
    )


def sample_pods() -> tuple[PodRow, ...]:
    rows = [
        PodRow(
            pod="llama-serve-7d9f-abcde",
            open_connections=1001,
            connection_limit=1024,
            open_fds=1010,
            max_fds=1024,
            fd_utilization=1010 / 1024,
            cpu_cores=0.16,
            cpu_request_cores=0.5,
            in_flight=40,
            ttft_p99=2.1,
            stream_p99=5.0,
            stream_p99_overflowed=True,
            stream_rate_per_s=4.2,
        ),
        PodRow(
            pod=HOSTILE_POD,
            open_connections=850,
            open_fds=870,
            max_fds=1024,
            fd_utilization=870 / 1024,
            cpu_cores=0.21,
            in_flight=38,
            ttft_p99=1.4,
            stream_p99=4.1,
        ),
        PodRow(
            pod="llama-serve-7d9f-fghij",
            open_connections=410,
            open_fds=430,
            max_fds=1024,
            fd_utilization=430 / 1024,
            cpu_cores=0.12,
            in_flight=21,
            ttft_p99=0.9,
            stream_p99=3.2,
        ),
        PodRow(pod="llama-serve-7d9f-klmno", open_connections=None, cpu_cores=0.08),
    ]
    return tuple(rows)


def sample_snapshot(now: float = NOW, **changes: object) -> Snapshot:
    """A vLLM fleet: stream p99 overflowed, FDs near the limit, HPA 2x over CPU."""
    ttft = HistogramSummary(
        subject="ttft",
        metric="vllm:time_to_first_token_seconds",
        available=True,
        p50=0.28,
        p90=0.79,
        p99=2.9,
        rate_per_s=48.0,
        mean_seconds=0.41,
        top_finite_bucket=2560.0,
        overflow_fraction=0.0,
        bucket_bounds=(0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 2560.0),
    )
    stream = HistogramSummary(
        subject="stream",
        metric="app_stream_duration_seconds",
        available=True,
        p50=5.0,
        p90=5.0,
        p99=5.0,
        rate_per_s=47.5,
        mean_seconds=38.2,
        top_finite_bucket=5.0,
        overflow_fraction=0.83,
        overflowed=("p50", "p90", "p99"),
        bucket_bounds=(0.5, 1.0, 2.5, 5.0),
        advice=BucketAdvice(
            buckets=(1, 5, 15, 30, 60, 120, 300, 600),
            basis="mean stream 38 s from _sum/_count; top bucket 10x the mean",
        ),
    )
    itl = HistogramSummary(subject="itl", metric=None, available=False, note="not exported")
    finding_fd = Finding(
        id="fd-exhaustion",
        severity="critical",
        subject=HOSTILE_POD,
        summary=f"Pod {HOSTILE_POD} uses 85 % of its file descriptors",
        evidence={"open_fds": 870.0, "max_fds": 1024.0},
        advice="Raise the FD limit (ulimit -n) or spread streams over more pods.",
        promql=("process_open_fds / process_max_fds",),
    )
    findings = (
        Finding(
            id="histogram-overflow",
            severity="critical",
            subject="stream",
            summary="stream p50, p90, p99 lie above the top bucket (5 s): lower bounds",
            evidence={"top_finite_bucket": 5.0, "overflow_fraction": 0.83},
            advice="Add buckets up to 600 s: 1, 5, 15, 30, 60, 120, 300, 600.",
            promql=("sum by (le) (rate(app_stream_duration_seconds_bucket[5m]))",),
        ),
        finding_fd,
        Finding(
            id="autoscaler-cpu-divergence",
            severity="warning",
            subject="llama-serve",
            summary="HPA runs 12 pods; CPU alone needs 6 (2.0x)",
            evidence={"current_replicas": 12.0, "cpu_implied_replicas": 6},
            advice="Scale on in-flight streams or connections, not CPU.",
        ),
        Finding(
            id="lb-idle-timeout",
            severity="info",
            subject="haproxy",
            summary="timeout server 30 s is shorter than the mean stream (38 s)",
        ),
    )
    snapshot = Snapshot(
        taken_at=now,
        source=SourceInfo(kind="prometheus", url="http://127.0.0.1:9090"),
        window_seconds=300,
        preset="vllm",
        namespace="llm",
        latency={"ttft": ttft, "stream": stream, "itl": itl},
        pods=sample_pods(),
        autoscaler=AUTOSCALER,
        autoscalers=(AUTOSCALER,),
        load_balancer=LoadBalancerView(
            backends=(
                LbBackendRaw(
                    lb="haproxy",
                    kind="haproxy",
                    proxy="llm",
                    server="llama-serve-7d9f-abcde",
                    current=980,
                    maximum=1001,
                    limit=1024,
                    client_aborts=12,
                    server_aborts=3,
                    timeouts=41,
                    retries=0,
                    status="UP",
                    client_aborts_rate=0.04,
                    server_aborts_rate=0.01,
                    timeouts_rate=0.14,
                    retries_rate=0.0,
                ),
                LbBackendRaw(
                    lb="haproxy",
                    kind="haproxy",
                    proxy="llm",
                    server=HOSTILE_POD,
                    current=840,
                    maximum=870,
                    limit=1024,
                    status="UP",
                ),
            ),
            timeouts=(
                LbTimeoutRaw(
                    lb="haproxy", kind="haproxy", name="timeout server", seconds=30.0, scope="llm"
                ),
            ),
            sources=("haproxy http://127.0.0.1:8404/stats;csv",),
        ),
        capacity=Capacity(
            arrival_rate_per_s=47.5,
            mean_stream_seconds=38.2,
            per_pod_streams_ceiling=1024,
            sustainable_rate_per_s=321.7,
            basis="12 pods x 1024 FDs / 38.2 s mean stream",
        ),
        findings=findings,
        errors=(SourceError(source="prometheus", message="kube-state-metrics absent", part="hpa"),),
        history=sample_history(now),
        notes=("TTFT buckets from vLLM defaults",),
    )
    return replace(snapshot, **changes)  # type: ignore[arg-type]


def stale_part(panel: str, reason: str, last_good_at: float | None) -> StalePart:
    return StalePart(part=panel, panel=panel, reason=reason, last_good_at=last_good_at)


class ScriptedRefresher:
    """A Refresher whose next answers are scripted: a Snapshot, or an exception to raise.

    When the script runs out it repeats the last snapshot it returned, re-stamped.
    """

    def __init__(
        self, *answers: Snapshot | BaseException, history: HistoryRaw | None = None
    ) -> None:
        self._answers = list(answers)
        self._last: Snapshot | None = None
        self._lock = threading.Lock()
        self.windows: list[int] = []
        self.pod_requests: list[tuple[str, int]] = []
        self.history = history
        self.closed = False

    def push(self, answer: Snapshot | BaseException) -> None:
        with self._lock:
            self._answers.append(answer)

    def refresh(self, window_seconds: int) -> Snapshot:
        with self._lock:
            self.windows.append(window_seconds)
            answer = self._answers.pop(0) if self._answers else self._last
        if answer is None:
            answer = sample_snapshot()
        if isinstance(answer, BaseException):
            raise answer
        self._last = answer
        return replace(answer, window_seconds=window_seconds)

    def pod_history(self, pod: str, window_seconds: int) -> HistoryRaw | None:
        self.pod_requests.append((pod, window_seconds))
        return self.history

    def describe(self) -> str:
        return "prometheus http://127.0.0.1:9090"

    def close(self) -> None:
        self.closed = True
