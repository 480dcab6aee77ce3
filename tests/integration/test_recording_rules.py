"""``streamdash rules`` against a real Prometheus evaluating the rules it prints.

The rule file passes ``promtool check rules``; Prometheus evaluates it; the source's one
probe finds the recorded series and then reads them instead of the queries, and every
number equals the live queries' (and so Prometheus's own) at the rules' evaluation
instant. Another namespace's source finds no rules of its own and asks live.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from streamdash.core.build import build_snapshot
from streamdash.core.carry import carry_forward
from streamdash.core.raw import RawAnswers
from streamdash.core.snapshot import Snapshot
from streamdash.presets import load_preset
from streamdash.settings import PrometheusSettings, Settings
from streamdash.sources import recorded
from streamdash.sources.prometheus import PROBE, PrometheusSource
from streamdash.sources.promql import history_step
from tests.integration.test_snapshot_e2e import NS, _write_all
from tests.support.prom import PROMTOOL, PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration
WAIT_S = 40.0


def _settings(url: str, namespace: str = NS) -> Settings:
    return Settings(
        prometheus=PrometheusSettings(url=url, timeout_seconds=10.0),
        preset=load_preset("vllm"),
        namespace=namespace,
    )


def _cli_rules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamdash", "rules", "--preset", "vllm", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    work = tmp_path_factory.mktemp("rules")
    rules = _cli_rules("-n", NS, "--windows", "5m", "--interval", "1s")
    assert rules.returncode == 0, rules.stderr
    (work / "streamdash.rules.yml").write_text(rules.stdout)
    _write_all(work / "fleet.om", end=float(int(time.time()) - 5))
    server = start_prometheus(
        work,
        openmetrics=(work / "fleet.om").read_text(),
        rule_files=[work / "streamdash.rules.yml"],
    )
    yield server
    server.stop()


def _instant(url: str, query: str, at: float | None = None) -> list[dict[str, object]]:
    params = {"query": query} | ({"time": f"{at:.3f}"} if at is not None else {})
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode(params)}") as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _evaluated_at(prom: PrometheusServer, rule: recorded.Rule) -> float:
    """The newest evaluation instant of ``rule`` (waits, bounded, for the first)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        rows = _instant(prom.url, f"max(timestamp({rule.selector}))")
        if rows:
            return float(rows[0]["value"][1])  # type: ignore[index]
        time.sleep(0.5)
    raise AssertionError(f"Prometheus recorded nothing for {rule.record} in {WAIT_S:.0f} s")


def test_rules_pass_promtool_and_name_what_they_record(tmp_path: Path) -> None:
    out = _cli_rules("-n", NS, "--windows", "1m,5m")
    assert out.returncode == 0, out.stderr
    path = tmp_path / "rules.yml"
    path.write_text(out.stdout)
    check = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    source = PrometheusSource(_settings("http://127.0.0.1:9"))
    try:
        expected = {r.record for w in (60, 300) for r in source.recording_rules(w)}
        live = source.queries(300)
    finally:
        source.close()
    assert expected == {
        line.split(": ", 1)[1] for line in out.stdout.splitlines() if "record:" in line
    }
    # every query of a refresh is recorded verbatim, except the bare HPA selector
    assert "streamdash:history:300s" in expected and "streamdash:hpa:300s" not in expected
    for part, expr in live.items():
        if part != "hpa":
            assert f"expr: {expr}" in out.stdout or json.dumps(expr) in out.stdout
    bad = _cli_rules("-n", NS, "--windows", "5m,soon")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--windows" in bad.stderr


def test_recorded_series_are_read_instead_and_equal_the_live_queries(
    prom: PrometheusServer,
) -> None:
    rec = PrometheusSource(_settings(prom.url), recorded=True)
    live = PrometheusSource(_settings(prom.url))
    try:
        rules = rec.recording_rules(300)
        at = max(_evaluated_at(prom, rule) for rule in rules)
        before = prom.requests_served()
        first = rec.fetch(300, with_history=False, now=at)
        assert prom.requests_served() - before == first.query_count == len(first.queries)
        assert PROBE in first.queries  # the one probe, on the first refresh only
        recorded_parts = rec.recorded_parts(300)
        assert recorded_parts == {r.part for r in rules}
        for part in recorded_parts - {"history"}:
            assert recorded.is_recorded(first.queries[part]), part
        second = rec.fetch(300, with_history=False, now=at)
        assert PROBE not in second.queries
        assert second.query_count == len(live.queries(300, with_history=False))

        asked = live.fetch(300, with_history=False, now=at)
        assert first.errors == second.errors == asked.errors == ()
        snaps = [
            build_snapshot(carry_forward(None, raw).raw, _settings(prom.url), ())
            for raw in (second, asked)
        ]

        def numbers(snap: Snapshot) -> dict[str, object]:  # without the PromQL text
            return {k: replace(v, promql=None) for k, v in snap.latency.items()}

        assert numbers(snaps[0]) == numbers(snaps[1])
        assert snaps[0].pods == snaps[1].pods and snaps[0].pods
        assert snaps[0].autoscalers == snaps[1].autoscalers
        # ... and so Prometheus's own number, at the same instant
        bucket = 'vllm:time_to_first_token_seconds_bucket{namespace="llm"}'
        own = f"histogram_quantile(0.99, sum by (le) (rate({bucket}[300s])))"
        ttft = _instant(prom.url, own, at)
        assert snaps[0].latency["ttft"].p99 == pytest.approx(float(ttft[0]["value"][1]))  # type: ignore[index]

        history, error, _ = rec.fetch_history(300, None, now=at + history_step(3600))
        assert error is None and history is not None
        assert history.series.get("ttft_p99")  # from the recorded fleet series
        assert recorded.is_recorded(rec.sent_queries(300)["history"])
        assert history.step_seconds == history_step(3600)

        # the backfill's range queries read the recorded series too
        past = rec.fetch_range(300, at - 5, at, 5)
        assert past and past[-1].errors == ()
        for part in recorded_parts - {"history"}:
            assert recorded.is_recorded(past[-1].queries[part]), part
        assert past[-1].taken_at == at
        assert past[-1].histograms["ttft"].fleet == second.histograms["ttft"].fleet
        assert past[-1].histograms["ttft"].pods == second.histograms["ttft"].pods
    finally:
        rec.close()
        live.close()


