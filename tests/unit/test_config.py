"""Configuration: precedence, secrets, and one-line errors naming file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamdash.config import (
    ConfigError,
    Overrides,
    load_settings,
    parse_config_text,
    parse_duration,
    read_targets_file,
)

ROOT = Path(__file__).resolve().parents[2]


def parse(text: str, env: dict[str, str] | None = None, base: Path = ROOT):
    return parse_config_text(text, "cfg.yaml", env or {}, base)


def test_example_config_parses_and_matches_defaults() -> None:
    text = (ROOT / "config.example.yaml").read_text()
    s = parse_config_text(text, "config.example.yaml", {}, ROOT)
    assert s.prometheus.url == "http://127.0.0.1:9090"
    assert s.preset is not None and s.preset.name == "vllm"
    assert s.window_seconds == 300 and s.refresh_seconds == 5.0
    assert s.thresholds.fd_warning == 0.8 and s.thresholds.fd_critical == 0.9
    assert s.bell_on_critical is False


def test_bell_on_critical_is_off_by_default_and_set_by_the_config() -> None:
    assert parse("").bell_on_critical is False
    assert parse("bell_on_critical: true\n").bell_on_critical is True
    assert parse("bell_on_critical: null\n").bell_on_critical is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "prometheus:\n  timout: 3s\n",
            "cfg.yaml:2: prometheus.timout: unknown key (did you mean 'timeout'?)",
        ),
        ("window: soon\n", "cfg.yaml:1: window: expected a duration"),
        ("preset: vlm\n", "cfg.yaml:1: preset: unknown preset 'vlm' (did you mean 'vllm'?)"),
        ("namespace: [a, b]\n", "cfg.yaml:1: namespace: expected a string"),
        (
            "prometheus:\n  tls_verify: maybe\n",
            "cfg.yaml:2: prometheus.tls_verify: expected true or false",
        ),
        ("bell_on_critical: loud\n", "cfg.yaml:1: bell_on_critical: expected true or false"),
        ("bell_on_critical: 1\n", "cfg.yaml:1: bell_on_critical: expected true or false"),
        (
            "thresholds:\n  fd_warning: 0.95\n",
            "thresholds.fd_warning: must not be above fd_critical",
        ),
        ("load_balancers:\n  - kind: f5\n", "cfg.yaml:2: load_balancers[0].kind: expected one of"),
        (
            "load_balancers:\n  - kind: haproxy\n",
            "load_balancers[0].url: a haproxy load balancer needs a url",
        ),
        ("scrape:\n  - {pod: x}\n", "scrape[0].url: each scrape target needs a url"),
        ("- 1\n", "cfg.yaml:1: the file: expected a mapping of keys"),
        ("a: [\n", "cfg.yaml:2: not valid YAML"),
        ("fallback: prometheus\n", "cfg.yaml:1: fallback: expected scrape"),
        (
            "metrics:\n  ttft_unit_seconds: -1\n",
            "metrics.ttft_unit_seconds: expected a positive number",
        ),
        ("window: 5m\nwindow: 1m\n", "cfg.yaml:2: window: given twice"),
        ("selector: model_name=llama\n", "cfg.yaml:1: selector: expected a quoted value"),
        ("pod_label: my-pod\n", "cfg.yaml:1: pod_label: invalid label name 'my-pod'"),
        (
            "metrics:\n  ttft: bad name\n",
            "cfg.yaml:2: metrics.ttft: invalid metric name 'bad name'",
        ),
        (
            "metrics:\n  in_flight: 'x{a=}'\n",
            "cfg.yaml:2: metrics.in_flight: expected a quoted value",
        ),
    ],
)
def test_bad_config_is_one_line_with_file_line_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_secrets_come_from_env_and_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n")
    s = parse(
        "prometheus:\n  bearer_token_file: token\n  basic_auth:\n    username: u\n"
        "    password_env: PW\n  headers: {X-Scope-OrgID: tenant-a}\n",
        env={"PW": "hunter22"},
        base=tmp_path,
    )
    assert s.prometheus.bearer_token == "s3cr3t-token"
    assert s.prometheus.basic_auth_password == "hunter22"
    assert s.prometheus.headers == {"X-Scope-OrgID": "tenant-a"}
    assert "s3cr3t" not in repr(s) and "hunter22" not in repr(s)


def test_missing_secret_env_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"cfg.yaml:2: prometheus.bearer_token_env: .*TOKEN_X is not set"
    ):
        parse("prometheus:\n  bearer_token_env: TOKEN_X\n")


def test_unreadable_token_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prometheus.bearer_token_file: cannot read .*nope"):
        parse("prometheus:\n  bearer_token_file: nope\n", base=tmp_path)


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    (tmp_path / "streamdash.yaml").write_text(
        "prometheus: {url: http://file:9090}\nnamespace: from-file\nwindow: 15m\npreset: sglang\n"
    )
    s = load_settings(Overrides(), {}, tmp_path)
    assert s.prometheus.url == "http://file:9090" and s.namespace == "from-file"
    assert s.preset is not None and s.preset.name == "sglang" and s.window_seconds == 900
    s = load_settings(Overrides(), {"PROMETHEUS_URL": "http://env:9090"}, tmp_path)
    assert s.prometheus.url == "http://env:9090"
    env = {"PROMETHEUS_URL": "http://plain:1", "STREAMDASH_PROMETHEUS_URL": "http://ours:2"}
    assert load_settings(Overrides(), env, tmp_path).prometheus.url == "http://ours:2"
    flags = Overrides(prometheus_url="http://flag:9090", namespace="ns-flag", window="1m")
    s = load_settings(flags, env, tmp_path)
    assert (s.prometheus.url, s.namespace, s.window_seconds) == ("http://flag:9090", "ns-flag", 60)


def test_xdg_config_is_found_when_no_local_file(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "streamdash").mkdir(parents=True)
    (xdg / "streamdash" / "config.yaml").write_text("namespace: from-xdg\n")
    s = load_settings(Overrides(), {"XDG_CONFIG_HOME": str(xdg)}, tmp_path)
    assert s.namespace == "from-xdg"


def test_metric_overrides_and_preset_units() -> None:
    s = parse(
        "preset: triton\nmetrics:\n  stream: my_stream_seconds\n  stream_includes_ttft: true\n"
    )
    assert s.preset is not None
    assert s.preset.ttft.unit_seconds == 0.001
    assert s.preset.stream.metric == "my_stream_seconds" and s.preset.stream.includes_ttft


def test_targets_file(tmp_path: Path) -> None:
    f = tmp_path / "targets"
    f.write_text("# pods\nhttp://127.0.0.1:1/metrics pod-a\nhttp://127.0.0.1:2/metrics\n")
    targets = read_targets_file(f)
    assert [(t.url, t.pod) for t in targets] == [
        ("http://127.0.0.1:1/metrics", "pod-a"),
        ("http://127.0.0.1:2/metrics", None),
    ]
    f.write_text("not a url\n")
    with pytest.raises(ConfigError, match=r"targets:1: expected 'URL \[POD\]'"):
        read_targets_file(f)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), (90, 90), ("250ms", 0.25)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


_yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    [
        "prometheus",
        "preset",
        "metrics",
        "window",
        "refresh",
        "thresholds",
        "load_balancers",
        "scrape",
        "namespace",
        "keymap",
        "fallback",
        "cpu_target_utilization",
        "targets_file",
        "typo_key",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _yaml_values, max_size=5))
def test_generated_configs_never_traceback(doc: dict[str, object]) -> None:
    text = yaml.safe_dump(doc)
    try:
        parse(text)
    except ConfigError as exc:
        assert str(exc).startswith("cfg.yaml") and "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_tracebacks(text: str) -> None:
    try:
        parse(text)
    except ConfigError as exc:
        assert "\n" not in str(exc)


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("prometheus:\n  url: http://127.0.0.1:1\nwindow: soon\n")
    proc = subprocess.run(
        [sys.executable, "-m", "streamdash", "snapshot", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"streamdash: {cfg}:3: window: expected a duration like 30s, 5m or 1h, got 'soon'"
    )
    assert "Traceback" not in proc.stderr


def test_cli_without_source_points_to_demo(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streamdash", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "no source" in proc.stderr and "streamdash demo" in proc.stderr


def test_models_groups_and_utf8_metric_names() -> None:
    s = parse(
        "preset: triton\n"
        "model: ens\n"
        "group_by: [workload, model, engine]\n"
        "ensembles: [ens]\n"
        "thresholds: {blend_factor: 5}\n"
        "metrics:\n"
        '  ttft: "gen_ai.server.time_to_first_token_seconds"\n'
        "  itl_fallbacks: [old_itl_seconds]\n"
        "  itl_per_request_mean: true\n"
        "  model_labels: [model]\n"
    )
    assert (s.model, s.group_by, s.ensembles) == ("ens", ("workload", "model", "engine"), ("ens",))
    assert s.thresholds.blend_factor == 5.0
    assert s.preset is not None
    assert s.preset.ttft.metric == "gen_ai.server.time_to_first_token_seconds"
    assert s.preset.itl.fallbacks == ("old_itl_seconds",) and s.preset.itl.per_request_mean
    assert s.preset.model_labels == ("model",)
    quoted = parse("metrics:\n  ttft: '\"odd name\"'\n")
    assert quoted.preset is not None and quoted.preset.ttft.metric == "odd name"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("group_by: [bad-label]\n", "group_by"),
        ("thresholds: {blend_factor: 1}\n", "blend_factor"),
        ("metrics:\n  itl_fallbacks: [bad-name]\n", "itl_fallbacks"),
    ],
)
def test_bad_group_settings_are_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)
