"""Keep secrets out of everything shown: URLs lose their userinfo and secret-looking
query parameters; known secret values are replaced in free text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_PARAMS = re.compile(r"(token|secret|password|passwd|key|auth|signature)", re.I)
REDACTED = "***"


def redact_url(url: str) -> str:
    """``url`` without user:password and with secret-looking query values masked.

    Never raises: text that does not parse as a URL is returned with anything before
    an ``@`` in its authority removed.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if _SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*"
        )
    netloc = host if parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret value (of 4+ characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text
