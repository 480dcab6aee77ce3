"""Load-balancer changes for ``lb-idle-timeout`` / ``lb-disconnects`` findings: every
layer a stream crosses must let a silence pass, so the advice names each kind of layer
(HAProxy, nginx, Envoy, ingress-nginx, cloud LBs) and the SSE keep-alive that makes the
silences short. Patched copies of the LB config files streamdash read come with it.

vLLM's flag, checked in its source (vllm/entrypoints/openai/sse_keep_alive.py and the
chat/completions routers): ``--sse-keep-alive-interval`` seconds, 0 (off) by default; it
sends ``: keep-alive`` SSE comments while a stream is idle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streamdash import format as fmt
from streamdash.advise.lbconfig import patch_haproxy, patch_nginx
from streamdash.advise.model import AdviseFacts, Artifact
from streamdash.core.lb import nice_at_least, nice_at_most, timeout_sort
from streamdash.core.snapshot import Finding, Snapshot
from streamdash.settings import Preset, Settings

LB_FINDINGS = ("lb-idle-timeout", "lb-disconnects")
CLOUDFLARE_SECONDS = 100.0
"""Cloudflare's proxy read timeout: fixed at 100 s on every plan below Enterprise."""
DEFAULT_KEEPALIVE_SECONDS = 15.0
"""When no idle timeout is known: under every common default (ALB 60 s, nginx 60 s)."""
FALLBACK_IDLE_SECONDS = 300.0


@dataclass(frozen=True)
class LbPlan:
    """The values every layer gets (seconds)."""

    idle: float
    """Idle timeouts (no byte for this long) are raised to at least this."""
    total: float | None
    """Whole-response timeouts (Envoy route ``timeout``) at least this; None: not cut."""
    keepalive: float
    shortest_idle: float | None
    """The shortest idle timeout in the chain as configured today (cloud LBs included)."""
    answers: tuple[tuple[str, str], ...]
    evidence: str
    """The findings' summaries, joined: the numbers the why cites."""


def _silence(snapshot: Snapshot) -> float | None:
    values = []
    for kind in ("ttft", "itl"):
        s = snapshot.latency.get(kind)
        if s is not None and s.available and s.p99 is not None:
            values.append(s.p99)
    itl = snapshot.latency.get("itl")
    if itl is not None and itl.longest_observed is not None:
        lower, upper = itl.longest_observed
        values.append(upper if math.isfinite(upper) else lower)
    return max(values) if values else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def plan_lb(snapshot: Snapshot) -> LbPlan | None:
    """None when no LB finding calls for a change."""
    findings = [f for f in snapshot.findings if f.id in LB_FINDINGS]
    if not findings:
        return None
    idle: list[float] = []
    total: list[float] = []
    for f in findings:
        suggested = _number(f.evidence.get("suggested_seconds"))
        if suggested is None:
            continue
        (total if f.evidence.get("sort") == "total" else idle).append(suggested)
    if not idle:
        silence = _silence(snapshot)
        idle.append(nice_at_least(2 * silence) if silence else FALLBACK_IDLE_SECONDS)
    idle_now = [
        t.seconds
        for t in snapshot.load_balancer.timeouts
        if timeout_sort(t) == "idle" and t.seconds > 0
    ]
    shortest = min(idle_now) if idle_now else None
    keepalive = nice_at_most(shortest / 2) if shortest else DEFAULT_KEEPALIVE_SECONDS
    evidence = " ".join(f.summary for f in findings)
    return LbPlan(
        idle=max(idle),
        total=max(total) if total else None,
        keepalive=keepalive,
        shortest_idle=shortest,
        answers=tuple((f.id, f.subject) for f in findings),
        evidence=evidence,
    )


def _s(seconds: float) -> int:
    return max(1, round(seconds))


def _haproxy(plan: LbPlan) -> str:
    return (
        "# HAProxy: in the backend (or defaults) that carries the streams\n"
        "backend be_llm\n"
        f"    # no byte from the server for this long ends the stream (sD in the log)\n"
        f"    timeout server {_s(plan.idle)}s\n"
        "    # the client side must allow the same silence\n"
        f"    timeout client {_s(plan.idle)}s\n"
        "    # only for upgraded (WebSocket) or CONNECT traffic on the same backend:\n"
        "    # it replaces client/server timeouts once a tunnel is established\n"
        f"    # timeout tunnel {_s(max(plan.idle, 3600))}s\n"
    )


