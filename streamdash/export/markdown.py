"""Snapshot -> GitHub-flavoured markdown for an incident document.

Contract: every number goes through ``streamdash.format`` (the same text the TUI
shows); every label-derived string goes through ``md_text`` so ``|``, backticks,
markup or newlines in a label cannot break the document.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streamdash import format as fmt
from streamdash.core.snapshot import AutoscalerView, HistogramSummary, Snapshot
from streamdash.core.verdict import Verdict, verdict
from streamdash.evidence import evidence_rows

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^([#>+-])")
TITLES = {"ttft": "TTFT (did it respond)", "stream": "Stream (did it finish)", "itl": "Inter-token"}


def md_text(value: str, limit: int = 500) -> str:
    """A label value as inert markdown text: controls stripped, specials escaped, cut
    at ``limit`` characters."""
    text = fmt.safe_label(value, limit=limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return _LINE_START.sub(r"\\\1", _MD_SPECIAL.sub(r"\\\1", text))


def md_code(value: str) -> str:
    """A code span that survives any backticks inside ``value``."""
    text = fmt.safe_label(value, limit=2000).replace("⏎", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _metric(h: HistogramSummary) -> str:
    return md_code(h.metric) if h.metric else fmt.NA


def _pct(h: HistogramSummary, name: str) -> str:
    value = getattr(h, name)
    return fmt.seconds(value, overflowed=name in h.overflowed)


def _latency(s: Snapshot) -> list[str]:
    kinds = [k for k in ("ttft", "stream", "itl") if k in s.latency]
    lines = ["## Latency: TTFT beside stream duration", ""]
    lines.append("| | " + " | ".join(TITLES[k] for k in kinds) + " |")
    lines.append("|---|" + "---:|" * len(kinds))
    rows: list[tuple[str, list[str]]] = [
        ("metric", [_metric(s.latency[k]) for k in kinds]),
        ("p50", [_pct(s.latency[k], "p50") for k in kinds]),
        ("p90", [_pct(s.latency[k], "p90") for k in kinds]),
        ("p99", [_pct(s.latency[k], "p99") for k in kinds]),
        ("rate", [fmt.rate(s.latency[k].rate_per_s) for k in kinds]),
        ("mean", [fmt.seconds(s.latency[k].mean_seconds) for k in kinds]),
        ("top bucket", [fmt.seconds(s.latency[k].top_finite_bucket) for k in kinds]),
        ("overflow (+Inf)", [fmt.ratio(s.latency[k].overflow_fraction) for k in kinds]),
    ]
    for name, cells in rows:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for k in kinds:
        h = s.latency[k]
        if h.note:
            lines.append(f"\n- {TITLES[k]}: {md_text(h.note)}")
    if any(s.latency[k].overflowed for k in kinds):
        lines.append(
            "\n`> x` marks a percentile whose rank falls in the +Inf bucket: Prometheus "
            "returns the top bucket bound, so the true value is only known to be above it."
        )
    lines += _groups(s, kinds)
    return lines


def _groups(s: Snapshot, kinds: list[str]) -> list[str]:
    """p99 per group (workload x model), the fleet row first; nothing with one group."""
    if len(s.groups) < 2:
        return []
    out = ["", "### p99 by group", ""]
    out.append("| group | pods | " + " | ".join(TITLES[k] for k in kinds) + " | worst FD pod |")
    out.append("|---|---:|" + "---:|" * len(kinds) + "---|")

    def cell(h: HistogramSummary | None) -> str:
        return _pct(h, "p99") if h is not None and h.available else fmt.NA

    fleet = " | ".join(cell(s.latency.get(k)) for k in kinds)
    out.append(f"| fleet | {len(s.pods)} | {fleet} | |")
    for g in s.groups:
        cells = " | ".join(cell(g.latency.get(k)) for k in kinds)
        worst = (
            f"{md_text(g.fd_worst_pod)} ({fmt.ratio(g.fd_worst_utilization)})"
            if g.fd_worst_pod
            else fmt.NA
        )
        out.append(f"| {md_text(g.name)} | {len(g.pods)} | {cells} | {worst} |")
    return out


def _pods(s: Snapshot) -> list[str]:
    lines = [f"## Pods ({len(s.pods)}, worst first)", ""]
    if not s.pods:
        return [*lines, "No pods reported the server's metrics in this selector."]
    lines.append(
        "| pod | connections | FDs used/max | FD use | CPU cores | in flight "
        "| TTFT p99 | stream p99 |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in s.pods:
        conns = fmt.count(p.open_connections)
        if p.connection_limit is not None:
            conns += f"/{fmt.count(p.connection_limit)}"
        lines.append(
            f"| {md_text(p.pod)} | {conns} | {fmt.count(p.open_fds)}/{fmt.count(p.max_fds)} | "
            f"{fmt.ratio(p.fd_utilization)} | {fmt.cores(p.cpu_cores)} | "
            f"{fmt.count(p.in_flight)} | "
            f"{fmt.seconds(p.ttft_p99, p.ttft_p99_overflowed)} | "
            f"{fmt.seconds(p.stream_p99, p.stream_p99_overflowed)} |"
        )
    return lines


def _autoscaler(s: Snapshot) -> list[str]:
    views = s.autoscalers or ((s.autoscaler,) if s.autoscaler else ())
    lines = ["## Autoscaler", ""]
    if not views:
        return [*lines, "No HorizontalPodAutoscaler found (kube-state-metrics) for this selector."]
    for a in views:
        lines += _one_autoscaler(a)
    return lines[:-1]


def _one_autoscaler(a: AutoscalerView) -> list[str]:
    target = fmt.ratio(a.cpu_target_utilization)
    targets = ", ".join(
        f"{t.metric} ({t.target_type} {fmt.count(t.value)})" if t.target_type else t.metric
        for t in a.targets
    ) or (a.target_metric or "n/a")
    name = a.name + (f" (KEDA ScaledObject {a.keda_scaled_object})" if a.keda_scaled_object else "")
    scaled = "an unreported target"
    if a.scale_target_name:
        scaled = f"{a.scale_target_kind}/{a.scale_target_name}"
    basis = {
        "scale_target": f"over its {fmt.count(a.pod_count)} pods",
        "fleet": f"over all {fmt.count(a.pod_count)} fleet pods (no pod owner series)",
    }.get(a.pods_basis or "", "n/a: its pods cannot be told apart (no pod owner series)")
    return [
        f"HPA {md_text(name)} scales {md_text(scaled)} on {md_text(targets)}"
        + ("" if a.scales_on_cpu else " (not on CPU)")
        + ".",
        "",
        "| replicas | current | desired | min | max | CPU-implied | divergence |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| | {fmt.count(a.current_replicas)} | {fmt.count(a.desired_replicas)} | "
        f"{fmt.count(a.min_replicas)} | {fmt.count(a.max_replicas)} | "
        f"{fmt.count(a.cpu_implied_replicas)} | {fmt.multiple(a.divergence_ratio)} |",
        "",
        f"CPU-implied replicas = ceil({fmt.cores(a.cpu_cores)} cores / "
        f"({fmt.cores(a.cpu_request_cores)} cores requested per pod × {target} target, "
        f"from {a.cpu_target_source or 'n/a'})), CPU {md_text(basis)}.",
        "",
    ]


def _load_balancer(s: Snapshot) -> list[str]:
    lb = s.load_balancer
    if not (lb.backends or lb.frontends or lb.timeouts or lb.sources):
        return []
    lines = ["## Load balancer", ""]
    if lb.backends:
        lines += [
            "| LB | backend | server | current | max | limit | client aborts | "
            "server aborts | timeouts | retries |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for b in lb.backends:
            lines.append(
                f"| {md_text(b.lb)} | {md_text(b.proxy)} | {md_text(b.server)} | "
                f"{fmt.count(b.current)} | {fmt.count(b.maximum)} | {fmt.count(b.limit)} | "
                f"{fmt.count(b.client_aborts)} | {fmt.count(b.server_aborts)} | "
                f"{fmt.count(b.timeouts)} | {fmt.count(b.retries)} |"
            )
    for f in lb.frontends:
        lines.append(
            f"\n{md_text(f.lb)} ({f.kind}): {fmt.count(f.active)} active connections, "
            f"{fmt.count(f.writing)} writing, {fmt.count(f.waiting)} waiting."
        )
    if lb.timeouts:
        lines.append("\nTimeouts that can cut a stream:")
        for t in lb.timeouts:
            scope = f" ({md_text(t.scope)})" if t.scope else ""
            lines.append(f"- {md_text(t.lb)}: `{t.name}` = {fmt.seconds(t.seconds)}{scope}")
    c = s.capacity
    if c.sustainable_rate_per_s is not None or c.arrival_rate_per_s is not None:
        lines.append(
            f"\nCapacity (Little's law): sustainable {fmt.rate(c.sustainable_rate_per_s)} "
            f"vs arriving {fmt.rate(c.arrival_rate_per_s)}. {md_text(c.basis or '')}"
        )
    return lines


_EMPTY_FINDINGS = {
    "unreachable": "None computed: the primary source answered nothing (see the verdict).",
    "no-data": "None: there was no data to judge (see the verdict).",
    "degraded": "None in what was read, but not every source answered (see the verdict).",
    "loading": "Not judged yet: latency was still on its way (see the verdict).",
}


def _verdict(v: Verdict) -> list[str]:
    """The verdict first: bold headline, then the rest of the line."""
    rest = v.line[len(v.headline) :]
    return [f"**{md_text(v.headline)}**{md_text(rest)}"]


def _findings(s: Snapshot) -> list[str]:
    lines = [f"## Findings ({len(s.findings)})", ""]
    if not s.findings:
        empty = _EMPTY_FINDINGS.get(verdict(s).state)
        return [*lines, empty or "None: nothing here looks wrong for streaming traffic."]
    for f in s.findings:
        lines.append(f"### {f.severity.upper()} `{f.id}` — {md_text(f.subject)}")
        lines.append("")
        lines.append(md_text(f.summary))
        if f.advice:
            lines += ["", f"**Do:** {md_text(f.advice)}"]
        if f.evidence:
            lines += ["", "Evidence:", ""]
            for key, text in evidence_rows(f.id, f.evidence):
                lines.append(f"- {md_code(key)}: {md_text(text, limit=2000)}")
        for q in f.promql:
            lines += ["", md_code(q)]
        lines.append("")
    return lines


def _alerts(s: Snapshot) -> list[str]:
    """Alertmanager's firing alerts for the namespace, marked as alerts (not findings)."""
    if not s.alerts:
        return []
    lines = [f"## Alerts firing (Alertmanager, {len(s.alerts)})", ""]
    for a in s.alerts:
        severity = md_text(a.severity or "no severity")
        summary = f": {md_text(a.summary)}" if a.summary else ""
        since = f" (since {md_text(a.starts_at)})" if a.starts_at else ""
        lines.append(f"- ALERT {md_code(a.name)} [{severity}]{summary}{since}")
    lines.append("")
    return lines


