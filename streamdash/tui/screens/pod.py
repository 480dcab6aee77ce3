"""Pod detail: the pod's current numbers and its own charts over the last hour.

The history comes from ``Refresher.pod_history`` in a thread worker, never on the UI
thread; a failure shows as one line, and a source without history says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

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

from streamdash.core.raw import HistoryRaw
from streamdash.core.snapshot import PodRow
from streamdash.settings import Thresholds
from streamdash.tui.bindings import DETAIL_BINDINGS
from streamdash.tui.charts import draw_series
from streamdash.tui.palette import palette_from
from streamdash.tui.panels.pods import COLUMNS, row_cells
from streamdash.tui.status import one_line
from streamdash.tui.verdict import VerdictLine

HistoryFetch = Callable[[str, int], HistoryRaw | None]
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


class PodScreen(Screen[None]):
    """One pod; Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS[:1]]

    class HistoryLoaded(Message):
        def __init__(self, history: HistoryRaw | None, error: str | None) -> None:
            super().__init__()
            self.history = history
            self.error = error

    def __init__(
        self,
        row: PodRow,
        fetch: HistoryFetch,
        window_seconds: int,
        thresholds: Thresholds,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(classes="detail")
        self.row = row
        self.fetch = fetch
        self.window_seconds = window_seconds
        self.thresholds = thresholds
        self.clock = clock
        self.history: HistoryRaw | None = None

    def compose(self) -> ComposeResult:
        palette = palette_from(self.app.theme_variables)
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        for column in COLUMNS:
            table.add_column(column.label, no_wrap=column.key != "pod")
        table.add_row(*row_cells(self.row, palette, self.thresholds))
        yield VerdictLine()
        yield Static(table, id="pod-numbers")
        yield Static(Text("loading this pod's history…"), id="pod-status")
        with Grid(id="pod-charts"):
            for chart_id, *_rest in CHARTS:
                yield PlotextPlot(id=chart_id, classes="chart")
        yield Footer()

    def on_mount(self) -> None:
        self.load_history()

    @work(thread=True, exclusive=True, group="pod-history", exit_on_error=False)
    def load_history(self) -> None:
        try:
            history = self.fetch(self.row.pod, self.window_seconds)
        except Exception as exc:  # a source failure must not end the app
            self.post_message(self.HistoryLoaded(None, one_line(exc)))
            return
        self.post_message(self.HistoryLoaded(history, None))

    def on_pod_screen_history_loaded(self, message: PodScreen.HistoryLoaded) -> None:
        status = self.query_one("#pod-status", Static)
        if message.error is not None:
            status.update(Text(f"history unavailable: {message.error}"))
            return
        self.history = message.history
        if message.history is None:
            status.update(Text("This source keeps no per-pod history (live values only)."))
        else:
            status.update(Text("last hour; x axis in minutes before now"))
        now = self.clock()
        for chart_id, title, lines, unit in CHARTS:
            draw_series(
                self.query_one(f"#{chart_id}", PlotextPlot),
                message.history,
                now,
                lines,
                title=title,
                ylabel=unit,
            )

    def action_close(self) -> None:
        self.dismiss(None)
