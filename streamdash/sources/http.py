"""One hardened HTTP path for every source (Prometheus, direct scrape, load balancers).

Contracts, the same whatever answers:

- **A deadline per request, not per read.** ``timeout_seconds`` bounds the whole
  request (connect, headers, every byte of the body): the caller gets its answer or a
  "timed out" line within ``timeout + SLACK_SECONDS``, however slowly the server
  trickles. The request runs in a daemon thread that is abandoned at the deadline (it
  stops at its next read, at most one read timeout later, and never blocks exit).
- **Streamed size limits.** The answer as sent (``max_answer_bytes``) and decompressed
  (``max_decoded_bytes``; gzip/deflate are decoded here, in bounded steps) are counted
  while reading; crossing one stops the read with one line naming the limit.
- **No redirect followed across origins.** ``redirects="none"`` (default) follows
  none; ``"same-origin"`` follows up to ``MAX_REDIRECTS`` to the same scheme, host and
  port, keeping method and body. Any other redirect is one line naming where it pointed
  (without userinfo), so headers such as ``X-Scope-OrgID`` never reach another host.
- **TLS as configured.** ``verify`` (a CA file or a bool) is passed on every request,
  so ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` never override a configured CA or
  ``tls_verify: false``; a failed verification keeps its reason.
- **Errors are ``HttpError``** whose text is one line without the URL (callers say
  which URL, redacted) and without tracebacks.
"""

from __future__ import annotations

import email.utils
import socket
import ssl
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
import requests
import urllib3.exceptions

from streamdash.redact import redact_url
from streamdash.settings import Settings

# One warning line is printed at start (``tls_warning``), not one per request.
warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)

SLACK_SECONDS = 0.25
"""How much past its timeout a request may take before the caller gets "timed out"."""
MAX_REDIRECTS = 3
CHUNK_BYTES = 65_536
ACCEPT_ENCODING = "gzip, deflate"
"""The only encodings asked for: the ones decoded here with a bounded output."""
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

Redirects = Literal["none", "same-origin"]


class HttpError(Exception):
    """A request that gave no usable answer; ``str()`` is one line, no URL."""


@dataclass(frozen=True)
class HttpPolicy:
    """Limits and TLS of one source's requests."""

    timeout_seconds: float = 10.0
    max_answer_bytes: int = 64 * 2**20
    max_decoded_bytes: int = 256 * 2**20
    redirects: Redirects = "none"
    verify: bool | str = True
    """A CA bundle path, True (system/env bundle) or False (no verification)."""


@dataclass(frozen=True)
class Answer:
    """One complete HTTP answer (any status), body decoded and within the limits."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Lower-cased names."""
    body: bytes
    server_date: float | None
    """The server's ``Date`` header as unix seconds (None when absent or malformed)."""
    local_mid: float
    """Local unix time halfway between sending and the headers' arrival."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def policy_for(settings: Settings, max_answer_bytes: int | None = None) -> HttpPolicy:
    """The policy of ``settings`` (``prometheus`` TLS and timeout, ``http`` limits);
    ``max_answer_bytes`` lowers both size limits for a source with small answers."""
    prom, http = settings.prometheus, settings.http
    limit, decoded = http.max_answer_bytes, http.max_decoded_bytes
    if max_answer_bytes is not None:
        limit, decoded = min(limit, max_answer_bytes), min(decoded, max_answer_bytes)
    redirects: Redirects = "same-origin" if http.redirects == "same-origin" else "none"
    return HttpPolicy(
        timeout_seconds=float(prom.timeout_seconds),
        max_answer_bytes=limit,
        max_decoded_bytes=decoded,
        redirects=redirects,
        verify=prom.ca_file if prom.ca_file else prom.tls_verify,
    )


def tls_warning(settings: Settings) -> str | None:
    """The one warning line when TLS verification is off for an https source."""
    prom = settings.prometheus
    urls = [prom.url or "", *(t.url for t in settings.scrape)]
    if prom.tls_verify or not any(u.lower().startswith("https:") for u in urls):
        return None
    return (
        "warning: TLS verification is off (prometheus.tls_verify: false): "
        "anyone on the path can answer"
    )


def size_text(n: int) -> str:
    """``67108864`` -> ``64 MiB``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


