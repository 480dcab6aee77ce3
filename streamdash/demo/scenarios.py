"""Demo scenarios: the knobs of the simulated fleet, one frozen value per story.

Each scenario changes only what its story needs from ``HEALTHY``; the fleet model
(``streamdash.demo.fleet``) turns the knobs into dynamics. ``incident`` (the default)
is the night from the seed article: stream buckets ending at 5 s, a 2x autoscaler/CPU
divergence, one pod near its FD limit and a load-balancer idle timeout cutting streams.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from streamdash.presets.buckets import (
    VLLM_REQUEST_LATENCY_BUCKETS,
)

TRUNCATED_STREAM_BUCKETS: tuple[float, ...] = tuple(
    b for b in VLLM_REQUEST_LATENCY_BUCKETS if b <= 5.0
)
"""vLLM's request-latency list cut at 5 s, as a hand-edited deployment had it."""


@dataclass(frozen=True)
class Scenario:
    """Knobs of the fleet model. Times in seconds, CPU in cores."""

    name: str
    description: str
    expected_findings: tuple[tuple[str, str | None], ...]
    """(finding id, subject or None for any) the scenario must raise, and nothing else."""
    stream_buckets: tuple[float, ...] = VLLM_REQUEST_LATENCY_BUCKETS
    # traffic and serving
    load: float = 0.8
    """Mean in-flight streams per pod as a share of the concurrency target."""
    ttft_median: float = 0.25
    ttft_sigma: float = 0.6
    tokens_median: float = 300.0
    tokens_sigma: float = 0.8
    token_rate: float = 40.0
    """Tokens per second of one stream on an idle pod."""
    batch_knee: float = 64.0
    """In-flight streams at which a pod's per-stream token rate halves."""
    stall_per_minute: float = 0.02
    """Chance per minute of streaming that a stream stalls (tool call, preemption)."""
    stall_mean: float = 2.0
    client_abort_ratio: float = 0.002
    # load balancer
    lb_idle_timeout: float = 600.0
    lb_session_limit: int = 256
    # autoscaler (concurrency target, like KEDA / Knative on in-flight requests)
    target_concurrency: float = 32.0
    scale_period: float = 15.0
    pod_start_seconds: float = 20.0
    # CPU and file descriptors
    cpu_idle: float = 0.03
    cpu_per_stream: float = 0.0045
    cpu_request: float = 0.25
    base_fds: int = 180
    max_fds: int = 1_048_576
    hot_pod_base_fds: int | None = None
    """When set, pod slot 2 holds this many FDs besides its streams..."""
    hot_pod_max_fds: int = 1024
    """...under this soft limit (an image started with ``ulimit -n 1024``)."""


HEALTHY = Scenario(
    name="healthy",
    description="A well-configured fleet: real vLLM buckets, CPU-sized requests, "
    "a 10 min LB timeout, FD limits far away. Raises no findings.",
    expected_findings=(),
)

SCENARIOS: dict[str, Scenario] = {
    "healthy": HEALTHY,
    "overflow": dataclasses.replace(
        HEALTHY,
        name="overflow",
        description="Stream-duration buckets end at 5 s while most streams last longer: "
        "p50/p90/p99 are only lower bounds.",
        expected_findings=(("histogram-overflow", "stream"),),
        stream_buckets=TRUNCATED_STREAM_BUCKETS,
    ),
    "idle-timeout": dataclasses.replace(
        HEALTHY,
        name="idle-timeout",
        description="A 30 s load-balancer idle timeout cuts streams that stall between "
        "tokens (tool calls, preemptions).",
        expected_findings=(("lb-idle-timeout", None), ("lb-disconnects", None)),
        lb_idle_timeout=30.0,
        stall_per_minute=0.5,
        stall_mean=25.0,
    ),
    "fd-ceiling": dataclasses.replace(
        HEALTHY,
        name="fd-ceiling",
        description="One pod runs with a 1024 open-file limit and already holds ~930 FDs: "
        "every stream it takes brings it closer to EMFILE.",
        expected_findings=(("fd-exhaustion", None),),
        hot_pod_base_fds=930,
    ),
    "autoscaler": dataclasses.replace(
        HEALTHY,
        name="autoscaler",
        description="The autoscaler scales on in-flight streams; CPU requests of 500m make "
        "CPU alone imply half the replicas.",
        expected_findings=(("autoscaler-cpu-divergence", None),),
        cpu_request=0.5,
    ),
}
SCENARIOS["incident"] = dataclasses.replace(
    HEALTHY,
    name="incident",
    description="The night from the article: stream buckets end at 5 s with most streams "
    "above, replicas 2x what CPU needs, one pod near its FD limit, and a 60 s LB idle "
    "timeout cutting long streams.",
    expected_findings=(
        ("histogram-overflow", "stream"),
        ("autoscaler-cpu-divergence", None),
        ("fd-exhaustion", None),
        ("lb-idle-timeout", None),
        ("lb-disconnects", None),
    ),
    stream_buckets=TRUNCATED_STREAM_BUCKETS,
    cpu_request=0.5,
    hot_pod_base_fds=930,
    lb_idle_timeout=60.0,
    stall_per_minute=0.5,
    stall_mean=45.0,
)
DEFAULT_SCENARIO = "incident"


def scenario_names() -> tuple[str, ...]:
    """Scenario names, the default first."""
    return (DEFAULT_SCENARIO, *sorted(n for n in SCENARIOS if n != DEFAULT_SCENARIO))


def get_scenario(name: str) -> Scenario:
    """The scenario ``name``; ValueError (one line listing the names) when unknown."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown demo scenario {name!r}; choose one of: {', '.join(scenario_names())}"
        ) from None
