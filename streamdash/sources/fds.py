"""FD figures per pod, one way for every source: the worst process pair, else cAdvisor.

A pod runs several processes (the server, a proxy sidecar, an exporter), each with its
own ``process_open_fds`` / ``process_max_fds`` pair. Only the two series of the same
process (same labels: job, container, instance) make a utilization; a pod's figure is
its worst pair. Servers that export no process metrics (SGLang, TGI, Triton, vLLM with
``--api-server-count > 1``) get cAdvisor's ``container_file_descriptors`` (and
``container_sockets``) of their busiest container instead, with no limit known.
Pure: the sources hand in rows, this module picks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streamdash.core.raw import FdRaw

Labels = Mapping[str, str]
ProcessRow = tuple[str, Labels, float, float]
"""(pod, labels of the process's series, open fds, max fds) of one process pair."""
ContainerRow = tuple[str, str, str, float]
"""(pod, container, ``fds`` or ``sockets``, value) from cAdvisor."""


def _ratio(open_fds: float, max_fds: float) -> float:
    return open_fds / max_fds if max_fds > 0 else -1.0


def _process(labels: Labels, open_fds: float, max_fds: float) -> FdRaw:
    return FdRaw(
        kind="process",
        open_fds=open_fds,
        max_fds=max_fds,
        container=labels.get("container") or None,
        job=labels.get("job") or None,
        instance=labels.get("instance") or None,
    )


def worst_pairs(rows: Iterable[ProcessRow]) -> dict[str, FdRaw]:
    """pod -> its worst process pair (highest open / max; ties: most open, then labels)."""
    best: dict[str, tuple[tuple[float, float, tuple[tuple[str, str], ...]], FdRaw]] = {}
    for pod, labels, open_fds, max_fds in rows:
        key = (_ratio(open_fds, max_fds), open_fds, tuple(sorted(labels.items())))
        if pod not in best or key > best[pod][0]:
            best[pod] = (key, _process(labels, open_fds, max_fds))
    return {pod: fd for pod, (_, fd) in best.items()}


def pair_series(
    open_rows: Iterable[tuple[str, Labels, float]], max_rows: Iterable[tuple[str, Labels, float]]
) -> list[ProcessRow]:
    """Process pairs from separate open / max rows: the rows with equal labels (and pod)."""
    limits = {(pod, tuple(sorted(labels.items()))): value for pod, labels, value in max_rows}
    out = []
    for pod, labels, value in open_rows:
        limit = limits.get((pod, tuple(sorted(labels.items()))))
        if limit is not None:
            out.append((pod, labels, value, limit))
    return out


def with_cadvisor(
    pairs: Mapping[str, FdRaw], containers: Iterable[ContainerRow], pods: Iterable[str]
) -> dict[str, FdRaw]:
    """``pairs`` for ``pods``, each given the sockets of its container; pods without a
    pair get cAdvisor's busiest container (open FDs, no limit)."""
    fds: dict[str, dict[str, float]] = {}
    sockets: dict[str, dict[str, float]] = {}
    for pod, container, what, value in containers:
        into = fds if what == "fds" else sockets
        into.setdefault(pod, {})[container] = value
    out: dict[str, FdRaw] = {}
    for pod in pods:
        pair = pairs.get(pod)
        if pair is not None:
            mine = sockets.get(pod, {}).get(pair.container or "")
            out[pod] = pair if mine is None else _replace_sockets(pair, mine)
            continue
        counted = fds.get(pod)
        if counted:
            container = max(counted, key=lambda c: (counted[c], c))
            out[pod] = FdRaw(
                kind="cadvisor",
                open_fds=counted[container],
                container=container,
                sockets=sockets.get(pod, {}).get(container),
            )
    return out


def _replace_sockets(fd: FdRaw, sockets: float) -> FdRaw:
    return FdRaw(fd.kind, fd.open_fds, fd.max_fds, fd.container, fd.job, fd.instance, sockets)