# ------------------------------------------------------------------- body reading


class _Decoder:
    """Streaming gzip/deflate decoder whose output never exceeds what is asked for."""

    def __init__(self, encoding: str) -> None:
        name = encoding.strip().lower()
        self._z: Any = None
        if name in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(wbits=31)
        elif name == "deflate":
            self._z = zlib.decompressobj(wbits=47)  # zlib or gzip header, auto
        elif name not in ("", "identity"):
            raise HttpError(f"answer uses Content-Encoding {name[:20]!r}, which was not asked for")

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``; raises when they would be more than ``room``."""
        if self._z is None:
            return data
        try:
            out: bytes = self._z.decompress(data, room + 1)
        except zlib.error as exc:
            raise HttpError(f"answer is not valid compressed data ({exc})") from None
        if len(out) > room or self._z.unconsumed_tail:
            raise _TooBig()
        return out


class _TooBig(Exception):
    pass


def read_body(
    chunks: Iterator[bytes],
    encoding: str,
    policy: HttpPolicy,
    deadline: float,
    cancel: threading.Event,
) -> bytes:
    """Read ``chunks`` into memory within the policy's limits and the deadline."""
    decoder = _Decoder(encoding)
    wire = 0
    out = bytearray()
    for chunk in chunks:
        wire += len(chunk)
        if wire > policy.max_answer_bytes:
            raise HttpError(
                f"answer larger than {size_text(policy.max_answer_bytes)} "
                "(limit http.max_answer_bytes); the read was stopped"
            )
        try:
            out += decoder.feed(chunk, policy.max_decoded_bytes - len(out))
        except _TooBig:
            raise HttpError(
                f"answer decompresses to more than {size_text(policy.max_decoded_bytes)} "
                "(limit http.max_decoded_bytes); the read was stopped"
            ) from None
        if len(out) > policy.max_decoded_bytes:
            raise HttpError(
                f"answer larger than {size_text(policy.max_decoded_bytes)} "
                "(limit http.max_decoded_bytes); the read was stopped"
            )
        if cancel.is_set() or time.monotonic() > deadline:
            raise _Late()
    return bytes(out)


class _Late(Exception):
    pass


def _server_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


# ------------------------------------------------------------------- the deadline


def _timeout_line(timeout: float) -> str:
    return f"timed out after {timeout:g} s (the whole answer must arrive within the timeout)"


_T = TypeVar("_T")


def with_deadline(
    work: Callable[[float, threading.Event], _T],
    timeout: float,
    closed: threading.Event | None = None,
) -> _T:
    """Run ``work(deadline, cancel)`` in a daemon thread; its answer within
    ``timeout + SLACK_SECONDS`` or ``HttpError``. ``closed`` set = give up at once."""
    deadline = time.monotonic() + timeout
    box: list[_T | BaseException] = []
    done = threading.Event()
    cancel = threading.Event()

    def run() -> None:
        try:
            box.append(work(deadline, cancel))
        except BaseException as exc:  # handed to the caller below
            box.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="streamdash-http", daemon=True).start()
    while not done.wait(0.05):
        if closed is not None and closed.is_set():
            cancel.set()
            raise HttpError("cancelled: streamdash is closing")
        if time.monotonic() > deadline + SLACK_SECONDS:
            cancel.set()
            raise HttpError(_timeout_line(timeout))
    result = box[0]
    if isinstance(result, _Late):
        raise HttpError(_timeout_line(timeout))
    if isinstance(result, HttpError):
        raise result
    if isinstance(result, BaseException):
        raise HttpError(describe_exception(result, timeout))
    return result


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    cur: BaseException = exc
    while id(cur) not in seen:
        seen.add(id(cur))
        nxt = cur.__cause__ or cur.__context__
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            nxt = reason
        args = getattr(cur, "args", ())
        if nxt is None and args and isinstance(args[0], BaseException):
            nxt = args[0]
        if nxt is None:
            break
        cur = nxt
    return cur


