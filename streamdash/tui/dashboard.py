"""The dashboard screen: header line, the five panels, and moving between them.

At 160×50 the panels share a grid; below ``NARROW_WIDTH``×``NARROW_HEIGHT`` the screen
gets the ``-narrow`` class and shows one panel at a time with a tab line (1–5, Tab).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Static

from streamdash.core.snapshot import Snapshot
from streamdash.settings import Settings
from streamdash.tui.bindings import CLEAR_FILTER, DASHBOARD_BINDINGS
from streamdash.tui.panels.autoscaler import AutoscalerPanel
from streamdash.tui.panels.base import Panel
from streamdash.tui.panels.findings import FindingsPanel
from streamdash.tui.panels.latency import LatencyPanel
from streamdash.tui.panels.lb import LoadBalancerPanel
from streamdash.tui.panels.pods import PodsPanel
from streamdash.tui.status import PANEL_TITLES, PANELS, PanelStatus
from streamdash.tui.verdict import VerdictLine

NARROW_WIDTH = 120
NARROW_HEIGHT = 36


def tab_line(active: str) -> Text:
    """`` 1 Latency  2 Pods … `` with the active panel reversed."""
    text = Text()
    for number, panel in enumerate(PANELS, start=1):
        label = f" {number} {PANEL_TITLES[panel]} "
        text.append(label, style="bold reverse" if panel == active else "")
        text.append(" ")
    return text


class DashboardScreen(Screen[None]):
    """Hosts the panels; owns which one is active. Never does I/O."""

    BINDINGS: ClassVar[list[BindingType]] = [*DASHBOARD_BINDINGS, CLEAR_FILTER]

    def __init__(self, settings: Settings) -> None:
        super().__init__(id="dashboard")
        self.settings = settings
        self.active = PANELS[0]
        self._header: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="header-line")
        yield VerdictLine()
        yield Static(tab_line(self.active), id="tab-line")
        with Container(id="panels"):
            # Grid order (left to right, top to bottom), not panel-number order.
            yield LatencyPanel()
            yield AutoscalerPanel(self.settings.thresholds.divergence_ratio)
            yield PodsPanel(self.settings.thresholds)
            yield FindingsPanel()
            yield LoadBalancerPanel()
        yield Footer()

    def on_mount(self) -> None:
        self._set_active(self.active, focus=True)

    def panel(self, name: str) -> Panel:
        return self.query_one(f"#panel-{name}", Panel)

    @property
    def panels(self) -> list[Panel]:
        return [self.panel(name) for name in PANELS]

    def on_resize(self, event: Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH or event.size.height < NARROW_HEIGHT
        self.set_class(narrow, "-narrow")

    def _set_active(self, name: str, focus: bool) -> None:
        self.active = name
        for panel in self.panels:
            panel.set_class(name == panel.PANEL, "-active")
        self.query_one("#tab-line", Static).update(tab_line(name))
        if focus:
            self.panel(name).focus_target().focus()

    @on(Panel.Activated)
    def _activated(self, event: Panel.Activated) -> None:
        if event.panel != self.active:
            self._set_active(event.panel, focus=False)

    def action_next_panel(self) -> None:
        self._set_active(PANELS[(PANELS.index(self.active) + 1) % len(PANELS)], focus=True)

    def action_previous_panel(self) -> None:
        self._set_active(PANELS[(PANELS.index(self.active) - 1) % len(PANELS)], focus=True)

    def action_show_panel(self, name: str) -> None:
        if name in PANELS:
            self._set_active(name, focus=True)

    def action_filter(self) -> None:
        self._set_active("pods", focus=False)
        self.query_one(PodsPanel).open_filter()

    def action_clear_filter(self) -> None:
        """Escape on the dashboard: clear the pods filter (kept after Enter) and close it."""
        pods = self.query_one(PodsPanel)
        if pods.filter_text or pods.query_one("#pods-filter").has_class("-open"):
            self._set_active("pods", focus=False)
            pods.clear_filter()

    def show_snapshot(self, snapshot: Snapshot) -> None:
        for panel in self.panels:
            panel.show_snapshot(snapshot)
        for line in self.query(VerdictLine):  # also when a replay cursor picks a snapshot
            line.show(snapshot, getattr(self.app, "failure", None))

    def show_statuses(self, statuses: dict[str, PanelStatus]) -> None:
        for panel in self.panels:
            panel.show_status(statuses[panel.PANEL])

    def show_header(self, header: Text) -> None:
        # One fixed-height line: no layout pass (a layout pass repaints every scrollbar).
        if header != self._header:
            self._header = header
            self.query_one("#header-line", Static).update(header, layout=False)
