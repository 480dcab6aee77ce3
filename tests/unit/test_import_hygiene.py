"""The headless path never imports textual; the core never imports any I/O library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CORE_MODULES = sorted(
    f"streamdash.core.{p.stem}"
    for p in (Path(__file__).resolve().parents[2] / "streamdash" / "core").glob("*.py")
    if p.stem != "__init__"
)


def _loaded_after(imports: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in imports)
    code += "print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_no_io_or_ui_library() -> None:
    assert CORE_MODULES, "no core modules found"
    loaded = _loaded_after(CORE_MODULES)
    for banned in ("textual", "rich", "httpx", "requests", "prometheus_api_client"):
        assert banned not in loaded, f"the core pulled in {banned}"


@pytest.mark.parametrize(
    "modules",
    [
        ["streamdash.cli"],
        [
            "streamdash.commands",
            "streamdash.live",
            "streamdash.export.markdown",
            "streamdash.export.json",
        ],
    ],
)
def test_headless_path_never_imports_textual(modules: list[str]) -> None:
    loaded = _loaded_after(modules)
    assert "textual" not in loaded
    assert not any(m.startswith("textual.") for m in loaded)


def test_dashboard_first_frame_leaves_the_advise_generators_for_later() -> None:
    """The TUI's import (what stands between launch and the first frame) takes only
    advise's model; the generators load when a finding's artifacts are first asked."""
    loaded = _loaded_after(["streamdash.tui.app"])
    assert "streamdash.advise.model" in loaded
    assert "streamdash.advise.build" not in loaded
    from streamdash import advise

    assert callable(advise.advise)  # still there on first use
