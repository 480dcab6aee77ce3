"""Telling an instant query's answer from the last one's without decoding it.

Prometheus stamps every sample of an instant query with the evaluation time, so two
answers over the same data differ only there. Recorded series (``streamdash rules``)
change once per rule evaluation (30 s by default) and kube-state-metrics gauges once per
scrape: most refreshes read exactly what the last one read. ``digest`` removes the
evaluation time and hashes the rest, so the source can keep the last refresh's parsed
answers instead of decoding and assembling the same rows again.

The contract is byte equality after removing one token: ``"value":[<time>,"`` becomes
``"value":[,"`` wherever it occurs, where ``<time>`` is the first sample's timestamp as
Prometheus wrote it. In an answer, ``"value":[`` can only be a sample's key: label
values are strings, and a ``"`` inside a string is escaped. An answer that does not look
as expected yields None (never equal to anything): a mistake here costs a decode, never
a wrong number.
"""

from __future__ import annotations

import hashlib

_VALUE = b'"value":['
MAX_SKEW_S = 5.0
"""How far the sample timestamp may be from the time asked (ms rounding, server clocks)."""


def digest(body: bytes, at: float) -> bytes | None:
    """A 16-byte digest of ``body`` without its evaluation timestamp; None when ``body``
    has samples whose timestamp is not a number within ``MAX_SKEW_S`` of ``at``."""
    start = body.find(_VALUE)
    if start >= 0:
        start += len(_VALUE)
        end = body.find(b",", start)
        token = body[start:end] if end > start else b""
        try:
            stamp = float(token)
        except ValueError:
            return None
        if abs(stamp - at) > MAX_SKEW_S:
            return None
        body = body.replace(_VALUE + token + b',"', _VALUE + b',"')
    return hashlib.blake2b(body, digest_size=16).digest()
