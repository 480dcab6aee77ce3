"""Bad configuration and bad URLs (issue 12): one bounded line, exit 2, no secret."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamdash.config import MAX_SHOWN, ConfigError, Overrides, load_settings, parse_config_text
from streamdash.redact import one_line, redact_url, split_userinfo

SECRET = "S3CRETpw"
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
namespace: [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def _parse(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config_text(text, "sd.yaml", {}, Path("/tmp"))
    message = str(err.value)
    assert "\n" not in message and len(message) < 400, message
    return message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"oncall:{SECRET}@host:9090", "host:9090"),
        (f"http//oncall:{SECRET}@host:9090/x", "http//host:9090/x"),
        (f"http://u:p/{SECRET}@host/x?q=1", "http://host/x?q=1"),
        (f"ftp://a:{SECRET}@c/d", "ftp://c/d"),
        (f"http://oncall:{SECRET}@[::1]:9090", "http://[::1]:9090"),
    ],
)
def test_redact_url_removes_userinfo_of_every_shape(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_userinfo_is_percent_decoded() -> None:
    assert split_userinfo("http://on%40call:p%40ss@h:1/x") == ("http://h:1/x", "on@call", "p@ss")


def test_mask_then_cut() -> None:
    token = "tok-" + "Q" * 49
    text = "x" * 100 + f" you sent Authorization=Bearer {token}"
    assert token[:8] not in one_line(text, 120, [token])
    assert "Q" * 8 not in one_line(text + " " + token, 160, [token])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prometheus:\n  url: !custom x\n", "sd.yaml:2: unknown YAML tag '!custom'"),
        ("namespace: !!python/object:os.system x\n", "unknown YAML tag"),
        (ALIAS_BOMB, "expands to more than"),
        ("prometheus:\n  headers: {X-Scope-OrgID: }\n", "must be a non-empty string, got nothing"),
        ("prometheus:\n  headers: {X-Scope-OrgID: 12}\n", "must be a non-empty string, got 12"),
        ('prometheus:\n  headers: {"X Bad": a}\n', "not a valid HTTP header name"),
        ('prometheus:\n  headers: {X-A: "a\\r\\nX-B: b"}\n', "control characters"),
        ("prometheus:\n  url: localhost:9090\n", "did you mean 'http://localhost:9090'?"),
        ("prometheus:\n  url: ftp://prom/\n", "ftp:// is not supported"),
        ("prometheus:\n  url: http//prom:9090\n", "did you mean 'http://prom:9090'?"),
        ("scrape: [localhost:8000/metrics]\n", "sd.yaml:1: scrape[0]: 'localhost:8000/metrics'"),
        ("load_balancers: [{kind: haproxy, url: 'ftp://lb/'}]\n", "ftp:// is not supported"),
        ("namespace: " + "x" * 5000 + "\nwindow: [" + "1," * 5000 + "1]\n", "window"),
        ("window: 2020-13-45\n", "sd.yaml:1"),
        ("refresh: 0.01s\n", "refresh: must be at least 1 s"),
    ],
)
def test_bad_config_is_one_bounded_line(text: str, expected: str) -> None:
    start = time.monotonic()
    assert expected in _parse(text)
    assert time.monotonic() - start < 5  # an alias bomb is refused, not expanded


def test_password_in_a_schemeless_url_never_shows() -> None:
    message = _parse(f"prometheus:\n  url: oncall:{SECRET}@host:9090\n")
    assert SECRET not in message and "did you mean 'http://host:9090'?" in message
    with pytest.raises(ConfigError) as err:
        load_settings(Overrides(scrape=(f"oncall:{SECRET}@pod:8000",)), {}, Path("/nonexistent"))
    assert SECRET not in str(err.value) and "--scrape" in str(err.value)


def test_bad_ca_file_is_reported_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as err:
        load_settings(Overrides(ca_file=str(bad)), {}, tmp_path)
    assert str(err.value).startswith("--ca-file: ") and "not a usable CA bundle" in str(err.value)
    assert "not a usable CA bundle" in _parse(f"prometheus:\n  ca_file: {bad}\n")


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--prometheus-url", f"oncall:{SECRET}@host:9090"],
        ["check", "--prometheus-url", f"http//oncall:{SECRET}@host:9090"],
        ["snapshot", "--scrape", f"oncall:{SECRET}@host:9090", "--format", "json"],
        ["check", "--haproxy-stats", f"oncall:{SECRET}@lb:8404", "--scrape", "http://h:1/"],
        ["check", "--prometheus-url", "ftp://prom:21/"],
        ["check", "--prometheus-url", "localhost:9090"],
    ],
)
def test_cli_bad_urls_exit_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streamdash", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr
    assert "did you mean" in proc.stderr or "is not supported" in proc.stderr


def test_shown_values_are_cut() -> None:
    assert len(_parse("namespace: [" + ", ".join(["y" * 300] * 3) + "]\n")) < 200
    assert MAX_SHOWN < 100


def test_refresh_and_window_floors() -> None:
    from streamdash.floors import window_note
    from streamdash.settings import Settings

    for flag in ("refresh", "window"):
        with pytest.raises(ConfigError) as err:
            load_settings(Overrides(**{flag: "0.5s"}), {}, Path("/nonexistent"))
        assert str(err.value).startswith(f"--{flag}: must be at least 1 s")
    settings = Settings()
    assert window_note(settings, 300, direct_scrape=False) is None
    note = window_note(settings, 30, direct_scrape=False)
    assert note is not None and "4× the scrape interval (15 s)" in note and "60 s" in note
    assert window_note(settings, 10, direct_scrape=True) is not None  # refresh 5 s × 4


def test_http_limits_config() -> None:
    settings = parse_config_text(
        "http: {max_answer_bytes: 2MiB, max_decoded_bytes: 8MiB, redirects: same-origin}\n",
        "sd.yaml",
        {},
        Path("/tmp"),
    )
    assert settings.http.max_answer_bytes == 2 * 2**20
    assert settings.http.max_decoded_bytes == 8 * 2**20
    assert settings.http.redirects == "same-origin"
    assert "expected none or same-origin" in _parse("http: {redirects: all}\n")
    assert "at least 1 KiB" in _parse("http: {max_answer_bytes: 12}\n")


@pytest.mark.parametrize("encoding", ["iso-8859-1", "ascii"])
def test_headless_output_in_a_non_utf8_locale(encoding: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streamdash", "snapshot", "--prometheus-url", "http://127.0.0.1:1"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONIOENCODING": encoding},
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
    assert proc.stdout.startswith(b"# streamdash snapshot ? ")  # the dash replaced
