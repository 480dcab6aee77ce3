"""The ``g`` prompt of replay: type a time (``02:14``, ``02:14:05`` or RFC 3339)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class GotoScreen(ModalScreen[str | None]):
    """Dismisses with the text typed (None on Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False, id="goto_cancel")
    ]

    def __init__(self, first: str, last: str) -> None:
        super().__init__(id="goto")
        self.range_text = f"recorded {first} … {last} (local time)"

    def compose(self) -> ComposeResult:
        with Vertical(id="goto-box"):
            yield Static(Text(f"Go to time — {self.range_text}"))
            yield Input(placeholder="02:14 or 02:14:05 or 2026-12-01T02:14:00Z", id="goto-input")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
