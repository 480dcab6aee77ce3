"""Load-balancer panel: backends, frontends, stream-cutting timeouts and capacity.

With no load balancer configured it says which sources are configured and how to add
one. Backend and server names are label values: shown as plain ``Text``.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from streamdash import format as fmt
from streamdash.core.raw import LbBackendRaw
from streamdash.core.snapshot import Capacity, Finding, Snapshot
from streamdash.tui.palette import Palette
from streamdash.tui.panels.base import Panel
from streamdash.tui.panels.latency import ScrollBody
from streamdash.tui.textgrid import frozen, grid, lines

HOW_TO_ADD = (
    "Add one under `load_balancers:` in the config: kind haproxy (stats CSV URL), "
    "envoy (admin URL), nginx (stub_status URL), or cloud with idle_timeout_seconds "
    "(AWS ALB: 60 s by default)."
)


def _counter(total: float | None, per_second: float | None) -> str:
    if per_second is None:
        return fmt.count(total)
    if total is None:
        return fmt.rate(per_second)
    return f"{fmt.count(total)} ({fmt.rate(per_second)})"


def _title(text: str) -> Text:
    return Text(text, style="bold underline")


BACKEND_HEADER = (
    "lb",
    "backend/server",
    "status",
    "cur",
    "max",
    "limit",
    "cli aborts",
    "srv aborts",
    "timeouts",
    "retries",
    "resets",
)
BACKEND_RIGHT = (False, False, False, *([True] * 8))


def _shared_prefix(names: list[str]) -> str:
    """The prefix all ``names`` share, cut after its last ``-`` (pod names share their
    ReplicaSet's); empty when there are fewer than two names or it is short."""
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    prefix = first[:size]
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    return prefix if len(prefix) >= 8 else ""


def _moving(rate: float | None, style: str) -> str:
    """``style`` while a counter moves (rate > 0); plain when still or unknown."""
    return style if rate is not None and rate > 0 else ""


def backends_table(
    backends: tuple[LbBackendRaw, ...], palette: Palette, cut_style: str | None = None
) -> Text:
    """One aligned row per LB server; counters as ``total (rate)``. Aborts, timeouts and
    resets that move (rate > 0) take ``cut_style`` (the severity of the snapshot's
    ``lb-disconnects`` finding; warning without one); retries take warning.

    To fit 80 columns: the LB and backend names move to a caption when every row shares
    them, and counters no row reports are named in a caption instead of a column of n/a.
    """
    cut = cut_style or palette.warning
    rows: list[list[Text]] = []
    for b in backends:
        near_limit = (
            b.limit is not None
            and b.current is not None
            and b.limit > 0
            and b.current >= 0.8 * b.limit
        )
        rows.append(
            [
                Text(fmt.safe_label(b.lb, 30)),
                Text(f"{fmt.safe_label(b.proxy, 40)}/{fmt.safe_label(b.server, 40)}"),
                Text(fmt.safe_label(b.status or fmt.NA, 12)),
                Text(fmt.count(b.current), style=palette.warning if near_limit else ""),
                Text(fmt.count(b.maximum)),
                Text(fmt.count(b.limit)),
                Text(
                    _counter(b.client_aborts, b.client_aborts_rate),
                    style=_moving(b.client_aborts_rate, cut),
                ),
                Text(
                    _counter(b.server_aborts, b.server_aborts_rate),
                    style=_moving(b.server_aborts_rate, cut),
                ),
                Text(_counter(b.timeouts, b.timeouts_rate), style=_moving(b.timeouts_rate, cut)),
                Text(
                    _counter(b.retries, b.retries_rate),
                    style=_moving(b.retries_rate, palette.warning),
                ),
                Text(_counter(b.resets, b.resets_rate), style=_moving(b.resets_rate, cut)),
            ]
        )
    header = list(BACKEND_HEADER)
    right = list(BACKEND_RIGHT)
    caption: list[str] = []
    lbs = {b.lb for b in backends}
    proxies = {b.proxy for b in backends}
    if len(lbs) == 1 and len(proxies) == 1:
        caption.append(
            f"{fmt.safe_label(next(iter(lbs)), 30)} · backend "
            f"{fmt.safe_label(next(iter(proxies)), 40)}"
        )
        prefix = _shared_prefix([b.server for b in backends])
        if prefix:
            caption.append(f"servers {fmt.safe_label(prefix, 60)}…")
        for row, b in zip(rows, backends, strict=True):
            row[1] = Text(fmt.safe_label(("…" if prefix else "") + b.server[len(prefix) :], 60))
        header[1] = "server"
        keep = [i for i in range(len(header)) if i != 0]
    else:
        keep = list(range(len(header)))
    unknown = [i for i in keep if i >= 6 and all(row[i].plain == fmt.NA for row in rows)]
    if unknown:
        caption.append("not reported: " + ", ".join(header[i] for i in unknown))
    keep = [i for i in keep if i not in unknown]
    table = grid(
        [[row[i] for i in keep] for row in rows],
        tuple(header[i] for i in keep),
        right=tuple(right[i] for i in keep),
    )
    if not caption:
        return table
    out = Text("; ".join(caption) + "\n", style=palette.muted)
    out.append_text(table)
    return out


def capacity_text(capacity: Capacity, palette: Palette) -> Text:
    """Little's law: sustainable streams/s against the arrival rate."""
    text = Text("Capacity (Little's law): ", style="bold")
    text.append(
        f"arrivals {fmt.rate(capacity.arrival_rate_per_s)}, "
        f"mean stream {fmt.seconds(capacity.mean_stream_seconds)}, "
        f"ceiling {fmt.count(capacity.per_pod_streams_ceiling)} streams/pod, "
        f"sustainable {fmt.rate(capacity.sustainable_rate_per_s)}"
    )
    over = (
        capacity.arrival_rate_per_s is not None
        and capacity.sustainable_rate_per_s is not None
        and capacity.arrival_rate_per_s > capacity.sustainable_rate_per_s
    )
    if over:
        text.append("  arrivals exceed what the fleet sustains", style=palette.error)
    if capacity.basis:
        text.append(f"\n{capacity.basis}", style=palette.muted)
    return text


def _timeout_findings(snapshot: Snapshot) -> dict[tuple[str, str], Finding]:
    """(LB, setting) -> the core's ``lb-idle-timeout`` finding about it (the view does
    not judge timeouts itself)."""
    out: dict[tuple[str, str], Finding] = {}
    for f in snapshot.findings:
        lb, setting = f.evidence.get("lb"), f.evidence.get("setting")
        if f.id == "lb-idle-timeout" and isinstance(lb, str) and isinstance(setting, str):
            out.setdefault((lb, setting), f)
    return out


def timeouts_text(snapshot: Snapshot, palette: Palette) -> list[Text]:
    """The timeouts that can cut a stream, first: each in the severity of the finding
    that judges it (plain when none does), with that finding's summary under it."""
    lb = snapshot.load_balancer
    parts = [_title("Timeouts that can cut a stream")]
    if not lb.timeouts:
        parts.append(Text("none reported", style=palette.muted))
        return parts
    judged = _timeout_findings(snapshot)
    said: set[tuple[str, str]] = set()
    for t in lb.timeouts:
        scope = f" [{fmt.safe_label(t.scope, 60)}]" if t.scope else ""
        finding = judged.get((t.lb, t.name))
        style = palette.severity(finding.severity) if finding else ""
        line = Text(
            f"{fmt.safe_label(t.lb, 40)}: {fmt.safe_label(t.name, 60)}"
            f"{scope} = {fmt.seconds(t.seconds)}",
            style=style,
        )
        if finding is not None and (t.lb, t.name) not in said:
            said.add((t.lb, t.name))
            line.append(f"  {finding.severity}: ", style=style)
            line.append(fmt.safe_label(finding.summary, 400), style=palette.muted)
        parts.append(line)
    return parts


def lb_view(snapshot: Snapshot, palette: Palette) -> Text:
    """Everything the panel shows, as plain-text renderables: the stream-cutting timeouts
    first (what an on-call engineer needs above the fold), then backends, frontends,
    capacity and the sources."""
    lb = snapshot.load_balancer
    parts: list[Text] = []
    configured = bool(lb.sources or lb.backends or lb.frontends or lb.timeouts)
    if not configured:
        url = f" {fmt.safe_label(snapshot.source.url)}" if snapshot.source.url else ""
        parts.append(Text("No load balancer configured.", style=palette.warning))
        parts.append(Text(f"Configured source: {snapshot.source.kind}{url}."))
        parts.append(Text(HOW_TO_ADD, style=palette.muted))
        parts.append(capacity_text(snapshot.capacity, palette))
        return lines(parts)
    parts += timeouts_text(snapshot, palette)
    cuts = next((f for f in snapshot.findings if f.id == "lb-disconnects"), None)
    if cuts is not None:
        line = Text(f"{cuts.severity}: ", style=palette.severity(cuts.severity))
        line.append(fmt.safe_label(cuts.summary, 400))
        parts.append(line)
    if lb.backends:
        parts.append(_title("Backends"))
        style = palette.severity(cuts.severity) if cuts is not None else None
        parts.append(backends_table(lb.backends, palette, style))
    if lb.frontends:
        parts.append(_title("Frontends"))
        for f in lb.frontends:
            parts.append(
                Text(
                    f"{fmt.safe_label(f.lb, 40)} ({f.kind}): active {fmt.count(f.active)}, "
                    f"reading {fmt.count(f.reading)}, writing {fmt.count(f.writing)}, "
                    f"waiting {fmt.count(f.waiting)}, accepted {fmt.count(f.accepted)}, "
                    f"handled {fmt.count(f.handled)}, requests {fmt.count(f.requests)}"
                )
            )
    parts.append(capacity_text(snapshot.capacity, palette))
    if lb.sources:
        parts.append(
            Text("Sources: " + ", ".join(fmt.safe_label(s) for s in lb.sources), palette.muted)
        )
    return lines(parts)


class LoadBalancerPanel(Panel):
    PANEL = "lb"

    def compose_body(self) -> ComposeResult:
        with ScrollBody(classes="panel-body"):
            yield Static("", id="lb-body")

    def focus_target(self) -> Widget:
        return self.query_one(ScrollBody)

    def data_key(self, snapshot: Snapshot) -> object:
        return (snapshot.load_balancer, snapshot.capacity, snapshot.source)

    def render_data(self, snapshot: Snapshot) -> None:
        self.query_one("#lb-body", Static).update(frozen(lb_view(snapshot, self.palette)))
