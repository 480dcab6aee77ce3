"""Autoscaler panel: the HPA's replicas against what CPU alone implies, and over time."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from streamdash import format as fmt
from streamdash.core.snapshot import AutoscalerView, Snapshot
from streamdash.tui.charts import draw_series, empty_text, history_key
from streamdash.tui.palette import Palette
from streamdash.tui.panels.base import Panel
from streamdash.tui.panels.latency import ScrollBody

CHART_SERIES = ("replicas", "cpu_implied_replicas")
NO_HPA = (
    "No autoscaler data. Name the HorizontalPodAutoscaler with `hpa:` in the config "
    "(kube-state-metrics must export kube_horizontalpodautoscaler_* to Prometheus)."
)


def _target(view: AutoscalerView) -> str:
    if view.targets:
        return ", ".join(
            f"{t.metric} ({t.target_type} {fmt.count(t.value)})" if t.target_type else t.metric
            for t in view.targets
        )
    if view.target_metric is None:
        return fmt.NA
    text = view.target_metric
    if view.target_type:
        text += f" ({view.target_type}"
        if view.target_value is not None:
            text += f" {fmt.count(view.target_value)}"
        text += ")"
    return text


def _name(view: AutoscalerView) -> str:
    text = view.name
    if view.keda_scaled_object:
        text += f" (KEDA ScaledObject {view.keda_scaled_object})"
    if view.namespace:
        text += f" in {view.namespace}"
    return text


def _scales(view: AutoscalerView) -> str:
    what = (
        f"{view.scale_target_kind}/{view.scale_target_name}"
        if view.scale_target_name
        else "target not reported"
    )
    pods = "" if view.pod_count is None else f", CPU of its {fmt.count(view.pod_count)} pods"
    if view.pods_basis == "fleet":
        pods = f", CPU of all {fmt.count(view.pod_count)} fleet pods (no owner series)"
    elif view.pods_basis == "unknown":
        pods = ", its pods cannot be told apart (no owner series)"
    cpu = "" if view.scales_on_cpu else "; does not scale on CPU"
    return what + pods + cpu


def autoscaler_table(
    view: AutoscalerView | None, palette: Palette, divergence_threshold: float
) -> RenderableType:
    """Replica numbers, CPU basis and divergence: a label column that never wraps and
    values that wrap between words under their own column (never back under the label)."""
    if view is None:
        return Text(NO_HPA, style=palette.muted)
    ratio = view.divergence_ratio
    diverged = ratio is not None and ratio >= divergence_threshold
    rows: list[tuple[str, Text]] = [
        ("HPA", Text(fmt.safe_label(_name(view)))),
        ("scales", Text(fmt.safe_label(_scales(view)))),
        (
            "replicas",
            Text(
                f"{fmt.count(view.current_replicas)} now, "
                f"{fmt.count(view.desired_replicas)} desired"
            ),
        ),
        ("min / max", Text(f"{fmt.count(view.min_replicas)} / {fmt.count(view.max_replicas)}")),
        (
            "CPU needs",
            Text(
                f"{fmt.count(view.cpu_implied_replicas)} "
                f"{'replica' if view.cpu_implied_replicas == 1 else 'replicas'}",
                style=palette.warning if diverged else "",
            ),
        ),
        ("divergence", Text(fmt.multiple(ratio), style=palette.warning if diverged else "")),
        ("targets", Text(fmt.safe_label(_target(view)))),
        (
            "CPU",
            Text(
                f"{fmt.cores(view.cpu_cores)} cores used, "
                f"{fmt.cores(view.cpu_request_cores)} requested/pod, "
                f"target {fmt.ratio(view.cpu_target_utilization)}"
                + (f" ({view.cpu_target_source})" if view.cpu_target_source else "")
            ),
        ),
    ]
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(Text(label), value)
    if diverged:
        note = Text(
            f"Running {fmt.multiple(ratio)} the pods CPU needs: streams are bound by "
            "connections, not CPU.",
            style=palette.warning,
        )
        return Group(table, note)
    return table


def autoscalers_text(
    views: tuple[AutoscalerView, ...], palette: Palette, divergence_threshold: float
) -> RenderableType:
    """Every HPA shown, one table each, a blank line apart (the no-HPA line when none)."""
    if not views:
        return autoscaler_table(None, palette, divergence_threshold)
    parts: list[RenderableType] = []
    for n, view in enumerate(views):
        if n:
            parts.append(Text(""))
        parts.append(autoscaler_table(view, palette, divergence_threshold))
    return Group(*parts)


class AutoscalerPanel(Panel):
    PANEL = "autoscaler"

    def __init__(self, divergence_threshold: float) -> None:
        super().__init__()
        self.divergence_threshold = divergence_threshold

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="panel-body"):
            with ScrollBody(classes="numbers"):
                yield Static("", id="autoscaler-numbers")
            yield PlotextPlot(id="autoscaler-chart", classes="chart")

    def focus_target(self) -> Widget:
        return self.query_one(ScrollBody)

    def data_key(self, snapshot: Snapshot) -> object:
        return (
            snapshot.autoscalers or snapshot.autoscaler,
            history_key(snapshot.history, CHART_SERIES),
        )

    def render_data(self, snapshot: Snapshot) -> None:
        self.query_one("#autoscaler-numbers", Static).update(
            autoscalers_text(
                snapshot.autoscalers or ((snapshot.autoscaler,) if snapshot.autoscaler else ()),
                self.palette,
                self.divergence_threshold,
            )
        )
        draw_series(
            self.query_one("#autoscaler-chart", PlotextPlot),
            snapshot.history,
            snapshot.taken_at,
            (("replicas", "replicas", "cyan"), ("cpu_implied_replicas", "CPU-implied", "orange")),
            title="replicas vs CPU-implied",
            ylabel="pods",
            empty=empty_text(snapshot),
        )
