"""kube-state-metrics, read one way for every source: pod owners, HPAs, CPU requests.

Both primary sources go through this module, so they cannot pick different HPAs or
workloads. The Prometheus source asks the server (``kube_query``: the HPA series plus
the pod -> workload join as one vector) and reads the rows with ``read_hpas`` and
``read_join``; the scrape source reads kube-state-metrics' own ``/metrics`` samples
with ``read_hpas``, ``read_owners`` and ``read_cpu_requests``. Everything here is pure
(no I/O); PromQL text is built with ``sources.promql``'s quoting.

Owners (``kube_pod_owner``, ``kube_replicaset_owner``): a pod owned by a ReplicaSet
belongs to the Deployment owning that ReplicaSet; a pod owned by a StatefulSet,
LeaderWorkerSet or DaemonSet belongs to it directly. Old ReplicaSets of a Deployment
(kept at 0 replicas after a rollout) own no pods, so they never add a workload; during
a rollout the pods of both ReplicaSets join the same Deployment. A pod with no such
owner (a bare pod, a Job, a ReplicaSet without a Deployment) has no workload.
Duplicate series from several kube-state-metrics replicas are collapsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from streamdash.core.raw import (
    WORKLOAD_KINDS,
    HpaRaw,
    HpaTarget,
    WorkloadRef,
    workload_kind,
)
from streamdash.sources import promql
from streamdash.sources.promql import Matcher, quote, selector, tag

POD_OWNER = "kube_pod_owner"
REPLICASET_OWNER = "kube_replicaset_owner"
HPA_PREFIX = "kube_horizontalpodautoscaler_"
HPA_INFO = HPA_PREFIX + "info"
HPA_TARGET = HPA_PREFIX + "spec_target_metric"
HPA_FIELDS: Mapping[str, str] = {
    "status_current_replicas": "current_replicas",
    "status_desired_replicas": "desired_replicas",
    "spec_min_replicas": "min_replicas",
    "spec_max_replicas": "max_replicas",
}
"""kube-state-metrics HPA series suffix -> ``HpaRaw`` field."""
HPA_SERIES = (*HPA_FIELDS, "spec_target_metric", "info")
CPU_REQUESTS = "kube_pod_container_resource_requests"
CPU_REQUESTS_LEGACY = "kube_pod_container_resource_requests_cpu_cores"

WORKLOAD_LABEL = "workload"
"""Label of the join vector holding the workload's name."""
WORKLOAD_KIND_LABEL = "workload_kind"
"""Label of the join vector holding the workload's kind (``Deployment``...)."""
JOIN_PART = "pod_workload"
"""``PART_LABEL`` value of the join rows inside ``kube_query``'s answer."""
DIRECT_KINDS = tuple(k for k in WORKLOAD_KINDS if k != "Deployment")
"""Owner kinds a pod belongs to directly (no ReplicaSet in between)."""

Sample = tuple[str, Mapping[str, str], float]
"""(metric name, labels, value) of one kube-state-metrics series."""


# --------------------------------------------------------------------------- PromQL


def _rename(expr: str, to: str, source: str) -> str:
    """``expr`` with label ``to`` set to the value of ``source``."""
    return f"label_replace({expr}, {quote(to)}, {quote('$1')}, {quote(source)}, {quote('(.+)')})"


