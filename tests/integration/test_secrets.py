"""Secrets never show: not on stdout, stderr, in files, Snapshots or reprs.

Each way of giving credentials (bearer token from a file or from the environment,
basic-auth password from a file or the environment, an ``X-Scope-OrgID`` header, user
and password in the URL) is planted with a unique value. The real commands run as
subprocesses through ``tests.support.faultproxy`` in front of a real Prometheus,
healthy and under faults whose bodies echo the credentials back; the live refresher
runs in-process through more faults. Every text produced is searched for every form
of every secret (raw, basic-auth base64, URL-encoded).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from streamdash.config import Overrides, load_settings
from streamdash.export.json import render_json
from streamdash.export.markdown import render_markdown
from streamdash.live import LiveRefresher
from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.fleet import FleetSpec, fleet_series
from tests.support.prom import PrometheusServer, openmetrics_text, start_prometheus

pytestmark = pytest.mark.integration

NS = "llm"
FLEET = FleetSpec(pods=2, namespace=NS, seed=17)
TIMEOUT_S = 3.0

TOKEN_FILE = "tokfile-5e1f0c9a7b3d"
TOKEN_ENV = "tokenv-8c2d4e6f1a3b"
PASSWORD_FILE = "pwfile-Zq9xK2mL4t"
PASSWORD_ENV = "pwenv-Rt6yU3wQ8s"
TENANT = "tenant-77aa11bb22"
URL_USER, URL_PASSWORD = "urluser", "urlpw-Hj4kL8nP0v"
TOKEN_VAR, PASSWORD_VAR = "SD_TEST_TOKEN", "SD_TEST_PASSWORD"


@dataclass(frozen=True)
class Way:
    """One way of giving credentials: the config YAML (``{url}`` filled in), extra
    flags, the secrets it plants and what the server must receive."""

    name: str
    config: str | None
    secrets: tuple[str, ...]
    authorization: str
    flag_url_userinfo: bool = False
    tenant: bool = False
    env: dict[str, str] = field(default_factory=dict)


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


WAYS = (
    Way(
        "bearer-file+tenant",
        "prometheus:\n  url: @URL@\n  bearer_token_file: token.txt\n"
        f"  headers: {{X-Scope-OrgID: {TENANT}}}\n",
        (TOKEN_FILE, TENANT),
        f"Bearer {TOKEN_FILE}",
        tenant=True,
    ),
    Way(
        "bearer-env+tenant",
        f"prometheus:\n  url: @URL@\n  bearer_token_env: {TOKEN_VAR}\n"
        f"  headers: {{X-Scope-OrgID: {TENANT}}}\n",
        (TOKEN_ENV, TENANT),
        f"Bearer {TOKEN_ENV}",
        tenant=True,
        env={TOKEN_VAR: TOKEN_ENV},
    ),
    Way(
        "basic-file",
        "prometheus:\n  url: @URL@\n  basic_auth: {username: ops, password_file: pw.txt}\n",
        (PASSWORD_FILE, _basic("ops", PASSWORD_FILE)),
        f"Basic {_basic('ops', PASSWORD_FILE)}",
    ),
    Way(
        "basic-env",
        "prometheus:\n  url: @URL@\n"
        f"  basic_auth: {{username: ops, password_env: {PASSWORD_VAR}}}\n",
        (PASSWORD_ENV, _basic("ops", PASSWORD_ENV)),
        f"Basic {_basic('ops', PASSWORD_ENV)}",
        env={PASSWORD_VAR: PASSWORD_ENV},
    ),
    Way(
        "url-userinfo-flag",
        None,
        (URL_PASSWORD, f"{URL_USER}:", _basic(URL_USER, URL_PASSWORD)),
        f"Basic {_basic(URL_USER, URL_PASSWORD)}",
        flag_url_userinfo=True,
    ),
    Way(
        "url-userinfo-config+tenant",
        f"prometheus:\n  url: @USERINFO_URL@\n  headers: {{X-Scope-OrgID: {TENANT}}}\n",
        (URL_PASSWORD, f"{URL_USER}:", _basic(URL_USER, URL_PASSWORD), TENANT),
        f"Basic {_basic(URL_USER, URL_PASSWORD)}",
        tenant=True,
    ),
)


def _forms(secret: str) -> set[str]:
    """The ways a secret could show up in text."""
    return {secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]}


def assert_no_secret(text: str, way: Way, where: str) -> None:
    for secret in way.secrets:
        for form in _forms(secret):
            assert form not in text, f"{way.name}: {secret!r} leaked in {where}"


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    series, types = fleet_series(FLEET, float(int(time.time()) - 5), duration_s=600, step_s=15)
    server = start_prometheus(
        tmp_path_factory.mktemp("secrets"), openmetrics=openmetrics_text(series, types)
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(prom: PrometheusServer) -> Iterator[FaultProxy]:
    with fault_proxy(prom.url, delay_seconds=TIMEOUT_S + 3) as p:
        yield p


@pytest.fixture
def faults(proxy: FaultProxy) -> Iterator[FaultProxy]:
    proxy.mode = "pass"
    start = len(proxy.requests)
    yield proxy
    proxy.mode = "pass"
    del proxy.requests[start:]


def _userinfo_url(url: str) -> str:
    return url.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")


def _workdir(tmp_path: Path, way: Way, url: str) -> tuple[Path, list[str]]:
    """A directory with the config and secret files; the flags to add."""
    (tmp_path / "token.txt").write_text(TOKEN_FILE + "\n")
    (tmp_path / "pw.txt").write_text(PASSWORD_FILE + "\n")
    flags = ["-n", NS]
    if way.config is not None:
        text = way.config.replace("@USERINFO_URL@", _userinfo_url(url)).replace("@URL@", url)
        text += f"  timeout: {TIMEOUT_S:g}s\n"
        (tmp_path / "streamdash.yaml").write_text(text)
    else:
        (tmp_path / "streamdash.yaml").write_text(f"prometheus:\n  timeout: {TIMEOUT_S:g}s\n")
        flags += ["--prometheus-url", _userinfo_url(url)]
    return tmp_path, flags


def streamdash(way: Way, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("PROMETHEUS_URL")}
    env.update(way.env, XDG_CONFIG_HOME=str(cwd))
    return subprocess.run(
        [sys.executable, "-m", "streamdash", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def _assert_credentials_sent(proxy: FaultProxy, way: Way, since: int) -> None:
    """The secrets were really in use (so a test that finds none can fail)."""
    seen = proxy.requests[since:]
    assert seen
    for _, headers in seen:
        assert headers.get("Authorization") == way.authorization
        if way.tenant:
            assert headers.get("X-Scope-OrgID") == TENANT


@pytest.mark.parametrize("way", WAYS, ids=[w.name for w in WAYS])
def test_commands_never_print_or_write_secrets(
    faults: FaultProxy, tmp_path: Path, way: Way
) -> None:
    cwd, flags = _workdir(tmp_path, way, faults.url)
    runs: list[tuple[str, str, list[str]]] = [
        ("pass", "snapshot", ["--format", "json", "--output", "out.json"]),
        ("http-401", "snapshot", ["--format", "md", "--output", "out.md"]),
        ("http-401", "check", []),
        ("http-500", "snapshot", ["--format", "json"]),
        ("http-500", "check", []),
    ]
    for mode, command, extra in runs:
        faults.mode = mode
        since = len(faults.requests)
        proc = streamdash(way, cwd, command, *flags, *extra)
        where = f"{mode} {command} {' '.join(extra)}"
        assert "Traceback" not in proc.stderr, proc.stderr
        assert_no_secret(proc.stdout, way, f"stdout of {where}")
        assert_no_secret(proc.stderr, way, f"stderr of {where}")
        _assert_credentials_sent(faults, way, since)
        if command == "check":
            assert proc.returncode == (2 if mode != "pass" else proc.returncode), where
            assert ("error prometheus" in proc.stdout) == (mode != "pass"), where
        else:
            assert proc.returncode == 0, where
    for name in ("out.json", "out.md"):
        assert_no_secret((cwd / name).read_text(), way, name)
    assert "HTTP 401" in (cwd / "out.md").read_text()
    doc = json.loads((cwd / "out.json").read_text())
    assert doc["errors"] == [] and doc["pods"], "the healthy run saw the fleet"
    assert doc["source"]["url"] == faults.url


@pytest.mark.parametrize("way", WAYS, ids=[w.name for w in WAYS])
def test_refresher_under_faults_keeps_secrets_out(
    faults: FaultProxy, tmp_path: Path, way: Way
) -> None:
    cwd, _ = _workdir(tmp_path, way, faults.url)
    url = _userinfo_url(faults.url) if way.flag_url_userinfo else None
    env = {**way.env}
    settings = load_settings(
        Overrides(config=str(cwd / "streamdash.yaml"), prometheus_url=url, namespace=NS),
        env,
        cwd,
    )
    live = LiveRefresher(settings)
    texts: dict[str, str] = {
        "repr(settings)": repr(settings),
        "str(settings)": str(settings),
        "repr(source)": repr(live.prometheus),
        "describe()": live.describe(),
    }
    try:
        for mode in ("pass", "http-401", "http-500", "delay", "truncated", "pass"):
            faults.mode = mode
            since = len(faults.requests)
            snap = live.refresh(300)
            _assert_credentials_sent(faults, way, since)
            if mode != "pass":
                assert snap.errors, mode
            texts[f"{mode}: repr(snapshot)"] = repr(snap)
            texts[f"{mode}: errors"] = " ".join(e.message for e in snap.errors)
            texts[f"{mode}: stale"] = " ".join(p.reason for p in snap.stale)
            texts[f"{mode}: notes"] = " ".join(snap.notes)
            texts[f"{mode}: queries"] = " ".join(snap.queries.values())
            texts[f"{mode}: json"] = render_json(snap)
            texts[f"{mode}: markdown"] = render_markdown(snap)
            texts[f"{mode}: describe()"] = live.describe()
            if mode in ("pass", "http-500"):
                assert live.prometheus is not None
                pod_history = live.prometheus.fetch_pod_history("any-pod", 300)
                texts[f"{mode}: pod history"] = repr(pod_history)
                texts[f"{mode}: pod history error"] = repr(live.prometheus.last_history_error)
        texts["repr(refresher)"] = repr(live)
    finally:
        live.close()
    for where, text in texts.items():
        assert_no_secret(text, way, where)
