"""Hand-made RawAnswers for pure-core tests (the numbers are chosen, not random)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from streamdash.core.histogram import aggregate
from streamdash.core.raw import HpaRaw, RawAnswers

INF = math.inf
TTFT_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
STREAM_BOUNDS = (0.5, 1.0, 2.5, 5.0)


def cumulative(bounds: tuple[float, ...], per_bucket: list[float]) -> dict[float, float]:
    """Buckets from per-bucket counts (the last count is the +Inf overflow)."""
    out, total = {}, 0.0
    for le, n in zip((*bounds, INF), per_bucket, strict=True):
        total += n
        out[le] = total
    return out


def raw_answers(
    pods: Mapping[str, dict[str, float]] | None = None,
    *,
    ttft: Mapping[str, dict[float, float]] | None = None,
    stream: Mapping[str, dict[float, float]] | None = None,
    hpas: tuple[HpaRaw, ...] = (),
    taken_at: float = 1_790_000_000.0,
) -> RawAnswers:
    """RawAnswers with per-pod gauges.

    ``pods[pod]`` has any of open_fds, max_fds, cpu, request, in_flight.
    """
    pods = pods or {}
    histograms = {}
    if ttft is not None:
        histograms["ttft"] = aggregate(
            "vllm:time_to_first_token_seconds", ttft, part="ttft_buckets"
        )
    if stream is not None:
        histograms["stream"] = aggregate(
            "vllm:request_decode_time_seconds", stream, part="stream_buckets"
        )

    def pick(key: str) -> dict[str, float]:
        return {p: v[key] for p, v in pods.items() if key in v}

    return RawAnswers(
        taken_at=taken_at,
        window_seconds=300,
        source_kind="prometheus",
        source_url="http://127.0.0.1:9090",
        histograms=histograms,
        open_fds=pick("open_fds"),
        max_fds=pick("max_fds"),
        cpu_cores=pick("cpu"),
        cpu_request_cores=pick("request"),
        in_flight=pick("in_flight"),
        hpas=hpas,
        queries={
            "ttft_buckets": "sum by (le) (rate(ttft_bucket[5m]))",
            "stream_buckets": "sum by (le) (rate(stream_bucket[5m]))",
            "pod_gauges": "process_open_fds or process_max_fds",
            "cpu": "sum by (pod) (rate(container_cpu_usage_seconds_total[5m]))",
            "hpa": "kube_horizontalpodautoscaler_status_current_replicas",
        },
        query_count=5,
    )
