"""The ``?`` help screen: every key, generated from the bindings (so it cannot drift)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from streamdash.tui.bindings import (
    APP_BINDINGS,
    DASHBOARD_BINDINGS,
    DETAIL_BINDINGS,
    FIXED_KEYS,
    REPLAY_BINDINGS,
    SCROLL_BINDINGS,
    TABLE_BINDINGS,
    TIME_BINDINGS,
)

SECTIONS: tuple[tuple[str, list[Binding]], ...] = (
    ("Anywhere", APP_BINDINGS),
    ("Dashboard", DASHBOARD_BINDINGS),
    ("History", TIME_BINDINGS),
    ("Replay (streamdash replay)", REPLAY_BINDINGS),
    ("Pods and findings tables", TABLE_BINDINGS),
    ("Latency, autoscaler, load-balancer panels", SCROLL_BINDINGS),
    ("Detail screens", DETAIL_BINDINGS),
)


def effective(binding: Binding, keymap: Mapping[str, str]) -> Binding:
    """``binding`` with the user's keys when the keymap remaps its id."""
    if binding.id is not None and binding.id in keymap:
        return replace(binding, key=keymap[binding.id], key_display=None)
    return binding


def help_rows(
    keymap: Mapping[str, str], key_display: Callable[[Binding], str]
) -> Iterable[tuple[str, str, str, str]]:
    """(section, keys, description, binding id) for every binding, keymap applied."""
    for section, bindings in SECTIONS:
        for binding in bindings:
            b = effective(binding, keymap)
            keys = ", ".join(
                key_display(replace(b, key=k.strip(), key_display=b.key_display))
                for k in b.key.split(",")
            )
            yield section, keys, b.description, b.id or ""
    for key, description in FIXED_KEYS:
        yield "Built in", key, description, ""


class HelpScreen(ModalScreen[None]):
    """Lists every key; Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=False, id="help_close")
    ]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__(id="help")
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        table = Table(title="streamdash keys", expand=True, header_style="bold")
        table.add_column("where", no_wrap=True)
        table.add_column("key", no_wrap=True, style="bold")
        table.add_column("does")
        table.add_column("id (for keymap)", no_wrap=True)
        last = ""
        for section, keys, description, binding_id in help_rows(
            self.keymap, self.app.get_key_display
        ):
            table.add_row(
                Text(section if section != last else ""),
                Text(keys),
                Text(description),
                Text(binding_id),
            )
            last = section
        with VerticalScroll(id="help-body"):
            yield Static(table)
            yield Static(
                Text(
                    "Remap keys in the config: keymap: {export: x, pause: space}. "
                    "Esc closes this screen."
                ),
                id="help-footer",
            )

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