def _tls_reason(root: BaseException) -> str:
    if isinstance(root, ssl.SSLCertVerificationError):
        detail = root.verify_message or root.reason or "verification failed"
        return f"TLS certificate verify failed: {detail}"
    reason = getattr(root, "reason", None)
    text = str(reason or root)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        tail = text.split("certificate verify failed", 1)[-1].strip(" :()")
        tail = tail.split("(_ssl.c", 1)[0].strip(" :()")
        return f"TLS certificate verify failed: {tail or 'no reason given'}"
    return f"TLS error: {' '.join(text.split())[:160]}"


def describe_exception(exc: BaseException, timeout: float) -> str:
    """One line (no URL) for a failed request."""
    if isinstance(exc, requests.Timeout | httpx.TimeoutException):
        return _timeout_line(timeout)
    cut_short = (
        requests.exceptions.ChunkedEncodingError,
        httpx.RemoteProtocolError,
        urllib3.exceptions.ProtocolError,
    )
    if isinstance(exc, cut_short):
        return "answer cut short: the connection closed before the whole body arrived"
    root = _root_cause(exc)
    text = str(root)
    if isinstance(root, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return _tls_reason(root if isinstance(root, ssl.SSLError) else exc)
    if isinstance(root, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if isinstance(root, socket.gaierror) or "Name or service not known" in text:
        return "cannot resolve host"
    if isinstance(root, TimeoutError | socket.timeout):
        return _timeout_line(timeout)
    if isinstance(root, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, requests.ConnectionError | httpx.TransportError):
        return f"connection failed ({type(root).__name__})"
    return f"request failed ({type(exc).__name__})"


# ------------------------------------------------------------------- redirects


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port or default


def _redirect_target(answer: Answer, url: str, policy: HttpPolicy, hops: int) -> str | None:
    """Where to go next (same origin, allowed), None when ``answer`` is no redirect;
    raises ``HttpError`` for a redirect that is not followed."""
    if answer.status not in REDIRECT_CODES:
        return None
    location = answer.headers.get("location", "")
    target = urljoin(url, location) if location else ""
    shown = redact_url(target)[:200] if target else "nowhere (no Location header)"
    why = "streamdash follows no redirects"
    if target and policy.redirects == "same-origin":
        if _origin(target) != _origin(url):
            why = "streamdash follows redirects only within the same origin"
        elif hops >= MAX_REDIRECTS:
            why = f"more than {MAX_REDIRECTS} redirects"
        else:
            return target
    hint = ""
    if policy.redirects == "none":
        hint = " (http.redirects: same-origin allows same-origin ones)"
    raise HttpError(f"HTTP {answer.status} redirect to {shown}; {why}{hint}")


# ------------------------------------------------------------------- the clients


def _following(once: Callable[[str], Answer], url: str, policy: HttpPolicy) -> Answer:
    """``once(url)``, then each redirect the policy allows (``_redirect_target``)."""
    target, hops = url, 0
    while True:
        answer = once(target)
        nxt = _redirect_target(answer, target, policy, hops)
        if nxt is None:
            return answer
        target, hops = nxt, hops + 1


def _answer(
    status: int, reason: str, headers: Mapping[str, str], body: bytes, start: float, arrived: float
) -> Answer:
    """An ``Answer`` from a response's parts (``headers`` already lower-cased)."""
    return Answer(
        status=status,
        reason=reason,
        headers=dict(headers),
        body=body,
        server_date=_server_date(headers.get("date")),
        local_mid=(start + arrived) / 2,
    )


class NoRedirectSession(requests.Session):
    """A session that never follows a redirect, whoever calls it (prometheus-api-client's
    lookups included): a 3xx comes back as the answer, so a tenant header or credentials
    never travel to where the redirect points."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


class RequestsTransport:
    """Requests through a ``requests.Session`` (prometheus-api-client's)."""

    def __init__(
        self,
        session: requests.Session,
        policy: HttpPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._clock = clock
        self.policy = policy
        self._closed = threading.Event()

    def request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Answer:
        """One request within the policy; raises ``HttpError``."""
        policy = self.policy
        sent = {**(headers or {}), "Accept-Encoding": ACCEPT_ENCODING}

        def work(deadline: float, cancel: threading.Event) -> Answer:
            return _following(
                lambda target: self._once(method, target, data, sent, auth, deadline, cancel),
                url,
                policy,
            )

        return with_deadline(work, policy.timeout_seconds, self._closed)

    def _once(
        self,
        method: str,
        url: str,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str],
        auth: tuple[str, str] | None,
        deadline: float,
        cancel: threading.Event,
    ) -> Answer:
        start = self._clock()
        left = max(0.05, deadline - time.monotonic())
        response = self._session.request(
            method=method,
            url=url,
            data=dict(data) if data is not None else None,
            headers=dict(headers),
            auth=auth,
            timeout=(left, left),
            stream=True,
            allow_redirects=False,
            verify=self.policy.verify,
        )
        with response:
            arrived = self._clock()
            lowered = {k.lower(): v for k, v in response.headers.items()}
            body = b""
            if response.status_code not in REDIRECT_CODES:
                raw = response.raw
                chunks = iter(lambda: raw.read1(CHUNK_BYTES, decode_content=False), b"")
                body = read_body(
                    chunks, lowered.get("content-encoding", ""), self.policy, deadline, cancel
                )
            return _answer(
                response.status_code, response.reason or "", lowered, body, start, arrived
            )

    def close(self) -> None:
        """Requests waiting now give up at once ("cancelled")."""
        self._closed.set()


class HttpxTransport:
    """GETs through an ``httpx.Client`` (direct scrape, load balancers)."""

    def __init__(self, policy: HttpPolicy, headers: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:  # fmt: skip
        self.policy = policy
        self._client = httpx.Client(
            timeout=policy.timeout_seconds,
            verify=_httpx_verify(policy.verify),
            headers={**(headers or {}), "Accept-Encoding": ACCEPT_ENCODING},
            follow_redirects=False,
            transport=transport,
        )
        self._closed = threading.Event()

    def get(self, url: str, *, auth: tuple[str, str] | None = None) -> Answer:
        """One GET within the policy; raises ``HttpError``."""
        policy = self.policy

        def work(deadline: float, cancel: threading.Event) -> Answer:
            return _following(
                lambda target: self._once(target, auth, deadline, cancel), url, policy
            )

        return with_deadline(work, policy.timeout_seconds, self._closed)

    def _once(
        self, url: str, auth: tuple[str, str] | None, deadline: float, cancel: threading.Event
    ) -> Answer:
        start = time.time()
        left = max(0.05, deadline - time.monotonic())
        with self._client.stream("GET", url, auth=auth, timeout=left) as response:
            arrived = time.time()
            lowered = {k.lower(): v for k, v in response.headers.items()}
            body = b""
            if response.status_code not in REDIRECT_CODES:
                body = read_body(
                    response.iter_raw(),
                    lowered.get("content-encoding", ""),
                    self.policy,
                    deadline,
                    cancel,
                )
            return _answer(
                response.status_code, response.reason_phrase or "", lowered, body, start, arrived
            )

    def close(self) -> None:
        """Waiting requests give up at once; the connection pool is closed."""
        self._closed.set()
        self._client.close()


def _httpx_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's ``verify``: a context from the CA file (never the environment's bundle)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def check_ca_file(path: str) -> str | None:
    """None when ``path`` is a usable CA bundle; else why not (one line)."""
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        return f"not a usable CA bundle ({' '.join(str(reason).split())[:120]})"
    return None
