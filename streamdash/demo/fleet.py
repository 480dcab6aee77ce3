"""The simulated streaming fleet: a small discrete-time model, not a table of constants.

Streams arrive as a Poisson process (rate sized so the fleet settles near the
requested pod count, with a slow 15-minute swell). The load balancer sends each new
stream to the ready pod with the fewest open streams (HAProxy ``leastconn``); a pod
whose open FDs reach its limit refuses it (``econ``) and the LB retries elsewhere.
Each stream draws a TTFT, an output length and a token rate that drops as the pod's
batch grows; it may stall once (a tool call, a preemption) and a stall longer than the
LB idle timeout cuts it (HAProxy counts ``srv_abrt`` and ``eresp``). A stream holds
one connection and one FD from arrival to end, so ``open_fds = base + open streams``.
A concurrency-target autoscaler (KEDA/Knative-like on in-flight streams) adds pods
(ready after a start delay) and drains the youngest ones. CPU per pod is small and
linear in open streams. Streams are objects in a per-pod heap keyed by end time;
tokens are aggregated (inter-token gaps are added to histogram buckets in bulk), so a
step costs O(arrivals + completions).

Deterministic: everything derives from ``seed`` and fixed steps of ``STEP_SECONDS``
of model time; the wall clock only decides when steps run. Not thread-safe by itself:
``FleetModel.lock`` guards every read and step (the runner and servers take it).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from streamdash.demo.scenarios import (
    Scenario,
)
from streamdash.presets.buckets import (
    VLLM_ITL_BUCKETS,
    VLLM_REQUEST_LATENCY_BUCKETS,
    VLLM_TTFT_BUCKETS,
)

STEP_SECONDS = 0.25
"""Model time advanced by one step."""
WARMUP_SECONDS = 300.0
"""Model time run before the endpoints open, so rates and the autoscaler have settled."""
SWELL_PERIOD = 900.0
SWELL_DEPTH = 0.12
PAUSE_CPU_PER_SECOND = 0.0004
"""CPU of the pause container (``container="POD"``)."""
NAMESPACE = "llm"
DEPLOYMENT = "llama-serve"
MODEL_NAME = "meta-llama/Llama-3.1-8B-Instruct"
HOT_SLOT = 2
"""Slot of the pod with the low FD limit in scenarios that have one."""


class Histogram:
    """A classic histogram: per-bucket (non-cumulative) counts, +Inf last, sum and count."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float, n: int = 1) -> None:
        """Add ``n`` observations of ``value`` (``le`` is inclusive, as in Prometheus)."""
        if n <= 0:
            return
        self.counts[bisect.bisect_left(self.bounds, value)] += n
        self.sum += value * n

    def cumulative(self) -> list[tuple[float, int]]:
        """(le, cumulative count) pairs, ``math.inf`` last."""
        out, running = [], 0
        for le, c in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += c
            out.append((le, running))
        return out

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass
class Stream:
    """One open stream; ``end`` is when its connection closes (done, cut or aborted)."""

    arrival: float
    first_token: float | None
    """None when the stream was cut before its first token."""
    end: float
    tokens: int
    """Tokens sent before ``end``."""
    rate: float
    stall: float
    """Length of the one long gap the stream had before ``end`` (0 = none)."""
    outcome: str
    """``ok``, ``cut`` (LB idle timeout) or ``client_abort``."""


BACKEND_COUNTERS = (
    "stot", "econ", "eresp", "wretr", "cli_abrt", "srv_abrt", "hrsp_2xx", "bin", "bout"
)  # fmt: skip
"""``LbCounters`` fields that only grow (the BACKEND row sums them over every server)."""


@dataclass
class LbCounters:
    """HAProxy server-row counters for one pod."""

    stot: int = 0
    smax: int = 0
    econ: int = 0
    eresp: int = 0
    wretr: int = 0
    cli_abrt: int = 0
    srv_abrt: int = 0
    hrsp_2xx: int = 0
    bin: int = 0
    bout: int = 0
    last_session: float = 0.0
    rtime_ms: float = 0.0
    """Moving average of time to first byte (ms), as HAProxy's ``rtime``."""
    ttime_ms: float = 0.0
    """Moving average of total session time (ms), as HAProxy's ``ttime``."""


