"""Keys of the artifacts screen, apart from it: help lists them without importing the
advise generators the screen needs (the dashboard's first frame leaves those for later)."""

from __future__ import annotations

from textual.binding import Binding

ARTIFACT_BINDINGS: list[Binding] = [
    Binding("n", "step(1)", "Next artifact", id="artifact_next"),
    Binding("N", "step(-1)", "Previous artifact", id="artifact_previous"),
    Binding("y", "copy", "Copy artifact", id="artifact_copy"),
]
