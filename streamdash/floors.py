"""Floors on timing settings: what makes a refresh or a rate window meaningless.

``MIN_REFRESH_SECONDS`` is enforced when the configuration loads (one line, exit 2);
a window shorter than ``WINDOW_SCRAPES`` scrape intervals is allowed but gets a note,
since ``rate()`` over fewer samples is empty or noisy and every latency turns n/a.
"""

from __future__ import annotations

from streamdash.settings import Settings

MIN_REFRESH_SECONDS = 1.0
MIN_WINDOW_SECONDS = 1
WINDOW_SCRAPES = 4


def window_note(settings: Settings, window_seconds: int, direct_scrape: bool) -> str | None:
    """A note when ``window_seconds`` covers fewer than ``WINDOW_SCRAPES`` scrapes."""
    interval = settings.refresh_seconds if direct_scrape else settings.scrape_interval_seconds
    floor = WINDOW_SCRAPES * interval
    if window_seconds >= floor:
        return None
    what = "refresh interval (direct scrape)" if direct_scrape else "scrape interval"
    return (
        f"window {window_seconds:g} s is shorter than {WINDOW_SCRAPES}× the {what} "
        f"({interval:g} s): rates over it may be empty (n/a); use at least {floor:g} s"
    )
