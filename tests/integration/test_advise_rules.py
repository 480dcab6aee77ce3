"""advise's SLO rules through their real consumers: ``promtool check rules``, ``promtool
test rules`` over input series from a test fleet (the burn-rate alert fires on the
incident and stays silent on the healthy fleet), and a real Prometheus 2.42 whose data
holds both ``le`` spellings (``10`` and ``10.0``) for the same bound."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from streamdash.advise import AdviseFacts, advise
from streamdash.advise.render import file_text
from streamdash.core.build import build_snapshot
from streamdash.presets import load_preset
from streamdash.presets.buckets import VLLM_REQUEST_LATENCY_BUCKETS, VLLM_TTFT_BUCKETS
from streamdash.settings import Settings, SloSettings, SloTarget
from tests.support.fleet import STREAM_METRIC, TTFT_METRIC, FleetSpec, fleet_series
from tests.support.promtool import input_series, run_promtool
from tests.support.raws import cumulative, raw_answers

pytestmark = pytest.mark.integration

NS = "llm"
SLO = SloSettings(
    objective=0.99,
    ttft=SloTarget(target_seconds=2.5),
    stream=SloTarget(target_seconds=120.0),
)
SETTINGS = Settings(preset=load_preset("vllm"), namespace=NS, slo=SLO)


def _snapshot():  # type: ignore[no-untyped-def]
    """A snapshot on vLLM's own bucket lists (what the rules are built from)."""
    ttft = {"p": cumulative(VLLM_TTFT_BUCKETS, [1.0] * 12 + [0.0] * 11)}
    stream = {"p": cumulative(VLLM_REQUEST_LATENCY_BUCKETS, [1.0] * 15 + [0.0] * 7)}
    return build_snapshot(raw_answers(ttft=ttft, stream=stream), SETTINGS)


def _rule_files(tmp_path: Path, le_texts: dict[str, tuple[str, ...]] | None = None) -> list[Path]:
    advice = advise(_snapshot(), AdviseFacts(le_texts=le_texts or {}), SETTINGS)
    paths = []
    for artifact in advice.artifacts:
        if artifact.kind == "slo-rules":
            path = tmp_path / artifact.name
            path.write_text(file_text(artifact))
            paths.append(path)
    assert [p.name for p in paths] == ["slo-ttft.rules.yaml", "slo-stream.rules.yaml"]
    return paths


def test_promtool_check_rules_accepts_every_slo_file(tmp_path: Path) -> None:
    paths = _rule_files(tmp_path)
    proc = run_promtool("check", "rules", *map(str, paths))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 6 rules found" in proc.stdout


MINUTES = 90


def _fleet_input(spec: FleetSpec) -> list[dict[str, str]]:
    series, _ = fleet_series(spec, end=MINUTES * 60.0, duration_s=MINUTES * 60, step_s=60)
    keep = (f"{TTFT_METRIC}_", f"{STREAM_METRIC}_", "kube_pod_owner", "kube_replicaset_owner")
    return input_series(series, keep)


def _alerts_test(spec: FleetSpec, firing: bool) -> dict[str, object]:
    labels = f'alertname="StreamdashTTFTBudgetBurnFast", alertstate="firing", namespace="{NS}", severity="critical", slo="ttft", slo_target_seconds="2.5", window="1h"'  # noqa: E501
    expected = [{"labels": f"ALERTS{{{labels}}}", "value": 1}] if firing else []
    return {
        "interval": "1m",
        "input_series": _fleet_input(spec),
        "promql_expr_test": [
            {
                "expr": 'ALERTS{alertname="StreamdashTTFTBudgetBurnFast", alertstate="firing"}',
                "eval_time": f"{MINUTES - 5}m",
                "exp_samples": expected,
            },
            {  # the slow window needs 6 h of data; 85 min of a total outage is not enough
                "expr": 'ALERTS{alertname="StreamdashStreamBudgetBurnFast"}',
                "eval_time": f"{MINUTES - 5}m",
                "exp_samples": [],
            },
        ],
    }


