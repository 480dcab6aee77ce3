"""Command line: ``streamdash [tui|demo|snapshot|check]``.

Exit codes: 0 ok; 1 ``check`` found a critical finding; 2 bad configuration or (for
``check``) the primary source is unreachable. Errors are one line on stderr, never a
traceback. The headless commands never import textual.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from streamdash.config import ConfigError, Overrides, load_settings
from streamdash.presets import preset_names
from streamdash.settings import LoadBalancerSettings, Settings

COMMANDS = ("tui", "demo", "snapshot", "check", "record", "replay", "advise", "rules")
SCENARIOS = ("healthy", "overflow", "idle-timeout", "fd-ceiling", "autoscaler", "incident")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML config (default ./streamdash.yaml)")
    parser.add_argument("--prometheus-url", metavar="URL", help="Prometheus base URL")
    parser.add_argument(
        "--ca-file", metavar="FILE", help="CA bundle for https sources (wins over the environment)"
    )
    parser.add_argument("--preset", choices=preset_names(), help="server kind (default vllm)")
    parser.add_argument("-n", "--namespace", metavar="NS", help="Kubernetes namespace")
    parser.add_argument(
        "--selector", metavar="MATCHERS", help='extra matchers, e.g. model_name="x"'
    )
    parser.add_argument(
        "--hpa",
        metavar="NAME",
        help="show only this HorizontalPodAutoscaler (default: every HPA in the namespace)",
    )
    parser.add_argument(
        "--model", metavar="NAME", help="only this model (the preset's model label)"
    )
    parser.add_argument("--window", metavar="DUR", help="rate window, e.g. 5m (default)")
    parser.add_argument("--refresh", metavar="DUR", help="TUI refresh interval (default 5s)")
    parser.add_argument("--theme", metavar="NAME", help="TUI theme")
    parser.add_argument(
        "--scrape", metavar="URL", action="append", default=[], help="scrape a pod directly"
    )
    parser.add_argument(
        "--haproxy-stats", metavar="URL", action="append", default=[], help="HAProxy stats CSV"
    )
    parser.add_argument(
        "--haproxy-config",
        metavar="FILE",
        help="haproxy.cfg to read `timeout server` from (applies to every --haproxy-stats)",
    )
    parser.add_argument(
        "--envoy-admin", metavar="URL", action="append", default=[], help="Envoy admin"
    )
    parser.add_argument(
        "--nginx-status", metavar="URL", action="append", default=[], help="nginx stub_status"
    )
    parser.add_argument(
        "--alertmanager-url", metavar="URL", help="Alertmanager: show its alerts for the namespace"
    )


def _schedule(text: str) -> str:
    """A ``--scenario`` value, checked here so a bad one is one usage line."""
    from streamdash.demo.schedule import parse_schedule

    try:
        parse_schedule(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _duration(text: str) -> float:
    from streamdash.config import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 5s, 10m)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be longer than 0 s")
    return seconds


def _join_at(argv: list[str]) -> list[str]:
    """``--at -15m`` -> ``--at=-15m`` (argparse takes ``-15m`` for an option)."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] == "--at" and arg.startswith("-") and out and out[-1] == "--at":
            out[-1] = f"--at={arg}"
        else:
            out.append(arg)
    return out