@dataclass
class Pod:
    """One pod's state; counters are cumulative since the pod started."""

    name: str
    slot: int
    started: float
    ready_at: float
    base_fds: int
    max_fds: int
    stream_bounds: Sequence[float]
    draining: bool = False
    ttft: Histogram = field(init=False)
    decode: Histogram = field(init=False)
    itl: Histogram = field(init=False)
    e2e: Histogram = field(init=False)
    cpu_seconds: float = 0.0
    pause_cpu_seconds: float = 0.0
    lb: LbCounters = field(default_factory=LbCounters)
    streams: list[tuple[float, int, Stream]] = field(default_factory=list)
    """Heap of (end, sequence, stream)."""

    def __post_init__(self) -> None:
        self.ttft = Histogram(VLLM_TTFT_BUCKETS)
        self.decode = Histogram(self.stream_bounds)
        self.itl = Histogram(VLLM_ITL_BUCKETS)
        self.e2e = Histogram(VLLM_REQUEST_LATENCY_BUCKETS)

    @property
    def open_streams(self) -> int:
        return len(self.streams)

    @property
    def open_fds(self) -> int:
        """Base FDs plus one per open stream (its client connection)."""
        return self.base_fds + len(self.streams)

    def ready(self, now: float) -> bool:
        return now >= self.ready_at and not self.draining


@dataclass
class AutoscalerState:
    """The concurrency-target autoscaler as kube-state-metrics would show its HPA."""

    name: str
    min_replicas: int
    max_replicas: int
    target: float
    desired: int
    next_eval: float = 0.0
    recent: list[tuple[float, int]] = field(default_factory=list)
    """(time, raw desired) over the scale-down stabilization window."""


