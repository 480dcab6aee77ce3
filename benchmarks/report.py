"""Results of one benchmark run, and the markdown table with each goal's status."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.headless import ImportTime, SideBySide
from benchmarks.queries import QueryCost
from benchmarks.tui import FirstFrame, Steady

GOAL_RATIO = 0.4
"""Issue 13: snapshot wall / promtool one-by-one at 1,000 and 5,000 pods."""
GOAL_REQUESTS = 12
GOAL_FIRST_FRAME_S = 0.6
GOAL_CPU_PER_REFRESH_MS = 30.0
GOAL_IDLE_SHARE = 0.01
GOAL_BYTES_PER_REFRESH = 5_000
GOAL_ANSWER_BYTES = {1000: 500_000, 5000: 2_000_000}
"""Answer bytes of one refresh's instant queries, by fleet size."""
GOAL_HISTORY_S = 1.0
"""The history range query at 5,000 pods."""
GOAL_PROMETHEUS_CPU_S = 0.1
"""Prometheus's own CPU per refresh, with recording rules."""
GOAL_REFRESH_S = 5.0
"""The largest fleet whose refresh fits in a 5 s interval (goal: 20,000 pods)."""
RSS_GROWTH_TOLERANCE = 2 * 2**20
"""The last third's peak RSS may exceed the first third's by this much and count as flat."""


