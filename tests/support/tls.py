"""A private CA and a server certificate for 127.0.0.1, made with the openssl CLI.

``make_ca(tmp)`` returns a ``PrivateCa`` with ``ca_file`` (PEM) and ``server_context()``
(an ``ssl.SSLContext`` serving the server certificate); a second call gives an
unrelated CA (for "the environment's bundle is another one").
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PrivateCa:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(workdir: Path, name: str = "ca") -> PrivateCa:
    """A CA and a certificate for IP 127.0.0.1 signed by it, under ``workdir/name``."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed")
    d = workdir / name
    d.mkdir(parents=True, exist_ok=True)
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
         "ca.pem", "-days", "2", "-subj", f"/CN=streamdash test {name}", cwd=d)  # fmt: skip
    _run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
         "-subj", "/CN=127.0.0.1", cwd=d)  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    sign = ("-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial")
    _run("x509", "-req", "-in", "srv.csr", *sign, "-out", "srv.pem", "-days", "2",
         "-extfile", "ext.cnf", cwd=d)  # fmt: skip
    return PrivateCa(d / "ca.pem", d / "srv.pem", d / "srv.key")
