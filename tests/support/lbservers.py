"""Real HAProxy and nginx on loopback with generated configs, started and stopped by tests.

``start_haproxy`` / ``start_nginx`` write a config under ``workdir``, start the binary in
the foreground on free 127.0.0.1 ports and wait (bounded) until it accepts connections.
``stop()`` terminates it and waits; a failed start raises ``LbServerError`` with the tail
of the process output.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HAPROXY = Path("/usr/sbin/haproxy")
NGINX = Path("/usr/sbin/nginx")
READY_TIMEOUT_S = 10.0


class LbServerError(RuntimeError):
    """A load balancer failed to start; the message carries its output."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LbServerError(f"exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    proc.wait(timeout=5)
    raise LbServerError(f"port {port} not accepting after {READY_TIMEOUT_S} s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


@dataclass
class RunningLb:
    """A started load balancer: ``url`` is the proxy port, ``stats_url`` its stats page."""

    proc: subprocess.Popen[bytes]
    config_file: Path
    log_file: Path
    url: str
    stats_url: str
    metrics_url: str | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def _spawn(argv: Sequence[str], log: Path, port: int) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    _wait_port(port, proc, log)
    return proc


def haproxy_config(
    servers: Mapping[str, str],
    *,
    port: int,
    stats_port: int,
    timeout_server: str = "30s",
    timeout_client: str = "30s",
    maxconn: int | None = None,
    stats_uri: str = "/stats",
) -> str:
    """A config: frontend ``fe_llm`` on ``port`` -> backend ``be_llm`` with ``servers``
    (name -> host:port; ``?srv=<name>`` pins a request to one server), and a stats /
    Prometheus listener on ``stats_port`` (``/stats``, ``/metrics``)."""
    limit = f" maxconn {maxconn}" if maxconn else ""
    lines = [
        "global",
        "    maxconn 256",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        f"    timeout client {timeout_client}",
        f"    timeout server {timeout_server}",
        "frontend fe_llm",
        f"    bind 127.0.0.1:{port}",
        "    default_backend be_llm",
        "backend be_llm",
        "    balance roundrobin",
    ]
    for name in servers:
        lines.append(f"    use-server {name} if {{ urlp(srv) -m str {name} }}")
    for name, address in servers.items():
        lines.append(f"    server {name} {address}{limit}")
    lines += [
        "frontend stats",
        f"    bind 127.0.0.1:{stats_port}",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        f"    stats uri {stats_uri}",
        "    stats refresh 0",
    ]
    return "\n".join(lines) + "\n"


def start_haproxy(workdir: Path, servers: Mapping[str, str], **options: object) -> RunningLb:
    """Start ``/usr/sbin/haproxy -db`` with ``haproxy_config(servers, **options)``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, stats_port = free_port(), free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(haproxy_config(servers, port=port, stats_port=stats_port, **options))  # type: ignore[arg-type]
    log = workdir / "haproxy.log"
    proc = _spawn([str(HAPROXY), "-db", "-f", str(config)], log, port)
    _wait_port(stats_port, proc, log)
    return RunningLb(
        proc=proc,
        config_file=config,
        log_file=log,
        url=f"http://127.0.0.1:{port}",
        stats_url=f"http://127.0.0.1:{stats_port}{options.get('stats_uri', '/stats')}",
        metrics_url=f"127.0.0.1:{stats_port}",
    )


def nginx_config(
    upstream: str, *, prefix: Path, port: int, stats_port: int, proxy_read_timeout: str = "30s"
) -> str:
    """A config: ``/`` on ``port`` proxied to ``upstream`` (host:port) and stub_status at
    ``/nginx_status`` on ``stats_port``; pid, logs and temp files under ``prefix``."""
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_read_timeout {proxy_read_timeout};
        }}
    }}
    server {{
        listen 127.0.0.1:{stats_port};
        location /nginx_status {{ stub_status; }}
    }}
}}
"""


def start_nginx(workdir: Path, upstream: str, proxy_read_timeout: str = "30s") -> RunningLb:
    """Start ``nginx -g 'daemon off;'`` in front of ``upstream`` (host:port)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, stats_port = free_port(), free_port()
    config = workdir / "nginx.conf"
    config.write_text(
        nginx_config(
            upstream,
            prefix=workdir,
            port=port,
            stats_port=stats_port,
            proxy_read_timeout=proxy_read_timeout,
        )
    )
    log = workdir / "nginx.out"
    proc = _spawn(
        [str(NGINX), "-p", str(workdir), "-c", str(config), "-g", "daemon off;"], log, port
    )
    _wait_port(stats_port, proc, log)
    return RunningLb(
        proc=proc,
        config_file=config,
        log_file=log,
        url=f"http://127.0.0.1:{port}",
        stats_url=f"http://127.0.0.1:{stats_port}/nginx_status",
    )


def restart_haproxy(lb: RunningLb, config_file: Path) -> RunningLb:
    """Stop ``lb`` and start HAProxy again on the same ports with ``config_file`` (e.g.
    a patched copy of ``lb.config_file``)."""
    lb.stop()
    port = int(lb.url.rsplit(":", 1)[1])
    log = config_file.with_suffix(".log")
    proc = _spawn([str(HAPROXY), "-db", "-f", str(config_file)], log, port)
    return RunningLb(
        proc=proc,
        config_file=config_file,
        log_file=log,
        url=lb.url,
        stats_url=lb.stats_url,
        metrics_url=lb.metrics_url,
    )


def restart_nginx(lb: RunningLb, config_file: Path) -> RunningLb:
    """Stop ``lb`` and start nginx again with ``config_file`` (same prefix and ports)."""
    lb.stop()
    port = int(lb.url.rsplit(":", 1)[1])
    prefix = lb.config_file.parent
    log = config_file.with_suffix(".out")
    proc = _spawn(
        [str(NGINX), "-p", str(prefix), "-c", str(config_file), "-g", "daemon off;"], log, port
    )
    return RunningLb(
        proc=proc, config_file=config_file, log_file=log, url=lb.url, stats_url=lb.stats_url
    )


def start_tenant_gateway(
    workdir: Path, upstream: str, path_prefix: str, header: str, tenant: str
) -> RunningLb:
    """nginx in front of a Prometheus the way Mimir / Thanos / Cortex gateways are
    reached: only ``path_prefix`` (e.g. ``/prometheus/tenant-a``) is served, with the
    prefix stripped, and only when ``header`` equals ``tenant`` (else 401)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    variable = "$http_" + header.lower().replace("-", "_")
    prefix = path_prefix.rstrip("/")
    config = workdir / "gateway.conf"
    config.write_text(f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location {prefix}/ {{
            if ({variable} != "{tenant}") {{ return 401 "no tenant\\n"; }}
            proxy_pass http://{upstream}/;
            proxy_http_version 1.1;
        }}
        location / {{ return 404 "not here\\n"; }}
    }}
}}
""")
    log = workdir / "gateway.out"
    proc = _spawn(
        [str(NGINX), "-p", str(workdir), "-c", str(config), "-g", "daemon off;"], log, port
    )
    return RunningLb(
        proc=proc,
        config_file=config,
        log_file=log,
        url=f"http://127.0.0.1:{port}{prefix}",
        stats_url="",
    )
