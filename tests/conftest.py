"""Shared fixtures. Keep this small: helpers live in tests/support/."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:  # make ``tests.support`` importable from any test module
    sys.path.insert(0, str(_REPO))

from tests.support.prom import PrometheusServer, missing_binaries, start_prometheus  # noqa: E402

PrometheusFactory = Callable[..., PrometheusServer]


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[PrometheusFactory]:
    """Start real Prometheus servers (``start_prometheus`` minus workdir); all stopped after.

    Fails (never skips) when /usr/bin/prometheus or /usr/bin/promtool is missing.
    """
    missing = missing_binaries()
    if missing:
        pytest.fail(f"Prometheus binaries missing ({', '.join(missing)}); install prometheus")
    servers: list[PrometheusServer] = []

    def factory(
        openmetrics: str | None = None,
        scrape_targets: Sequence[str] = (),
        scrape_interval: str = "1s",
        extra_args: Sequence[str] = (),
    ) -> PrometheusServer:
        workdir = tmp_path / f"prometheus-{len(servers)}"
        server = start_prometheus(
            workdir,
            openmetrics=openmetrics,
            scrape_targets=scrape_targets,
            scrape_interval=scrape_interval,
            extra_args=extra_args,
        )
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
