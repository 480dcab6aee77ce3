"""Delta math and label logic of the direct-scrape source (no network)."""

from __future__ import annotations

import math

import pytest

from streamdash.core.histogram import bucket_quantile, pod_histogram
from streamdash.presets import load_preset
from streamdash.settings import HistogramSpec, Preset, ScrapeTarget, Settings
from streamdash.sources.scrape import (
    LabelSet,
    Scrape,
    ScrapeError,
    TargetRound,
    answers_from_rounds,
    counter_increase,
    interval_note,
    parse_exposition,
    series_increases,
    series_rates,
)

VLLM = load_preset("vllm")
POD_A = ScrapeTarget("http://10.0.0.1:8000/metrics")
POD_B = ScrapeTarget("http://10.0.0.2:8000/metrics", pod="configured-b")
KSM = ScrapeTarget("http://ksm:8080/metrics")


def _hist(name: str, pod: str, buckets: dict[str, float], total: float, ns: str = "llm") -> str:
    lines = [f"# TYPE {name} histogram"]
    for le, v in buckets.items():
        lines.append(f'{name}_bucket{{le="{le}",namespace="{ns}",pod="{pod}"}} {v}')
    lines.append(f'{name}_sum{{namespace="{ns}",pod="{pod}"}} {total}')
    lines.append(f'{name}_count{{namespace="{ns}",pod="{pod}"}} {buckets["+Inf"]}')
    return "\n".join(lines) + "\n"


def _scrape(at: float, text: str) -> Scrape:
    return Scrape(at, parse_exposition(text))


def test_counter_increase_is_prometheus_like() -> None:
    assert counter_increase(10.0, 15.0) == 5.0
    assert counter_increase(10.0, 10.0) == 0.0
    assert counter_increase(100.0, 7.0) == 7.0  # reset: restarted from 0


def test_series_increases_skip_new_and_vanished_series() -> None:
    a: LabelSet = (("x", "1"),)
    b: LabelSet = (("x", "2"),)
    c: LabelSet = (("x", "3"),)
    prev = {a: 5.0, b: 9.0}
    cur = {a: 8.0, c: 4.0}  # b vanished, c is new
    assert series_increases(prev, cur) == {a: 3.0}


def test_series_rates_divide_by_interval_and_need_two_scrapes() -> None:
    text0 = '# TYPE c counter\nc_total{k="v"} 10\n'
    text1 = '# TYPE c counter\nc_total{k="v"} 30\n'
    first, second = _scrape(100.0, text0), _scrape(104.0, text1)
    assert series_rates(first, second, "c_total") == {(("k", "v"),): 5.0}
    assert series_rates(None, second, "c_total") == {}
    assert series_rates(second, second, "c_total") == {}


def test_parse_keeps_colon_names_and_histogram_suffixes() -> None:
    samples = parse_exposition(
        _hist("vllm:time_to_first_token_seconds", "p", {"0.5": 1, "+Inf": 2}, 1.5)
        + "# TYPE c counter\nc_total 3\ng NaN\n"
    )
    assert (
        samples["vllm:time_to_first_token_seconds_bucket"][
            (("le", "+Inf"), ("namespace", "llm"), ("pod", "p"))
        ]
        == 2
    )
    assert samples["vllm:time_to_first_token_seconds_count"]
    assert samples["c_total"] == {(): 3.0}
    assert "g" not in samples  # NaN dropped


@pytest.mark.parametrize(
    "text",
    ["<html><body>502 Bad Gateway</body></html>\n", '{"status": "ok"}\n', "metric value\n"],
)
def test_parse_garbage_is_one_line_error(text: str) -> None:
    with pytest.raises(ScrapeError) as info:
        parse_exposition(text)
    assert "not Prometheus text format" in str(info.value)
    assert "\n" not in str(info.value)


def _settings(**kw: object) -> Settings:
    base = {"preset": VLLM, "namespace": "llm"}
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


TTFT = "vllm:time_to_first_token_seconds"


