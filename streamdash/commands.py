"""What each CLI command does, given validated Settings. Returns the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

from streamdash import format as fmt
from streamdash.core.snapshot import Snapshot
from streamdash.export.files import ExportError, write_new_file
from streamdash.export.json import render_json
from streamdash.export.markdown import render_markdown
from streamdash.settings import Settings


def _headless_snapshot(
    settings: Settings, duration_seconds: float | None = None, at: float | None = None
) -> tuple[Snapshot, bool]:
    """One snapshot gathered over ``duration_seconds`` (see ``streamdash.headless``), or
    of the past instant ``at`` (from Prometheus); and whether the primary source answered."""
    if at is not None:
        return _snapshot_at(settings, at)
    from streamdash.core.verdict import primary_unreachable
    from streamdash.headless import DEFAULT_DURATION_SECONDS, gather

    span = DEFAULT_DURATION_SECONDS if duration_seconds is None else duration_seconds
    snapshot = gather(settings, span)
    return snapshot, not primary_unreachable(snapshot)


def _snapshot_at(settings: Settings, at: float) -> tuple[Snapshot, bool]:
    """Every Prometheus query evaluated at ``at`` (LBs, which know only now, left out)."""
    from streamdash.core.build import build_snapshot
    from streamdash.core.carry import carry_forward
    from streamdash.live import LiveRefresher, source_unreachable

    refresher = LiveRefresher(settings, with_history=False)
    try:
        raw = refresher.fetch_raw(settings.window_seconds, at)
        carried = carry_forward(None, raw)
        return build_snapshot(carried.raw, settings, carried.stale), not source_unreachable(raw)
    finally:
        refresher.close()


def run_snapshot(
    settings: Settings,
    form: str,
    output: str | None,
    duration_seconds: float | None = None,
    at: float | None = None,
) -> int:
    """Write one snapshot as markdown or JSON to stdout or ``output``; exit 0 even when
    findings exist or sources failed (``errors`` says what failed). ``at``: the snapshot
    of that past instant, as Prometheus evaluates it (exit 2 without Prometheus)."""
    if at is not None and not settings.prometheus.url:
        print(
            "streamdash: --at needs --prometheus-url: direct scrape sees only the present",
            file=sys.stderr,
        )
        return 2
    snapshot, _ = _headless_snapshot(settings, duration_seconds, at)
    text = render_json(snapshot) if form == "json" else render_markdown(snapshot)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        path = write_new_file(Path(output), text)
    except ExportError as exc:
        print(f"streamdash: {exc}", file=sys.stderr)
        return 2
    print(f"streamdash: wrote {path}", file=sys.stderr)
    return 0


def run_check(settings: Settings, duration_seconds: float | None = None) -> int:
    """Print the verdict line, then errors and findings one per line; exit 1 if any
    finding is critical, 2 if the primary source is unreachable."""
    from streamdash.core.verdict import verdict

    snapshot, _ = _headless_snapshot(settings, duration_seconds)
    judged = verdict(snapshot)
    reachable = judged.state != "unreachable"
    print(judged.line)
    for error in snapshot.errors:
        part = f" ({error.part})" if error.part else ""
        print(f"error {fmt.safe_label(error.source)}{part}: {fmt.safe_label(error.message)}")
    if not reachable:
        print("streamdash: the primary source is unreachable", file=sys.stderr)
        return 2
    from streamdash.nodata import NO_DATA_EXIT, no_data_line

    empty = no_data_line(snapshot, settings)
    if empty is not None:  # no data is never "ok"
        print(fmt.safe_label(empty, 400))
        return NO_DATA_EXIT
    for f in snapshot.findings:
        subject, summary = fmt.safe_label(f.subject), fmt.safe_label(f.summary)
        print(f"{f.severity.upper():8} {f.id} [{subject}] {summary}")
    if not snapshot.findings and judged.state == "clear":
        print("ok: no findings")
    return 1 if any(f.severity == "critical" for f in snapshot.findings) else 0


def run_advise(
    settings: Settings, form: str, output: str | None, duration_seconds: float | None = None
) -> int:
    """Print the advice (markdown) or write one file per artifact into ``output``; refuse
    (exit 2, nothing written) when any of those files already exists."""
    from streamdash.advise import advise
    from streamdash.advise.render import file_text, render_markdown
    from streamdash.sources.advise_facts import fetch_facts

    if form == "files" and output is None:
        print("streamdash: --format files needs --output DIR", file=sys.stderr)
        return 2
    snapshot, _ = _headless_snapshot(settings, duration_seconds)
    advice = advise(snapshot, fetch_facts(settings, snapshot), settings)
    if output is None:
        sys.stdout.write(render_markdown(advice))
        return 0
    directory = Path(output)
    if not directory.is_dir():
        print(f"streamdash: cannot write into {directory}: not a directory", file=sys.stderr)
        return 2
    files = {a.name: file_text(a) for a in advice.artifacts}
    files["README.md"] = render_markdown(advice)
    taken = sorted(name for name in files if (directory / name).exists())
    if taken:
        print(
            f"streamdash: cannot write {directory / taken[0]}: a file with that name already "
            f"exists ({len(taken)} of {len(files)} files would be overwritten; nothing written)",
            file=sys.stderr,
        )
        return 2
    try:
        for name, text in files.items():
            write_new_file(directory / name, text)
    except ExportError as exc:
        print(f"streamdash: {exc}", file=sys.stderr)
        return 2
    print(f"streamdash: wrote {len(files)} files into {directory}", file=sys.stderr)
    return 0


def run_dashboard(settings: Settings) -> int:
    """Open the TUI on the configured sources."""
    from streamdash import gcpolicy
    from streamdash.live import LiveRefresher

    gcpolicy.tune()  # a long-running process that decodes every refresh's answers
    refresher = LiveRefresher(settings)
    refresher.start_early(settings.window_seconds)  # its queries overlap the TUI's import
    from streamdash.tui.app import run_tui

    try:
        return run_tui(settings, refresher)
    finally:
        refresher.close()


def run_demo(
    settings: Settings, scenario: str, pods: int | None, seed: int, *, serve_only: bool
) -> int:
    """Start the simulated fleet on loopback; open the TUI on it (or only serve it)."""
    from streamdash.demo import demo_settings, describe_endpoints, start_fleet

    fleet = start_fleet(scenario=scenario, pods=pods, seed=seed)
    try:
        if serve_only:
            print(describe_endpoints(fleet), flush=True)
            try:
                import threading

                threading.Event().wait()
            except KeyboardInterrupt:
                return 0
            return 0
        return run_dashboard(demo_settings(fleet, settings))
    finally:
        fleet.stop()
