"""Envoy admin: ``/clusters?format=json``, ``/stats?format=json``, ``/config_dump``.

Pure parsers plus one thin ``fetch``. Omitted counters: Envoy's admin JSON is protobuf
JSON, which drops fields equal to their default, so a host stat listed by name without
a ``value`` IS 0 (a known zero); a stat that is not listed at all stays None (unknown).

Per-host rows carry only what Envoy keeps per host (``cx_active``, ``rq_total``,
``rq_timeout``); retries, resets and stream-idle timeouts exist per cluster / per HTTP
connection manager, so they come back as aggregate rows (``server="*"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from streamdash import sanitise
from streamdash.core.raw import LbBackendRaw, LbTimeoutRaw, SourceError
from streamdash.settings import LoadBalancerSettings
from streamdash.sources.http import HttpxTransport
from streamdash.sources.lb.common import (
    LbParseError,
    LbSample,
    Vector,
    envoy_duration,
    fetch_text,
    lb_name,
    number,
    rows_from_vectors,
    source_name,
)

KIND = "envoy"
DEFAULT_ROUTE_TIMEOUT_S = 15.0
DEFAULT_STREAM_IDLE_TIMEOUT_S = 300.0
HCM = "envoy.filters.network.http_connection_manager"

CLUSTER_STATS: Mapping[str, str] = {
    "upstream_cx_active": "current",
    "upstream_rq_total": "total",
    "upstream_rq_timeout": "timeouts",
    "upstream_rq_retry": "retries",
    "upstream_rq_rx_reset": "resets",
}
"""``cluster.<name>.<stat>`` -> ``LbBackendRaw`` field of the cluster's aggregate row."""
HCM_STATS: Mapping[str, str] = {
    "downstream_rq_active": "current",
    "downstream_rq_total": "total",
    "downstream_rq_idle_timeout": "timeouts",
    "downstream_rq_rx_reset": "resets",
}
"""``http.<stat_prefix>.<stat>`` -> field of the HTTP connection manager's aggregate row."""


def _json(text: str, what: str) -> Any:
    try:
        return sanitise.loads_json(text)
    except json.JSONDecodeError as exc:
        raise LbParseError(f"{what} is not JSON ({exc.msg} at line {exc.lineno})") from None


def _address(host: Mapping[str, Any]) -> str | None:
    address = host.get("address")
    if not isinstance(address, Mapping):
        return None
    socket = address.get("socket_address")
    if isinstance(socket, Mapping) and isinstance(socket.get("address"), str):
        port = socket.get("port_value")
        return f"{socket['address']}:{port}" if port is not None else str(socket["address"])
    pipe = address.get("pipe")
    if isinstance(pipe, Mapping) and isinstance(pipe.get("path"), str):
        return f"unix:{pipe['path']}"
    return None


def _host_stats(host: Mapping[str, Any]) -> dict[str, float | None]:
    """Host stats by name; a listed stat without ``value`` is 0 (protobuf JSON default)."""
    out: dict[str, float | None] = {}
    stats = host.get("stats")
    for stat in stats if isinstance(stats, list) else []:
        if isinstance(stat, Mapping) and isinstance(stat.get("name"), str):
            out[stat["name"]] = number(stat.get("value", 0))
    return out


def parse_clusters_json(text: str, lb: str) -> list[LbBackendRaw]:
    """One row per host of ``/clusters?format=json``: ``current`` = ``cx_active``,
    ``total`` = ``rq_total``, ``timeouts`` = ``rq_timeout``; ``server`` is the host's
    ``hostname`` when set, else its address. ``status`` is the EDS health status."""
    data = _json(text, "/clusters?format=json")
    statuses = data.get("cluster_statuses") if isinstance(data, Mapping) else None
    if not isinstance(statuses, list):
        raise LbParseError("/clusters answer has no cluster_statuses list (use ?format=json)")
    rows: list[LbBackendRaw] = []
    for cluster in statuses:
        if not isinstance(cluster, Mapping) or not isinstance(cluster.get("name"), str):
            continue
        hosts = cluster.get("host_statuses")
        for host in hosts if isinstance(hosts, list) else []:
            if not isinstance(host, Mapping):
                continue
            address = _address(host)
            hostname = host.get("hostname")
            server = hostname if isinstance(hostname, str) and hostname else address
            stats = _host_stats(host)
            health = host.get("health_status")
            status = health.get("eds_health_status") if isinstance(health, Mapping) else None
            rows.append(
                LbBackendRaw(
                    lb=lb,
                    kind=KIND,
                    proxy=cluster["name"],
                    server=server or "?",
                    address=address,
                    current=stats.get("cx_active"),
                    total=stats.get("rq_total"),
                    timeouts=stats.get("rq_timeout"),
                    status=status if isinstance(status, str) else None,
                )
            )
    return rows


def _split_stat(name: str, prefix: str, stats: Mapping[str, str]) -> tuple[str, str] | None:
    """(middle, field) of ``<prefix>.<middle>.<stat>`` for a known stat (middles may hold dots)."""
    if not name.startswith(prefix + "."):
        return None
    for stat, field in stats.items():
        if name.endswith("." + stat):
            middle = name[len(prefix) + 1 : -len(stat) - 1]
            return (middle, field) if middle else None
    return None


