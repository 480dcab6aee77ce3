"""advise: pure generation from a Snapshot and facts (le spellings, SLO plans, LB patches,
lint). The real consumers (promtool, HAProxy, nginx, Prometheus) are in integration."""

from __future__ import annotations

import dataclasses
import re

import yaml

from streamdash.advise import AdviseFacts, LoadedRule, advise
from streamdash.advise.lbconfig import patch_haproxy, patch_nginx
from streamdash.advise.lelabels import le_matcher, le_regex, spellings
from streamdash.advise.lint import lint_rules
from streamdash.advise.render import file_text, render_markdown
from streamdash.advise.slo import plan_slo
from streamdash.core.build import build_snapshot
from streamdash.core.raw import LbTimeoutRaw
from streamdash.presets import load_preset
from streamdash.settings import Settings, SloSettings, SloTarget
from tests.support.raws import STREAM_BOUNDS, TTFT_BOUNDS, cumulative, raw_answers

VLLM = load_preset("vllm")


def settings(**kw: object) -> Settings:
    return dataclasses.replace(Settings(preset=VLLM, namespace="llm"), **kw)  # type: ignore[arg-type]


def snapshot(stream_overflow: bool = True, timeouts: tuple[LbTimeoutRaw, ...] = ()):  # type: ignore[no-untyped-def]
    ttft = {"p0": cumulative(TTFT_BOUNDS, [50, 30, 10, 6, 3, 1, 0])}
    stream_counts = [1, 1, 1, 1, 96] if stream_overflow else [10, 40, 40, 10, 0]
    stream = {"p0": cumulative(STREAM_BOUNDS, stream_counts)}
    raw = raw_answers({"p0": {"in_flight": 3}}, ttft=ttft, stream=stream)
    raw = dataclasses.replace(raw, lb_timeouts=timeouts)
    return build_snapshot(raw, settings())


def test_spellings_cover_both_prometheus_versions() -> None:
    assert spellings(120.0, ["120"]) == ("120", "120.0")
    assert spellings(120.0, ["120.0"]) == ("120.0", "120")
    assert spellings(0.25, ["0.25"]) == ("0.25",)
    pattern = re.compile(le_regex(120.0, ["120"]))
    assert pattern.fullmatch("120") and pattern.fullmatch("120.0")
    assert not pattern.fullmatch("1200") and not pattern.fullmatch("120.05")
    assert le_matcher(2.5, ["2.5"]) == 'le=~"2\\\\.5"'


def test_ttft_target_suggested_from_p99_is_a_real_bucket() -> None:
    snap = snapshot()
    plan, reason = plan_slo("ttft", snap, AdviseFacts(), settings(), VLLM)
    assert plan is not None, reason
    p99 = snap.latency["ttft"].p99
    assert p99 is not None and plan.target_seconds >= p99
    assert plan.target_seconds in TTFT_BOUNDS
    assert "suggested from the observed p99" in plan.target_source


def test_configured_target_between_buckets_uses_the_bound_below() -> None:
    slo = SloSettings(ttft=SloTarget(target_seconds=2.0, objective=0.995))
    plan, _ = plan_slo("ttft", snapshot(), AdviseFacts(), settings(slo=slo), VLLM)
    assert plan is not None
    assert plan.target_seconds == 1.0 and plan.objective == 0.995
    assert "not a bucket bound" in plan.target_source


def test_no_slo_when_the_target_is_above_the_top_bucket() -> None:
    slo = SloSettings(stream=SloTarget(target_seconds=60.0))
    snap = snapshot(stream_overflow=False)
    plan, reason = plan_slo("stream", snap, AdviseFacts(), settings(slo=slo), VLLM)
    assert plan is None
    assert "above the top finite bucket" in reason and "New buckets come first" in reason