def test_another_scope_finds_no_rules_of_its_own_and_asks_live(prom: PrometheusServer) -> None:
    source = PrometheusSource(replace(_settings(prom.url), namespace="calm"), recorded=True)
    try:
        raw = source.fetch(300, with_history=False)
        assert PROBE in raw.queries and raw.errors == ()
        assert source.recorded_parts(300) == frozenset()
        assert not any(recorded.is_recorded(q) for q in raw.queries.values())
        assert raw.histograms["ttft"].pods  # the calm fleet, asked live
    finally:
        source.close()


def _reference(prom: PrometheusServer, at: float, recorded: bool) -> RawAnswers:
    """What a new source assembles at ``at`` (after its probe): nothing to reuse."""
    source = PrometheusSource(_settings(prom.url), recorded=recorded)
    try:
        if recorded:
            source.fetch(300, with_history=False, now=at)  # the probe
        raw = source.fetch(300, with_history=False, now=at)
        assert source.reused_refreshes == 0
        return raw
    finally:
        source.close()


@pytest.mark.parametrize("recorded_series", [True, False], ids=["recorded", "live"])
def test_a_refresh_of_the_same_answers_reuses_the_last_and_equals_a_fresh_one(
    prom: PrometheusServer, recorded_series: bool
) -> None:
    """Recorded series between two rule evaluations answer exactly as the last refresh
    but for their timestamps: the refresh is the last one's rows, not decoded again.
    Live answers change (rates move with the instant; per-pod rows come back in another
    order each time) and are decoded. Reused or not, every refresh equals what a fresh
    source assembles at the same instant."""
    source = PrometheusSource(_settings(prom.url), recorded=recorded_series)
    try:
        at = max(_evaluated_at(prom, rule) for rule in source.recording_rules(300))
        if recorded_series:
            source.fetch(300, with_history=False, now=at)  # the probe: never reused
        first = source.fetch(300, with_history=False, now=at)
        assert source.reused_refreshes == 0 and first.errors == ()
        # recorded series exist only from the rules' first evaluation (Prometheus's
        # start) on; the live queries can go back over the data
        instants = (at, at + 0.4, at + 0.2) if recorded_series else (at, at - 60, at - 59.7, at)
        previous = first
        for t in instants:
            before, requests = source.reused_refreshes, prom.requests_served()
            got = source.fetch(300, with_history=False, now=t)
            assert prom.requests_served() - requests == got.query_count  # always asked
            assert got.taken_at == t and got.errors == ()
            assert got == _reference(prom, t, recorded_series), t
            if source.reused_refreshes > before:
                assert replace(got, taken_at=previous.taken_at) == previous
            previous = got
        if recorded_series:
            assert source.reused_refreshes == len(instants)
    finally:
        source.close()


def test_the_live_refresher_restamps_the_last_snapshot_for_the_same_answers(
    prom: PrometheusServer,
) -> None:
    """``build_snapshot`` is pure: the same answers and stale parts give the last
    snapshot with the new time, equal to building it again."""
    from streamdash.live import LiveRefresher

    settings = _settings(prom.url)
    refresher = LiveRefresher(settings, with_history=False)
    try:
        snaps = [refresher.refresh(300)]  # the first one probes
        for _ in range(12):  # bounded: a slow machine may cross a sample between two
            snaps.append(refresher.refresh(300))
            if len(snaps) >= 4 and refresher.reused_builds:
                break
        assert refresher.reused_builds >= 1
        assert refresher.prometheus is not None
        assert refresher.prometheus.reused_refreshes >= refresher.reused_builds
        last = snaps[-1]
        assert last.taken_at > snaps[0].taken_at and last.pods
        carried = refresher._carried
        assert carried is not None
        rebuilt = build_snapshot(carried.raw, settings, carried.stale)
        assert rebuilt == last
    finally:
        refresher.close()
