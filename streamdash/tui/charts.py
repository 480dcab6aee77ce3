"""Drawing ``HistoryRaw`` series into a textual-plotext ``PlotextPlot``. No I/O.

Charts follow the app's theme: the canvas is the panel's ``surface``, the axes and
ticks its ``foreground``, and the series' named colours map to the theme's (``cyan``
-> primary, ``orange`` -> warning, ``red`` -> error). The time axis counts back from
the newest point in whole seconds (spans up to ``SECONDS_AXIS_MAX``) or whole
minutes, never fractions: ``-60s … 0`` or ``-5m … 0``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from typing import cast

from plotext._dict import themes as plotext_themes
from textual.color import Color, ColorParseError
from textual_plotext import PlotextPlot
from textual_plotext.plot import PlotextThemeName

from streamdash.core.raw import HistoryRaw, SeriesPoint
from streamdash.core.snapshot import Snapshot

ChartLine = tuple[str, str, str]
"""(series name, legend label, plotext colour)."""

Rgb = tuple[int, int, int]

SECONDS_AXIS_MAX = 180.0
"""Spans up to this many seconds are labelled in seconds, longer ones in minutes."""
_SECOND_STEPS = (5, 10, 15, 20, 30, 60)
_MINUTE_STEPS = (1, 2, 5, 10, 15, 20, 30, 60)
TICK_WIDTH = 8
"""Columns one time label needs (``-15m`` plus room): the plot's width / this is the
most labels it gets."""
THEME_COLOURS: Mapping[str, str] = {"cyan": "primary", "orange": "warning", "red": "error"}
"""Named series colours the panels use -> the theme variable drawn instead."""


def points_seconds(points: Sequence[SeriesPoint], now: float) -> tuple[list[float], list[float]]:
    """Known points as (seconds relative to ``now`` (negative = past), values)."""
    xs: list[float] = []
    ys: list[float] = []
    for point in points:
        if point.v is None:
            continue
        xs.append(round(point.t - now, 3))
        ys.append(point.v)
    return xs, ys


def time_ticks(span_seconds: float, max_ticks: int) -> tuple[list[float], list[str]]:
    """Tick positions (seconds, <= 0) and labels for an axis reaching ``span_seconds``
    back: whole seconds up to ``SECONDS_AXIS_MAX``, else whole minutes; at most
    ``max_ticks`` (at least 2: the oldest whole step and ``0``)."""
    span = max(span_seconds, 0.0)
    max_ticks = max(2, max_ticks)
    steps: tuple[int, ...]
    if span <= SECONDS_AXIS_MAX:
        unit, suffix, steps = 1, "s", _SECOND_STEPS
    else:
        unit, suffix, steps = 60, "m", _MINUTE_STEPS
    step = steps[-1]
    for candidate in steps:
        if math.floor(span / (candidate * unit)) + 1 <= max_ticks:
            step = candidate
            break
    count = max(1, math.floor(span / (step * unit)))
    while count + 1 > max_ticks and count > 1:  # the largest step still too dense
        count -= 1
    positions = [-(k * step * unit) for k in range(count, -1, -1)]
    labels = [f"-{k * step}{suffix}" if k else "0" for k in range(count, -1, -1)]
    return [float(p) for p in positions], labels


def history_key(history: HistoryRaw | None, names: Sequence[str]) -> tuple[object, ...]:
    """A comparable key of the series a chart draws (to skip redraws of equal data)."""
    if history is None:
        return ()
    return tuple((name, history.series.get(name, ())) for name in names)


def _rgb(variables: Mapping[str, str], key: str, default: Rgb) -> Rgb:
    try:
        return Color.parse(variables[key]).rgb
    except (KeyError, ColorParseError):
        return default


def apply_theme(plot: PlotextPlot) -> tuple[str, Mapping[str, Rgb]]:
    """Give ``plot`` the app theme's canvas and tick colours (a plotext theme named
    after it, registered from the current theme variables); return that name and the
    series colours of ``THEME_COLOURS``."""
    app = plot.app
    variables = app.theme_variables
    canvas = _rgb(variables, "surface", (0, 0, 0))
    ink = _rgb(variables, "foreground", (255, 255, 255))
    colours = {name: _rgb(variables, key, ink) for name, key in THEME_COLOURS.items()}
    name = f"streamdash-chart-{app.theme}"
    plotext_themes[name] = [canvas, canvas, ink, "default", list(colours.values())]
    if plot.theme != name:
        plot.theme = cast("PlotextThemeName", name)  # registered just above
    return name, colours


NO_HISTORY = "no history from this source"
LOADING_HISTORY = "history loading…"
NO_POINTS = "no points in the history"


def empty_text(snapshot: Snapshot) -> str:
    """What an empty dashboard chart says: Prometheus's history not in yet (it follows
    the numbers), a history without points, or a source that keeps none."""
    if snapshot.history is not None:
        return NO_POINTS
    return LOADING_HISTORY if snapshot.source.kind == "prometheus" else NO_HISTORY


def draw_series(
    plot: PlotextPlot,
    history: HistoryRaw | None,
    now: float,
    lines: Sequence[ChartLine],
    *,
    title: str,
    ylabel: str,
    level: tuple[float, str, str] | None = None,
    empty: str = NO_HISTORY,
) -> bool:
    """Redraw ``plot``; return False (and say ``empty`` in the title) when no series has
    points.

    ``level`` is (y, legend label, colour): a horizontal line across the drawn range,
    e.g. a histogram's top finite bucket, so values pinned at it are visible. A call
    with the same series, options, theme and width as the plot's last one changes
    nothing.
    """
    theme, colours = apply_theme(plot)
    key: tuple[object, ...] = (
        history_key(history, [name for name, _l, _c in lines]),
        tuple(lines),
        title,
        ylabel,
        level,
        empty,
        theme,
        tuple(colours.values()),
        _max_ticks(plot),
    )
    drawn_before = _DRAWN.get(plot)
    if drawn_before is not None and drawn_before[0] == key:
        return drawn_before[1]  # same series, same chart: nothing to redraw or repaint
    drawn = _draw(
        plot, history, now, lines, colours, title=title, ylabel=ylabel, level=level, empty=empty
    )
    _DRAWN[plot] = (key, drawn)
    return drawn


_DRAWN: weakref.WeakKeyDictionary[PlotextPlot, tuple[tuple[object, ...], bool]] = (
    weakref.WeakKeyDictionary()
)
"""plot -> (what it was last drawn from, whether it had points): charts are redrawn only
when their series change (a quiet refresh repaints no chart)."""


def _max_ticks(plot: PlotextPlot) -> int:
    width = plot.size.width or 40  # not laid out yet: a middling chart
    return max(2, (width - 6) // TICK_WIDTH)


def _draw(
    plot: PlotextPlot,
    history: HistoryRaw | None,
    now: float,
    lines: Sequence[ChartLine],
    colours: Mapping[str, Rgb],
    *,
    title: str,
    ylabel: str,
    level: tuple[float, str, str] | None,
    empty: str,
) -> bool:
    plt = plot.plt
    plt.clear_figure()
    plt.title(title)
    drawn = False
    if history is not None:
        # The axis counts back from the newest point, not the refresh time, so an
        # unchanged history draws an unchanged chart (no repaint on a quiet refresh).
        newest = [p.t for series in history.series.values() for p in series if p.v is not None]
        now = max(newest, default=now)
    span: list[float] = []
    if history is not None:
        for name, label, colour in lines:
            xs, ys = points_seconds(history.series.get(name, ()), now)
            if xs:
                plt.plot(xs, ys, label=label, color=colours.get(colour, colour), marker="braille")
                span.extend((min(xs), max(xs)))
                drawn = True
    if drawn and level is not None:
        y, label, colour = level
        plt.plot(
            [min(span), max(span)],
            [y, y],
            label=label,
            color=colours.get(colour, colour),
            marker="-",
        )
    if drawn:
        positions, labels = time_ticks(-min(span), _max_ticks(plot))
        plt.xticks(positions, labels)
        plt.xlim(min(positions[0], min(span)), 0.0)  # a span shorter than a step: "-5s … 0"
    else:
        plt.title(f"{title}: {empty}")
    plt.ylabel(ylabel)
    plot.refresh()
    return drawn
