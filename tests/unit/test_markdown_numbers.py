"""Markdown export: the Source line is a summary with the URLs whole below it, and every
number (tables, evidence, advice) is rounded as the screen rounds it, lower bounds
included, so no evidence line reads as contradicting its finding's summary."""

from __future__ import annotations

import dataclasses
import re

from streamdash.core.build import build_snapshot
from streamdash.core.findings import divergence_findings, fd_findings
from streamdash.core.lb import disconnect_findings
from streamdash.core.raw import LbBackendRaw
from streamdash.core.snapshot import AutoscalerView, PodRow, Snapshot, SourceInfo
from streamdash.export.markdown import render_markdown
from streamdash.settings import ScrapeTarget, Settings, Thresholds
from streamdash.sources.scrape import ScrapeSource
from tests.support.raws import STREAM_BOUNDS, TTFT_BOUNDS, cumulative, raw_answers

PODS = {f"llama-serve-{i}": {"open_fds": 200.0, "max_fds": 1048576.0} for i in range(3)}
_LONG_DIGITS = re.compile(r"\d\.\d{4,}|\d{1,3}\.\d{3,}[^\d]*%|e[+-]\d\d")


def _overflowing() -> Snapshot:
    """Every stream above the top bucket (5 s): p50/p90/p99 are lower bounds."""
    ttft = {p: cumulative(TTFT_BOUNDS, [5, 3, 1, 1, 0, 0, 0]) for p in PODS}
    stream = {p: cumulative(STREAM_BOUNDS, [1, 0, 0, 0, 9]) for p in PODS}
    return build_snapshot(raw_answers(PODS, ttft=ttft, stream=stream), Settings())


def _evidence_block(md: str, finding_id: str) -> str:
    start = md.index(f"`{finding_id}`")
    end = md.find("\n### ", start)
    return md[start : end if end != -1 else len(md)]


def _without_code(md: str) -> str:
    return re.sub(r"`[^`]*`", "", md)


def test_an_overflowed_percentile_reads_as_a_lower_bound_in_the_evidence() -> None:
    md = render_markdown(_overflowing())
    block = _evidence_block(md, "histogram-overflow")
    assert "only lower bounds (> 5 s)" in block
    for name in ("p50", "p90", "p99"):
        assert f"- `{name}`: \\> 5 s" in block  # was "5 s": the summary's opposite


def test_bucket_advice_rounds_its_share_and_seconds_as_the_screen() -> None:
    md = render_markdown(_overflowing())
    advice = next(line for line in md.splitlines() if "exceed the top bucket" in line)
    assert re.search(r"\d+\.\d % of observations exceed the top bucket 5 s", advice), advice
    assert not re.search(r"\d\.\d\d%", advice)  # was "81.33%"


def _with_findings(findings: list) -> Snapshot:  # type: ignore[type-arg]
    return dataclasses.replace(_overflowing(), findings=tuple(findings))


def test_evidence_numbers_in_their_units_never_six_digits_or_e_notation() -> None:
    pod = PodRow(pod="llama-serve-0", open_fds=1_000_000.0, max_fds=1_048_576.0)
    pod = dataclasses.replace(pod, fd_utilization=1_000_000.0 / 1_048_576.0, in_flight=29.0)
    hpa = AutoscalerView(
        name="llama-serve",
        namespace="llm",
        current_replicas=10.0,
        cpu_implied_replicas=3,
        divergence_ratio=10 / 3,
        cpu_cores=1.536123,
        cpu_request_cores=0.5,
        cpu_target_utilization=0.7,
    )
    thresholds = Thresholds()
    findings = [*fd_findings([pod], thresholds), *divergence_findings(hpa, thresholds)]
    md = render_markdown(_with_findings(findings))
    fd = _evidence_block(md, "fd-exhaustion")
    assert "- `max_fds`: 1048576" in fd  # was "1.049e+06"
    assert "- `fd_utilization`: 95.4 %" in fd
    hpa_block = _evidence_block(md, "autoscaler-cpu-divergence")
    assert "- `divergence_ratio`: 3.3x" in hpa_block  # was "3.333", the summary says 3.3x
    assert "(3.3x)" in hpa_block
    assert "- `cpu_cores`: 1.54" in hpa_block  # as the autoscaler panel
    assert "- `cpu_request_cores`: 0.50" in hpa_block
    assert not _LONG_DIGITS.search(_without_code(md)), _LONG_DIGITS.findall(_without_code(md))