def parse_stats_json(text: str, lb: str) -> list[LbBackendRaw]:
    """Aggregate rows from ``/stats?format=json``: one per cluster (``cluster.<name>.*``)
    and one per HTTP connection manager (proxy ``http.<stat_prefix>``), ``server="*"``.
    ``timeouts`` of an HCM row counts ``stream_idle_timeout`` firings."""
    data = _json(text, "/stats?format=json")
    stats = data.get("stats") if isinstance(data, Mapping) else None
    if not isinstance(stats, list):
        raise LbParseError("/stats answer has no stats list (use ?format=json)")
    rows: dict[str, dict[str, float]] = {}
    for stat in stats:
        if not isinstance(stat, Mapping) or not isinstance(stat.get("name"), str):
            continue
        value = number(stat.get("value", 0))
        if value is None:
            continue
        name = stat["name"]
        hit = _split_stat(name, "cluster", CLUSTER_STATS)
        proxy = hit[0] if hit else None
        if hit is None:
            hit = _split_stat(name, "http", HCM_STATS)
            proxy = f"http.{hit[0]}" if hit else None
        if hit is None or proxy is None:
            continue
        rows.setdefault(proxy, {})[hit[1]] = value
    return [
        LbBackendRaw(lb=lb, kind=KIND, proxy=proxy, server="*", **fields)  # type: ignore[arg-type]
        for proxy, fields in sorted(rows.items())
    ]


# ------------------------------------------------------------------------ config_dump


def _configs(data: Any, suffix: str) -> Iterator[Mapping[str, Any]]:
    configs = data.get("configs") if isinstance(data, Mapping) else None
    for config in configs if isinstance(configs, list) else []:
        if isinstance(config, Mapping) and str(config.get("@type", "")).endswith(suffix):
            yield config


def _listeners(data: Any) -> Iterator[Mapping[str, Any]]:
    for dump in _configs(data, "ListenersConfigDump"):
        for entry in dump.get("static_listeners") or []:
            if isinstance(entry, Mapping) and isinstance(entry.get("listener"), Mapping):
                yield entry["listener"]
        for entry in dump.get("dynamic_listeners") or []:
            state = entry.get("active_state") if isinstance(entry, Mapping) else None
            if isinstance(state, Mapping) and isinstance(state.get("listener"), Mapping):
                yield state["listener"]


def _route_configs(data: Any) -> Iterator[Mapping[str, Any]]:
    for dump in _configs(data, "RoutesConfigDump"):
        for key in ("static_route_configs", "dynamic_route_configs"):
            for entry in dump.get(key) or []:
                if isinstance(entry, Mapping) and isinstance(entry.get("route_config"), Mapping):
                    yield entry["route_config"]