def _nginx(plan: LbPlan) -> str:
    return (
        "# nginx: in the location that proxies the streams\n"
        "location /v1/ {\n"
        "    proxy_pass http://llm_backend;\n"
        "    proxy_http_version 1.1;\n"
        '    proxy_set_header Connection "";\n'
        "    # time allowed between two reads from the upstream (default 60s)\n"
        f"    proxy_read_timeout {_s(plan.idle)}s;\n"
        f"    proxy_send_timeout {_s(plan.idle)}s;\n"
        "    # pass each token on at once instead of filling a buffer first\n"
        "    proxy_buffering off;\n"
        "}\n"
    )


def _envoy(plan: LbPlan) -> str:
    total = f"{_s(plan.total)}s" if plan.total else "0s"
    why_total = (
        "at least 2x the longest response seen" if plan.total else "0s disables it for streams"
    )
    return (
        "# Envoy: the route that carries the streams\n"
        "route_config:\n"
        "  virtual_hosts:\n"
        "    - name: llm\n"
        '      domains: ["*"]\n'
        "      routes:\n"
        '        - match: { prefix: "/v1/" }\n'
        "          route:\n"
        "            cluster: llm\n"
        f"            timeout: {total}          # whole response (default 15s): {why_total}\n"
        f"            idle_timeout: {_s(plan.idle)}s   # no byte for this long\n"
        "# and on the HTTP connection manager (default 5 min):\n"
        "http_connection_manager:\n"
        f"  stream_idle_timeout: {_s(plan.idle)}s\n"
    )


def _ingress(plan: LbPlan) -> str:
    return (
        "# ingress-nginx: annotations on the Ingress of the streaming service\n"
        "metadata:\n"
        "  annotations:\n"
        f'    nginx.ingress.kubernetes.io/proxy-read-timeout: "{_s(plan.idle)}"\n'
        f'    nginx.ingress.kubernetes.io/proxy-send-timeout: "{_s(plan.idle)}"\n'
        '    nginx.ingress.kubernetes.io/proxy-buffering: "off"\n'
    )


def _cloud(plan: LbPlan) -> str:
    idle = _s(plan.idle)
    return (
        "# AWS Application Load Balancer: idle timeout (default 60 s; HTTP/2 PING does not\n"
        "# reset it). Load balancer attribute idle_timeout.timeout_seconds:\n"
        "aws elbv2 modify-load-balancer-attributes --load-balancer-arn <ARN> \\\n"
        f"    --attributes Key=idle_timeout.timeout_seconds,Value={idle}\n"
        "# or, with the AWS Load Balancer Controller, on the Ingress:\n"
        "#   alb.ingress.kubernetes.io/load-balancer-attributes: "
        f"idle_timeout.timeout_seconds={idle}\n"
        "\n"
        "# Google Cloud external Application LB: the backend service timeout (default 30 s)\n"
        "# is a response timeout for HTTP; for a stream it must cover the whole answer.\n"
        "gcloud compute backend-services update <BACKEND_SERVICE> --global \\\n"
        f"    --timeout={_s(plan.total or plan.idle)}\n"
        "# or on GKE, a BackendConfig referenced by the Service:\n"
        f"#   spec: {{ timeoutSec: {_s(plan.total or plan.idle)} }}\n"
        "\n"
        "# Cloudflare proxy: the read timeout is fixed at 100 s (only Enterprise can change\n"
        "# it). Nothing to set; keep every silence under 100 s with SSE keep-alives.\n"
    )


def _keepalive(plan: LbPlan, preset: Preset) -> str:
    every = _s(plan.keepalive)
    chain = (
        f"the shortest idle timeout configured today is {fmt.seconds(plan.shortest_idle)}"
        if plan.shortest_idle
        else "no idle timeout is known"
    )
    lines = [
        f"# SSE keep-alive every {every}s: {chain}; it must also stay under Cloudflare's",
        "# fixed 100 s and any cloud LB's idle timeout (AWS ALB 60 s by default).",
    ]
    if preset.name == "vllm":
        lines += [
            "# vLLM: sends ': keep-alive' SSE comments while a stream is idle (off by default)",
            f"vllm serve <model> --sse-keep-alive-interval {every}",
        ]
    else:
        lines += [
            f"# {preset.name}: no keep-alive option known; have the server (or a gateway in",
            "# front of it) write an SSE comment line when nothing was sent for that long:",
            ": keep-alive",
            "",
        ]
    lines.append(
        "# Comments are ignored by SSE clients but count as bytes for every idle timeout."
        " They do not help against whole-response timeouts (Envoy route timeout, GCP)."
    )
    return "\n".join(lines) + "\n"