def test_no_stream_slo_while_p99_overflows_and_buckets_come_first() -> None:
    advice = advise(snapshot(), AdviseFacts(), settings())
    names = [a.name for a in advice.artifacts]
    assert names[0] == "buckets-stream.txt"
    assert "slo-ttft.rules.yaml" in names and "slo-stream.rules.yaml" not in names
    assert any(
        "No Stream duration SLO" in n and "new buckets come first" in n for n in advice.notes
    )


def test_rules_are_valid_yaml_with_both_burn_windows() -> None:
    advice = advise(snapshot(), AdviseFacts(le_texts={}), settings())
    rules = next(a for a in advice.artifacts if a.name == "slo-ttft.rules.yaml")
    doc = yaml.safe_load(rules.body)
    group = doc["groups"][0]["rules"]
    records = [r["record"] for r in group if "record" in r]
    assert records == [f"slo:ttft_under_target:ratio_rate{w}" for w in ("5m", "30m", "1h", "6h")]
    alerts = {r["alert"]: r for r in group if "alert" in r}
    fast = alerts["StreamdashTTFTBudgetBurnFast"]["expr"]
    assert "ratio_rate1h) > 0.144" in fast and "ratio_rate5m) > 0.144" in fast
    slow = alerts["StreamdashTTFTBudgetBurnSlow"]["expr"]
    assert "ratio_rate6h) > 0.06" in slow and "ratio_rate30m) > 0.06" in slow
    assert 'namespace="llm"' in group[0]["expr"]
    assert "p99" in rules.why and "%" in rules.why