def _at_time(text: str) -> float:
    import time

    from streamdash.record.at import parse_at

    try:
        return parse_at(text, time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bytes(text: str) -> int:
    from streamdash.record.command import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``record`` and ``replay`` (streamdash.record)."""
    rec = sub.add_parser("record", help="append snapshots to a recording file (headless)")
    _common(rec)
    rec.add_argument("file", metavar="FILE", help="recording (SQLite); created or continued")
    rec.add_argument("--every", type=_duration, metavar="DUR", help="default: --refresh")
    rec.add_argument("--duration", type=_duration, metavar="DUR", help="default: until signal")
    rec.add_argument(
        "--max-size", type=_bytes, metavar="SIZE", help="e.g. 500M; oldest dropped (1G)"
    )
    rec.add_argument("--retention", type=_duration, metavar="DUR", help="keep only the last DUR")
    rec.add_argument(
        "--demo",
        type=_schedule,
        metavar="SCENARIO[,NAME@DUR...]",
        help="record the embedded demo fleet (a scenario or a schedule)",
    )
    rep = sub.add_parser("replay", help="the dashboard over a recording, JSON file or directory")
    _common(rep)
    rep.add_argument("path", metavar="FILE|DIR", help="recording, snapshot JSON, or a directory")
    rep.add_argument(
        "--timeline", action="store_true", help="print the findings timeline (markdown); no TUI"
    )


def _output_flags(
    parser: argparse.ArgumentParser, formats: tuple[str, ...], metavar: str, help_text: str
) -> None:
    """``--format`` (the first of ``formats`` by default) and ``--output``."""
    parser.add_argument("--format", choices=formats, default=formats[0])
    parser.add_argument("--output", metavar=metavar, help=help_text)


def _span_flag(parser: argparse.ArgumentParser) -> None:
    """``--duration`` of a command that reads the sources once (snapshot, check, advise)."""
    parser.add_argument(
        "--duration",
        type=_duration,
        metavar="DUR",
        help="gather direct-scrape and LB rates over this span (default 10s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so the README's usage can be checked against it)."""
    parser = argparse.ArgumentParser(
        prog="streamdash",
        description="On-call dashboard for LLM services that stream tokens.",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="{tui,demo,snapshot,check,record,replay,advise,rules}"
    )
    tui = sub.add_parser("tui", help="open the dashboard (the default)")
    _common(tui)
    demo = sub.add_parser("demo", help="dashboard on an embedded simulated fleet")
    _common(demo)
    demo.add_argument(
        "--scenario",
        type=_schedule,
        default="incident",
        metavar="NAME[,NAME@DUR...]",
        help=f"one of {', '.join(SCENARIOS)}, or a schedule: healthy,overflow@30s",
    )
    demo.add_argument("--pods", type=int, metavar="N", help="pods at start (default 8)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--serve", action="store_true", help="only run the fleet; print endpoints")
    snap = sub.add_parser("snapshot", help="write one snapshot (markdown or JSON)")
    _common(snap)
    _output_flags(snap, ("md", "json"), "FILE", "write here instead of stdout")
    snap.add_argument(
        "--at",
        type=_at_time,
        metavar="TIME",
        help="that past instant from Prometheus: RFC 3339 (2026-12-01T02:14:00Z) or -15m",
    )
    _span_flag(snap)
    check = sub.add_parser("check", help="print findings; exit 1 on a critical one")
    _common(check)
    _span_flag(check)
    _time_commands(sub)
    adv = sub.add_parser("advise", help="write the rules and config the findings call for")
    _common(adv)
    _output_flags(adv, ("md", "files"), "DIR", "write one file per artifact into DIR")
    _span_flag(adv)
    rules = sub.add_parser("rules", help="print recording rules for what a refresh asks")
    _common(rules)
    rules.add_argument(
        "--windows", metavar="DUR,...", help="rate windows to record (default: --window)"
    )
    rules.add_argument(
        "--interval", type=_duration, default=30.0, metavar="DUR", help="evaluation (30s)"
    )
    return parser


def _overrides(args: argparse.Namespace) -> Overrides:
    config_file = str(Path(args.haproxy_config).resolve()) if args.haproxy_config else None
    lbs = [
        LoadBalancerSettings(kind="haproxy", url=u, config_file=config_file)
        for u in args.haproxy_stats
    ]
    lbs += [LoadBalancerSettings(kind="envoy", url=u) for u in args.envoy_admin]
    lbs += [LoadBalancerSettings(kind="nginx", url=u) for u in args.nginx_status]
    return Overrides(
        config=args.config,
        prometheus_url=args.prometheus_url,
        preset=args.preset,
        namespace=args.namespace,
        hpa=args.hpa,
        window=args.window,
        refresh=args.refresh,
        theme=args.theme,
        selector=args.selector,
        model=args.model,
        scrape=tuple(args.scrape),
        load_balancers=tuple(lbs),
        alertmanager_url=args.alertmanager_url,
        ca_file=args.ca_file,
    )


def _require_source(settings: Settings) -> None:
    if not settings.prometheus.url and not settings.scrape:
        raise ConfigError(
            "no source: give --prometheus-url URL (or set STREAMDASH_PROMETHEUS_URL), "
            "or --scrape URL; to try streamdash without one, run `streamdash demo`"
        )


def _run_time_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "replay":
        from streamdash.record.replay import run_replay

        return run_replay(settings, Path(args.path), timeline_only=args.timeline)
    from streamdash.record.command import DEFAULT_MAX_BYTES, run_record

    def record(settings: Settings) -> int:
        return run_record(
            settings,
            Path(args.file),
            every=args.every,
            duration=args.duration,
            max_bytes=args.max_size if args.max_size is not None else DEFAULT_MAX_BYTES,
            retention_seconds=args.retention,
        )

    if args.demo is None:
        _require_source(settings)
        return record(settings)
    from streamdash.demo import demo_settings, start_fleet

    fleet = start_fleet(scenario=args.demo)
    try:
        return record(demo_settings(fleet, settings))
    finally:
        fleet.stop()


def _err(message: str) -> None:
    from streamdash.redact import one_line

    print(f"streamdash: {one_line(message, 400)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamdash`` command."""
    from streamdash import textio

    textio.headless()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["tui", *argv]
    args = build_parser().parse_args(_join_at(argv))
    try:
        settings = load_settings(_overrides(args), os.environ, Path.cwd())
        from streamdash.sources.http import tls_warning

        warning = tls_warning(settings)
        if warning and args.command != "demo":
            _err(warning)
        if args.command == "demo":
            from streamdash.commands import run_demo

            return run_demo(settings, args.scenario, args.pods, args.seed, serve_only=args.serve)
        if args.command in ("record", "replay"):
            return _run_time_command(args, settings)
        if args.command == "rules":
            from streamdash.rules import run_rules

            return run_rules(settings, args.windows, args.interval)
        _require_source(settings)
        if args.command == "snapshot":
            from streamdash.commands import run_snapshot

            return run_snapshot(settings, args.format, args.output, args.duration, args.at)
        if args.command == "check":
            from streamdash.commands import run_check

            return run_check(settings, args.duration)
        if args.command == "advise":
            from streamdash.commands import run_advise

            return run_advise(settings, args.format, args.output, args.duration)
        from streamdash.commands import run_dashboard

        return run_dashboard(settings)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback (it could carry a URL or a secret)
        _err(f"internal error: {type(exc).__name__}: {exc} (please report this)")
        return 70