def workload_join(
    cluster: Sequence[Matcher], *, pod_label: str = "pod", namespace_label: str = "namespace"
) -> str:
    """A vector of 1 per pod with labels ``namespace``, ``pod``, ``workload_kind`` and
    ``workload`` (the Deployment / StatefulSet / LeaderWorkerSet / DaemonSet owning it).

    ``cluster`` selects kube-state-metrics series (namespace matchers). When the app's
    metrics name pods or namespaces with other labels, ``pod_label`` /
    ``namespace_label`` copy the values there too, so ``by_workload`` can match on them.
    """
    promql.check_label_name(pod_label)
    promql.check_label_name(namespace_label)
    rs_pods = selector(POD_OWNER, cluster, (promql.eq("owner_kind", "ReplicaSet"),))
    left = _rename(f"max by (namespace, pod, owner_name) ({rs_pods})", "replicaset", "owner_name")
    deployments = selector(REPLICASET_OWNER, cluster, (promql.eq("owner_kind", "Deployment"),))
    right = _rename(
        f"max by (namespace, replicaset, owner_name) ({deployments})", WORKLOAD_LABEL, "owner_name"
    )
    via_rs = (
        f"label_replace({left} * on (namespace, replicaset) group_left ({WORKLOAD_LABEL}) "
        f"{right}, {quote(WORKLOAD_KIND_LABEL)}, {quote('Deployment')}, {quote('')}, {quote('')})"
    )
    direct_sel = selector(
        POD_OWNER, cluster, (Matcher("owner_kind", "=~", "|".join(DIRECT_KINDS)),)
    )
    direct = _rename(
        _rename(
            f"max by (namespace, pod, owner_kind, owner_name) ({direct_sel})",
            WORKLOAD_LABEL,
            "owner_name",
        ),
        WORKLOAD_KIND_LABEL,
        "owner_kind",
    )
    by = f"namespace, pod, {WORKLOAD_KIND_LABEL}, {WORKLOAD_LABEL}"
    expr = f"max by ({by}) ({via_rs} or {direct})"
    if pod_label != "pod":
        expr = _rename(expr, pod_label, "pod")
    if namespace_label != "namespace":
        expr = _rename(expr, namespace_label, "namespace")
    return expr


def by_workload(
    expr: str,
    cluster: Sequence[Matcher],
    *,
    pod_label: str = "pod",
    namespace_label: str = "namespace",
) -> str:
    """``expr`` (series with the app's namespace and pod labels) with ``workload_kind``
    and ``workload`` added from ``workload_join``; series of pods without a workload
    drop out. Aggregate the result, e.g. ``sum by (le, workload) (...)``."""
    join = workload_join(cluster, pod_label=pod_label, namespace_label=namespace_label)
    return (
        f"{expr} * on ({namespace_label}, {pod_label}) "
        f"group_left ({WORKLOAD_KIND_LABEL}, {WORKLOAD_LABEL}) {join}"
    )


def scaled_pods(fleet: str, cluster: Sequence[Matcher], hpa_name: str | None) -> str:
    """``fleet`` (a ``{pod}`` vector) narrowed to the pods of the HPA's scale target
    (``hpa_name``; None: every HPA in scope), or all of ``fleet`` when kube-state-metrics
    reports no target / owners — the same rule as ``core.autoscaler.target_pods``."""
    named = (promql.eq("horizontalpodautoscaler", hpa_name),) if hpa_name else ()
    info = _rename(
        _rename(selector(HPA_INFO, cluster, named), WORKLOAD_LABEL, "scaletargetref_name"),
        WORKLOAD_KIND_LABEL,
        "scaletargetref_kind",
    )
    keys = f"namespace, {WORKLOAD_KIND_LABEL}, {WORKLOAD_LABEL}"
    target = f"({workload_join(cluster)} * on ({keys}) group_left () group by ({keys}) ({info}))"
    return f"(({fleet}) and on (pod) {target}) or (({fleet}) unless on () {target})"


def kube_query(cluster: Sequence[Matcher]) -> str:
    """One query for every kube-state-metrics answer the autoscaler and the workload
    grouping need: the HPA series (``HPA_SERIES``) and ``workload_join`` tagged
    ``JOIN_PART``."""
    names = Matcher("__name__", "=~", f"{HPA_PREFIX}({'|'.join(HPA_SERIES)})")
    hpa = "{" + ",".join(m.render() for m in (names, *cluster)) + "}"
    return f"{hpa} or {tag(workload_join(cluster), JOIN_PART)}"


# --------------------------------------------------------------------------- readers


def _hpa_key(labels: Mapping[str, str]) -> tuple[str, str] | None:
    name = labels.get("horizontalpodautoscaler") or labels.get("hpa")
    return (labels.get("namespace", ""), name) if name else None


def _target_order(t: HpaTarget) -> tuple[bool, str, str]:
    return (not t.is_cpu_utilization, t.metric, t.target_type or "")


