"""Keep secrets out of everything shown: URLs lose their userinfo and secret-looking
query parameters; known secret values are replaced in free text.

Order matters: mask first, then cut (``one_line``), so a cut never leaves the head of
a secret behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_SECRET_PARAMS = re.compile(r"(token|secret|password|passwd|key|auth|signature)", re.I)
REDACTED = "***"
_PREFIX = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:?//|//)?")
"""A scheme with its slashes, also mistyped (``http//``), kept when a URL is shown."""
_URLISH = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:?//|//)?[^\s/?#@'\"]*@[^\s'\"]*")
"""Anything in free text with an ``@`` in its authority: URL-like, maybe with userinfo."""


def _strip_userinfo(text: str) -> str:
    """Everything up to the last ``@`` of the authority removed (any URL shape)."""
    prefix = _PREFIX.match(text)
    head = prefix.group(0) if prefix else ""
    rest = text[len(head) :]
    cut = len(rest)
    for sep in "?#":
        at = rest.find(sep)
        if at != -1:
            cut = min(cut, at)
    authority_and_path, tail = rest[:cut], rest[cut:]
    if "@" in authority_and_path:
        authority_and_path = authority_and_path.rpartition("@")[2]
    return head + authority_and_path + _mask_query(tail)


def _mask_query(tail: str) -> str:
    if not tail.startswith("?"):
        return tail
    query, sep, fragment = tail[1:].partition("#")
    try:
        pairs = parse_qsl(query, keep_blank_values=True)
    except ValueError:
        return "?" + REDACTED
    masked = urlencode(
        [(k, REDACTED if _SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*"
    )
    return "?" + masked + sep + fragment


def redact_url(url: str) -> str:
    """``url`` without user:password and with secret-looking query values masked.

    Never raises, for any text: a proper ``http(s)://`` URL is rebuilt from its parts;
    anything else (no scheme, ``http//``, ``user:pw@host:9090``) loses everything before
    the last ``@`` of what looks like its authority.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return _strip_userinfo(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.path:
        return _strip_userinfo(url)
    return urlunsplit(
        (parts.scheme, host, parts.path, _mask_query("?" + parts.query)[1:], parts.fragment)
    )


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """(url without userinfo, user, password), user and password percent-decoded."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user), unquote(password) if colon else None


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret value (of 4+ characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def scrub_urls(text: str) -> str:
    """Free ``text`` with the userinfo of anything URL-like removed."""
    return _URLISH.sub(lambda m: _strip_userinfo(m.group(0)), text)


def one_line(text: str, limit: int, secrets: Iterable[str | None] = ()) -> str:
    """``text`` masked (known secrets, URL userinfo), on one line, then cut to ``limit``."""
    flat = " ".join(scrub_urls(scrub(text, secrets)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
