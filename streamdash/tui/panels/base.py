"""What every dashboard panel shares: a title, a freshness line, and snapshot feeding.

A panel never does I/O. The app hands it each new ``Snapshot`` (``show_snapshot``) and,
every second, its ``PanelStatus`` (``show_status``). Panels compare what they were given
with what they show and touch their widgets only when the data changed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from streamdash.core.snapshot import Snapshot
from streamdash.tui.palette import Palette, palette_from
from streamdash.tui.status import PANEL_TITLES, PANELS, PanelStatus, panel_subtitle
from streamdash.tui.textgrid import frozen


class Panel(Vertical):
    """Base class: subclasses set ``PANEL`` and implement ``compose_body``/``render_data``."""

    PANEL: ClassVar[str] = ""

    class Activated(Message):
        """Something inside the panel got focus: the dashboard makes it the active panel."""

        def __init__(self, panel: str) -> None:
            super().__init__()
            self.panel = panel

    def __init__(self) -> None:
        super().__init__(id=f"panel-{self.PANEL}", classes="panel")
        number = PANELS.index(self.PANEL) + 1
        self.border_title = f"{number} {PANEL_TITLES[self.PANEL]}"
        self.border_subtitle = "waiting for data"
        self.snapshot: Snapshot | None = None
        self._status: PanelStatus | None = None
        self._banner: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="stale-banner")
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        """The panel's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.restyle())

    @property
    def palette(self) -> Palette:
        return palette_from(self.app.theme_variables)

    def focus_target(self) -> Widget:
        """The widget that takes focus when the panel is chosen."""
        return self

    def on_descendant_focus(self) -> None:
        self.post_message(self.Activated(self.PANEL))

    def on_focus(self) -> None:
        self.post_message(self.Activated(self.PANEL))

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Take a new snapshot; redraw only when this panel's data changed."""
        previous = self.snapshot
        self.snapshot = snapshot
        if previous is None or self.data_key(previous) != self.data_key(snapshot):
            self.render_data(snapshot)

    def restyle(self) -> None:
        """Redraw with the current theme's colours."""
        if self.snapshot is not None:
            self.render_data(self.snapshot)

    def data_key(self, snapshot: Snapshot) -> object:
        """The part of the snapshot this panel shows (compared between refreshes)."""
        return snapshot

    def render_data(self, snapshot: Snapshot) -> None:
        """Draw ``snapshot`` into the panel's widgets."""

    def show_status(self, status: PanelStatus) -> None:
        """Show data age, and the stale reason when stale; cheap when unchanged."""
        if status == self._status:
            return
        self._status = status
        self.set_class(status.stale, "-stale")
        subtitle = panel_subtitle(status)
        if str(self.border_subtitle) != subtitle:  # a border change repaints the panel
            self.border_subtitle = subtitle
        banner = Text()
        if status.stale:
            banner = Text("STALE ", style="bold reverse")
            banner.append(status.reason or "", style="bold")
            banner.append(" · showing the last good values")
        if banner != self._banner:
            self._banner = banner
            self.query_one(".stale-banner", Static).update(frozen(banner))