def test_le_texts_from_the_server_are_used_in_the_matcher() -> None:
    facts = AdviseFacts(
        le_texts={
            "vllm:time_to_first_token_seconds": ("0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
        }
    )
    slo = SloSettings(ttft=SloTarget(target_seconds=1.0))
    advice = advise(snapshot(), facts, settings(slo=slo))
    body = next(a for a in advice.artifacts if a.name == "slo-ttft.rules.yaml").body
    assert 'le=~"1|1\\\\.0"' in body


def test_lb_artifacts_answer_the_idle_timeout_finding() -> None:
    timeouts = (LbTimeoutRaw("haproxy", "haproxy", "timeout server", 0.5),)
    snap = snapshot(timeouts=timeouts)
    finding = next(f for f in snap.findings if f.id == "lb-idle-timeout")
    advice = advise(snap, AdviseFacts(), settings())
    mine = {a.name for a in advice.for_finding(finding)}
    assert {"lb-haproxy.cfg", "lb-nginx.conf", "lb-envoy.yaml", "lb-ingress-nginx.yaml",
            "lb-cloud.txt", "sse-keepalive.txt"} <= mine  # fmt: skip
    keep = next(a for a in advice.artifacts if a.name == "sse-keepalive.txt")
    assert "--sse-keep-alive-interval" in keep.body
    every = int(re.search(r"--sse-keep-alive-interval (\d+)", keep.body).group(1))  # type: ignore[union-attr]
    assert every < 0.5 or every >= 1  # a whole number of seconds under the timeout
    assert "Cloudflare" in next(a for a in advice.artifacts if a.name == "lb-cloud.txt").body


def test_patch_haproxy_raises_short_timeouts_only() -> None:
    text = (
        "defaults\n    timeout server 1s\n    timeout client 30s\n"
        "backend b\n    timeout server 10m\n"
    )
    out, changes = patch_haproxy(text, 30.0)
    assert "    timeout server 30s" in out.splitlines()
    assert "    timeout server 10m" in out.splitlines()
    assert len(changes) == 1 and "1s -> 30s" in changes[0]
    out2, changes2 = patch_haproxy("defaults\n    mode http\n", 30.0)
    assert "timeout server 30s" in out2 and changes2


def test_patch_nginx_adds_buffering_off_and_read_timeout() -> None:
    text = (
        "http {\n  server {\n    location / {\n      proxy_pass http://u;\n"
        "      proxy_read_timeout 5s;\n    }\n    location /b {\n      proxy_pass http://u;\n"
        "    }\n  }\n}\n"
    )
    out, changes = patch_nginx(text, 60.0)
    assert out.count("proxy_buffering off;") == 2
    assert "proxy_read_timeout 5s" not in out and out.count("proxy_read_timeout 60s;") == 2
    assert len(changes) == 4


def test_lint_flags_le_missing_blend_and_overflowing_quantile() -> None:
    snap = snapshot()
    e2e = 'sum(rate(vllm:e2e_request_latency_seconds_bucket{le="120"}[5m])) > 1'
    p99 = (
        "histogram_quantile(0.99, sum by (le) (rate(vllm:request_decode_time_seconds_bucket[5m])))"
    )
    ok = 'rate(vllm:time_to_first_token_seconds_bucket{le=~"2.5|2\\\\.5"}[5m])'
    rules = (
        LoadedRule("g", "f.yaml", "alerting", "E2E", e2e),
        LoadedRule("g", "f.yaml", "alerting", "P99", p99 + " > 4"),
        LoadedRule("g", "f.yaml", "recording", "ok", ok),
    )
    facts = AdviseFacts(
        le_texts={
            "vllm:e2e_request_latency_seconds": ("60.0", "120.0", "+Inf"),
            "vllm:time_to_first_token_seconds": ("1.0", "2.5", "+Inf"),
        },
        rules=rules,
    )
    issues = [(i.id, i.rule.name) for i in lint_rules(snap, facts, VLLM)]
    assert ("le-missing", "E2E") in issues and ("latency-blend", "E2E") in issues
    assert ("quantile-overflow", "P99") in issues
    assert not [i for i in issues if i[1] == "ok"]


def test_markdown_and_files_carry_the_why() -> None:
    advice = advise(snapshot(), AdviseFacts(), settings())
    text = render_markdown(advice)
    for a in advice.artifacts:
        assert a.why in text and a.name in text
        assert file_text(a).startswith("# ") and a.body in file_text(a)


def test_slo_config_keys_and_one_line_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from streamdash.config import ConfigError, parse_config_text

    text = (
        "slo:\n  objective: 0.995\n  ttft:\n    target: 2s\n"
        "  stream:\n    target: 2m\n    objective: 0.9\n"
    )
    s = parse_config_text(text, "c.yaml", {}, tmp_path)
    assert s.slo.objective == 0.995
    assert s.slo.ttft == SloTarget(target_seconds=2.0)
    assert s.slo.stream == SloTarget(target_seconds=120.0, objective=0.9)
    for bad, words in (
        ("slo:\n  objective: 1.5\n", "between 0 and 1"),
        ("slo:\n  ttft:\n    target: soon\n", "duration"),
        ("slo:\n  ttft: 2s\n", "mapping"),
        ("slo:\n  latency: {}\n", "latency"),
        ("alertmanager_url: ftp://x\n", "http(s)"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config_text(bad, "c.yaml", {}, tmp_path)
        message = str(err.value)
        assert "\n" not in message and message.startswith("c.yaml:") and words in message


def test_slo_rules_split_by_the_groups_model_label() -> None:
    from streamdash.core.snapshot import GroupView

    snap = dataclasses.replace(
        snapshot(),
        groups=(
            GroupView(name="a", labels={"model_name": "llama"}),
            GroupView(name="b", labels={"model_name": "qwen"}),
        ),
    )
    advice = advise(snap, AdviseFacts(), settings())
    rules = next(a for a in advice.artifacts if a.name == "slo-ttft.rules.yaml")
    assert "sum by (namespace, model_name) (rate(" in rules.body
    assert "One series per namespace, model_name" in rules.why


def test_patch_nginx_turns_buffering_off() -> None:
    text = "location / {\n    proxy_pass http://u;\n    proxy_buffering on;\n}\n"
    out, changes = patch_nginx(text, 30.0)
    assert "proxy_buffering off;" in out and "proxy_buffering on" not in out
    assert out.count("proxy_buffering") == 1 and any("on -> off" in c for c in changes)
