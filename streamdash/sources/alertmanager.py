"""Alertmanager: the alerts firing for the namespace, to show beside the findings.

One GET of ``/api/v2/alerts`` (active, not silenced, not inhibited; filtered by
``namespace`` when one is set). Never raises: a failure is one ``SourceError`` line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from streamdash.core.raw import AlertRaw, SourceError
from streamdash.redact import redact_url
from streamdash.sources import promql

SOURCE = "alertmanager"
PART = "alerts"
MAX_BODY_BYTES = 4_000_000
MAX_ALERTS = 200


def alerts_params(namespace: str | None) -> list[tuple[str, str | int | float | bool | None]]:
    """Query parameters of the alerts request."""
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("active", "true"),
        ("silenced", "false"),
        ("inhibited", "false"),
    ]
    if namespace:
        params.append(("filter", f"namespace={promql.quote(namespace)}"))
    return params


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_alerts(body: Any) -> list[AlertRaw]:
    """The API's JSON list -> alerts (malformed entries skipped), worst severity first."""
    if not isinstance(body, list):
        raise ValueError("not a JSON list of alerts")
    out = []
    for item in body[:MAX_ALERTS]:
        if not isinstance(item, dict):
            continue
        labels = item.get("labels")
        if not isinstance(labels, dict):
            continue
        clean: Mapping[str, str] = {str(k): str(v) for k, v in labels.items()}
        annotations = item.get("annotations") if isinstance(item.get("annotations"), dict) else {}
        assert isinstance(annotations, dict)
        out.append(
            AlertRaw(
                name=clean.get("alertname", "?"),
                severity=clean.get("severity"),
                summary=_text(annotations.get("summary")) or _text(annotations.get("description")),
                starts_at=_text(item.get("startsAt")),
                labels=clean,
            )
        )
    rank = {"critical": 0, "page": 0, "warning": 1, "ticket": 1, "info": 2}
    return sorted(out, key=lambda a: (rank.get(a.severity or "", 3), a.name, a.starts_at or ""))


def fetch_alerts(
    url: str, namespace: str | None, timeout: float, client: httpx.Client | None = None
) -> tuple[tuple[AlertRaw, ...], SourceError | None]:
    """Firing alerts for ``namespace``; on failure () and one error line (no secrets)."""
    where = redact_url(url).rstrip("/")
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        with http.stream(
            "GET",
            f"{url.rstrip('/')}/api/v2/alerts",
            params=tuple(alerts_params(namespace)),
        ) as response:
            if response.status_code != 200:
                return (), SourceError(SOURCE, f"{where}: HTTP {response.status_code}", PART)
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_BODY_BYTES:
                    return (), SourceError(SOURCE, f"{where}: answer larger than 4 MB", PART)
        return tuple(parse_alerts(json.loads(data))), None
    except httpx.TimeoutException:
        return (), SourceError(SOURCE, f"{where}: no answer within {timeout:g} s", PART)
    except httpx.HTTPError as exc:
        return (), SourceError(SOURCE, f"{where}: {type(exc).__name__}", PART)
    except ValueError as exc:
        return (), SourceError(SOURCE, f"{where}: malformed answer ({exc})"[:300], PART)
    finally:
        if own:
            http.close()