def _hcms(listener: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    chains = list(listener.get("filter_chains") or [])
    if isinstance(listener.get("default_filter_chain"), Mapping):
        chains.append(listener["default_filter_chain"])
    for chain in chains:
        for flt in chain.get("filters") or [] if isinstance(chain, Mapping) else []:
            config = flt.get("typed_config") if isinstance(flt, Mapping) else None
            if isinstance(config, Mapping) and (
                flt.get("name") == HCM or "HttpConnectionManager" in str(config.get("@type"))
            ):
                yield config


def _route_timeouts(lb: str, route_config: Mapping[str, Any]) -> Iterator[LbTimeoutRaw]:
    config_name = route_config.get("name") or "inline"
    for vhost in route_config.get("virtual_hosts") or []:
        if not isinstance(vhost, Mapping):
            continue
        for route in vhost.get("routes") or []:
            action = route.get("route") if isinstance(route, Mapping) else None
            if not isinstance(action, Mapping):
                continue  # redirect / direct_response: nothing is streamed upstream
            match = route.get("match") or {}
            path = next(
                (str(match[k]) for k in ("prefix", "path", "path_separated_prefix") if k in match),
                "?",
            )
            cluster = action.get("cluster")
            scope = f"route {config_name}/{vhost.get('name', '?')} {path}"
            if cluster:
                scope += f" -> {cluster}"
            timeout = envoy_duration(action.get("timeout"))
            if "timeout" not in action:
                yield LbTimeoutRaw(lb, KIND, "route timeout", DEFAULT_ROUTE_TIMEOUT_S, scope)
            elif timeout:  # "0s" disables it
                yield LbTimeoutRaw(lb, KIND, "route timeout", timeout, scope)
            idle = envoy_duration(action.get("idle_timeout"))
            if idle:
                yield LbTimeoutRaw(lb, KIND, "route idle_timeout", idle, scope)
            msd = action.get("max_stream_duration")
            longest = envoy_duration(msd.get("max_stream_duration")) if msd else None
            if longest:
                yield LbTimeoutRaw(lb, KIND, "max_stream_duration", longest, scope)


def parse_config_dump(text: str, lb: str) -> list[LbTimeoutRaw]:
    """Stream-cutting timeouts from ``/config_dump``.

    Per HTTP connection manager: ``stream_idle_timeout`` (5 min when unset, none when
    ``0s``) and ``common_http_protocol_options.max_stream_duration``. Per route (inline
    or RDS): ``route timeout`` (15 s when unset, none when ``0s``), ``route idle_timeout``
    and ``max_stream_duration``.
    """
    data = _json(text, "/config_dump")
    if not isinstance(data, Mapping) or not isinstance(data.get("configs"), list):
        raise LbParseError("/config_dump answer has no configs list")
    out: list[LbTimeoutRaw] = []
    for listener in _listeners(data):
        for hcm in _hcms(listener):
            scope = f"listener {listener.get('name', '?')} (http.{hcm.get('stat_prefix', '?')})"
            if "stream_idle_timeout" not in hcm:
                out.append(
                    LbTimeoutRaw(
                        lb, KIND, "stream_idle_timeout", DEFAULT_STREAM_IDLE_TIMEOUT_S, scope
                    )
                )
            else:
                idle = envoy_duration(hcm.get("stream_idle_timeout"))
                if idle:
                    out.append(LbTimeoutRaw(lb, KIND, "stream_idle_timeout", idle, scope))
            common = hcm.get("common_http_protocol_options") or {}
            longest = envoy_duration(common.get("max_stream_duration"))
            if longest:
                out.append(LbTimeoutRaw(lb, KIND, "max_stream_duration", longest, scope))
            if isinstance(hcm.get("route_config"), Mapping):
                out.extend(_route_timeouts(lb, hcm["route_config"]))
    for route_config in _route_configs(data):
        out.extend(_route_timeouts(lb, route_config))
    return out


# ------------------------------------------------------------------------- Prometheus

PROMETHEUS_FIELDS: Mapping[str, str] = {
    "current": "envoy_cluster_upstream_cx_active",
    "total": "envoy_cluster_upstream_rq_total",
    "timeouts": "envoy_cluster_upstream_rq_timeout",
    "retries": "envoy_cluster_upstream_rq_retry",
    "resets": "envoy_cluster_upstream_rq_rx_reset",
}
_RATE_FIELDS = ("timeouts", "retries", "resets")


def prometheus_queries(window_seconds: int, matchers: str = "") -> dict[str, str]:
    """PromQL per field for Envoy's ``/stats/prometheus`` cluster series (one each)."""
    sel = f"{{{matchers}}}" if matchers else ""
    queries = {field: f"{metric}{sel}" for field, metric in PROMETHEUS_FIELDS.items()}
    for field in _RATE_FIELDS:
        queries[f"{field}_rate"] = f"rate({PROMETHEUS_FIELDS[field]}{sel}[{window_seconds}s])"
    return queries


def clusters_from_prometheus(vectors: Mapping[str, Vector], lb: str) -> list[LbBackendRaw]:
    """Cluster aggregate rows (``server="*"``) from vectors keyed as in
    ``prometheus_queries``; label ``envoy_cluster_name``."""
    return rows_from_vectors(
        vectors, lb=lb, kind=KIND, proxy_label="envoy_cluster_name", server_label=None
    )


# ------------------------------------------------------------------------------ fetch


def fetch(client: HttpxTransport, settings: LoadBalancerSettings) -> LbSample:
    """Fetch one Envoy admin's hosts, cluster stats and timeouts (three GETs); each
    failure is its own ``SourceError`` (part ``clusters``, ``stats``, ``config_dump``)."""
    source, lb = source_name(settings), lb_name(settings)
    errors: list[SourceError] = []
    backends: list[LbBackendRaw] = []
    aggregates: list[LbBackendRaw] = []
    timeouts: list[LbTimeoutRaw] = []
    if settings.idle_timeout_seconds is not None:
        timeouts.append(
            LbTimeoutRaw(lb, KIND, "stream_idle_timeout", settings.idle_timeout_seconds, "settings")
        )
    if settings.url:
        base = settings.url.rstrip("/")

        def get(part: str, path: str) -> str | None:
            body = fetch_text(client, base + path, source, part)
            if isinstance(body, SourceError):
                errors.append(body)
                return None
            return body

        try:
            if (body := get("clusters", "/clusters?format=json")) is not None:
                backends = parse_clusters_json(body, lb)
        except LbParseError as exc:
            errors.append(SourceError(source, str(exc), "clusters"))
        try:
            if (body := get("stats", "/stats?format=json")) is not None:
                aggregates = parse_stats_json(body, lb)
        except LbParseError as exc:
            errors.append(SourceError(source, str(exc), "stats"))
        try:
            if (body := get("config_dump", "/config_dump")) is not None:
                timeouts += parse_config_dump(body, lb)
        except LbParseError as exc:
            errors.append(SourceError(source, str(exc), "config_dump"))
    return LbSample(
        backends=tuple(backends),
        aggregates=tuple(aggregates),
        timeouts=tuple(timeouts),
        errors=tuple(errors),
    )
