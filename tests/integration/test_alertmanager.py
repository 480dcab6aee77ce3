"""Alerts from a real Alertmanager (Debian's prometheus-alertmanager) beside the findings:
an alert posted through its API for the namespace shows in `streamdash snapshot` (JSON and
markdown, marked as an alert); one for another namespace never does; a dead Alertmanager
is one error line and no alerts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from streamdash.sources.alertmanager import fetch_alerts
from tests.support.alertmanager import RunningAlertmanager, start_alertmanager
from tests.support.fleet import FleetSpec, write_fleet_openmetrics
from tests.support.lbservers import free_port
from tests.support.prom import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAlertmanager]:
    server = start_alertmanager(tmp_path_factory.mktemp("am"))
    server.post_alert(
        {"alertname": "StreamdashTTFTBudgetBurnFast", "namespace": "llm", "severity": "critical"},
        {"summary": "TTFT SLO burning 14.4x"},
    )
    server.post_alert({"alertname": "OtherTeam", "namespace": "elsewhere", "severity": "warning"})
    deadline = time.monotonic() + 10
    while len(server.firing()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("amprom")
    data = work / "f.om"
    spec = FleetSpec(pods=2, namespace="llm", histograms=("ttft", "stream"))
    write_fleet_openmetrics(spec, data, end=float(int(time.time()) - 5), duration_s=600)
    server = start_prometheus(work, openmetrics=data.read_text())
    yield server
    server.stop()


def test_fetch_alerts_filters_by_namespace(am: RunningAlertmanager) -> None:
    alerts, error = fetch_alerts(am.url, "llm", 5.0)
    assert error is None
    assert [a.name for a in alerts] == ["StreamdashTTFTBudgetBurnFast"]
    assert alerts[0].severity == "critical" and alerts[0].summary == "TTFT SLO burning 14.4x"
    everything, _ = fetch_alerts(am.url, None, 5.0)
    assert {a.name for a in everything} == {"StreamdashTTFTBudgetBurnFast", "OtherTeam"}


def test_dead_alertmanager_is_one_error_line() -> None:
    alerts, error = fetch_alerts(f"http://user:s3cret@127.0.0.1:{free_port()}", "llm", 2.0)
    assert alerts == () and error is not None
    assert "\n" not in error.message and "s3cret" not in error.message


def test_snapshot_shows_the_namespace_alerts_beside_the_findings(
    am: RunningAlertmanager, prom: PrometheusServer
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    base = [sys.executable, "-m", "streamdash", "snapshot", "--prometheus-url", prom.url,
            "-n", "llm", "--alertmanager-url", am.url]  # fmt: skip
    proc = subprocess.run([*base, "--format", "json"], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [a["name"] for a in doc["alerts"]] == ["StreamdashTTFTBudgetBurnFast"]
    assert doc["alerts"][0]["labels"]["namespace"] == "llm"
    md = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env).stdout
    assert "## Alerts firing (Alertmanager, 1)" in md
    assert "ALERT `StreamdashTTFTBudgetBurnFast` [critical]: TTFT SLO burning 14.4x" in md
    assert "OtherTeam" not in md
