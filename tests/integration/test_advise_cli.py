"""The real `streamdash advise` against a real Prometheus loaded with broken rules: the
lint names each (vLLM's ``le="120"`` against data that has ``"120.0"``, a p99 over an
overflowing histogram, an SLO on the blended e2e latency); ``--output DIR`` writes one
file per artifact that promtool accepts, and refuses to overwrite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet import FleetSpec, write_fleet_openmetrics
from tests.support.prom import PrometheusServer, start_prometheus
from tests.support.promtool import run_promtool

pytestmark = pytest.mark.integration

BROKEN_RULES = """groups:
  - name: vllm-example
    rules:
      - alert: VLLMSlowE2E
        expr: >-
          sum(rate(vllm:e2e_request_latency_seconds_bucket{le="120"}[5m]))
          / sum(rate(vllm:e2e_request_latency_seconds_count[5m])) < 0.9
      - alert: StreamP99High
        expr: >-
          histogram_quantile(0.99, sum by (le)
          (rate(vllm:request_decode_time_seconds_bucket[5m]))) > 4
      - record: ttft:under_2_5s:rate5m
        expr: sum(rate(vllm:time_to_first_token_seconds_bucket{le="2.5"}[5m]))
"""


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("advise")
    spec = FleetSpec(pods=3, namespace="llm", stream_buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
    data = work / "fleet.om"
    write_fleet_openmetrics(spec, data, end=float(int(time.time()) - 5), duration_s=900, step_s=15)
    rules = work / "broken.rules.yaml"
    rules.write_text(BROKEN_RULES)
    server = start_prometheus(work, openmetrics=data.read_text(), rule_files=[rules])
    yield server
    server.stop()


def advise(prom: PrometheusServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "streamdash", "advise", "--prometheus-url", prom.url,
         "-n", "llm", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_lint_names_each_broken_rule(prom: PrometheusServer) -> None:
    proc = advise(prom)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    lint = out[out.index("## Lint of the loaded rules") :]
    assert "Prometheus has 3 rules loaded; 3 issues" in lint
    line = next(x for x in lint.splitlines() if x.startswith("- [le-missing]"))
    assert "'VLLMSlowE2E'" in line and 'le="120"' in line and 'le="120.0"' in line
    assert "never fires" in line
    assert any(x.startswith("- [latency-blend]") and "VLLMSlowE2E" in x for x in lint.splitlines())
    over = next(x for x in lint.splitlines() if x.startswith("- [quantile-overflow]"))
    assert "StreamP99High" in over and "above the top bucket (5 s)" in over
    assert "ttft:under_2_5s" not in lint  # le="2.5" exists: not flagged
    # Buckets come first; the stream SLO waits for them; the TTFT SLO is there.
    assert out.index("## New buckets for vllm:request_decode_time_seconds") < out.index(
        "## TTFT SLO"
    )
    assert "No Stream duration SLO" in out and "new buckets come first" in out


def test_output_dir_writes_files_promtool_accepts_and_never_overwrites(
    prom: PrometheusServer, tmp_path: Path
) -> None:
    proc = advise(prom, "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["README.md", "buckets-stream.txt", "lint.txt", "slo-ttft.rules.yaml"]
    check = run_promtool("check", "rules", str(tmp_path / "slo-ttft.rules.yaml"))
    assert check.returncode == 0, check.stdout + check.stderr
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    again = advise(prom, "--output", str(tmp_path))
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_files_format_needs_an_output_dir(prom: PrometheusServer) -> None:
    proc = advise(prom, "--format", "files")
    assert proc.returncode == 2 and "--output DIR" in proc.stderr