def _footer(s: Snapshot) -> list[str]:
    lines: list[str] = []
    if s.errors or s.stale:
        lines += ["## Source problems", ""]
        for e in s.errors:
            part = f" ({md_text(e.part)})" if e.part else ""
            lines.append(f"- {md_text(e.source)}{part}: {md_text(e.message)}")
        for p in s.stale:
            lines.append(f"- stale {md_text(p.part)} ({p.panel}): {md_text(p.reason)}")
        lines.append("")
    if s.notes:
        lines += ["## Notes", ""] + [f"- {md_text(n)}" for n in s.notes] + [""]
    if s.queries:
        lines += ["## PromQL used", ""]
        lines += [f"- {md_text(name)}: {md_code(q)}" for name, q in s.queries.items()]
        lines.append("")
    return lines


URL_LIMIT = 2000
"""Longer than any real address: a source URL is shown whole, never cut."""


def _source_targets(s: Snapshot) -> list[str]:
    """The primary source's addresses, each once (direct scrape lists every target;
    the sources redact them before they reach the Snapshot)."""
    return list(dict.fromkeys(u for u in (s.source.url or "").split(", ") if u))


def _sources(s: Snapshot) -> list[str]:
    """The full list of scrape targets, when the Source line summarised them."""
    targets = _source_targets(s)
    if len(targets) < 2:
        return []
    return ["## Sources", "", *(f"- {md_text(t, URL_LIMIT)}" for t in targets)]


