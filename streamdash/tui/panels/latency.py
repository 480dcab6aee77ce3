"""Latency panel: TTFT and stream duration side by side, and their p99 over time.

An overflowed percentile (rank in +Inf) reads ``> 5 s`` in the warning style; the chart
draws the stream histogram's top finite bucket as a line so a p99 pinned to it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot

from streamdash import format as fmt
from streamdash.core.snapshot import PERCENTILES, HistogramSummary, Snapshot
from streamdash.tui.bindings import SCROLL_BINDINGS
from streamdash.tui.charts import draw_series, empty_text, history_key
from streamdash.tui.palette import Palette
from streamdash.tui.panels.base import Panel
from streamdash.tui.textgrid import frozen, grid, lines

PENDING_CELL = "…"
"""A number whose histogram has not answered yet (the early first frame)."""
SUBJECTS: tuple[tuple[str, str], ...] = (("ttft", "TTFT"), ("stream", "Stream"), ("itl", "ITL"))
CHART_SERIES = ("ttft_p99", "stream_p99")


class ScrollBody(VerticalScroll, can_focus=True):
    """A focusable scrolling area with j/k."""

    BINDINGS: ClassVar[list[BindingType]] = [*SCROLL_BINDINGS]


def _shown_subjects(snapshot: Snapshot) -> list[tuple[str, str, HistogramSummary]]:
    shown = []
    for key, title in SUBJECTS:
        summary = snapshot.latency.get(key)
        pending = key in snapshot.pending
        if summary is None or (key == "itl" and not summary.available and not pending):
            continue
        shown.append((key, title, summary))
    return shown


def latency_table(snapshot: Snapshot, palette: Palette) -> Text:
    """The side-by-side numbers and, below, notes and bucket advice (all plain text)."""
    subjects = _shown_subjects(snapshot)
    rows: list[list[Text]] = []

    def row(label: str, cells: list[Text]) -> None:
        rows.append([Text(label, style="bold"), *cells])

    waiting = Text(PENDING_CELL, style=palette.muted)

    def cells(make: Callable[[HistogramSummary], Text]) -> list[Text]:
        """One cell per subject; ``…`` for a histogram still on its way."""
        return [waiting if k in snapshot.pending else make(s) for k, _t, s in subjects]

    def percentile(name: str) -> Callable[[HistogramSummary], Text]:
        def make(s: HistogramSummary) -> Text:
            over = name in s.overflowed
            value: float | None = getattr(s, name)
            return Text(fmt.seconds(value, over), style=palette.warning if over else "")

        return make

    for name, _q in PERCENTILES:
        row(name, cells(percentile(name)))
    row("rate", cells(lambda s: Text(fmt.rate(s.rate_per_s))))
    row("mean", cells(lambda s: Text(fmt.seconds(s.mean_seconds))))
    row(
        "over top",
        cells(
            lambda s: Text(
                fmt.ratio(s.overflow_fraction),
                style=palette.warning if (s.overflow_fraction or 0) > 0 else "",
            )
        ),
    )
    row("top bucket", cells(lambda s: Text(fmt.seconds(s.top_finite_bucket))))
    header = ["", *(title for _k, title, _s in subjects)]
    table = grid(rows, header, right=[False, *([True] * len(subjects))])
    out: list[Text] = [table]
    groups = group_table(snapshot, palette)
    if groups is not None:
        out.append(groups)
    if snapshot.pending:
        out.append(Text("… waiting for Prometheus: the histograms answer last", palette.muted))
    for key, title, s in subjects:
        if key in snapshot.pending:
            continue
        if not s.available:
            out.append(Text(f"{title}: {s.note or 'not available'}", style=palette.muted))
        elif s.note:
            out.append(Text(f"{title}: {s.note}", style=palette.muted))
        if s.overflowed:
            out.append(
                Text(
                    f"{title} {', '.join(s.overflowed)} above the top bucket: lower bounds",
                    style=palette.warning,
                )
            )
        if s.advice is not None:
            advice = Text(f"{title} buckets: ", style="bold")
            advice.append(fmt.bounds(list(s.advice.buckets)))
            advice.append(f" ({s.advice.basis})", style=palette.muted)
            out.append(advice)
    return lines(out)


def group_table(snapshot: Snapshot, palette: Palette) -> Text | None:
    """p99 per group (workload x model), the fleet row first; None with one group."""
    if len(snapshot.groups) < 2:
        return None
    kinds = [(k, t) for k, t, _s in _shown_subjects(snapshot)]

    def cell(summary: HistogramSummary | None) -> Text:
        if summary is None or not summary.available:
            return Text("n/a", style=palette.muted)
        over = "p99" in summary.overflowed
        return Text(fmt.seconds(summary.p99, over), style=palette.warning if over else "")

    rows = [
        [Text("fleet", style="bold"), Text(""), *(cell(snapshot.latency.get(k)) for k, _ in kinds)]
    ]
    for group in snapshot.groups:
        rows.append(
            [
                Text(group.name),  # label values are data, never markup
                Text(str(len(group.pods))),
                *(cell(group.latency.get(k)) for k, _ in kinds),
            ]
        )
    header = ["p99 by group", "pods", *(title for _, title in kinds)]
    return grid(rows, header, right=[False, True, *([True] * len(kinds))])


class LatencyPanel(Panel):
    PANEL = "latency"

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="panel-body"):
            with ScrollBody(classes="numbers"):
                yield Static("", id="latency-numbers")
            yield PlotextPlot(id="latency-chart", classes="chart")

    def focus_target(self) -> Widget:
        return self.query_one(ScrollBody)

    def data_key(self, snapshot: Snapshot) -> object:
        stream = snapshot.latency.get("stream")
        return (
            snapshot.pending,
            dict(snapshot.latency),
            tuple((g.name, len(g.pods), tuple(g.latency.items())) for g in snapshot.groups),
            history_key(snapshot.history, CHART_SERIES),
            stream.top_finite_bucket if stream else None,
        )

    def render_data(self, snapshot: Snapshot) -> None:
        palette = self.palette
        self.query_one("#latency-numbers", Static).update(frozen(latency_table(snapshot, palette)))
        stream = snapshot.latency.get("stream")
        top = stream.top_finite_bucket if stream is not None else None
        level = None
        if top and _within_reach(snapshot, top):
            level = (top, f"stream top bucket {fmt.seconds(top)}", "red")
        draw_series(
            self.query_one("#latency-chart", PlotextPlot),
            snapshot.history,
            snapshot.taken_at,
            (("ttft_p99", "TTFT p99", "cyan"), ("stream_p99", "stream p99", "orange")),
            title="p99 over time (s)",
            ylabel="s",
            level=level,
            empty=empty_text(snapshot),
        )


def _within_reach(snapshot: Snapshot, top: float) -> bool:
    """Draw the top-bucket line only when the p99 lines come near it (>= half of it):
    a line far above would squash them flat; far away, overflow is not the story."""
    history = snapshot.history
    if history is None:
        return False
    values = [
        p.v for name in ("ttft_p99", "stream_p99") for p in history.series.get(name, ()) if p.v
    ]
    return bool(values) and max(values) >= top / 2
