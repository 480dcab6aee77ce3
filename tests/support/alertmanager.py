"""A real Alertmanager (Debian's ``prometheus-alertmanager``) on a free loopback port,
with alerts posted through its own API (``POST /api/v2/alerts``)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.lbservers import free_port

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
READY_TIMEOUT_S = 30.0
CONFIG = """route:
  receiver: "null"
  group_wait: 0s
receivers:
  - name: "null"
"""


@dataclass
class RunningAlertmanager:
    proc: subprocess.Popen[bytes]
    url: str
    log_file: Path

    def post_alert(
        self, labels: Mapping[str, str], annotations: Mapping[str, str] | None = None
    ) -> None:
        """Fire one alert (ends in an hour) through the v2 API."""
        body = json.dumps(
            [{"labels": dict(labels), "annotations": dict(annotations or {})}]
        ).encode()
        req = urllib.request.Request(
            f"{self.url}/api/v2/alerts", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200, resp.status

    def firing(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as resp:
            data: list[dict[str, object]] = json.loads(resp.read())
            return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_alertmanager(workdir: Path) -> RunningAlertmanager:
    """Start Alertmanager (no clustering) and wait until /-/ready answers, bounded."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG)
    port = free_port()
    log = workdir / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(ALERTMANAGER),
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return RunningAlertmanager(proc, url, log)
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"alertmanager not ready within {READY_TIMEOUT_S:.0f} s")
