"""``streamdash demo``: a simulated vLLM fleet on loopback, scraped like a real one.

``start_fleet`` warms a ``FleetModel`` up, opens its endpoints on 127.0.0.1 (free
ports) and keeps it moving in a background thread; ``demo_settings`` points the
direct-scrape source and the HAProxy source at it; ``describe_endpoints`` says where
everything listens (for ``streamdash demo --serve``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from streamdash.demo.fleet import FleetModel, warmed_model
from streamdash.demo.scenarios import DEFAULT_SCENARIO, scenario_names
from streamdash.demo.schedule import describe_schedule, parse_schedule
from streamdash.demo.server import FleetServer
from streamdash.presets import load_preset
from streamdash.settings import (
    LoadBalancerSettings,
    PrometheusSettings,
    ScrapeTarget,
    Settings,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "RunningFleet",
    "demo_settings",
    "describe_endpoints",
    "scenario_names",
    "start_fleet",
]

DEFAULT_PODS = 8
LB_NAME = "demo-haproxy"


@dataclass(frozen=True)
class RunningFleet:
    """A running simulated fleet: where its endpoints listen, and its controls."""

    scenario: str
    description: str
    namespace: str
    hpa_name: str
    pod_urls: tuple[str, ...]
    """One ``/metrics`` per pod slot; a slot with no pod answers with no samples."""
    ksm_url: str
    cadvisor_url: str
    haproxy_csv_url: str
    lb_idle_timeout_seconds: float
    expected_findings: tuple[tuple[str, str | None], ...]
    _server: FleetServer = field(repr=False, compare=False)

    @property
    def model(self) -> FleetModel:
        """The model itself (hold ``model.lock`` while reading it)."""
        return self._server.model

    def pause(self) -> None:
        """Freeze the model so every endpoint answers the same instant."""
        self._server.pause()

    def resume(self) -> None:
        self._server.resume()

    def advance(self, seconds: float) -> None:
        """Advance the model by ``seconds`` of model time at once."""
        self._server.advance(seconds)

    def stop(self) -> None:
        """Stop the model thread and close every endpoint. Safe to call twice."""
        self._server.stop()


def start_fleet(
    scenario: str = DEFAULT_SCENARIO, pods: int | None = None, seed: int = 0
) -> RunningFleet:
    """Warm up and start the fleet of ``scenario``: a name, or a schedule such as
    ``healthy,overflow@30s`` (``streamdash.demo.schedule``); ValueError when unknown."""
    schedule = parse_schedule(scenario)
    spec = schedule[0][1]
    model = warmed_model(spec, pods or DEFAULT_PODS, seed)
    for at, later in schedule[1:]:
        model.schedule(model.now + at, later)
    server = FleetServer(model)
    return RunningFleet(
        scenario=spec.name if len(schedule) == 1 else describe_schedule(schedule),
        description=spec.description,
        namespace=model.namespace,
        hpa_name=model.autoscaler.name,
        pod_urls=tuple(ep.url("/metrics") for ep in server.pods),
        ksm_url=server.ksm.url("/metrics"),
        cadvisor_url=server.cadvisor.url("/metrics/cadvisor"),
        haproxy_csv_url=server.haproxy.url("/stats;csv"),
        lb_idle_timeout_seconds=spec.lb_idle_timeout,
        expected_findings=spec.expected_findings,
        _server=server,
    )


def demo_settings(fleet: RunningFleet, base: Settings) -> Settings:
    """``base`` pointed at the fleet: direct scrape of pods, KSM and cAdvisor; the demo
    HAProxy with its idle timeout; the vLLM preset; the fleet's namespace and HPA; no
    Prometheus URL."""
    targets = tuple(
        ScrapeTarget(url) for url in (*fleet.pod_urls, fleet.ksm_url, fleet.cadvisor_url)
    )
    return dataclasses.replace(
        base,
        prometheus=PrometheusSettings(timeout_seconds=base.prometheus.timeout_seconds),
        preset=load_preset("vllm"),
        namespace=fleet.namespace,
        selector=None,
        pod_label="pod",
        hpa=fleet.hpa_name,
        scrape=targets,
        fallback=None,
        load_balancers=(
            LoadBalancerSettings(
                kind="haproxy",
                url=fleet.haproxy_csv_url,
                name=LB_NAME,
                idle_timeout_seconds=fleet.lb_idle_timeout_seconds,
            ),
        ),
    )


def describe_endpoints(fleet: RunningFleet) -> str:
    """Human-readable list of the fleet's endpoints (for ``streamdash demo --serve``)."""
    lines = [
        f"streamdash demo fleet — scenario {fleet.scenario}: {fleet.description}",
        f"namespace {fleet.namespace}, autoscaler {fleet.hpa_name}, "
        f"LB idle timeout {fleet.lb_idle_timeout_seconds:g} s",
        "pods (vLLM /metrics, one per slot; empty while a slot has no pod):",
        *(f"  {url}" for url in fleet.pod_urls),
        f"kube-state-metrics: {fleet.ksm_url}",
        f"cAdvisor:           {fleet.cadvisor_url}",
        f"HAProxy stats CSV:  {fleet.haproxy_csv_url}",
    ]
    return "\n".join(lines)
