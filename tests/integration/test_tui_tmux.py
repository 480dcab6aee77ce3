"""The real `streamdash` command in tmux against a real Prometheus, driven like a person.

Launch, move through panels, filter pods, open a finding, export, pause, change the
window and theme, quit: and check what the screen says at each step.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_snapshot_e2e import NS, _write_all
from tests.support.prom import PrometheusServer, start_prometheus
from tests.support.tmux import Tmux

pytestmark = [pytest.mark.integration, pytest.mark.tmux]

TMUX = Tmux(f"streamdash-e2e-{os.getpid()}")
SESSION = TMUX.session
tmux, screen, wait_for, press = TMUX.run, TMUX.screen, TMUX.wait_for, TMUX.press


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("tmux")
    _write_all(work / "fleet.om", end=float(int(time.time()) - 5))
    server = start_prometheus(work, openmetrics=(work / "fleet.om").read_text())
    yield server
    server.stop()


@pytest.fixture
def dashboard(prom: PrometheusServer, tmp_path: Path) -> Iterator[Path]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (./scripts/test installs it)")
    exe = Path(sys.executable).with_name("streamdash")
    rc = tmp_path / "rc"
    cmd = (
        f"cd {shlex.quote(str(tmp_path))} && TERM=screen-256color "
        f"{shlex.quote(str(exe))} --prometheus-url {prom.url} -n {NS} --refresh 2s; "
        f"echo $? > {shlex.quote(str(rc))}; sleep 60"
    )
    env_prefix = "env -u STREAMDASH_PROMETHEUS_URL -u PROMETHEUS_URL -u COLUMNS -u LINES "
    tmux(
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-x",
        "160",
        "-y",
        "50",
        env_prefix + f"sh -c {shlex.quote(cmd)}",
    )
    try:
        yield tmp_path
    finally:
        tmux("kill-server")


def test_a_person_drives_the_dashboard(dashboard: Path) -> None:
    text = wait_for(
        lambda s: "llama-serve-" in s and "> 5 s" in s, "pods and an overflowed stream p99"
    )
    assert "window 5m" in text and "TTFT" in text and "Stream" in text
    assert "CRITICAL" in text
    verdict = text.splitlines()[1]  # the verdict line, just under the header
    assert re.match(r"\s*\d+ critical", verdict) and "stream buckets hide" in verdict, verdict

    press("Tab", "Tab", "Tab", "Tab", "Tab", "BTab")  # through every panel and back
    press("2", "/")
    time.sleep(0.3)
    press(*"p64nz", "Enter")
    wait_for(lambda s: "p64nz" in s and "gw7dk" not in s, "the filtered pods table")
    press("Escape")
    time.sleep(0.6)  # a lone ESC followed at once by a key reads as alt+key

    press("5", "Enter")
    shown = wait_for(lambda s: "Evidence" in s or "evidence" in s, "a finding's evidence")
    assert re.match(r"\s*\d+ critical", shown.splitlines()[0]), shown.splitlines()[:2]
    press("Escape")
    time.sleep(0.6)  # (the backfill may be building its snapshots now: keys come late)

    press("e")
    wait_for(lambda s: "streamdash-snapshot-" in s, "the export path")
    exports = list(dashboard.glob("streamdash-snapshot-*.md"))
    assert len(exports) == 1 and exports[0].read_text().startswith("# streamdash snapshot")

    press("p")
    wait_for(lambda s: re.search(r"paused", s, re.I) is not None, "the paused marker")
    press("p")
    press("w")
    wait_for(lambda s: "window 15m" in s, "the new window")
    press("t")
    time.sleep(0.5)
    press("?")
    wait_for(lambda s: "Quit" in s and "Export" in s, "the help screen")
    press("Escape")
    time.sleep(0.6)  # a lone ESC followed at once by q reads as alt+q
    wait_for(lambda s: "Help" not in s.splitlines()[1], "the dashboard again")
    press("q")
    rc = dashboard / "rc"
    deadline = time.monotonic() + 10
    while not rc.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rc.exists(), f"streamdash did not quit on q; screen:\n{screen()}"
    assert rc.read_text().strip() == "0"
    assert "Traceback" not in screen()
