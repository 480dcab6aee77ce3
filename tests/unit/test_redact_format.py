"""Secrets never shown; numbers formatted the same everywhere."""

from __future__ import annotations

import pytest

from streamdash import format as fmt
from streamdash.redact import redact_url, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pa55word@prom:9090/x", "http://prom:9090/x"),
        ("https://prom/api?token=abc&step=5", "https://prom/api?token=%2A%2A%2A&step=5"),
        ("http://[::1]:9090", "http://[::1]:9090"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown.replace("%2A%2A%2A", "***")


def test_scrub_replaces_known_secrets() -> None:
    assert scrub("401 for token s3cr3t-value", ["s3cr3t-value", None]) == "401 for token ***"


@pytest.mark.parametrize(
    ("value", "overflowed", "text"),
    [
        (None, False, "n/a"),
        (0.28, False, "280 ms"),
        (2.9, False, "2.9 s"),
        (5.0, True, "> 5 s"),
        (float("nan"), False, "n/a"),
        (7680.0, True, "> 7680 s"),
    ],
)
def test_seconds(value: float | None, overflowed: bool, text: str) -> None:
    assert fmt.seconds(value, overflowed) == text


def test_safe_label_strips_escapes_and_caps() -> None:
    text = fmt.safe_label("a\x1b[31mred\x1b[0m\x1b]8;;http://x\x07b\nc" + "z" * 500)
    assert "\x1b" not in text and "\x07" not in text
    assert text.startswith("aredb⏎c") and len(text) == fmt.MAX_LABEL


def test_unknown_is_not_zero() -> None:
    assert fmt.count(None) == fmt.ratio(None) == fmt.rate(None) == fmt.cores(None) == "n/a"
    assert fmt.count(0) == "0"


@pytest.mark.parametrize(
    ("secs", "text"), [(300, "5m"), (3600, "1h"), (90, "90s"), (60, "1m"), (None, "n/a")]
)
def test_duration(secs: float | None, text: str) -> None:
    assert fmt.duration(secs) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1024, "1024"), (65536, "64Ki"), (1048576, "1Mi"), (120_000, "120k"), (None, "n/a")],
)
def test_count_compact(value: float | None, text: str) -> None:
    assert fmt.count_compact(value) == text


def test_settings_reprs_never_show_url_credentials() -> None:
    from streamdash.settings import (
        LoadBalancerSettings,
        PrometheusSettings,
        ScrapeTarget,
        Settings,
    )

    settings = Settings(
        prometheus=PrometheusSettings(url="http://u:pw-1@prom:9090", bearer_token="tok-2"),
        scrape=(ScrapeTarget("http://u:pw-3@pod:8000/metrics"),),
        load_balancers=(LoadBalancerSettings("haproxy", "http://a:pw-4@lb/stats;csv"),),
    )
    text = repr(settings)
    for secret in ("pw-1", "tok-2", "pw-3", "pw-4"):
        assert secret not in text
    assert "pod:8000" in text and "lb/stats" in text
