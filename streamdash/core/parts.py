"""The query parts of a refresh: one typed list shared by every primary source and carry.

A part is one request to the primary source (one PromQL query, or one piece of a
direct-scrape round) and the ``RawAnswers`` fields it fills. Part names appear as keys
of ``RawAnswers.queries`` / the Snapshot's ``queries``, in ``SourceError.part`` and in
``StalePart.part``; their string values are stable (they are in the JSON output).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class QueryPart(StrEnum):
    """Every part a primary source (Prometheus or direct scrape) can answer."""

    TTFT = "ttft_buckets"
    STREAM = "stream_buckets"
    ITL = "itl_buckets"
    E2E = "e2e_buckets"
    POD_GAUGES = "pod_gauges"
    CPU = "cpu"
    HPA = "hpa"
    HISTORY = "history"
    TARGET = "target"
    """A direct-scrape target (its error names the target in ``source``)."""


HISTOGRAM_PARTS: Mapping[str, QueryPart] = {
    "ttft": QueryPart.TTFT,
    "stream": QueryPart.STREAM,
    "itl": QueryPart.ITL,
    "e2e": QueryPart.E2E,
}
"""Histogram kind -> the part that asks for it (kinds sharing a metric share the first
kind's part; ``HistogramRaw.part`` says which part filled a histogram)."""

PART_FIELDS: Mapping[QueryPart, tuple[str, ...]] = {
    QueryPart.POD_GAUGES: ("open_fds", "max_fds", "fds", "in_flight", "pod_groups"),
    QueryPart.CPU: ("cpu_cores", "cpu_request_cores"),
    QueryPart.HPA: ("hpas", "pod_workloads"),
    QueryPart.HISTORY: ("history",),
}
"""Non-histogram parts and the RawAnswers fields they fill."""

PANELS: Mapping[QueryPart, str] = {
    QueryPart.TTFT: "latency",
    QueryPart.STREAM: "latency",
    QueryPart.ITL: "latency",
    QueryPart.E2E: "latency",
    QueryPart.HISTORY: "latency",
    QueryPart.POD_GAUGES: "pods",
    QueryPart.CPU: "autoscaler",
    QueryPart.HPA: "autoscaler",
}


def as_part(name: str | None) -> QueryPart | None:
    """The ``QueryPart`` named ``name`` (its value), or None for any other name."""
    if name is None:
        return None
    try:
        return QueryPart(name)
    except ValueError:
        return None
