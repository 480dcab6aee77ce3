"""Every key of the dashboard, as Textual ``Binding``s with stable ids.

Users remap keys by id in the settings (``keymap: {export: "x"}``); the app passes that
mapping to ``App.set_keymap``. The help screen is generated from these lists, so it
cannot drift from what the keys do.
"""

from __future__ import annotations

from textual.binding import Binding

WINDOWS: tuple[int, ...] = (60, 300, 900, 3600)
"""Windows ``w`` cycles through, in seconds."""

QUIT_ON_CTRL_C = Binding("ctrl+c", "quit_dashboard", "Quit", show=False, priority=True)
"""Ctrl+C quits at once like ``q`` (Textual would only say how to quit)."""

APP_BINDINGS: list[Binding] = [
    Binding("q", "quit_dashboard", "Quit", id="quit"),
    Binding("question_mark", "help", "Help", key_display="?", id="help"),
    Binding("e", "export", "Export", id="export"),
    Binding("r", "refresh_now", "Refresh", id="refresh"),
    Binding("p", "toggle_pause", "Pause", id="pause"),
    Binding("w", "cycle_window", "Window", id="window"),
    Binding("t", "cycle_theme", "Theme", id="theme"),
]

DASHBOARD_BINDINGS: list[Binding] = [
    Binding("tab", "next_panel", "Next panel", show=False, id="next_panel"),
    Binding("shift+tab", "previous_panel", "Previous panel", show=False, id="previous_panel"),
    Binding("1", "show_panel('latency')", "Latency", show=False, id="panel_latency"),
    Binding("2", "show_panel('pods')", "Pods", show=False, id="panel_pods"),
    Binding("3", "show_panel('autoscaler')", "Autoscaler", show=False, id="panel_autoscaler"),
    Binding("4", "show_panel('lb')", "Load balancer", show=False, id="panel_lb"),
    Binding("5", "show_panel('findings')", "Findings", show=False, id="panel_findings"),
    Binding("slash", "filter", "Filter pods", key_display="/", id="filter"),
]

CLEAR_FILTER = Binding("escape", "clear_filter", "Clear the pods filter", show=False)
"""Escape on the dashboard (the filter input says so; not in help, like Esc elsewhere)."""

TABLE_BINDINGS: list[Binding] = [
    Binding("j", "cursor_down", "Down", show=False, id="table_down"),
    Binding("k", "cursor_up", "Up", show=False, id="table_up"),
    Binding("s", "sort_next", "Sort by next column", show=False, id="sort"),
    Binding("S", "sort_reverse", "Reverse sort", show=False, id="sort_reverse"),
]
"""Inside the pods and findings tables (Enter opens the row's detail screen)."""

SCROLL_BINDINGS: list[Binding] = [
    Binding("j", "scroll_down", "Scroll down", show=False, id="scroll_down"),
    Binding("k", "scroll_up", "Scroll up", show=False, id="scroll_up"),
]
"""Inside the latency, autoscaler and load-balancer panels."""

DETAIL_BINDINGS: list[Binding] = [
    Binding("escape", "close", "Back", id="back"),
    Binding("j", "scroll_down", "Scroll down", show=False, id="detail_down"),
    Binding("k", "scroll_up", "Scroll up", show=False, id="detail_up"),
]

TIME_BINDINGS: list[Binding] = [
    Binding("T", "timeline", "Findings timeline", show=False, id="timeline"),
    Binding(
        "R", "record_session", "Write this session's snapshots", show=False, id="record_session"
    ),
]
"""The session's past (streamdash.tui.time): anywhere on the dashboard."""

REPLAY_BINDINGS: list[Binding] = [
    Binding(
        "left_square_bracket",
        "replay_step(-1)",
        "Previous snapshot",
        key_display="[",
        id="replay_back",
    ),
    Binding(
        "right_square_bracket",
        "replay_step(1)",
        "Next snapshot",
        key_display="]",
        id="replay_forward",
    ),
    Binding(
        "left_curly_bracket",
        "replay_change(-1)",
        "Previous change of findings",
        key_display="{",
        id="replay_previous_change",
    ),
    Binding(
        "right_curly_bracket",
        "replay_change(1)",
        "Next change of findings",
        key_display="}",
        id="replay_next_change",
    ),
    Binding("g", "replay_goto", "Go to a time (02:14)", id="replay_goto"),
    Binding("space", "replay_play", "Play / pause", id="replay_play"),
    Binding(
        "greater_than_sign", "replay_speed", "Speed 1x / 10x", key_display=">", id="replay_speed"
    ),
]
"""Only in ``streamdash replay`` (the time cursor)."""

FIXED_KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "Open the selected pod or finding"),
    ("up / down", "Move inside a panel"),
    ("click header", "Sort the pods table by that column"),
    ("ctrl+p", "Command palette: every action by name"),
)
"""Keys Textual widgets own (no id, not remappable), listed in help for completeness."""


def next_window(current: int) -> int:
    """The window after ``current`` in ``WINDOWS`` (wrapping; unknown: the next larger)."""
    for window in WINDOWS:
        if window > current:
            return window
    return WINDOWS[0]


def window_label(seconds: int) -> str:
    """``60`` -> ``1m``, ``3600`` -> ``1h``, ``90`` -> ``90s``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