def test_histogram_rates_by_pod_and_le_with_counter_reset() -> None:
    a0 = _hist(TTFT, "pod-a", {"0.5": 10, "1.0": 20, "+Inf": 25}, 20.0)
    a1 = _hist(TTFT, "pod-a", {"0.5": 14, "1.0": 28, "+Inf": 35}, 28.0)
    # pod-b restarted between scrapes: counters went down -> increase is the new value
    b0 = _hist(TTFT, "ignored", {"0.5": 50, "1.0": 60, "+Inf": 70}, 50.0)
    b1 = _hist(TTFT, "ignored", {"0.5": 2, "1.0": 3, "+Inf": 4}, 3.0)
    rounds = [
        TargetRound(POD_A, _scrape(0.0, a0), _scrape(2.0, a1)),
        TargetRound(POD_B, _scrape(0.0, b0), _scrape(2.0, b1)),
    ]
    fields = answers_from_rounds(_settings(), VLLM, rounds)
    ttft = fields.histograms["ttft"]
    a = {0.5: 2.0, 1.0: 4.0, math.inf: 5.0}
    b = {0.5: 1.0, 1.0: 1.5, math.inf: 2.0}
    assert ttft.fleet == {0.5: 3.0, 1.0: 5.5, math.inf: 7.0}
    assert ttft.pods["pod-a"] == pod_histogram(a)
    assert ttft.pods["pod-a"].top_finite_rate == 4.0 and ttft.pods["pod-a"].count_rate == 5.0
    assert ttft.pods["configured-b"] == pod_histogram(b)
    assert ttft.pods["configured-b"].p99 == bucket_quantile(0.99, b)
    assert ttft.sum_rate == 5.5 and ttft.count_rate == 7.0
    assert ttft.part == "ttft_buckets"


def test_new_bucket_series_has_no_rate_and_first_scrape_gives_none() -> None:
    a0 = _hist(TTFT, "pod-a", {"0.5": 1, "+Inf": 2}, 1.0)
    a1 = _hist(TTFT, "pod-a", {"0.5": 3, "1.0": 4, "+Inf": 5}, 3.0)
    rounds = [TargetRound(POD_A, _scrape(0.0, a0), _scrape(1.0, a1))]
    ttft = answers_from_rounds(_settings(), VLLM, rounds).histograms["ttft"]
    assert ttft.fleet == {0.5: 2.0, math.inf: 3.0}
    only_once = [TargetRound(POD_A, None, _scrape(1.0, a1))]
    ttft = answers_from_rounds(_settings(), VLLM, only_once).histograms["ttft"]
    assert ttft.pods == {} and ttft.fleet is None


def test_other_namespace_left_out_and_host_port_names_unlabelled_pods() -> None:
    theirs0 = _hist(TTFT, "web-1", {"+Inf": 1}, 1.0, ns="web")
    theirs1 = _hist(TTFT, "web-1", {"+Inf": 9}, 9.0, ns="web")
    bare0 = f'# TYPE {TTFT} histogram\n{TTFT}_bucket{{le="+Inf"}} 1\nprocess_open_fds 7\n'
    bare1 = f'# TYPE {TTFT} histogram\n{TTFT}_bucket{{le="+Inf"}} 3\nprocess_open_fds 9\n'
    bare1 += "process_max_fds 1024\n"
    rounds = [
        TargetRound(POD_A, _scrape(0.0, theirs0), _scrape(1.0, theirs1)),
        TargetRound(KSM, _scrape(0.0, bare0), _scrape(1.0, bare1)),
    ]
    fields = answers_from_rounds(_settings(), VLLM, rounds)
    assert fields.histograms["ttft"].fleet == {math.inf: 2.0}
    assert set(fields.histograms["ttft"].pods) == {"ksm:8080"}
    assert fields.open_fds == {"ksm:8080": 9.0}
    assert fields.fds["ksm:8080"].instance == "ksm:8080"  # a pair: open and max of one process