class FleetModel:
    """The fleet; ``step`` advances it by ``STEP_SECONDS`` of model time."""

    SCALE_DOWN_WINDOW = 60.0

    def __init__(self, scenario: Scenario, pods: int = 8, seed: int = 0) -> None:
        if pods < 1:
            raise ValueError(f"pods must be at least 1, got {pods}")
        self.scenario = scenario
        self.seed = seed
        self.lock = threading.RLock()
        self.now = 0.0
        self.namespace = NAMESPACE
        self._rng = random.Random(seed)
        self._seq = itertools.count()
        self.slots: list[Pod | None] = [None] * max(2 * pods, pods + 4)
        self.retired_lb: dict[str, int] = {}
        """Counters of pods no longer in the backend (see ``_retire``)."""
        self.autoscaler = AutoscalerState(
            name=f"keda-hpa-{DEPLOYMENT}",
            min_replicas=max(1, pods // 2),
            max_replicas=len(self.slots),
            target=scenario.target_concurrency,
            desired=pods,
        )
        self.base_arrival_rate = (
            pods
            * scenario.load
            * scenario.target_concurrency
            / max(self.expected_stream_seconds(), 1e-6)
        )
        self._replicaset = "".join(
            self._rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(10)
        )
        for slot in range(pods):
            self._start_pod(slot, ready_at=0.0)
        self._switches: list[tuple[float, Scenario]] = []
        """(model time, scenario) still to come, in time order (see ``schedule``)."""

    # ------------------------------------------------------------------ sizing

    def expected_stream_seconds(self) -> float:
        """Mean stream duration at the target load (lognormal means, batching slow-down)."""
        s = self.scenario
        concurrency = s.load * s.target_concurrency
        rate = s.token_rate / (1.0 + concurrency / s.batch_knee)
        mean_tokens = s.tokens_median * math.exp(s.tokens_sigma**2 / 2)
        mean_ttft = s.ttft_median * math.exp(s.ttft_sigma**2 / 2)
        return mean_ttft + mean_tokens / rate

    def arrival_rate(self, t: float) -> float:
        """Streams per second arriving at the LB at model time ``t``."""
        return self.base_arrival_rate * (
            1.0 + SWELL_DEPTH * math.sin(2 * math.pi * t / SWELL_PERIOD)
        )

    # ------------------------------------------------------------------ scenario changes

    def schedule(self, at: float, scenario: Scenario) -> None:
        """Switch to ``scenario`` when model time reaches ``at``."""
        self._switches.append((at, scenario))
        self._switches.sort(key=lambda step: step[0])

    def switch(self, scenario: Scenario) -> None:
        """Change the knobs now, as a config rollout would: pods keep their streams;
        a changed stream-bucket list restarts each pod's stream histogram (a new
        exporter build: its counters start from 0); the FD-limited slot takes the new
        scenario's FD base and limit."""
        self.scenario = scenario
        self.autoscaler.target = scenario.target_concurrency
        for pod in self.pods():
            if tuple(pod.stream_bounds) != tuple(scenario.stream_buckets):
                pod.stream_bounds = scenario.stream_buckets
                pod.decode = Histogram(scenario.stream_buckets)
            hot = scenario.hot_pod_base_fds is not None and pod.slot == HOT_SLOT
            pod.base_fds = (
                scenario.hot_pod_base_fds
                if hot and scenario.hot_pod_base_fds
                else scenario.base_fds
            )
            pod.max_fds = scenario.hot_pod_max_fds if hot else scenario.max_fds

    # ------------------------------------------------------------------ pods

    def _pod_name(self) -> str:
        suffix = "".join(self._rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        return f"{DEPLOYMENT}-{self._replicaset}-{suffix}"

    def _start_pod(self, slot: int, ready_at: float) -> Pod:
        s = self.scenario
        hot = s.hot_pod_base_fds is not None and slot == HOT_SLOT
        pod = Pod(
            name=self._pod_name(),
            slot=slot,
            started=self.now,
            ready_at=ready_at,
            base_fds=s.hot_pod_base_fds if hot and s.hot_pod_base_fds else s.base_fds,
            max_fds=s.hot_pod_max_fds if hot else s.max_fds,
            stream_bounds=s.stream_buckets,
        )
        self.slots[slot] = pod
        return pod

    def _retire(self, pod: Pod) -> None:
        """Keep a removed pod's counters in the backend's totals (HAProxy's BACKEND row
        counts the backend's sessions, so it never goes down when a server leaves)."""
        for name in BACKEND_COUNTERS:
            self.retired_lb[name] = self.retired_lb.get(name, 0) + getattr(pod.lb, name)

    def pods(self) -> list[Pod]:
        """Pods that exist (starting, ready or draining), by slot."""
        return [p for p in self.slots if p is not None]

    def replicas(self) -> int:
        """Pods the autoscaler counts: everything not draining."""
        return sum(1 for p in self.pods() if not p.draining)

    # ------------------------------------------------------------------ random draws

    def _poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self._rng.random()
            if p <= limit:
                return k
            k += 1

    def _lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self._rng.gauss(0.0, 1.0))

    # ------------------------------------------------------------------ dynamics

    def step(self) -> None:
        """Advance the model by one step: completions, autoscaler, arrivals, CPU."""
        dt = STEP_SECONDS
        self.now += dt
        now = self.now
        while self._switches and self._switches[0][0] <= now:
            self.switch(self._switches.pop(0)[1])
        for pod in self.pods():
            while pod.streams and pod.streams[0][0] <= now:
                _, _, stream = heapq.heappop(pod.streams)
                self._finish(pod, stream)
            pod.cpu_seconds += dt * (
                self.scenario.cpu_idle + self.scenario.cpu_per_stream * pod.open_streams
            )
            pod.pause_cpu_seconds += dt * PAUSE_CPU_PER_SECOND
            if pod.draining and not pod.streams:
                self._retire(pod)
                self.slots[pod.slot] = None
        if now >= self.autoscaler.next_eval:
            self._autoscale()
            self.autoscaler.next_eval = now + self.scenario.scale_period
        for _ in range(self._poisson(self.arrival_rate(now) * dt)):
            self._arrive(now - self._rng.random() * dt)

    def advance(self, seconds: float) -> None:
        """Run whole steps covering ``seconds`` of model time."""
        for _ in range(max(0, math.ceil(seconds / STEP_SECONDS - 1e-9))):
            self.step()

    def _arrive(self, t: float) -> None:
        candidates = sorted(
            (p for p in self.pods() if p.ready(t)), key=lambda p: (p.open_streams, p.slot)
        )
        for pod in candidates:
            if pod.open_fds >= pod.max_fds:
                pod.lb.econ += 1  # accept() fails with EMFILE: the LB retries elsewhere
                pod.lb.wretr += 1
                continue
            self._open(pod, t)
            return

    def _open(self, pod: Pod, t: float) -> None:
        s = self.scenario
        load = pod.open_streams / s.batch_knee
        ttft = self._lognormal(s.ttft_median, s.ttft_sigma) * (1.0 + 0.5 * load)
        tokens = max(1, round(self._lognormal(s.tokens_median, s.tokens_sigma)))
        rate = s.token_rate / (1.0 + load) * self._lognormal(1.0, 0.1)
        decode = (tokens - 1) / rate
        stall, stall_at = 0.0, 0.0
        if self._rng.random() < 1.0 - math.exp(-s.stall_per_minute * decode / 60.0):
            stall = self._rng.expovariate(1.0 / s.stall_mean)
            stall_at = self._rng.random() * decode
        timeout = s.lb_idle_timeout
        stream = Stream(t, t + ttft, t + ttft + decode + stall, tokens, rate, stall, "ok")
        if ttft > timeout:
            stream.first_token, stream.end, stream.tokens, stream.outcome = (
                None,
                t + timeout,
                0,
                "cut",
            )
        elif stall > timeout:
            stream.end = t + ttft + stall_at + timeout
            stream.tokens = max(1, round(stall_at * rate))
            stream.outcome = "cut"
        elif self._rng.random() < s.client_abort_ratio:
            fraction = self._rng.random()
            stream.end = t + ttft + fraction * (decode + stall)
            stream.tokens = max(1, round(fraction * tokens))
            stream.stall = stall if fraction * (decode + stall) > stall_at + stall else 0.0
            stream.outcome = "client_abort"
        if stream.first_token is not None:
            pod.ttft.observe(ttft)
        pod.lb.stot += 1
        pod.lb.bin += 900
        pod.lb.last_session = t
        heapq.heappush(pod.streams, (stream.end, next(self._seq), stream))
        pod.lb.smax = max(pod.lb.smax, pod.open_streams)

    def _finish(self, pod: Pod, stream: Stream) -> None:
        lb = pod.lb
        if stream.outcome == "cut":
            lb.srv_abrt += 1
            lb.eresp += 1
        elif stream.outcome == "client_abort":
            lb.cli_abrt += 1
        if stream.first_token is not None:
            lb.hrsp_2xx += 1
            decode = stream.end - stream.first_token
            pod.decode.observe(decode)
            pod.e2e.observe(stream.end - stream.arrival)
            gaps = max(0, stream.tokens - 1 - (1 if stream.stall else 0))
            mean_gap = 1.0 / stream.rate
            quarter = gaps // 4
            pod.itl.observe(0.8 * mean_gap, quarter)
            pod.itl.observe(1.3 * mean_gap, quarter)
            pod.itl.observe(mean_gap, gaps - 2 * quarter)
            if stream.stall:
                pod.itl.observe(stream.stall)
            lb.rtime_ms += 0.05 * ((stream.first_token - stream.arrival) * 1000 - lb.rtime_ms)
        lb.bout += 120 + 6 * stream.tokens
        lb.ttime_ms += 0.05 * ((stream.end - stream.arrival) * 1000 - lb.ttime_ms)

    def _autoscale(self) -> None:
        a = self.autoscaler
        now = self.now
        active = [p for p in self.pods() if not p.draining]
        in_flight = sum(p.open_streams for p in active)
        current = len(active)
        ratio = in_flight / (current * a.target) if current else 0.0
        raw = current if abs(ratio - 1.0) <= 0.1 else math.ceil(in_flight / a.target)
        raw = min(a.max_replicas, max(a.min_replicas, raw))
        a.recent = [(t, d) for t, d in a.recent if t > now - self.SCALE_DOWN_WINDOW]
        a.recent.append((now, raw))
        desired = max(d for _, d in a.recent)  # scale down only after the window agrees
        a.desired = desired
        if desired > current:
            free = [i for i, p in enumerate(self.slots) if p is None]
            for slot in free[: desired - current]:
                self._start_pod(slot, ready_at=now + self.scenario.pod_start_seconds)
        elif desired < current:
            youngest = sorted(active, key=lambda p: (-p.started, -p.slot))
            for pod in youngest[: current - desired]:
                pod.draining = True

    # ------------------------------------------------------------------ views

    def cpu_cores_now(self, pod: Pod) -> float:
        """The pod's current CPU use (cores) by the model's formula."""
        return self.scenario.cpu_idle + self.scenario.cpu_per_stream * pod.open_streams


def warmed_model(scenario: Scenario, pods: int = 8, seed: int = 0) -> FleetModel:
    """A model already run for ``WARMUP_SECONDS`` of model time."""
    model = FleetModel(scenario, pods, seed)
    model.advance(WARMUP_SECONDS)
    return model