@dataclass
class Results:
    machine: dict[str, str]
    runs: int
    started: float
    tui_pods: int = 1000
    finished: float | None = None
    fleets: dict[int, dict[str, Any]] = field(default_factory=dict)
    side_by_side: dict[int, SideBySide] = field(default_factory=dict)
    query_costs: dict[int, list[QueryCost]] = field(default_factory=dict)
    history_parts: dict[int, list[QueryCost]] = field(default_factory=dict)
    rules: dict[int, dict[str, Any]] = field(default_factory=dict)
    """``benchmarks.rules.measure`` per fleet: live vs recorded."""
    imports: ImportTime | None = None
    first_frame: FirstFrame | None = None
    still: Steady | None = None
    busy: Steady | None = None
    busy_gc_default: Steady | None = None
    """``busy`` again under CPython's default collector settings (``STREAMDASH_GC=default``)."""
    idle: Steady | None = None
    floor: dict[str, float] | None = None
    """``benchmarks.floor``: a trivial Textual app's idle CPU and first frame."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["side_by_side"] = {
            pods: {
                **asdict(s),
                "snapshot_median_s": s.snapshot_median,
                "reference_median_s": s.reference_median,
                "ratio": s.ratio,
            }
            for pods, s in self.side_by_side.items()
        }
        for name in ("still", "busy", "busy_gc_default", "idle"):
            run: Steady | None = getattr(self, name)
            if run is not None:
                out[name].update(
                    cpu_per_refresh_ms=run.cpu_per_refresh_ms,
                    cpu_share=run.cpu_share,
                    bytes_per_refresh=run.bytes_per_refresh,
                    rss_growth=run.rss_growth,
                )
        return out


def rss_envelope(run: Steady, window_s: float = 10.0) -> list[float]:
    """Peak RSS of each ``window_s`` slice: the sawtooth of a refresh removed (bytes)."""
    peaks: dict[int, float] = {}
    for t, b in run.rss:
        k = int(t // window_s)
        peaks[k] = max(peaks.get(k, 0.0), float(b))
    return [peaks[k] for k in sorted(peaks)]


def rss_thirds(run: Steady) -> tuple[float, float]:
    """Median peak RSS of the first and last third of the run (bytes)."""
    env = rss_envelope(run)
    third = max(len(env) // 3, 1)
    return statistics.median(env[:third]), statistics.median(env[-third:])


def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


Row = Callable[[str, list[str], str, "bool | None"], None]


def _all_or_none(oks: list[bool]) -> bool | None:
    return all(oks) if oks else None


def _rules_rows(r: Results, pods: list[int], row: Row) -> None:
    """Live vs recorded (``benchmarks.rules``) per fleet; '-' where not measured."""
    if not r.rules:
        return

    def each(fmt: Callable[[dict[str, Any]], str]) -> list[str]:
        return [fmt(r.rules[p]) if p in r.rules else "-" for p in pods]

    def both(key: str, form: str) -> Callable[[dict[str, Any]], str]:
        def f(m: dict[str, Any]) -> str:
            live, rec = m["live"].get(key), m["recorded"].get(key)
            return " / ".join(form.format(v) if v is not None else "n/a" for v in (live, rec))

        return f

    row(
        "recorded parts read (of recordable)",
        each(lambda m: f"{len(m['recorded_parts'])}/{len(m['recordable_parts'])}"),
        "all",
        all(len(m["recorded_parts"]) == len(m["recordable_parts"]) for m in r.rules.values()),
    )
    row(
        "samples read per refresh, live / recorded", each(both("refresh_samples", "{:,}")), "", None
    )
    row(
        "answer bytes of one refresh, live / recorded",
        each(
            lambda m: (
                f"{m['live']['refresh_bytes'] / 1e6:.2f} / "
                f"{m['recorded']['refresh_bytes'] / 1e6:.2f} MB"
            )
        ),
        "<= 0.5 / 2 MB at 1,000 / 5,000",
        _all_or_none(
            [
                m["recorded"]["refresh_bytes"] <= GOAL_ANSWER_BYTES[p]
                for p, m in r.rules.items()
                if p in GOAL_ANSWER_BYTES
            ]
        ),
    )
    row(
        "refresh wall (instant queries at once), live / recorded",
        each(both("wall_s", "{:.2f} s")),
        f"<= {GOAL_REFRESH_S:g} s at 20,000",
        None,
    )
    cpu_ok = [m["recorded"]["prometheus_cpu_s"] <= GOAL_PROMETHEUS_CPU_S for m in r.rules.values()]
    row(
        "Prometheus CPU per refresh (its `process_cpu_seconds_total`), live / recorded",
        each(both("prometheus_cpu_s", "{:.2f} s")),
        f"<= {GOAL_PROMETHEUS_CPU_S:g} s recorded",
        all(cpu_ok),
    )
    row(
        "history range query: Prometheus time, live / recorded",
        each(both("history_server_s", "{:.2f} s")),
        f"<= {GOAL_HISTORY_S:g} s at 5,000",
        (r.rules[5000]["recorded"]["history_server_s"] <= GOAL_HISTORY_S)
        if 5000 in r.rules and r.rules[5000]["recorded"]["history_server_s"] is not None
        else None,
    )
    row(
        "history range query: samples read, live / recorded",
        each(both("history_samples", "{:,}")),
        "",
        None,
    )
    row(
        "rule group: one evaluation (Prometheus's `last_duration_seconds`; CPU per 30 s)",
        each(
            lambda m: (
                f"{m['rule_group'].get('last_duration_s', 'n/a')} s; "
                f"{m['rule_group'].get('prometheus_cpu_s_per_interval', 'n/a')} s"
            )
        ),
        "",
        None,
    )
    sbs = each(
        lambda m: (
            f"{m['side_by_side']['snapshot_median_s']:.2f} s / {m['side_by_side']['ratio']:.2f}"
            if m.get("side_by_side")
            else "-"
        )
    )
    row(
        "with rules: `streamdash snapshot` wall / ratio to the reference",
        sbs,
        f"<= {GOAL_RATIO}",
        None,
    )
    tuis = {p: m["tui"] for p, m in r.rules.items() if m.get("tui")}
    if tuis:

        def tui_cell(f: Callable[[dict[str, Any]], str]) -> list[str]:
            return [f(tuis[p]) if p in tuis else "-" for p in pods]

        row(
            "with rules: TUI launch -> first frame / latency numbers (median)",
            tui_cell(
                lambda t: (
                    f"{statistics.median(t['first_frame_s']):.2f} s / "
                    + (f"{statistics.median(t['latency_s']):.2f} s" if t["latency_s"] else "n/a")
                )
            ),
            f"<= {GOAL_FIRST_FRAME_S} s",
            all(statistics.median(t["first_frame_s"]) <= GOAL_FIRST_FRAME_S for t in tuis.values()),
        )
        row(
            "with rules: TUI CPU per refresh (`--refresh 1s`)",
            tui_cell(lambda t: f"{t['cpu_per_refresh_ms']:.0f} ms"),
            f"<= {GOAL_CPU_PER_REFRESH_MS:g} ms",
            all((t["cpu_per_refresh_ms"] or 1e9) <= GOAL_CPU_PER_REFRESH_MS for t in tuis.values()),
        )
        row(
            "with rules: TUI idle CPU (`--refresh 5s`) / terminal bytes per refresh",
            tui_cell(
                lambda t: (
                    f"{100 * t['idle_share']:.1f} % / "
                    + (
                        f"{t['bytes_per_refresh'] / 1000:.1f} KB"
                        if t["bytes_per_refresh"] is not None
                        else "n/a"
                    )
                )
            ),
            f"<= {100 * GOAL_IDLE_SHARE:g} % / {GOAL_BYTES_PER_REFRESH / 1000:g} KB",
            all(t["idle_share"] <= GOAL_IDLE_SHARE for t in tuis.values()),
        )
    fits = [p for p, m in r.rules.items() if m["recorded"]["wall_s"] <= GOAL_REFRESH_S]
    row(
        "largest fleet refreshing inside 5 s (recorded)",
        [f"{max(fits):,}" if fits else "none"] + [""] * (len(pods) - 1),
        "20,000",
        (max(fits) >= 20000) if fits else False,
    )


def render(r: Results) -> tuple[str, list[str]]:
    """The markdown report and the names of the goals missed."""
    pods = sorted(r.side_by_side)
    missed: list[str] = []
    rows: list[tuple[str, list[str], str, bool | None]] = []

    def row(name: str, per_fleet: list[str], goal: str, ok: bool | None) -> None:
        rows.append((name, per_fleet, goal, ok))
        if ok is False:
            missed.append(name)

    sbs = [r.side_by_side[p] for p in pods]
    row("`streamdash snapshot` wall, median", [f"{s.snapshot_median:.2f} s" for s in sbs], "", None)
    row(
        "reference: promtool, one query at a time, median",
        [f"{s.reference_median:.2f} s ({s.reference_requests} queries)" for s in sbs],
        "",
        None,
    )
    row(
        "ratio snapshot / reference",
        [f"{s.ratio:.2f}" for s in sbs],
        f"<= {GOAL_RATIO}",
        all(s.ratio <= GOAL_RATIO for s in sbs),
    )
    per_fleet_requests = [statistics.median(s.snapshot_requests) for s in sbs]
    constant = len(
        {max(s.snapshot_requests) for s in sbs} | {min(s.snapshot_requests) for s in sbs}
    )
    row(
        "Prometheus requests per snapshot (its own counter)",
        [f"{v:g}" for v in per_fleet_requests],
        f"<= {GOAL_REQUESTS}, equal across fleets",
        all(v <= GOAL_REQUESTS for v in per_fleet_requests) and constant == 1,
    )
    row(
        "pods per snapshot / error lines in all runs",
        [f"{min(s.snapshot_pods)}-{max(s.snapshot_pods)} / {len(s.snapshot_errors)}" for s in sbs],
        "",
        None,
    )
    row(
        "reference questions answered (rows > 0)",
        [f"{sum(1 for v in s.reference_rows.values() if v)}/{len(s.reference_rows)}" for s in sbs],
        "",
        None,
    )

    def instant(p: int) -> list[QueryCost]:
        return [c for c in r.query_costs.get(p, []) if c.name != "history"]

    if all(p in r.query_costs for p in pods):
        row(
            "samples read per refresh, live (Prometheus's `totalQueryableSamples`)",
            [f"{sum(c.samples or 0 for c in instant(p)):,}" for p in pods],
            "",
            None,
        )
        answer = [sum(c.bytes for c in instant(p)) for p in pods]
        goals = [
            (p, a, GOAL_ANSWER_BYTES[p])
            for p, a in zip(pods, answer, strict=True)
            if p in GOAL_ANSWER_BYTES
        ]
        wire = [sum(c.wire_bytes or 0 for c in instant(p)) for p in pods]
        row(
            "answer bytes of one refresh, live: JSON / on the wire (gzip, as streamdash asks)",
            [f"{a / 1e6:.2f} / {w / 1e6:.3f} MB" for a, w in zip(answer, wire, strict=True)],
            "<= 0.5 / 2 MB at 1,000 / 5,000",
            all(a <= g for _, a, g in goals) if goals else None,
        )
    _rules_rows(r, pods, row)

    single: list[tuple[str, str, str, bool | None]] = []

    def one(name: str, value: str, goal: str, ok: bool | None) -> None:
        single.append((name, value, goal, ok))
        if ok is False:
            missed.append(name)

    if r.imports is not None:
        imp = r.imports
        one(
            "headless imports (`-X importtime`, after interpreter start)",
            f"{imp.streamdash_ms:.0f} ms; textual imported: "
            + ("yes" if imp.textual_imported else "no"),
            "textual never imported",
            not imp.textual_imported,
        )
        one(
            "`python -c 'import streamdash.cli'` wall, median",
            f"{imp.import_cli_wall_s * 1000:.0f} ms "
            f"(bare python {imp.bare_python_wall_s * 1000:.0f} ms; "
            f"`import streamdash.tui.app` {imp.import_tui_wall_s * 1000:.0f} ms)",
            "",
            None,
        )
    if r.first_frame is not None:
        ff = r.first_frame
        one(
            "TUI: Prometheus requests per refresh (incl. history)",
            f"{ff.queries_per_refresh:g} ({ff.instant_per_refresh:g} instant + history)",
            f"<= {GOAL_REQUESTS}",
            ff.queries_per_refresh <= GOAL_REQUESTS,
        )
        one(
            "TUI: launch to first frame with data (pods), median",
            f"{ff.median:.2f} s (runs: {', '.join(f'{s:.2f}' for s in ff.seconds)})",
            f"<= {GOAL_FIRST_FRAME_S:g} s",
            ff.median <= GOAL_FIRST_FRAME_S,
        )
        if r.floor is not None:
            one(
                "floor: a trivial Textual app, launch to its first frame",
                f"{r.floor['first_frame_s']:.2f} s",
                "",
                None,
            )
        ls = ff.latency_seconds
        one(
            "TUI: launch to the latency numbers, median",
            (
                f"{statistics.median(ls):.2f} s (runs: {', '.join(f'{s:.2f}' for s in ls)})"
                if ls
                else "never"
            ),
            "",
            None,
        )
        hs = ff.history_seconds
        one(
            "TUI: launch to the history range query answered (charts), median",
            f"{statistics.median(hs):.2f} s ({len(hs)}/{len(ff.seconds)} runs)" if hs else "never",
            "",
            None,
        )
    if r.still is not None:
        st = r.still
        kbps = (st.terminal_bytes or 0) / st.seconds / 1000
        one(
            "TUI: no refresh at all (--refresh 1h): CPU and terminal output",
            f"{st.cpu_share:.1%} of a core; {kbps:.1f} KB/s "
            f"({st.refreshes:g} refreshes in {st.seconds:.0f} s)",
            "",
            None,
        )
    if r.busy is not None:
        b = r.busy
        per = b.cpu_per_refresh_ms
        if r.still is not None and b.refreshes:
            net = 1000 * (b.cpu_s - r.still.cpu_share * b.seconds) / b.refreshes
            one(
                "TUI: CPU per refresh net of the no-refresh baseline",
                f"{net:.0f} ms",
                f"<= {GOAL_CPU_PER_REFRESH_MS:g} ms",
                None,
            )
        one(
            "TUI: CPU per refresh (--refresh 1s)",
            (f"{per:.0f} ms" if per is not None else "no refresh seen")
            + f" ({b.refreshes:.0f} refreshes and {b.history_queries:g} history queries "
            f"in {b.seconds:.0f} s, {b.cpu_share:.0%} of a core)",
            f"<= {GOAL_CPU_PER_REFRESH_MS:g} ms",
            per is not None and per <= GOAL_CPU_PER_REFRESH_MS,
        )
        g = r.busy_gc_default
        if g is not None and (gper := g.cpu_per_refresh_ms) is not None and per:
            one(
                "TUI: CPU per refresh under CPython's default GC (`STREAMDASH_GC=default`)",
                f"{gper:.0f} ms ({g.refreshes:.0f} refreshes in {g.seconds:.0f} s): "
                f"the tuned collector is {gper / per:.2f}x cheaper",
                "",
                None,
            )
        first, last = rss_thirds(b)
        one(
            "TUI: peak resident memory, first vs last third of the run (--refresh 1s)",
            f"{_mb(first)} -> {_mb(last)} over {b.refreshes:.0f} refreshes "
            f"(samples: first {_mb(b.rss[0][1])}, last {_mb(b.rss[-1][1])})",
            "no growth",
            last - first <= RSS_GROWTH_TOLERANCE,
        )
    if r.idle is not None:
        i = r.idle
        if r.floor is not None:
            one(
                "floor: a trivial Textual app updated every 5 s, CPU",
                f"{r.floor['cpu_share']:.2%} of a core",
                "",
                None,
            )
        one(
            "TUI: idle CPU (--refresh 5s)",
            f"{i.cpu_share:.1%} of a core ({i.cpu_s:.2f} s CPU in {i.seconds:.0f} s, "
            f"{i.refreshes:.0f} refreshes, {i.history_queries:g} history queries)",
            f"<= {GOAL_IDLE_SHARE:.0%}",
            i.cpu_share <= GOAL_IDLE_SHARE,
        )
        bpr = i.bytes_per_refresh
        if r.still is not None and r.still.terminal_bytes is not None and i.refreshes:
            still_rate = r.still.terminal_bytes / r.still.seconds
            net_bytes = ((i.terminal_bytes or 0) - still_rate * i.seconds) / i.refreshes
            one(
                "TUI: bytes per refresh net of the no-refresh baseline",
                f"{net_bytes / 1000:.1f} KB",
                f"<= {GOAL_BYTES_PER_REFRESH / 1000:g} KB",
                None,
            )
        one(
            "TUI: bytes to the terminal per quiet refresh (160x50)",
            f"{bpr / 1000:.1f} KB ({i.terminal_bytes} bytes in {i.seconds:.0f} s)"
            if bpr is not None
            else "no refresh seen",
            f"<= {GOAL_BYTES_PER_REFRESH / 1000:g} KB",
            bpr is not None and bpr <= GOAL_BYTES_PER_REFRESH,
        )

    m = r.machine
    lines = [
        f"Machine: {m['cpu']}, nproc {m['nproc']}, memory {m['memory']}, Python {m['python']}, "
        f"load average at start {m['load_at_start']}. "
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(r.started))}"
        + (f", {r.finished - r.started:.0f} s in total." if r.finished else "."),
        "",
        "| fleet | series | OpenMetrics | TSDB | generate | backfill | points/series |",
        "|---|---|---|---|---|---|---|",
    ]
    for p, f in sorted(r.fleets.items()):
        gen = "cached" if f["reused"] else f"{f['generate_s']:.0f} s"
        back = "cached" if f["reused"] else f"{f['backfill_s']:.0f} s"
        lines.append(
            f"| {p:,} pods | {f['series']:,} | {f['openmetrics_gb']} GB | {f['tsdb_mb']} MB "
            f"| {gen} | {back} | {f['points_per_series']} @ {f['step_s']} s |"
        )
    lines += ["", "| measure | " + " | ".join(f"{p:,} pods" for p in pods) + " | goal | status |"]
    lines.append("|---|" + "---|" * len(pods) + "---|---|")
    for name, values, goal, ok in rows:
        lines.append(f"| {name} | " + " | ".join(values) + f" | {goal} | {_status(ok)} |")
    if single:
        lines += ["", f"| measure ({r.tui_pods:,}-pod fleet) | value | goal | status |"]
        lines.append("|---|---|---|---|")
        for name, value, goal, ok in single:
            lines.append(f"| {name} | {value} | {goal} | {_status(ok)} |")
    for p, costs in sorted(r.query_costs.items()):
        lines += [
            "",
            f"Each streamdash query alone at {p:,} pods "
            "(sequential; a refresh sends them at once):",
            "",
            "| query | Prometheus | samples read | answer | rows | json.loads |",
            "|---|---|---|---|---|---|",
        ]
        for c in costs:
            if c.error:
                lines.append(f"| {c.name} | failed after {c.server_s:.1f} s: {c.error} | | | | |")
                continue
            lines.append(
                f"| {c.name} | {c.server_s:.2f} s | {c.samples or 0:,} | {c.bytes / 1e6:.2f} MB "
                f"| {c.rows:,} | {c.parse_s:.2f} s |"
            )
        total = sum(c.server_s for c in costs), sum(c.bytes for c in costs) / 1e6
        samples = sum(c.samples or 0 for c in costs)
        lines.append(f"| total | {total[0]:.2f} s | {samples:,} | {total[1]:.2f} MB | | |")
    for p, costs in sorted(r.history_parts.items()):
        lines += [
            "",
            f"The history range query's parts alone at {p:,} pods (1 h at 15 s steps):",
            "",
            "| part | Prometheus | rows |",
            "|---|---|---|",
        ]
        lines += [f"| {c.name} | {c.server_s:.2f} s | {c.rows:,} |" for c in costs]
    return "\n".join(lines) + "\n", missed