def source_summary(s: Snapshot) -> str:
    """``Prometheus at http://prom:9090``, ``18 scrape targets (listed under Sources)``,
    ``scrape target http://pod:8000/metrics``: markdown, URLs whole."""
    targets = _source_targets(s)
    kind = s.source.kind
    if kind == "prometheus":
        return "Prometheus" + (f" at {md_text(targets[0], URL_LIMIT)}" if targets else "")
    if kind.startswith("scrape"):
        how = md_text(kind.removeprefix("scrape").strip(" ()"))
        if len(targets) > 1:
            return (
                f"{len(targets)} scrape targets ({how + ', ' if how else ''}listed under Sources)"
            )
        where = f" {md_text(targets[0], URL_LIMIT)}" if targets else ": none"
        return f"scrape target{where}" + (f" ({how})" if how else "")
    where = ", ".join(targets)
    return md_text(kind) + (f" {md_text(where, URL_LIMIT)}" if where else "")


def render_markdown(s: Snapshot) -> str:
    """The whole Snapshot as markdown, ending in a newline."""
    when = datetime.fromtimestamp(s.taken_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ns = f", namespace {md_text(s.namespace)}" if s.namespace else ""
    window = fmt.duration(float(s.window_seconds))
    lines = [
        f"# streamdash snapshot — {when}",
        "",
        *_verdict(verdict(s)),
        "",
        f"Source: {source_summary(s)}{ns}, preset {s.preset}, window {window}.",
        "",
    ]
    for section in (
        _latency,
        _findings,
        _alerts,
        _pods,
        _autoscaler,
        _load_balancer,
        _footer,
        _sources,
    ):
        part = section(s)
        if part:
            lines += [*part, ""]
    return "\n".join(lines).rstrip("\n") + "\n"
