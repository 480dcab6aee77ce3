"""The kube-state-metrics reader (pure): owners, HPAs, CPU requests, the join's text."""

from __future__ import annotations

from streamdash.core.autoscaler import keda_scaled_object
from streamdash.core.raw import WorkloadRef
from streamdash.sources import kube
from streamdash.sources.promql import eq


def _pod(labels: dict[str, str]) -> str | None:
    return labels.get("pod")


def test_owners_deployment_via_replicaset_and_direct_kinds() -> None:
    samples: list[kube.Sample] = [
        ("kube_pod_owner", {"namespace": "a", "pod": "d-1", "owner_kind": "ReplicaSet",
                            "owner_name": "d-abc"}, 1.0),
        ("kube_replicaset_owner", {"namespace": "a", "replicaset": "d-abc",
                                   "owner_kind": "Deployment", "owner_name": "d"}, 1.0),
        # an old ReplicaSet at 0 replicas owns no pods: no workload from it
        ("kube_replicaset_owner", {"namespace": "a", "replicaset": "d-old",
                                   "owner_kind": "Deployment", "owner_name": "d-old-name"}, 1.0),
        ("kube_pod_owner", {"namespace": "a", "pod": "s-0", "owner_kind": "StatefulSet",
                            "owner_name": "s"}, 1.0),
        ("kube_pod_owner", {"namespace": "a", "pod": "l-0", "owner_kind": "LeaderWorkerSet",
                            "owner_name": "l"}, 1.0),
        ("kube_pod_owner", {"namespace": "a", "pod": "job-x", "owner_kind": "Job",
                            "owner_name": "job"}, 1.0),
        ("kube_pod_owner", {"namespace": "a", "pod": "bare", "owner_kind": "<none>",
                            "owner_name": "<none>"}, 1.0),
        # a ReplicaSet of the same name in another namespace must not join
        ("kube_pod_owner", {"namespace": "b", "pod": "d-9", "owner_kind": "ReplicaSet",
                            "owner_name": "d-abc"}, 1.0),
    ]  # fmt: skip
    assert kube.read_owners(samples, _pod) == {
        "d-1": WorkloadRef("Deployment", "d"),
        "s-0": WorkloadRef("StatefulSet", "s"),
        "l-0": WorkloadRef("LeaderWorkerSet", "l"),
    }


def test_join_rows_and_hpas() -> None:
    rows = [
        {"pod": "p", "workload_kind": "Deployment", "workload": "d"},
        {"pod": "q", "workload_kind": "Rollout", "workload": "r"},  # not a grouped kind
    ]
    assert kube.read_join(rows) == {"p": WorkloadRef("Deployment", "d")}
    base = {"namespace": "a", "horizontalpodautoscaler": "h"}
    samples: list[kube.Sample] = [
        ("kube_horizontalpodautoscaler_status_current_replicas", base, 5.0),
        ("kube_horizontalpodautoscaler_spec_target_metric",
         {**base, "metric_name": "tokens", "metric_target_type": "average"}, 100.0),
        ("kube_horizontalpodautoscaler_spec_target_metric",
         {**base, "metric_name": "cpu", "metric_target_type": "utilization"}, 60.0),
        ("kube_horizontalpodautoscaler_info",
         {**base, "scaletargetref_kind": "Deployment", "scaletargetref_name": "d"}, 1.0),
        ("kube_horizontalpodautoscaler_status_current_replicas",
         {"namespace": "a", "horizontalpodautoscaler": "g"}, 1.0),
    ]  # fmt: skip
    g, h = kube.read_hpas(samples)
    assert (g.name, g.targets, g.scale_target) == ("g", (), None)
    assert h.current_replicas == 5 and h.scale_target == WorkloadRef("Deployment", "d")
    assert [t.metric for t in h.targets] == ["cpu", "tokens"]
    assert (h.target_metric, h.target_value) == ("cpu", 60.0)


def test_cpu_requests_both_names() -> None:
    samples: list[kube.Sample] = [
        ("kube_pod_container_resource_requests", {"pod": "p", "resource": "cpu"}, 0.5),
        ("kube_pod_container_resource_requests", {"pod": "p", "resource": "memory"}, 1e9),
        ("kube_pod_container_resource_requests_cpu_cores", {"pod": "q"}, 0.25),
        ("kube_pod_owner", {"pod": "p"}, 1.0),
    ]
    assert kube.read_cpu_requests(samples, _pod) == {"p": 0.5, "q": 0.25}


def test_join_text_is_quoted_and_renames_for_other_label_conventions() -> None:
    text = kube.workload_join((eq("namespace", 'we"ird'),))
    assert 'namespace="we\\"ird"' in text and "group_left (workload)" in text
    renamed = kube.workload_join(
        (), pod_label="kubernetes_pod_name", namespace_label="kubernetes_namespace"
    )
    assert '"kubernetes_pod_name", "$1", "pod"' in renamed
    assert '"kubernetes_namespace", "$1", "namespace"' in renamed
    joined = kube.by_workload("x", (), pod_label="kubernetes_pod_name")
    assert joined.startswith("x * on (namespace, kubernetes_pod_name) group_left")
    assert kube.kube_query(()).count("kube_horizontalpodautoscaler_") == 1


def test_keda_names() -> None:
    assert keda_scaled_object("keda-hpa-llama") == "llama"
    assert keda_scaled_object("keda-hpa-") is None and keda_scaled_object("llama") is None
