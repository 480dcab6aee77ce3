"""A finding's evidence as (key, text) rows, every number rounded as the screen rounds it.

Contract: the unit of each evidence key is looked up here (seconds, share, rate,
count, cores, multiple), never guessed from the value; an unknown float gets three
significant digits (``fmt.number``), never Python's full repr. A value the finding
flags as a lower bound (``overflowed`` percentiles, ``<name>_is_lower_bound``) reads
``> x`` as the summary does, so the evidence never contradicts it. None is ``n/a``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamdash import format as fmt

Formatter = Callable[[float], str]


def _share(value: float) -> str:
    return fmt.ratio(value)


_BY_KEY: dict[str, Formatter] = {
    # seconds
    "p50": fmt.seconds,
    "p90": fmt.seconds,
    "p99": fmt.seconds,
    "top_finite_bucket": fmt.seconds,
    "fleet_p99": fmt.seconds,
    # shares of one
    "fd_utilization": _share,
    "overflow_fraction": _share,
    "cpu_target_utilization": _share,
    "warning_at": _share,
    "critical_at": _share,
    "threshold": _share,
    "share": _share,
    "ratio": _share,
    # counts
    "open_fds": fmt.count,
    "max_fds": fmt.count,
    "in_flight": fmt.count,
    "current_replicas": fmt.count,
    "cpu_implied_replicas": fmt.count,
    "pod_count": fmt.count,
    "connections": fmt.count,
    "lb_limit": fmt.count,
    "fd_budget": fmt.count,
    "ceiling": fmt.count,
    "pods_over_threshold": fmt.count,
    "scopes_with_this_setting": fmt.count,
    "value": fmt.count,
    # CPU cores and multiples
    "cpu_cores": fmt.cores,
    "cpu_request_cores": fmt.cores,
    "divergence_ratio": fmt.multiple,
    "blend_factor": fmt.multiple,
}
_BY_FINDING: dict[tuple[str, str], Formatter] = {
    ("latency-blend", "ratio"): fmt.multiple,
    ("latency-blend", "groups"): fmt.seconds,
}
"""Keys whose unit depends on the finding (``ratio`` is a share elsewhere)."""


def _formatter(finding_id: str, key: str) -> Formatter | None:
    if (finding_id, key) in _BY_FINDING:
        return _BY_FINDING[(finding_id, key)]
    if key in _BY_KEY:
        return _BY_KEY[key]
    if key.endswith("_seconds"):
        return fmt.seconds
    if key.endswith("_per_s"):
        return fmt.rate_nonzero
    return None


def _inner_key(inner: str, outer: str, finding_id: str) -> str:
    """A nested value's unit: its own key's when known (``share`` in a pod row), else
    the enclosing key's (``groups`` maps group names to seconds)."""
    return inner if _formatter(finding_id, inner) is not None else outer


def value_text(value: object, key: str = "", finding_id: str = "") -> str:
    """One evidence value as text, in ``key``'s unit (lists joined, dicts ``k v; ...``)."""
    if value is None:
        return fmt.NA
    if isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, (int, float)):
        number = float(value)
        form = _formatter(finding_id, key)
        if form is not None:
            return form(number)
        return str(value) if isinstance(value, int) else fmt.number(number)
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v, key, finding_id) for v in value) or "none"
    if isinstance(value, Mapping):
        return "; ".join(
            f"{k} {value_text(v, _inner_key(str(k), key, finding_id), finding_id)}"
            for k, v in value.items()
        )
    return str(value)


def evidence_rows(finding_id: str, evidence: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key, text) per evidence entry, in order; lower bounds read ``> x``."""
    overflowed = evidence.get("overflowed")
    bounded = set(overflowed) if isinstance(overflowed, (list, tuple)) else set()
    rows = []
    for key, value in evidence.items():
        name = str(key)
        text = value_text(value, name, finding_id)
        lower = bool(evidence.get(f"{name.removesuffix('_seconds')}_is_lower_bound"))
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and (name in bounded or lower) and text not in (fmt.NA, "+Inf"):
            text = f"> {text}"
        rows.append((name, text))
    return rows
