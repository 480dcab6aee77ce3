"""Invariants of the simulated fleet model and its renderers (no network)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from streamdash.demo.exposition import (
    HAPROXY_CSV_COLUMNS,
    haproxy_csv,
    ksm_families,
    pod_families,
    render_text,
)
from streamdash.demo.fleet import HOT_SLOT, FleetModel, warmed_model
from streamdash.demo.scenarios import HEALTHY, SCENARIOS, get_scenario, scenario_names
from streamdash.sources.scrape import parse_exposition


def _state(model: FleetModel) -> list[tuple[str, int, int, float, list[int]]]:
    return [
        (p.name, p.open_streams, p.lb.stot, round(p.cpu_seconds, 9), list(p.decode.counts))
        for p in model.pods()
    ]


def test_fds_are_base_plus_open_streams_at_every_step() -> None:
    model = FleetModel(SCENARIOS["incident"], pods=4, seed=3)
    for _ in range(400):
        model.step()
        for pod in model.pods():
            assert pod.open_fds == pod.base_fds + pod.open_streams
            assert pod.open_fds <= pod.max_fds
            assert pod.lb.stot >= pod.open_streams


def test_hot_pod_sits_near_its_fd_limit() -> None:
    model = warmed_model(SCENARIOS["fd-ceiling"], pods=6, seed=1)
    hot = model.slots[HOT_SLOT]
    assert hot is not None and hot.max_fds == 1024
    assert 0.9 <= hot.open_fds / hot.max_fds <= 1.0
    others = [p for p in model.pods() if p is not hot]
    assert all(p.open_fds / p.max_fds < 0.01 for p in others)


@pytest.mark.parametrize("load", [1.6, 0.35])
def test_autoscaler_moves_replicas_toward_concurrency_target(load: float) -> None:
    scenario = dataclasses.replace(HEALTHY, load=load)
    model = FleetModel(scenario, pods=6, seed=2)
    start = model.replicas()
    model.advance(600)
    target = scenario.target_concurrency
    in_flight = sum(p.open_streams for p in model.pods() if not p.draining)
    ideal = math.ceil(in_flight / target)
    if load > 1:
        assert model.replicas() > start
    else:
        assert model.replicas() < start
        assert model.replicas() >= model.autoscaler.min_replicas
    # within the autoscaler's 10 % tolerance band plus one pod of noise
    assert abs(model.replicas() - ideal) <= max(1, math.ceil(0.1 * ideal) + 1)


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    a = FleetModel(SCENARIOS["incident"], pods=4, seed=7)
    b = FleetModel(SCENARIOS["incident"], pods=4, seed=7)
    c = FleetModel(SCENARIOS["incident"], pods=4, seed=8)
    for m in (a, b, c):
        m.advance(120)
    assert _state(a) == _state(b)
    assert _state(a) != _state(c)


def test_idle_timeout_cuts_only_when_gaps_exceed_it() -> None:
    healthy = warmed_model(SCENARIOS["healthy"], pods=4, seed=0)
    assert sum(p.lb.srv_abrt for p in healthy.pods()) == 0
    cut = warmed_model(SCENARIOS["idle-timeout"], pods=4, seed=0)
    streams = sum(p.lb.stot for p in cut.pods())
    cuts = sum(p.lb.srv_abrt for p in cut.pods())
    assert cuts / streams > 0.01
    assert all(p.lb.eresp >= p.lb.srv_abrt for p in cut.pods())


def test_overflow_scenario_puts_most_streams_above_5s() -> None:
    model = warmed_model(SCENARIOS["overflow"], pods=4, seed=0)
    pod = model.pods()[0]
    assert pod.decode.bounds[-1] == 5.0
    assert pod.decode.counts[-1] / pod.decode.count > 0.5


def test_cpu_divergence_in_autoscaler_scenario() -> None:
    for name, low, high in (("healthy", 0.8, 1.4), ("autoscaler", 1.7, 2.5)):
        model = warmed_model(SCENARIOS[name], pods=8, seed=0)
        cpu = sum(model.cpu_cores_now(p) for p in model.pods())
        implied = math.ceil(cpu / (model.scenario.cpu_request * 0.7))
        assert low <= model.replicas() / implied <= high, name


def test_pod_exposition_parses_with_vllm_names_and_buckets() -> None:
    model = warmed_model(SCENARIOS["incident"], pods=3, seed=0)
    pod = model.pods()[0]
    samples = parse_exposition(render_text(pod_families(model, pod)).decode())
    for name in (
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:request_decode_time_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket",
        "vllm:e2e_request_latency_seconds_count",
        "vllm:num_requests_running",
        "process_open_fds",
        "process_max_fds",
    ):
        assert name in samples, name
    decode = samples["vllm:request_decode_time_seconds_bucket"]
    tops = sorted(float(dict(k)["le"]) for k in decode)
    assert tops[-2:] == [5.0, math.inf]
    values = [v for k, v in sorted(decode.items(), key=lambda kv: float(dict(kv[0])["le"]))]
    assert values == sorted(values)  # cumulative
    assert values[-1] == pod.decode.count
    (fds,) = samples["process_open_fds"].values()
    assert fds == pod.base_fds + pod.open_streams


def test_ksm_reports_the_autoscaler() -> None:
    model = warmed_model(SCENARIOS["autoscaler"], pods=5, seed=0)
    samples = parse_exposition(render_text(ksm_families(model)).decode())
    current = samples["kube_horizontalpodautoscaler_status_current_replicas"]
    key = (("horizontalpodautoscaler", model.autoscaler.name), ("namespace", "llm"))
    assert current[key] == model.replicas()


def test_haproxy_csv_has_real_header_and_one_row_per_pod() -> None:
    model = warmed_model(SCENARIOS["incident"], pods=4, seed=0)
    text = haproxy_csv(model, {p.slot: f"127.0.0.1:{9000 + p.slot}" for p in model.pods()})
    lines = text.splitlines()
    assert lines[0].startswith("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,")
    assert lines[0] == "# " + ",".join(HAPROXY_CSV_COLUMNS) + ","
    rows = [dict(zip(HAPROXY_CSV_COLUMNS, line.split(","), strict=False)) for line in lines[1:]]
    servers = {r["svname"]: r for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")}
    in_rotation = [p for p in model.pods() if model.now >= p.ready_at]
    assert set(servers) == {p.name for p in in_rotation}
    for pod in in_rotation:
        row = servers[pod.name]
        assert int(row["scur"]) == pod.open_streams
        assert int(row["srv_abrt"]) == pod.lb.srv_abrt
        assert row["slim"] == "256"


def test_scenarios_are_named_and_unknown_is_one_line() -> None:
    assert scenario_names()[0] == "incident"
    assert set(scenario_names()) == {
        "healthy", "overflow", "idle-timeout", "fd-ceiling", "autoscaler", "incident",
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown demo scenario 'nope'"):
        get_scenario("nope")
