"""Pod detail: the pod's current numbers, its facts (limits, FD pair, CPU, LB rows, the
PromQL to paste) and its own charts.

The history comes from a ``PodHistoryFetch`` (``tui.pod_source``: the source's own
series, else this session's snapshots) in a thread worker, never on the UI thread; a
failure shows as one line, and the status line says whose history it is and how far
back it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from streamdash import format as fmt
from streamdash.core.raw import HistoryRaw
from streamdash.core.snapshot import PodRow, Snapshot
from streamdash.settings import Settings, Thresholds
from streamdash.tui.bindings import DETAIL_BINDINGS
from streamdash.tui.charts import draw_series
from streamdash.tui.palette import Palette, palette_from
from streamdash.tui.panels.pods import COLUMNS, row_cells
from streamdash.tui.pod_facts import Fact, facts, promql_facts
from streamdash.tui.pod_source import PodHistory, PodHistoryFetch, origin_line
from streamdash.tui.screens.finding import DetailBody
from streamdash.tui.status import one_line
from streamdash.tui.verdict import VerdictLine

CHARTS: tuple[tuple[str, str, tuple[tuple[str, str, str], ...], str], ...] = (
    (
        "pod-latency",
        "p99 (s)",
        (("ttft_p99", "TTFT p99", "cyan"), ("stream_p99", "stream p99", "orange")),
        "s",
    ),
    ("pod-fds", "open FDs", (("open_fds", "open FDs", "cyan"),), "FDs"),
    ("pod-cpu", "CPU cores", (("cpu_cores", "CPU", "cyan"),), "cores"),
    ("pod-inflight", "in flight", (("in_flight", "in flight", "cyan"),), "requests"),
)


def facts_table(lines: list[Fact], palette: Palette) -> Table:
    """Label / text rows, the text as plain (label values are never markup)."""
    table = Table(box=None, show_header=False, padding=(0, 1), show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, text in lines:
        value = Text(fmt.safe_label(text, 4000))
        if text == fmt.NA or text.startswith(("n/a", "no ")):
            value.stylize(palette.muted)
        table.add_row(Text(fmt.safe_label(label, 120)), value)
    return table


class PodScreen(Screen[None]):
    """One pod; Escape goes back, j / k scroll."""

    DEFAULT_CSS = """
    PodScreen #pod-body { height: 1fr; }
    PodScreen #pod-facts, PodScreen #pod-promql { height: auto; padding: 0 1; }
    PodScreen #pod-status { height: auto; }
    PodScreen #pod-charts { height: 60vh; min-height: 16; }
    """

    AUTO_FOCUS = "#pod-body"
    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[:1]]

    class HistoryLoaded(Message):
        def __init__(self, result: PodHistory | None, error: str | None) -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(
        self,
        row: PodRow,
        fetch: PodHistoryFetch,
        window_seconds: int,
        thresholds: Thresholds,
        clock: Callable[[], float] = time.time,
        *,
        snapshot: Snapshot | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(classes="detail")
        self.row = row
        self.fetch = fetch
        self.window_seconds = window_seconds
        self.thresholds = thresholds
        self.clock = clock
        self.snapshot = snapshot
        self.settings = settings
        self.result: PodHistory | None = None

    @property
    def history(self) -> HistoryRaw | None:
        """The loaded history (None until it arrives or when there is none)."""
        return self.result.history if self.result is not None else None

    def compose(self) -> ComposeResult:
        palette = palette_from(self.app.theme_variables)
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        for column in COLUMNS:
            table.add_column(column.label, no_wrap=column.key != "pod")
        table.add_row(*row_cells(self.row, palette, self.thresholds))
        settings = self.settings or Settings(thresholds=self.thresholds)
        yield VerdictLine()
        with DetailBody(id="pod-body"):
            title = Text(fmt.safe_label(self.row.pod), style="bold")
            yield Static(Group(title, table), id="pod-numbers")
            yield Static(
                facts_table(facts(self.row, self.snapshot, settings), palette), id="pod-facts"
            )
            yield Static(Text("loading this pod's history…"), id="pod-status")
            with Grid(id="pod-charts"):
                for chart_id, *_rest in CHARTS:
                    yield PlotextPlot(id=chart_id, classes="chart")
            promql = promql_facts(settings, self.row.pod, self.window_seconds)
            yield Static(
                Group(
                    Text("PromQL for this pod (paste into Prometheus)", style="bold"),
                    facts_table(list(promql), palette),
                ),
                id="pod-promql",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.load_history()

    @work(thread=True, exclusive=True, group="pod-history", exit_on_error=False)
    def load_history(self) -> None:
        try:
            result = self.fetch(self.row.pod, self.window_seconds)
        except Exception as exc:  # a source failure must not end the app
            self.post_message(self.HistoryLoaded(None, one_line(exc)))
            return
        self.post_message(self.HistoryLoaded(result, None))

    def on_pod_screen_history_loaded(self, message: PodScreen.HistoryLoaded) -> None:
        status = self.query_one("#pod-status", Static)
        if message.error is not None or message.result is None:
            status.update(Text(f"history unavailable: {message.error}"))
            return
        self.result = message.result
        status.update(Text(origin_line(message.result)))
        now = self.clock()
        for chart_id, title, lines, unit in CHARTS:
            draw_series(
                self.query_one(f"#{chart_id}", PlotextPlot),
                message.result.history,
                now,
                lines,
                title=title,
                ylabel=unit,
                level=self._top_bucket() if chart_id == "pod-latency" else None,
            )

    def _top_bucket(self) -> tuple[float, str, str] | None:
        """The stream histogram's top finite bucket when this pod's p99 is above it (its
        points are then lower bounds, pinned at that line)."""
        stream = self.snapshot.latency.get("stream") if self.snapshot is not None else None
        top = stream.top_finite_bucket if stream is not None else None
        if not top or not self.row.stream_p99_overflowed:
            return None
        return top, f"stream top bucket {fmt.seconds(top)} (p99 above it)", "red"

    def action_close(self) -> None:
        self.dismiss(None)
