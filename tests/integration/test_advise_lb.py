"""advise's LB changes through their real consumers. A real HAProxy (``timeout server
1s``) and a real nginx (``proxy_read_timeout 1s``) cut a stream that pauses 2 s; the
real ``streamdash advise --output DIR`` writes patched copies of their config files;
``haproxy -c -f`` and ``nginx -t`` accept them; started with the patched config, the
same LB lets the same pausing stream finish."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lbservers import (
    HAPROXY,
    NGINX,
    RunningLb,
    restart_haproxy,
    restart_nginx,
    start_haproxy,
    start_nginx,
)
from tests.support.sse import HeldStreams, SseServer, read_stream

pytestmark = pytest.mark.integration

POD = "llama-0"
PAUSING = "/stream?tokens=3&pause=2"
LIVE = "/stream?tokens=8&pause=1.5"
"""Streams held on the pod itself while advise scrapes it (direct scrape measures rates
over its own short span): their 1.5 s token gaps are what the pod's ITL histogram sees."""


def wait_broken(upstream: SseServer, n: int = 1, seconds: float = 6.0) -> None:
    """Wait (bounded) until the upstream saw the cut: it records the pause once its next
    write fails, up to one pause after the LB closed the stream."""
    deadline = time.monotonic() + seconds
    while upstream.broken < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.broken >= n


def advise(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "streamdash", "advise", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.fixture
def upstream() -> Iterator[SseServer]:
    server = SseServer(pod=POD)
    yield server
    server.stop()


def test_patched_haproxy_no_longer_cuts_the_pausing_stream(
    upstream: SseServer, tmp_path: Path
) -> None:
    lb: RunningLb = start_haproxy(
        tmp_path / "haproxy", {POD: upstream.address}, timeout_server="1s"
    )
    try:
        cut = read_stream(f"{lb.url}{PAUSING}")
        assert not cut.completed and cut.events == ("tok0",)  # the old config cuts it
        wait_broken(upstream)
        out = tmp_path / "advice"
        out.mkdir()
        with HeldStreams(f"{upstream.url}{LIVE}", n=2):
            proc = advise(
                "--scrape", f"{upstream.url}/metrics", "--haproxy-stats", f"{lb.stats_url};csv",
                "--haproxy-config", str(lb.config_file), "--output", str(out),
            )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        patched = out / "haproxy.patched.cfg"
        code = [x.strip() for x in patched.read_text().splitlines() if not x.startswith("#")]
        assert "timeout server 1s" not in code and "timeout server 5s" in code  # 2x the pause
        readme = (out / "README.md").read_text()
        assert "timeout server 1s ->" in readme  # the why names the change
        check = subprocess.run(
            [str(HAPROXY), "-c", "-f", str(patched)], capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0, check.stdout + check.stderr
        for name in ("lb-haproxy.cfg", "lb-nginx.conf", "lb-envoy.yaml", "lb-cloud.txt"):
            assert (out / name).is_file()
        keepalive = (out / "sse-keepalive.txt").read_text()
        assert "--sse-keep-alive-interval" in keepalive
        lb = restart_haproxy(lb, patched)
        done = read_stream(f"{lb.url}{PAUSING}")
        assert done.completed and done.events == ("tok0", "tok1", "tok2", "[DONE]")
    finally:
        lb.stop()


def test_patched_nginx_passes_nginx_t_and_lets_the_stream_finish(
    upstream: SseServer, tmp_path: Path
) -> None:
    lb = start_nginx(tmp_path / "nginx", upstream.address, proxy_read_timeout="1s")
    try:
        cut = read_stream(f"{lb.url}{PAUSING}")
        assert not cut.completed
        wait_broken(upstream)
        config = tmp_path / "streamdash.yaml"
        config.write_text(
            "load_balancers:\n"
            f"  - kind: nginx\n    url: {lb.stats_url}\n    config_file: {lb.config_file}\n"
        )
        out = tmp_path / "advice"
        out.mkdir()
        with HeldStreams(f"{upstream.url}{LIVE}", n=2):
            proc = advise(
                "--config", str(config), "--scrape", f"{upstream.url}/metrics", "--output", str(out)
            )
        assert proc.returncode == 0, proc.stderr
        patched = out / "nginx.patched.conf"
        code = [x.strip() for x in patched.read_text().splitlines() if not x.startswith("#")]
        assert "proxy_read_timeout 1s;" not in code and "proxy_buffering off;" in code
        prefix = lb.config_file.parent
        check = subprocess.run(
            [str(NGINX), "-t", "-p", str(prefix), "-c", str(patched)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        lb = restart_nginx(lb, patched)
        done = read_stream(f"{lb.url}{PAUSING}")
        assert done.completed and done.events == ("tok0", "tok1", "tok2", "[DONE]")
    finally:
        lb.stop()
