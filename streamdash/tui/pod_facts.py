"""The pod screen's facts as (label, text) lines: limits, FD pair, CPU, the LB rows
joined to the pod, and the PromQL to paste. No Textual; "n/a" where unknown, never 0.
Label values in the text are raw: the screen makes them safe."""

from __future__ import annotations

from collections.abc import Sequence

from streamdash import format as fmt
from streamdash.core.lb import pod_backends
from streamdash.core.raw import LbBackendRaw
from streamdash.core.snapshot import PodRow, Snapshot
from streamdash.settings import Settings

Fact = tuple[str, str]


def fd_fact(row: PodRow) -> str:
    """``962 of 1024 open (93.9 %), the pair of instance 10.0.0.1:8000`` or cAdvisor's count."""
    if row.fd_source == "cadvisor":
        text = (
            f"{fmt.count(row.open_fds)} open, counted by {row.fd_origin or 'cAdvisor'} "
            "(no process_open_fds / process_max_fds pair): limit n/a"
        )
    elif row.open_fds is None and row.max_fds is None:
        return fmt.NA
    else:
        text = (
            f"{fmt.count(row.open_fds)} of {fmt.count(row.max_fds)} open "
            f"({fmt.ratio(row.fd_utilization)}), "
            + (f"the pair of {row.fd_origin}" if row.fd_origin else "whose process n/a")
        )
    if row.sockets is not None:
        text += f"; {fmt.count(row.sockets)} sockets"
    return text


def cpu_fact(row: PodRow) -> str:
    """Cores used against the request; the CPU limit is not read by any source."""
    return (
        f"{fmt.cores(row.cpu_cores)} cores used, request {fmt.cores(row.cpu_request_cores)}"
        " cores, limit n/a (not read)"
    )


def connections_fact(row: PodRow) -> str:
    return f"{fmt.count(row.open_connections)} open, LB limit {fmt.count(row.connection_limit)}"


def _rate(total: float | None, rate: float | None) -> str:
    if total is None and rate is None:
        return fmt.NA
    return f"{fmt.count(total)} ({fmt.rate(rate)})"


def lb_fact(row: LbBackendRaw) -> Fact:
    """One LB server row joined to the pod: ``LB`` and what that row reports."""
    text = (
        f"{row.kind} {row.lb} {row.proxy}/{row.server}: {row.status or 'status n/a'} · "
        f"cur {fmt.count(row.current)}, max {fmt.count(row.maximum)}, limit "
        f"{fmt.count(row.limit)} · client aborts {_rate(row.client_aborts, row.client_aborts_rate)}"
        f" · server aborts {_rate(row.server_aborts, row.server_aborts_rate)} · timeouts "
        f"{_rate(row.timeouts, row.timeouts_rate)} · retries {_rate(row.retries, row.retries_rate)}"
    )
    return "LB", text


def lb_facts(row: PodRow, snapshot: Snapshot | None, settings: Settings) -> list[Fact]:
    """The LB rows that join to this pod (the snapshot's own join rule), or why none."""
    lb = snapshot.load_balancer if snapshot is not None else None
    if lb is None or (not lb.backends and not lb.sources):
        return [("LB", "no load balancer configured")]
    rule = settings.load_balancers[0].pod_match if settings.load_balancers else "server"
    pods = [p.pod for p in snapshot.pods] if snapshot is not None else [row.pod]
    rows = pod_backends(pods, lb.backends, row.pod, rule)
    if not rows:
        return [("LB", f"no LB server row matches this pod (matched by {rule})")]
    return [lb_fact(r) for r in rows]


def facts(row: PodRow, snapshot: Snapshot | None, settings: Settings) -> list[Fact]:
    """Every fact line of the pod screen but the PromQL, in order."""
    return [
        ("FDs", fd_fact(row)),
        ("CPU", cpu_fact(row)),
        ("connections", connections_fact(row)),
        *lb_facts(row, snapshot, settings),
    ]


def promql_facts(settings: Settings, pod: str, window_seconds: int) -> Sequence[Fact]:
    """The pod's chart queries as the Prometheus source sends them, or why not."""
    from streamdash.sources.prometheus import pod_promql

    try:
        queries = pod_promql(settings, pod, window_seconds)
    except ValueError as exc:
        return [("PromQL", f"n/a: {exc}")]
    return list(queries.items())
