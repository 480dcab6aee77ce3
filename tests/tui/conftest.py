"""TUI tests run their coroutines on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/tui/" in str(item.fspath) and item.get_closest_marker("anyio") is None:
            if getattr(item, "obj", None) is not None and _is_coroutine(item.obj):
                item.add_marker(pytest.mark.anyio)


def _is_coroutine(obj: object) -> bool:
    import inspect

    return inspect.iscoroutinefunction(obj)