def _config_paths(settings: Settings, kind: str) -> list[str]:
    return [lb.config_file for lb in settings.load_balancers if lb.kind == kind and lb.config_file]


def lb_artifacts(
    snapshot: Snapshot, facts: AdviseFacts, settings: Settings, preset: Preset
) -> list[Artifact]:
    """The LB artifacts, or none when no LB finding calls for them."""
    plan = plan_lb(snapshot)
    if plan is None:
        return []
    idle = fmt.seconds(plan.idle)
    head = (
        f"{plan.evidence} Every layer between the client and the pod must allow a silence of "
        f"{idle} (2x the longest seen); the shortest one still cuts the stream."
    )
    out = [
        Artifact(
            "lb-haproxy.cfg",
            "haproxy",
            "HAProxy timeouts",
            head + " HAProxy counts `timeout server` from the last byte the server sent.",
            _haproxy(plan),
            "haproxy",
            plan.answers,
        ),
        Artifact(
            "lb-nginx.conf",
            "nginx",
            "nginx proxy settings",
            head + " nginx's "
            "`proxy_read_timeout` (default 60 s) is the time between two reads; "
            "buffering holds tokens back.",
            _nginx(plan),
            "nginx",
            plan.answers,
        ),
        Artifact(
            "lb-envoy.yaml",
            "envoy",
            "Envoy route and stream timeouts",
            head + " Envoy's route `timeout` (default 15 s) ends even a chatty stream.",
            _envoy(plan),
            "yaml",
            plan.answers,
        ),
        Artifact(
            "lb-ingress-nginx.yaml",
            "ingress-nginx",
            "ingress-nginx annotations",
            head,
            _ingress(plan),
            "yaml",
            plan.answers,
        ),
        Artifact(
            "lb-cloud.txt",
            "cloud-lb",
            "Cloud load balancer settings",
            head + " Cloud LBs hide their timeouts from streamdash; set them by name.",
            _cloud(plan),
            "shell",
            plan.answers,
        ),
        Artifact(
            "sse-keepalive.txt",
            "keepalive",
            "SSE keep-alive interval",
            f"{plan.evidence} A keep-alive comment every {fmt.seconds(plan.keepalive)} "
            "keeps every idle timeout in the chain from firing during long prefills, "
            "queueing and tool-call pauses.",
            _keepalive(plan, preset),
            "text",
            plan.answers,
        ),
    ]
    out += _patched(facts, settings, plan)
    return out


def _patched(facts: AdviseFacts, settings: Settings, plan: LbPlan) -> list[Artifact]:
    out = []
    for kind, patch, language, suffix in (
        ("haproxy", patch_haproxy, "haproxy", "cfg"),
        ("nginx", patch_nginx, "nginx", "conf"),
    ):
        for n, path in enumerate(_config_paths(settings, kind), start=1):
            text = facts.lb_configs.get(path)
            if text is None:
                continue
            patched, changes = patch(text, plan.idle)
            if not changes:
                continue
            name = f"{kind}.patched.{suffix}" if n == 1 else f"{kind}-{n}.patched.{suffix}"
            out.append(
                Artifact(
                    name=name,
                    kind="haproxy-patched" if kind == "haproxy" else "nginx-patched",
                    title=f"{path}, patched",
                    why=(
                        f"{plan.evidence} Your {path} with these changes: "
                        + "; ".join(changes)
                        + f". Check it with `{_check_command(kind, name)}` before reloading."
                    ),
                    body=patched,
                    language=language,  # type: ignore[arg-type]
                    answers=plan.answers,
                )
            )
    return out


def _check_command(kind: str, name: str) -> str:
    return f"haproxy -c -f {name}" if kind == "haproxy" else f"nginx -t -c $PWD/{name}"


def lb_changes(artifacts: Sequence[Artifact]) -> Mapping[str, Artifact]:
    """Artifacts by name (for tests and the TUI)."""
    return {a.name: a for a in artifacts}


__all__ = ["Finding", "LbPlan", "lb_artifacts", "plan_lb"]
