"""What the simulated fleet's endpoints answer: Prometheus text and HAProxy stats CSV.

Pure renderers over a ``FleetModel`` (the caller holds ``model.lock``):
- ``pod_families``: one vLLM pod's ``/metrics`` (vLLM names and buckets, process FDs);
- ``ksm_families``: kube-state-metrics HPA series and CPU requests;
- ``cadvisor_families``: ``container_cpu_usage_seconds_total`` with the pod cgroup
  (``container=""``) and pause (``container="POD"``) series beside the real container;
- ``haproxy_csv``: HAProxy's ``show stat`` CSV, HAProxy 2.6 column order, one server row
  per pod that is in the LB's rotation.
Other-namespace series are included on purpose: a client must filter them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from streamdash.demo.fleet import MODEL_NAME, FleetModel, Histogram, Pod

OTHER_NAMESPACE = "web"
OTHER_POD = "web-frontend-6f7c9d8b4-x2k9p"
OTHER_HPA = "web-frontend"

_HAPROXY_HEADER = (
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
    "wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,"
    "sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    "check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,"
    "req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,"
    "agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,"
    "agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,"
    "intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,"
    "qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"
    "used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,"
    "agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,"
    "h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,"
    "h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,"
    "h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,"
    "h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,"
    "h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,"
    "h1_spliced_bytes_out"
)
HAPROXY_CSV_COLUMNS: tuple[str, ...] = tuple(_HAPROXY_HEADER.split(","))
"""The stats CSV columns, in the order HAProxy 2.6 writes them (management.txt 9.1)."""

HAPROXY_FRONTEND = "fe_llm"
HAPROXY_BACKEND = "be_llm"

_POD_LABELS = ("pod", "namespace", "model_name", "engine")


def _histogram(family: HistogramMetricFamily, labels: list[str], hist: Histogram) -> None:
    buckets = [
        ("+Inf" if le == float("inf") else repr(le), float(c)) for le, c in hist.cumulative()
    ]
    family.add_metric(labels, buckets, hist.sum)


def pod_families(model: FleetModel, pod: Pod) -> list[object]:
    """The metric families one vLLM pod exports."""
    labels = [pod.name, model.namespace, MODEL_NAME, "0"]
    docs = {
        "vllm:time_to_first_token_seconds": (
            "Histogram of time to first token in seconds.",
            pod.ttft,
        ),
        "vllm:request_decode_time_seconds": (
            "Histogram of time spent in DECODE phase for request.",
            pod.decode,
        ),
        "vllm:inter_token_latency_seconds": (
            "Histogram of inter-token latency in seconds.",
            pod.itl,
        ),
        "vllm:e2e_request_latency_seconds": (
            "Histogram of e2e request latency in seconds.",
            pod.e2e,
        ),
    }
    out: list[object] = []
    for name, (doc, hist) in docs.items():
        family = HistogramMetricFamily(name, doc, labels=_POD_LABELS)
        _histogram(family, labels, hist)
        out.append(family)
    running = GaugeMetricFamily(
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        labels=_POD_LABELS,
    )
    running.add_metric(labels, float(pod.open_streams))
    waiting = GaugeMetricFamily(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        labels=_POD_LABELS,
    )
    waiting.add_metric(labels, 0.0)
    process_labels = ("pod", "namespace")
    open_fds = GaugeMetricFamily(
        "process_open_fds", "Number of open file descriptors.", labels=process_labels
    )
    open_fds.add_metric([pod.name, model.namespace], float(pod.open_fds))
    max_fds = GaugeMetricFamily(
        "process_max_fds", "Maximum number of open file descriptors.", labels=process_labels
    )
    max_fds.add_metric([pod.name, model.namespace], float(pod.max_fds))
    out += [running, waiting, open_fds, max_fds]
    return out


def ksm_families(model: FleetModel) -> list[object]:
    """kube-state-metrics: the fleet's HPA, another namespace's HPA, CPU requests."""
    a = model.autoscaler
    hpa_labels = ("namespace", "horizontalpodautoscaler")
    ours = [model.namespace, a.name]
    other = [OTHER_NAMESPACE, OTHER_HPA]
    out: list[object] = []
    for suffix, doc, mine, theirs in (
        ("status_current_replicas", "Current number of replicas.", model.replicas(), 3),
        ("status_desired_replicas", "Desired number of replicas.", a.desired, 3),
        ("spec_min_replicas", "Lower limit for the number of pods.", a.min_replicas, 2),
        ("spec_max_replicas", "Upper limit for the number of pods.", a.max_replicas, 10),
    ):
        family = GaugeMetricFamily(f"kube_horizontalpodautoscaler_{suffix}", doc, labels=hpa_labels)
        family.add_metric(ours, float(mine))
        family.add_metric(other, float(theirs))
        out.append(family)
    target = GaugeMetricFamily(
        "kube_horizontalpodautoscaler_spec_target_metric",
        "The metric specifications used by this autoscaler.",
        labels=(*hpa_labels, "metric_name", "metric_target_type"),
    )
    target.add_metric([*ours, "s0-prometheus", "average"], a.target)
    target.add_metric([*other, "cpu", "utilization"], 70.0)
    out.append(target)
    requests = GaugeMetricFamily(
        "kube_pod_container_resource_requests",
        "The number of requested request resource by a container.",
        labels=("namespace", "pod", "uid", "container", "node", "resource", "unit"),
    )
    for pod in model.pods():
        uid = f"uid-{pod.slot}-{pod.name[-5:]}"
        node = f"gpu-node-{pod.slot % 4}"
        requests.add_metric(
            [model.namespace, pod.name, uid, "vllm", node, "cpu", "core"],
            model.scenario.cpu_request,
        )
        requests.add_metric(
            [model.namespace, pod.name, uid, "vllm", node, "memory", "byte"], 32.0 * 2**30
        )
    requests.add_metric(
        [OTHER_NAMESPACE, OTHER_POD, "uid-web", "web", "cpu-node-0", "cpu", "core"], 2.0
    )
    out.append(requests)
    return out


def cadvisor_families(model: FleetModel) -> list[object]:
    """cAdvisor CPU counters: real container, pause container and pod cgroup per pod."""
    family = CounterMetricFamily(
        "container_cpu_usage_seconds",
        "Cumulative cpu time consumed in seconds.",
        labels=("namespace", "pod", "container", "cpu", "id"),
    )
    for pod in model.pods():
        cgroup = f"/kubepods/burstable/pod{pod.slot}-{pod.name[-5:]}"
        total = pod.cpu_seconds + pod.pause_cpu_seconds
        family.add_metric(
            [model.namespace, pod.name, "vllm", "total", f"{cgroup}/vllm"], pod.cpu_seconds
        )
        family.add_metric(
            [model.namespace, pod.name, "POD", "total", f"{cgroup}/pause"], pod.pause_cpu_seconds
        )
        family.add_metric([model.namespace, pod.name, "", "total", cgroup], total)
    web = 0.4 * model.now
    family.add_metric([OTHER_NAMESPACE, OTHER_POD, "web", "total", "/kubepods/web/web"], web)
    family.add_metric([OTHER_NAMESPACE, OTHER_POD, "", "total", "/kubepods/web"], web)
    return [family]


class _Families:
    """A prometheus_client collector yielding prepared families."""

    def __init__(self, families: Iterable[object]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[object]:
        yield from self._families


def render_text(families: Iterable[object]) -> bytes:
    """Prometheus text exposition (0.0.4) of ``families`` via prometheus_client."""
    registry = CollectorRegistry(auto_describe=False)
    collector: Collector = _Families(families)  # type: ignore[assignment]
    registry.register(collector)
    return generate_latest(registry)


def _row(values: dict[str, object]) -> str:
    return ",".join(str(values.get(col, "")) for col in HAPROXY_CSV_COLUMNS) + ","


def haproxy_csv(model: FleetModel, addresses: dict[int, str]) -> str:
    """HAProxy ``/stats;csv``: frontend, one server row per pod in rotation, backend.

    ``addresses`` maps a pod slot to the ``host:port`` of its endpoint (HAProxy ``addr``).
    """
    s = model.scenario
    now = model.now
    common = {"pid": 1, "mode": "http"}
    servers = [p for p in model.pods() if now >= p.ready_at]
    lines = ["# " + ",".join(HAPROXY_CSV_COLUMNS) + ","]
    total = {k: 0 for k in ("scur", "smax", "stot", "bin", "bout", "econ", "eresp", "wretr",
                            "cli_abrt", "srv_abrt", "hrsp_2xx")}  # fmt: skip
    rows = []
    for sid, pod in enumerate(servers, start=1):
        lb = pod.lb
        values: dict[str, object] = {
            **common,
            "pxname": HAPROXY_BACKEND, "svname": pod.name, "qcur": 0, "qmax": 0,
            "scur": pod.open_streams, "smax": lb.smax, "slim": s.lb_session_limit,
            "stot": lb.stot, "bin": lb.bin, "bout": lb.bout, "dresp": 0, "econ": lb.econ,
            "eresp": lb.eresp, "wretr": lb.wretr, "wredis": 0,
            "status": "DRAIN" if pod.draining else "UP", "weight": 0 if pod.draining else 1,
            "act": 1, "bck": 0, "chkfail": 0, "chkdown": 0,
            "lastchg": int(now - pod.ready_at), "downtime": 0, "iid": 3, "sid": sid,
            "lbtot": lb.stot, "type": 2, "rate": 0, "rate_max": 0,
            "check_status": "L7OK", "check_code": 200, "check_duration": 1,
            "hrsp_1xx": 0, "hrsp_2xx": lb.hrsp_2xx, "hrsp_3xx": 0, "hrsp_4xx": 0,
            "hrsp_5xx": 0, "hrsp_other": 0, "cli_abrt": lb.cli_abrt, "srv_abrt": lb.srv_abrt,
            "lastsess": int(now - lb.last_session), "last_chk": "OK",
            "qtime": 0, "ctime": 1, "rtime": int(lb.rtime_ms), "ttime": int(lb.ttime_ms),
            "check_rise": 2, "check_fall": 3, "check_health": 4,
            "addr": addresses.get(pod.slot, ""), "cookie": "",
        }  # fmt: skip
        for key in total:
            total[key] += int(values[key])  # type: ignore[call-overload]
        rows.append(_row(values))
    for key, value in model.retired_lb.items():  # counters never go down (pods leave)
        if key in total:
            total[key] += value
    frontend = {
        **common, "pxname": HAPROXY_FRONTEND, "svname": "FRONTEND", "scur": total["scur"],
        "smax": total["smax"], "slim": 4096, "stot": total["stot"], "bin": total["bin"],
        "bout": total["bout"], "dreq": 0, "dresp": 0, "ereq": 0, "status": "OPEN",
        "iid": 2, "sid": 0, "type": 0, "hrsp_2xx": total["hrsp_2xx"], "req_tot": total["stot"],
    }  # fmt: skip
    backend = {
        **common, "pxname": HAPROXY_BACKEND, "svname": "BACKEND", "qcur": 0, "qmax": 0,
        **{k: v for k, v in total.items()}, "slim": s.lb_session_limit * len(servers),
        "status": "UP", "weight": len(servers), "act": len(servers), "bck": 0,
        "iid": 3, "sid": 0, "lbtot": total["stot"], "type": 1, "algo": "leastconn",
    }  # fmt: skip
    lines.append(_row(frontend))
    lines.extend(rows)
    lines.append(_row(backend))
    return "\n".join(lines) + "\n"