def test_a_disconnect_rate_the_summary_counts_never_reads_as_zero() -> None:
    backend = LbBackendRaw(
        lb="haproxy",
        kind="haproxy",
        proxy="be_llm",
        server="pod-1",
        client_aborts_rate=0.04,
        server_aborts_rate=0.0004,
    )
    latency = dict(_overflowing().latency)
    latency["stream"] = dataclasses.replace(latency["stream"], rate_per_s=1.0)
    findings = disconnect_findings(latency, [backend], Thresholds())
    assert findings, "4 % of streams cut is over the 1 % threshold"
    block = _evidence_block(render_markdown(_with_findings(findings)), "lb-disconnects")
    assert "- `client_aborts_per_s`: 0.04/s" in block  # was "0.0/s"
    assert "- `server_aborts_per_s`: &lt; 0.001/s" in block  # "<" made inert
    assert "- `threshold`: 1.0 %" in block  # was "0.01" beside "ratio: 4.0 %"
    assert "(0.04/s of 1.0/s: client aborts 0.04/s, server aborts &lt; 0.001/s)" in block
    assert "0.0/s" not in block  # the summary said 0.0/s of 1.0/s while counting 4 %


def test_many_scrape_targets_are_summarised_and_listed_whole_below() -> None:
    long_path = "/metrics/" + "x" * 600  # longer than a label is cut at
    urls = [f"http://10.0.0.{i}:8000/metrics" for i in range(17)] + [f"http://10.0.1.1{long_path}"]
    snap = dataclasses.replace(_overflowing(), source=SourceInfo("scrape", ", ".join(urls)))
    md = render_markdown(snap)
    source = next(line for line in md.splitlines() if line.startswith("Source: "))
    assert source.startswith("Source: 18 scrape targets (listed under Sources), ")
    assert "http" not in source
    listed = md[md.index("## Sources") :]
    assert all(f"- {u}\n" in listed + "\n" for u in urls[:17])
    assert "x" * 600 in listed and "…" not in listed


def test_prometheus_and_a_single_target_are_named_on_the_source_line() -> None:
    prom = dataclasses.replace(_overflowing(), source=SourceInfo("prometheus", "http://prom:9090"))
    md = render_markdown(prom)
    assert "Source: Prometheus at http://prom:9090, " in md and "## Sources" not in md
    one = dataclasses.replace(prom, source=SourceInfo("scrape", "http://pod-0:8000/metrics"))
    assert "Source: scrape target http://pod-0:8000/metrics, " in render_markdown(one)
    fallback = dataclasses.replace(
        prom, source=SourceInfo("scrape (fallback)", "http://a:1/m, http://b:1/m")
    )
    assert "Source: 2 scrape targets (fallback, listed under Sources), " in render_markdown(
        fallback
    )


def test_secrets_in_scrape_urls_stay_out_of_the_source_line_and_the_list() -> None:
    secret_urls = (
        "http://scraper:hunter2secret@127.0.0.1:9/metrics?token=s3cretvalue&x=1",
        "http://127.0.0.1:9/metrics/two?api_key=k3yvalue",
    )
    settings = Settings(scrape=tuple(ScrapeTarget(u) for u in secret_urls))
    raw = ScrapeSource(settings).fetch(300)  # port 9: refused, but the URL is reported
    md = render_markdown(build_snapshot(raw, settings))
    for secret in ("hunter2secret", "s3cretvalue", "k3yvalue", "scraper"):
        assert secret not in md
    assert "- http://127.0.0.1:9/metrics?token=\\*\\*\\*&amp;x=1" in md
    assert "Source: 2 scrape targets (listed under Sources)" in md