def read_hpas(samples: Iterable[Sample]) -> tuple[HpaRaw, ...]:
    """Every HPA in ``samples``, sorted by (namespace, name), with its scale target and
    all its spec targets. Samples that are no HPA series are ignored."""
    fields: dict[tuple[str, str], dict[str, Any]] = {}
    targets: dict[tuple[str, str], dict[tuple[str, str | None], HpaTarget]] = {}
    for name, labels, value in samples:
        if not name.startswith(HPA_PREFIX):
            continue
        key = _hpa_key(labels)
        if key is None:
            continue
        suffix = name.removeprefix(HPA_PREFIX)
        entry = fields.setdefault(key, {})
        if suffix in HPA_FIELDS:
            entry[HPA_FIELDS[suffix]] = value
        elif name == HPA_TARGET:
            metric = labels.get("metric_name", "")
            kind = labels.get("metric_target_type") or None
            if metric:
                targets.setdefault(key, {})[(metric, kind)] = HpaTarget(metric, kind, value)
        elif name == HPA_INFO:
            entry["scale_target_kind"] = labels.get("scaletargetref_kind") or None
            entry["scale_target_name"] = labels.get("scaletargetref_name") or None
    out = []
    for key in sorted(fields):
        found = tuple(sorted(targets.get(key, {}).values(), key=_target_order))
        first = found[0] if found else None
        out.append(
            HpaRaw(
                name=key[1],
                namespace=key[0] or None,
                targets=found,
                target_metric=first.metric if first else None,
                target_type=first.target_type if first else None,
                target_value=first.value if first else None,
                **fields[key],
            )
        )
    return tuple(out)


def _pick(found: Mapping[str, set[WorkloadRef]]) -> dict[str, WorkloadRef]:
    return {pod: min(refs) for pod, refs in found.items() if refs}


def read_owners(
    samples: Iterable[Sample], pod_of: Callable[[Mapping[str, str]], str | None]
) -> dict[str, WorkloadRef]:
    """pod -> workload from raw ``kube_pod_owner`` / ``kube_replicaset_owner`` samples:
    the same answer ``workload_join`` gives on the server. ``pod_of`` names the pod of
    a sample's labels (None: skip the sample)."""
    rs_owner: dict[tuple[str, str], set[str]] = {}
    pod_rs: list[tuple[str, str, str]] = []
    found: dict[str, set[WorkloadRef]] = {}
    for name, labels, _ in samples:
        ns = labels.get("namespace", "")
        if name == REPLICASET_OWNER and labels.get("owner_kind") == "Deployment":
            rs, owner = labels.get("replicaset"), labels.get("owner_name")
            if rs and owner:
                rs_owner.setdefault((ns, rs), set()).add(owner)
        elif name == POD_OWNER:
            pod, owner = pod_of(labels), labels.get("owner_name")
            if not pod or not owner:
                continue
            kind = labels.get("owner_kind")
            direct = workload_kind(kind)
            if kind == "ReplicaSet":
                pod_rs.append((pod, ns, owner))
            elif direct is not None and direct in DIRECT_KINDS:
                found.setdefault(pod, set()).add(WorkloadRef(direct, owner))
    for pod, ns, rs in pod_rs:
        for deployment in rs_owner.get((ns, rs), ()):
            found.setdefault(pod, set()).add(WorkloadRef("Deployment", deployment))
    return _pick(found)


def read_join(rows: Iterable[Mapping[str, str]], pod_label: str = "pod") -> dict[str, WorkloadRef]:
    """pod -> workload from the label sets of ``workload_join``'s answer."""
    found: dict[str, set[WorkloadRef]] = {}
    for labels in rows:
        pod, name = labels.get(pod_label), labels.get(WORKLOAD_LABEL)
        kind = workload_kind(labels.get(WORKLOAD_KIND_LABEL))
        if pod and name and kind is not None:
            found.setdefault(pod, set()).add(WorkloadRef(kind, name))
    return _pick(found)


def read_cpu_requests(
    samples: Iterable[Sample], pod_of: Callable[[Mapping[str, str]], str | None]
) -> dict[str, float]:
    """pod -> summed CPU request (cores) of its containers, current and pre-2.0 names."""
    out: dict[str, float] = {}
    for name, labels, value in samples:
        if name == CPU_REQUESTS and labels.get("resource") == "cpu":
            pass
        elif name != CPU_REQUESTS_LEGACY:
            continue
        pod = pod_of(labels)
        if pod:
            out[pod] = out.get(pod, 0.0) + value
    return out
