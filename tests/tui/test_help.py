"""The help screen lists every key that works: derived from the bindings, checked here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from textual.binding import Binding
from textual.containers import VerticalScroll

import streamdash.tui
from streamdash.tui.help import SECTIONS, HelpScreen
from tests.tui.fixtures import ScriptedRefresher, sample_snapshot
from tests.tui.helpers import make_app, wait_polls, wait_until

pytestmark = pytest.mark.anyio


def declared_bindings() -> list[tuple[str, Binding]]:
    """(class, binding) for every ``Binding`` a class in streamdash.tui declares itself."""
    out = []
    for info in pkgutil.walk_packages(streamdash.tui.__path__, "streamdash.tui."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or "BINDINGS" not in vars(cls):
                continue
            for binding in vars(cls)["BINDINGS"]:
                if isinstance(binding, Binding):
                    out.append((f"{module.__name__}.{name}", binding))
    return out


def test_every_declared_binding_is_in_a_help_section() -> None:
    listed = [b for _section, bindings in SECTIONS for b in bindings]
    declared = declared_bindings()
    assert len(declared) > 40  # the walk found the app's classes
    missing = [f"{where}: {b.key} ({b.description})" for where, b in declared if b not in listed]
    assert missing == []


def test_the_new_and_the_advise_keys_are_listed() -> None:
    keys = {(b.key, b.id) for _section, bindings in SECTIONS for b in bindings}
    for needed in (
        ("y", "findings_copy"),
        ("y", "finding_copy"),
        ("y", "artifact_copy"),
        ("a", "findings_artifacts"),
        ("a", "finding_artifacts"),
        ("n", "artifact_next"),
        ("N", "artifact_previous"),
        ("ctrl+c", None),
    ):
        assert needed in keys


async def test_help_screen_shows_the_copy_and_artifact_keys() -> None:
    refresher = ScriptedRefresher(sample_snapshot())
    app = make_app(refresher)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_polls(pilot, refresher, 1)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        body = app.screen.query_one("#help-body", VerticalScroll)
        body.scroll_end(animate=False)
        await pilot.pause()
        text = app.export_screenshot().replace("&#160;", " ")
        for word in ("findings_copy", "Copy PromQL / advice", "artifact_next", "Next artifact"):
            assert word in text