def test_gauges_in_flight_matchers_and_selector() -> None:
    preset = Preset(
        name="t",
        ttft=HistogramSpec(None),
        stream=HistogramSpec(None),
        itl=HistogramSpec(None),
        e2e=HistogramSpec(None),
        in_flight='conns{state="active"}',
    )
    text = (
        'conns{pod="p",state="active",model_name="llama"} 4\n'
        'conns{pod="p",state="waiting",model_name="llama"} 100\n'
        'conns{pod="p",state="active",model_name="other"} 50\n'
        'process_open_fds{pod="p"} 40\nprocess_max_fds{pod="p"} 1024\n'
    )
    rounds = [TargetRound(POD_A, None, _scrape(0.0, text))]
    fields = answers_from_rounds(_settings(selector='model_name="llama"'), preset, rounds)
    assert fields.in_flight == {"p": 4.0}
    assert fields.open_fds == {"p": 40.0}
    assert fields.max_fds == {"p": 1024.0}
    assert fields.histograms == {}


def test_cadvisor_cpu_excludes_pod_cgroup_and_pause_and_requests_sum() -> None:
    def cad(v: float) -> str:
        return (
            "# TYPE container_cpu_usage_seconds_total counter\n"
            f'container_cpu_usage_seconds_total{{namespace="llm",pod="p",container="vllm"}} {v}\n'
            f'container_cpu_usage_seconds_total{{namespace="llm",pod="p",container="side"}} {v}\n'
            f'container_cpu_usage_seconds_total{{namespace="llm",pod="p",container="POD"}} {v}\n'
            f'container_cpu_usage_seconds_total{{namespace="llm",pod="p",container=""}} {3 * v}\n'
            f'container_cpu_usage_seconds_total{{namespace="web",pod="w",container="web"}} {v}\n'
            'kube_pod_container_resource_requests{namespace="llm",pod="p",container="vllm",'
            'resource="cpu",unit="core"} 0.5\n'
            'kube_pod_container_resource_requests{namespace="llm",pod="p",container="side",'
            'resource="cpu",unit="core"} 0.1\n'
            'kube_pod_container_resource_requests{namespace="llm",pod="p",container="vllm",'
            'resource="memory",unit="byte"} 1e9\n'
        )

    rounds = [TargetRound(KSM, _scrape(0.0, cad(10.0)), _scrape(4.0, cad(12.0)))]
    fields = answers_from_rounds(_settings(), VLLM, rounds)
    assert fields.cpu_cores == {"p": pytest.approx(1.0)}  # (2 + 2) / 4 s
    assert fields.cpu_request_cores == {"p": pytest.approx(0.6)}


def _ksm() -> str:
    rows = []
    for ns, name, cur in (("llm", "keda-hpa-llama", 12), ("llm", "other", 2), ("web", "web", 3)):
        labels = f'namespace="{ns}",horizontalpodautoscaler="{name}"'
        rows.append(f"kube_horizontalpodautoscaler_status_current_replicas{{{labels}}} {cur}")
        rows.append(f"kube_horizontalpodautoscaler_status_desired_replicas{{{labels}}} {cur}")
        rows.append(f"kube_horizontalpodautoscaler_spec_min_replicas{{{labels}}} 1")
        rows.append(f"kube_horizontalpodautoscaler_spec_max_replicas{{{labels}}} 20")
        rows.append(
            f'kube_horizontalpodautoscaler_spec_target_metric{{{labels},metric_name="s0-prometheus",'
            'metric_target_type="average"} 32'
        )
        rows.append(
            f'kube_horizontalpodautoscaler_spec_target_metric{{{labels},metric_name="cpu",'
            'metric_target_type="utilization"} 70'
        )
    return "\n".join(rows) + "\n"