def test_promtool_burn_rate_fires_on_the_incident_only(tmp_path: Path) -> None:
    paths = _rule_files(tmp_path)
    base = dict(pods=3, namespace=NS, histograms=("ttft", "stream"), stream_median_s=15.0)
    healthy = FleetSpec(**base, ttft_median_s=0.25, seed=11)  # type: ignore[arg-type]
    incident = FleetSpec(**base, ttft_median_s=3.0, seed=12)  # type: ignore[arg-type]
    doc = {
        "rule_files": [p.name for p in paths],
        "evaluation_interval": "1m",
        "tests": [_alerts_test(incident, firing=True), _alerts_test(healthy, firing=False)],
    }
    test_file = tmp_path / "slo.test.yaml"
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_promtool("test", "rules", test_file.name, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "SUCCESS" in proc.stdout


def test_both_le_spellings_count_on_a_real_prometheus(tmp_path: Path, prometheus_factory) -> None:  # type: ignore[no-untyped-def]
    """Half the pods write ``le="10"`` (Go client), half ``le="10.0"`` (Python client):
    the advised ratio counts both, equal to Prometheus's own sum over each spelling."""
    import time

    from tests.support.prom import openmetrics_text

    slo = dataclasses.replace(SLO, ttft=SloTarget(target_seconds=10.0))
    settings = dataclasses.replace(SETTINGS, slo=slo)
    end = float(int(time.time()) - 5)
    spec = FleetSpec(pods=4, namespace=NS, histograms=("ttft",), ttft_median_s=6.0, seed=3)
    series, types = fleet_series(spec, end=end, duration_s=900, step_s=15)
    pods = sorted({labels["pod"] for _, labels, _ in series if "pod" in labels})
    go_pods = set(pods[:2])
    rewritten = []
    for name, labels, points in series:
        le = labels.get("le")
        if le is not None and labels.get("pod") in go_pods and le.endswith(".0"):
            labels = {**labels, "le": le[:-2]}
        rewritten.append((name, labels, points))
    server = prometheus_factory(openmetrics=openmetrics_text(rewritten, types))
    texts = {"10", "10.0"}
    rows = server.query(f'count by (le) ({TTFT_METRIC}_bucket{{le=~"10|10.0"}})')
    assert {r["metric"]["le"] for r in rows} == texts  # both spellings really are stored
    facts = AdviseFacts(le_texts={TTFT_METRIC: tuple(sorted(texts))})
    raw = raw_answers(ttft={"p": cumulative(VLLM_TTFT_BUCKETS, [1.0] * 23)})
    advice = advise(build_snapshot(raw, settings), facts, settings)
    rules = yaml.safe_load(
        next(a.body for a in advice.artifacts if a.name == "slo-ttft.rules.yaml")
    )
    expr = rules["groups"][0]["rules"][0]["expr"]  # the 5m ratio
    at = end - 1
    got = server.query(expr, at=at)
    assert len(got) == 1
    want = server.query(
        f'sum(rate({TTFT_METRIC}_bucket{{namespace="{NS}",le="10"}}[5m])) + '
        f'sum(rate({TTFT_METRIC}_bucket{{namespace="{NS}",le="10.0"}}[5m]))',
        at=at,
    )
    total = server.query(f'sum(rate({TTFT_METRIC}_count{{namespace="{NS}"}}[5m]))', at=at)
    ratio = float(want[0]["value"][1]) / float(total[0]["value"][1])
    assert float(got[0]["value"][1]) == pytest.approx(ratio, rel=1e-9)
    assert 0.5 < ratio < 1.0  # a real share: neither spelling was dropped
    one = server.query(
        f'sum(rate({TTFT_METRIC}_bucket{{namespace="{NS}",le="10.0"}}[5m])) / '
        f'sum(rate({TTFT_METRIC}_count{{namespace="{NS}"}}[5m]))',
        at=at,
    )
    assert float(one[0]["value"][1]) < ratio * 0.75  # one spelling alone undercounts


def test_promtool_per_model_alert_fires_only_for_the_slow_model(tmp_path: Path) -> None:
    """With model groups in the snapshot the rules keep one series per model_name: the
    slow model's fast-burn alert fires, the healthy model's (same namespace) does not."""
    from streamdash.core.snapshot import GroupView

    groups = (
        GroupView(name="fast", labels={"model_name": "fast"}),
        GroupView(name="slow", labels={"model_name": "slow"}),
    )
    snap = dataclasses.replace(_snapshot(), groups=groups)
    advice = advise(snap, AdviseFacts(), SETTINGS)
    rules = next(a for a in advice.artifacts if a.name == "slo-ttft.rules.yaml")
    path = tmp_path / rules.name
    path.write_text(file_text(rules))
    base = dict(pods=2, namespace=NS, histograms=("ttft",))
    fast = FleetSpec(**base, model_name="fast", deployment="fast-serve", ttft_median_s=0.25, seed=1)  # type: ignore[arg-type]
    slow = FleetSpec(**base, model_name="slow", deployment="slow-serve", ttft_median_s=3.0, seed=2)  # type: ignore[arg-type]
    labels = (
        'alertname="StreamdashTTFTBudgetBurnFast", alertstate="firing", model_name="slow", '
        f'namespace="{NS}", severity="critical", slo="ttft", slo_target_seconds="2.5", '
        'window="1h"'
    )
    doc = {
        "rule_files": [path.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _fleet_input(fast) + _fleet_input(slow),
                "promql_expr_test": [
                    {
                        "expr": 'ALERTS{alertname="StreamdashTTFTBudgetBurnFast"}',
                        "eval_time": f"{MINUTES - 5}m",
                        "exp_samples": [{"labels": f"ALERTS{{{labels}}}", "value": 1}],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "per-model.test.yaml"
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_promtool("test", "rules", test_file.name, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_promtool_per_workload_alert_fires_only_for_the_slow_workload(tmp_path: Path) -> None:
    """Two Deployments serving the same model in one namespace: with workload groups in
    the snapshot the rules join kube_pod_owner / kube_replicaset_owner (the input series
    of the test fleet) and keep one series per workload and model. The slow workload's
    fast-burn alert fires; the healthy one's stays silent."""
    from streamdash.core.snapshot import GroupView

    groups = tuple(
        GroupView(
            name=f"Deployment/{d} model_name=llama",
            workload_kind="Deployment",
            workload=d,
            labels={"model_name": "llama"},
        )
        for d in ("fast-serve", "slow-serve")
    )
    snap = dataclasses.replace(_snapshot(), groups=groups)
    advice = advise(snap, AdviseFacts(), SETTINGS)
    rules = next(a for a in advice.artifacts if a.name == "slo-ttft.rules.yaml")
    assert "kube_pod_owner" in rules.body and "kube_replicaset_owner" in rules.body
    assert "workload_kind, workload" in rules.body
    path = tmp_path / rules.name
    path.write_text(file_text(rules))
    check = run_promtool("check", "rules", str(path))
    assert check.returncode == 0, check.stdout + check.stderr
    base = dict(pods=2, namespace=NS, histograms=("ttft",), model_name="llama")
    fast = FleetSpec(**base, deployment="fast-serve", ttft_median_s=0.25, seed=1)  # type: ignore[arg-type]
    slow = FleetSpec(**base, deployment="slow-serve", ttft_median_s=3.0, seed=2)  # type: ignore[arg-type]
    labels = (
        'alertname="StreamdashTTFTBudgetBurnFast", alertstate="firing", model_name="llama", '
        f'namespace="{NS}", severity="critical", slo="ttft", slo_target_seconds="2.5", '
        'window="1h", workload="slow-serve", workload_kind="Deployment"'
    )
    ratio = 'slo:ttft_under_target:ratio_rate1h{workload="%s"}'
    doc = {
        "rule_files": [path.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _fleet_input(fast) + _fleet_input(slow),
                "promql_expr_test": [
                    {  # exactly one alert: the healthy workload's stays silent
                        "expr": 'ALERTS{alertname="StreamdashTTFTBudgetBurnFast"}',
                        "eval_time": f"{MINUTES - 5}m",
                        "exp_samples": [{"labels": f"ALERTS{{{labels}}}", "value": 1}],
                    },
                    {  # one ratio series per workload, the healthy one above objective
                        "expr": f"count({ratio % 'fast-serve'} > 0.99)",
                        "eval_time": f"{MINUTES - 5}m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "per-workload.test.yaml"
    test_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_promtool("test", "rules", test_file.name, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
