"""The ``?`` help screen: every key, generated from the bindings (so it cannot drift)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Static

from streamdash.tui.bindings import (
    APP_BINDINGS,
    CLEAR_FILTER,
    DASHBOARD_BINDINGS,
    DETAIL_BINDINGS,
    FIXED_KEYS,
    QUIT_ON_CTRL_C,
    REPLAY_BINDINGS,
    SCROLL_BINDINGS,
    TABLE_BINDINGS,
    TIME_BINDINGS,
)
from streamdash.tui.panels.findings import FINDINGS_BINDINGS
from streamdash.tui.panels.pods import FilterInput
from streamdash.tui.panels.rowgrid import RowGrid
from streamdash.tui.screens.finding import FINDING_BINDINGS
from streamdash.tui.screens.goto import GotoScreen
from streamdash.tui.screens.keys import ARTIFACT_BINDINGS

HELP_CLOSE = Binding("escape,q,question_mark", "dismiss_help", "Close", show=False, id="help_close")


def _bindings(declared: Iterable[BindingType], besides: Iterable[Binding] = ()) -> list[Binding]:
    """The ``Binding``s of a ``BINDINGS`` list, less those already listed in ``besides``."""
    seen = list(besides)
    return [b for b in declared if isinstance(b, Binding) and b not in seen]


SECTIONS: tuple[tuple[str, list[Binding]], ...] = (
    ("Anywhere", [*APP_BINDINGS, QUIT_ON_CTRL_C]),
    ("Dashboard", [*DASHBOARD_BINDINGS, CLEAR_FILTER]),
    ("History", TIME_BINDINGS),
    ("Replay (streamdash replay)", REPLAY_BINDINGS),
    ("Pods and findings tables", TABLE_BINDINGS),
    ("Pods table", _bindings(RowGrid.BINDINGS, TABLE_BINDINGS)),
    ("Findings table", FINDINGS_BINDINGS),
    ("Latency, autoscaler, load-balancer panels", SCROLL_BINDINGS),
    ("Detail screens", DETAIL_BINDINGS),
    ("Finding detail", FINDING_BINDINGS),
    ("Artifacts of a finding (a)", ARTIFACT_BINDINGS),
    (
        "Prompts and this screen",
        _bindings([*FilterInput.BINDINGS, *GotoScreen.BINDINGS, HELP_CLOSE]),
    ),
)
"""Every binding of the app, its screens and widgets (a test checks none is missing)."""


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


WIDE_HELP = 120
"""From this terminal width the help shows its sections in two columns."""
KEY_WIDTH = 12
ID_WIDTH = 22


def _keys_table(rows: Iterable[tuple[str, str, str, str]]) -> Group:
    """Per section, titled: key, what it does and its keymap id (fixed key and id
    widths, so the sections line up)."""
    tables: list[Table] = []
    last: str | None = None
    for section, keys, description, binding_id in rows:
        if section != last:
            table = Table(
                title=section,
                title_justify="left",
                title_style="bold underline",
                show_header=False,
                expand=True,
                box=None,
                padding=(0, 1),
            )
            table.add_column("key", no_wrap=True, style="bold", width=KEY_WIDTH)
            table.add_column("does", ratio=1)
            table.add_column("id", no_wrap=True, width=ID_WIDTH, style="dim")
            tables.append(table)
            last = section
        tables[-1].add_row(Text(keys), Text(description), Text(binding_id))
    return Group(*tables)


class HelpScreen(ModalScreen[None]):
    """Lists every key; Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [HELP_CLOSE]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__(id="help")
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        rows = list(help_rows(self.keymap, self.app.get_key_display))
        sections = list(dict.fromkeys(section for section, *_ in rows))
        half, counted, split = len(rows) / 2, 0, len(sections)
        for index, section in enumerate(sections):  # two columns of about equal length
            counted += sum(row[0] == section for row in rows)
            if counted >= half:
                split = index + 1
                break
        left = set(sections[:split])
        with VerticalScroll(id="help-body"):
            yield Static(
                Text("streamdash keys (the grey column: the id to remap it by)", style="bold"),
                id="help-title",
            )
            with Horizontal(id="help-columns"):
                yield Static(_keys_table([r for r in rows if r[0] in left]))
                yield Static(_keys_table([r for r in rows if r[0] not in left]))
            yield Static(
                Text(
                    "Remap keys in the config: keymap: {export: x, pause: space}. "
                    "Esc closes this screen."
                ),
                id="help-footer",
            )

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < WIDE_HELP, "-narrow")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