def test_hpas_from_ksm_honour_namespace_and_name() -> None:
    rounds = [TargetRound(KSM, None, _scrape(0.0, _ksm()))]
    hpas = answers_from_rounds(_settings(), VLLM, rounds).hpas
    assert [h.name for h in hpas] == ["keda-hpa-llama", "other"]
    # every HPA in scope comes back (the core picks with --hpa, for both sources)
    hpa = answers_from_rounds(_settings(hpa="keda-hpa-llama"), VLLM, rounds).hpas[0]
    assert hpa.name == "keda-hpa-llama" and hpa.namespace == "llm"
    assert [(t.metric, t.target_type, t.value) for t in hpa.targets] == [
        ("cpu", "utilization", 70),
        ("s0-prometheus", "average", 32),
    ]
    assert (hpa.current_replicas, hpa.desired_replicas, hpa.min_replicas, hpa.max_replicas) == (
        12,
        12,
        1,
        20,
    )
    # the CPU target is the one the core can use; the other stays visible in the ksm data
    assert (hpa.target_metric, hpa.target_type, hpa.target_value) == ("cpu", "utilization", 70)


def test_interval_note() -> None:
    text = "x 1\n"
    assert interval_note([TargetRound(POD_A, None, _scrape(1.0, text))]) is None
    note = interval_note([TargetRound(POD_A, _scrape(1.0, text), _scrape(6.0, text))])
    assert note is not None and note.startswith("direct scrape: rates over the last 5 s")


def test_window_baseline_sums_increases_across_a_reset() -> None:
    from streamdash.sources.scrape import Scrape, window_baseline

    key = (("pod", "a"),)

    def at(t: float, v: float) -> Scrape:
        return Scrape(t, {"x_total": {key: v}})

    # 10 -> 30 (+20), reset -> 5 (+5), -> 25 (+20): 45 over 30 s, as Prometheus counts it
    base = window_baseline([at(0, 10), at(10, 30), at(20, 5)], at(30, 25))
    assert base is not None and base.at == 0
    assert 25 - base.samples["x_total"][key] == 45
    assert window_baseline([], at(30, 25)) is None


def test_scrape_groups_by_model_and_owner_workload_like_the_prometheus_join() -> None:
    """Direct scrape makes the same groups Prometheus's owner join does: the model label
    and, from kube-state-metrics' own samples, the pod's Deployment; an old-name vLLM
    pod is summed through the per-pod fallback."""

    def model_hist(name: str, pod: str, model: str, inf: float) -> str:
        return _hist(name, pod, {"0.5": inf / 2, "+Inf": inf}, inf).replace(
            f'pod="{pod}"', f'pod="{pod}",model_name="{model}"'
        )

    itl, old = "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"
    a0 = model_hist(TTFT, "pod-a", "llama", 10) + model_hist(itl, "pod-a", "llama", 10)
    a1 = model_hist(TTFT, "pod-a", "llama", 20) + model_hist(itl, "pod-a", "llama", 20)
    b0 = model_hist(TTFT, "b", "mistral", 4) + model_hist(old, "b", "mistral", 4)
    b1 = model_hist(TTFT, "b", "mistral", 8) + model_hist(old, "b", "mistral", 8)
    owners = (
        'kube_pod_owner{namespace="llm",pod="pod-a",owner_kind="ReplicaSet",'
        'owner_name="llama-1"} 1\n'
        'kube_replicaset_owner{namespace="llm",replicaset="llama-1",owner_kind="Deployment",'
        'owner_name="llama"} 1\n'
    )
    rounds = [
        TargetRound(POD_A, _scrape(0.0, a0), _scrape(2.0, a1)),
        TargetRound(POD_B, _scrape(0.0, b0), _scrape(2.0, b1)),
        TargetRound(KSM, _scrape(0.0, owners), _scrape(2.0, owners)),
    ]
    fields = answers_from_rounds(_settings(), VLLM, rounds)
    ttft = fields.histograms["ttft"]
    llama = (
        ("model_name", "llama"),
        ("workload", "llama"),
        ("workload_kind", "Deployment"),
    )
    assert ttft.groups == {
        llama: {0.5: 2.5, math.inf: 5.0},
        (("model_name", "mistral"),): {0.5: 1.0, math.inf: 2.0},
    }
    assert fields.pod_groups == {
        "pod-a": ((("model_name", "llama"),),),
        "configured-b": ((("model_name", "mistral"),),),
    }
    assert fields.histograms["itl"].fleet == {0.5: 3.5, math.inf: 7.0}  # old name kept
