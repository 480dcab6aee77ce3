"""PromQL builders: escaping, selector parsing and merging, query shapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamdash.sources import promql
from streamdash.sources.promql import Matcher, Scope


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("llama", '"llama"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("a\nb", '"a\\nb"'),
        ("tab\there", '"tab\\there"'),
        ("esc\x1b[0m", '"esc\\u001b[0m"'),
        ('\\"', '"\\\\\\""'),
    ],
)
def test_quote_escapes(value: str, expected: str) -> None:
    assert promql.quote(value) == expected


@given(st.text())
def test_quote_round_trips_through_the_parser(value: str) -> None:
    rendered = Matcher("model_name", "=", value).render()
    assert promql.parse_matchers(rendered) == (Matcher("model_name", "=", value),)
    assert "\n" not in rendered


@given(st.text(), st.text())
def test_a_hostile_namespace_stays_one_matcher(namespace: str, model: str) -> None:
    scope = Scope.build(namespace or "ns", f"model_name={promql.quote(model)}")
    text = promql.selector("vllm:x_bucket", scope.app)
    name, matchers = promql.parse_metric_selector(text)
    assert name == "vllm:x_bucket"
    assert matchers == (
        Matcher("namespace", "=", namespace or "ns"),
        Matcher("model_name", "=", model),
    )


def test_parse_matchers_accepts_the_usual_forms() -> None:
    text = """{model_name="llama", job=~'vllm.*' ,pod!~`canary-.*`, x!="a\\"b"}"""
    assert promql.parse_matchers(text) == (
        Matcher("model_name", "=", "llama"),
        Matcher("job", "=~", "vllm.*"),
        Matcher("pod", "!~", "canary-.*"),
        Matcher("x", "!=", 'a"b'),
    )
    assert promql.parse_matchers(None) == ()
    assert promql.parse_matchers("  ") == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('model_name="llama', "unterminated string"),
        ("model_name=llama", "expected a quoted value"),
        ('model_name=="x"', "expected a quoted value"),
        ('model_name<"x"', "expected =, !=, =~ or !~"),
        ('a="1" b="2"', "expected ','"),
        ('{a="1"', "missing closing"),
        ('9a="1"', "expected a label name"),
        ('a="\\q"', "unknown escape"),
    ],
)
def test_parse_matchers_rejects_bad_input_in_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="selector") as info:
        promql.parse_matchers(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_parse_metric_selector_splits_name_and_matchers() -> None:
    assert promql.parse_metric_selector("vllm:num_requests_running") == (
        "vllm:num_requests_running",
        (),
    )
    assert promql.parse_metric_selector('conn{state="active"}') == (
        "conn",
        (Matcher("state", "=", "active"),),
    )
    with pytest.raises(ValueError, match="invalid metric name"):
        promql.parse_metric_selector('bad-name{state="active"}')


def test_scope_rejects_a_bad_pod_label() -> None:
    with pytest.raises(ValueError, match="invalid label name"):
        Scope.build("ns", None, pod_label="pod-name")


def test_in_flight_with_its_own_matchers_is_merged_with_the_scope() -> None:
    scope = Scope.build("ingress", 'model_name="llama"')
    query = promql.pod_gauges(
        'nginx_ingress_controller_nginx_process_connections{state="active"}', scope
    )
    assert (
        'sum by (pod) (nginx_ingress_controller_nginx_process_connections{state="active",'
        'namespace="ingress",model_name="llama"})'
    ) in query
    # FD gauges come from the process collector: namespace only, paired per process
    pair = (
        'topk by (pod) (1, process_open_fds{namespace="ingress"} / '
        'process_max_fds{namespace="ingress"})'
    )
    assert f'process_open_fds{{namespace="ingress"}} and {pair}' in query
    assert f'process_max_fds{{namespace="ingress"}} and {pair}' in query


def test_pod_gauges_without_in_flight_has_four_parts() -> None:
    query = promql.pod_gauges(None, Scope.build(None, None))
    assert query.count("label_replace(") == 4  # open/max pair, cAdvisor fds and sockets
    assert "process_open_fds and" in query  # no empty braces


def test_histogram_query_aggregates_on_the_server_with_a_custom_pod_label() -> None:
    scope = Scope.build("llm", 'model_name="llama"', pod_label="kubernetes_pod_name")
    query = promql.histogram_query(
        ["vllm:time_to_first_token_seconds"], scope, 300, per_pod=True, group_labels=["model_name"]
    )
    rate = 'rate(vllm:time_to_first_token_seconds_bucket{namespace="llm",model_name="llama"}[300s])'
    assert f"sum by (le) ({rate})" not in query  # the fleet is the groups' sum
    assert f"sum by (le, model_name) ({rate})" in query
    assert f"histogram_quantile(0.99, sum by (kubernetes_pod_name, le) ({rate}))" in query
    finite = rate.replace('"llama"}', '"llama",le!="+Inf"}')
    assert f"max by (kubernetes_pod_name) (sum by (kubernetes_pod_name, le) ({finite}))" in query
    assert "sum by (kubernetes_pod_name, le) (rate(" in query  # never buckets by pod
    assert "sum by (kubernetes_pod_name, le) (rate" not in query.replace(
        "histogram_quantile(0.99, sum by (kubernetes_pod_name, le) (rate", ""
    ).replace("max by (kubernetes_pod_name) (sum by (kubernetes_pod_name, le) (rate", "")
    for piece in promql.Piece.GROUP, promql.Piece.SUM, promql.Piece.POD_TOP:
        assert f'"{promql.PART_LABEL}", "{piece}"' in query
    assert f'"{promql.PART_LABEL}", "{promql.Piece.FLEET}"' not in query


def test_fleet_only_histogram_asks_nothing_per_pod() -> None:
    query = promql.histogram_query(["itl_seconds"], Scope.build("llm", None), 60, per_pod=False)
    assert "by (pod" not in query and "histogram_quantile" not in query
    assert query.count(" or ") == 2  # fleet, sum, count
    assert 'sum(rate(itl_seconds_count{namespace="llm"}[60s]))' in query


def test_fallback_metrics_are_chosen_per_pod() -> None:
    chain = promql.rate_chain(["new_s", "old_s"], "_bucket", Scope.build("llm", None), 60)
    assert chain == (
        '(rate(new_s_bucket{namespace="llm"}[60s]) or on (namespace, pod) '
        'rate(old_s_bucket{namespace="llm"}[60s]))'
    )


def test_workload_join_through_replicasets_and_direct_owners() -> None:
    from streamdash.core import raw
    from streamdash.sources import kube

    assert (raw.WORKLOAD_KIND_LABEL, raw.WORKLOAD_LABEL) == (
        kube.WORKLOAD_KIND_LABEL,
        kube.WORKLOAD_LABEL,
    )
    scope = Scope.build("llm", None)
    query = promql.group_buckets(["m"], scope, 60, ["model_name"], workloads=True)
    assert query is not None
    assert query.startswith("sum by (le, model_name, workload_kind, workload) (")
    assert "group_left (workload_kind, workload)" in query
    assert 'kube_replicaset_owner{namespace="llm",owner_kind="Deployment"}' in query
    assert " or on (namespace, pod) group by (namespace, pod) (m_bucket" in query  # ownerless pods
    assert query.count("rate(") == 1  # the bucket rates are evaluated once
    assert promql.group_buckets(["m"], scope, 60, [], workloads=False) is None


def test_utf8_metric_names_are_quoted() -> None:
    scope = Scope.build("llm", None)
    name = "gen_ai.server.time_to_first_token_seconds"
    assert promql.check_metric_name(name) == name
    assert promql.check_metric_name('"odd name"') == "odd name"
    assert promql.selector(f"{name}_bucket", scope.app) == (
        '{__name__="gen_ai.server.time_to_first_token_seconds_bucket",namespace="llm"}'
    )
    assert promql.selector("odd name_count") == '{__name__="odd name_count"}'
    assert promql.parse_metric_selector('{"a.b", state="x"}') == (
        "a.b",
        (promql.Matcher("state", "=", "x"),),
    )
    with pytest.raises(ValueError):
        promql.check_metric_name("bad-name")


def test_cpu_excludes_pod_cgroup_and_pause_and_uses_namespace_only() -> None:
    scope = Scope.build("llm", 'model_name="llama"')
    query = promql.cpu(scope, 300)
    assert (
        'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="llm",container!="",'
        'container!="POD"}[300s]))'
    ) in query
    assert (
        'sum by (pod) (kube_pod_container_resource_requests{namespace="llm",resource="cpu",'
        'unit="core"})'
    ) in query
    assert "model_name" not in query


def test_hpa_query_is_one_selector() -> None:
    query = promql.hpa(Scope.build("llm", 'model_name="x"'))
    assert query.startswith('{__name__=~"kube_horizontalpodautoscaler_(status_current_replicas|')
    assert query.endswith(',namespace="llm"}')
    assert promql.hpa(Scope.build(None, None)).endswith('spec_target_metric)"}')


def test_history_has_four_tagged_parts_and_the_hpa_target() -> None:
    scope = Scope.build("llm", None)
    fleet = promql.fleet_pods(["ttft_seconds"], "running", scope)
    assert fleet is not None
    query = promql.history(["ttft_seconds"], ["stream_seconds"], fleet, scope, 300, "serve", 0.7)
    assert query is not None
    for part in ("ttft_p99", "stream_p99", "replicas", "cpu_implied_replicas"):
        assert f'"{part}"' in query
    assert "histogram_quantile(0.99, sum by (le) (rate(ttft_seconds_bucket" in query
    assert 'horizontalpodautoscaler="serve"' in query
    assert "/ 100 or vector(0.7)" in query
    assert "ceil(" in query


def test_fleet_pods_renames_a_custom_pod_label() -> None:
    scope = Scope.build("llm", None, pod_label="instance_pod")
    fleet = promql.fleet_pods(["x"], None, scope)
    assert fleet is not None
    assert fleet.startswith("group by (pod) (label_replace(group by (instance_pod)")
    assert promql.fleet_pods([], None, scope) is None


def test_pod_history_pins_the_pod_with_escaping() -> None:
    scope = Scope.build("llm", None)
    query = promql.pod_history('p"1', ["ttft"], None, "running", scope, 300)
    assert 'pod="p\\"1"' in query
    for part in ("ttft_p99", "open_fds", "cpu_cores", "in_flight"):
        assert f'"{part}"' in query
    assert "stream_p99" not in query


def test_duration_and_step() -> None:
    assert promql.duration(300) == "300s"
    assert promql.duration(0.2) == "1s"
    assert promql.history_step(3600) == 15
    assert promql.history_step(86400) == 360
