"""Drawing ``HistoryRaw`` series into a textual-plotext ``PlotextPlot``. No I/O."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from streamdash.core.raw import HistoryRaw, SeriesPoint

ChartLine = tuple[str, str, str]
"""(series name, legend label, plotext colour)."""


def points_minutes(points: Sequence[SeriesPoint], now: float) -> tuple[list[float], list[float]]:
    """Known points as (minutes relative to ``now`` (negative = past), values)."""
    xs: list[float] = []
    ys: list[float] = []
    for point in points:
        if point.v is None:
            continue
        xs.append(round((point.t - now) / 60.0, 3))
        ys.append(point.v)
    return xs, ys


def history_key(history: HistoryRaw | None, names: Sequence[str]) -> tuple[object, ...]:
    """A comparable key of the series a chart draws (to skip redraws of equal data)."""
    if history is None:
        return ()
    return tuple((name, history.series.get(name, ())) for name in names)


def draw_series(
    plot: PlotextPlot,
    history: HistoryRaw | None,
    now: float,
    lines: Sequence[ChartLine],
    *,
    title: str,
    ylabel: str,
    level: tuple[float, str, str] | None = None,
) -> bool:
    """Redraw ``plot``; return False (and say so in the title) when no series has points.

    ``level`` is (y, legend label, colour): a horizontal line across the drawn range,
    e.g. a histogram's top finite bucket, so values pinned at it are visible. A call
    with the same series and options as the plot's last one changes nothing.
    """
    key: tuple[object, ...] = (
        history_key(history, [name for name, _l, _c in lines]),
        tuple(lines),
        title,
        ylabel,
        level,
        now if history is None else None,
    )
    drawn_before = _DRAWN.get(plot)
    if drawn_before is not None and drawn_before[0] == key:
        return drawn_before[1]  # same series, same chart: nothing to redraw or repaint
    drawn = _draw(plot, history, now, lines, title=title, ylabel=ylabel, level=level)
    _DRAWN[plot] = (key, drawn)
    return drawn


_DRAWN: weakref.WeakKeyDictionary[PlotextPlot, tuple[tuple[object, ...], bool]] = (
    weakref.WeakKeyDictionary()
)
"""plot -> (what it was last drawn from, whether it had points): charts are redrawn only
when their series change (a quiet refresh repaints no chart)."""


def _draw(
    plot: PlotextPlot,
    history: HistoryRaw | None,
    now: float,
    lines: Sequence[ChartLine],
    *,
    title: str,
    ylabel: str,
    level: tuple[float, str, str] | None,
) -> bool:
    plt = plot.plt
    plt.clear_figure()
    plt.title(title)
    drawn = False
    if history is not None:
        # "minutes ago" counts from the newest point, not the refresh time, so an
        # unchanged history draws an unchanged chart (no repaint on a quiet refresh).
        newest = [p.t for series in history.series.values() for p in series if p.v is not None]
        now = max(newest, default=now)
    span: list[float] = []
    if history is not None:
        for name, label, colour in lines:
            xs, ys = points_minutes(history.series.get(name, ()), now)
            if xs:
                plt.plot(xs, ys, label=label, color=colour, marker="braille")
                span.extend((min(xs), max(xs)))
                drawn = True
    if drawn and level is not None:
        y, label, colour = level
        plt.plot([min(span), max(span)], [y, y], label=label, color=colour, marker="-")
    if not drawn:
        plt.title(f"{title}: no history from this source")
    plt.xlabel("minutes ago")
    plt.ylabel(ylabel)
    plot.refresh()
    return drawn
