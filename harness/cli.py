"""`samlconf` command line: run the suite, list scenarios, and the `idp` / `sp` tool trees.

Exit codes: 0 everything passed, 1 a scenario failed / errored / was inconclusive,
2 a usage or configuration error (one line on stderr, never a traceback), 130 interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator, Sequence

from .errors import ConfigError, SamlconfError, TargetError, one_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
BAD_VERDICTS = {"fail", "error", "inconclusive"}


DEMO_PROFILES = ("redis_cloud", "redflag")


def _run(args: argparse.Namespace) -> int:
    """Run the suite. Without --target and --profile: the reference SP under each bundled contract."""
    if args.target is None and args.profile is None:
        from reports.index import write_index

        worst = EXIT_OK
        done: list[Path] = []
        try:
            for profile in DEMO_PROFILES:
                sub = argparse.Namespace(**{**vars(args), "profile": profile,
                                            "report_dir": str(Path(args.report_dir) / profile)})
                done.append(Path(sub.report_dir))
                worst = max(worst, _run_one(sub))
        finally:
            index = write_index(Path(args.report_dir), done)
            print(f"samlconf: one page for both profiles: {index}", file=sys.stderr)
        return worst
    return _run_one(args)


def _run_one(args: argparse.Namespace) -> int:
    from reports.console import table

    from .engine import Engine, error_results
    from .profiles import load_profile
    from .runtime import Runtime
    from .suite import drivers_from_option, report_writers, resolve_target, select

    target = resolve_target(args.target, args.profile)
    if getattr(args, "property_examples", None):
        if args.property_examples < 1:
            raise ConfigError("--property-examples: give a number of examples >= 1")
        target.properties.examples = args.property_examples
    if getattr(args, "property_derandomize", False):
        target.properties.derandomize = True
    specs = select(args.scenario, args.category)
    drivers = drivers_from_option(args.driver)
    report_dir = Path(args.report_dir)
    writers = report_writers(report_dir)
    print(f"samlconf: {len(specs)} scenario(s) x {len(drivers)} driver(s) against "
          f"{target.name} (profile {target.profile})", file=sys.stderr)
    options: dict[str, object] = {"artifacts_dir": report_dir / "artifacts"}
    if args.chromium:
        options["chromium"] = args.chromium
    from reports.progress import Progress

    listeners = [*writers, Progress()]
    workers = max(1, int(getattr(args, "workers", 1) or 1))
    try:
        if workers > 1:
            from .parallel import run_parallel

            results = run_parallel(target, specs, drivers, workers, listeners=listeners,
                                   mutants=tuple(args.mutant or ()), seed=args.seed, driver_options=options,
                                   profile_name=load_profile(target.profile).name)
        else:
            with _embedded_log(report_dir), Runtime(target, mutants=tuple(args.mutant or ()), seed=args.seed,
                                                    sp_process=True, sp_log=report_dir / "target.log") as runtime:
                engine = Engine(runtime, drivers, listeners, driver_options=options)
                results = engine.run(specs)
    except TargetError as exc:
        # The target could not even be set up (metadata unreachable): every scenario is `error`.
        results = error_results(target, specs, drivers, one_line(exc), writers)
    print(table(results))
    print(f"reports written to {report_dir}/", file=sys.stderr)
    return EXIT_FAILED if any(r.verdict in BAD_VERDICTS for r in results) else EXIT_OK


@contextlib.contextmanager
def _embedded_log(report_dir: Path) -> Iterator[None]:
    """The embedded reference SP and pysaml2 log every refusal: into report_dir/target.log, not the terminal."""
    report_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(report_dir / "target.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("reference_sp", "saml2")]
    saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers = [handler]
        lg.propagate = False
    try:
        yield
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved):
            lg.handlers, lg.propagate = handlers, propagate
        handler.close()


def _scenarios(args: argparse.Namespace) -> int:
    from .registry import all_scenarios
    from .suite import dumps, listing_markdown, listing_text, scenario_listing

    specs = all_scenarios()
    if args.json:
        print(dumps(scenario_listing(specs)))
    elif args.markdown:
        print(listing_markdown(specs), end="")
    else:
        print(listing_text(specs))
    return EXIT_OK


def _rehearse(args: argparse.Namespace) -> int:
    from mock_idp.users import UserFileError, load_users

    from .profiles import load_profile
    from .rehearse import check_user, live, render
    from .runtime import Runtime
    from .suite import dumps, resolve_target

    from mock_idp.users import User

    from .rehearse import load_preset

    preset = load_preset(args.preset) if args.preset else None
    if args.users is None and preset is None:
        raise ConfigError("rehearse: give a users file, or --preset entra|okta|google for that IdP's default user")
    try:
        users = load_users(args.users) if args.users else [
            User(name_id=preset.sample.get("name_id", "user@example.com"),
                 attributes={k: list(v) for k, v in preset.sample.get("attributes", {}).items()},
                 label=f"{preset.title} default user")]
    except UserFileError as exc:
        raise ConfigError(str(exc)) from None
    live_run = args.target is not None or args.live
    target = resolve_target(args.target, args.profile) if live_run else None
    profile = load_profile(target.profile if target else (args.profile or "generic"))
    reports = [check_user(profile, u.attributes, u.label or u.name_id, preset) for u in users]
    if target is not None:
        with Runtime(target) as runtime:
            live(runtime, users, reports)
    print(dumps([r.to_dict() for r in reports]) if args.json else render(reports))
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def _report_build(args: argparse.Namespace) -> int:
    from reports.results_log import FILENAME, rebuild

    report_dir = Path(args.report_dir)
    sources = [Path(s) for s in args.log] or [report_dir / FILENAME]
    for src in sources:
        if not src.is_file():
            raise ConfigError(f"{src}: no results log (samlconf run writes {FILENAME} as it goes)")
    n = rebuild(report_dir, sources)
    print(f"samlconf: {n} result(s) from {', '.join(map(str, sources))} -> reports in {report_dir}/",
          file=sys.stderr)
    return EXIT_OK


def _report_diff(args: argparse.Namespace) -> int:
    from reports.diff import diff, load, render

    from .suite import dumps

    d = diff(load(Path(args.old)), load(Path(args.new)))
    print(dumps(d) if args.json else render(d))
    for w in d["warnings"]:
        print(f"samlconf: warning: {w}", file=sys.stderr)
    lost = d["coverage_loss"] and not args.allow_coverage_loss
    if lost:
        print(f"samlconf: {len(d['coverage_loss'])} scenario(s) passed before and are not tested now "
              "(coverage loss; --allow-coverage-loss accepts it)", file=sys.stderr)
    return EXIT_FAILED if d["regressions"] or lost else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samlconf", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the conformance suite against a target SP and write reports")
    run.add_argument("--target", metavar="FILE", help="target TOML (default: the bundled reference SP)")
    run.add_argument("--profile", help="profile: for the bundled reference SP (default: redis_cloud and "
                     "redflag, one report each) or to override the target file's")
    run.add_argument("--report-dir", default="samlconf-report", metavar="DIR")
    run.add_argument("--driver", default="http", help="http, browser or both")
    run.add_argument("--scenario", action="append", metavar="ID", help="run only this scenario (repeatable)")
    run.add_argument("--category", action="append", help="run only this category (repeatable)")
    run.add_argument("--mutant", action="append", metavar="NAME", help="switch a reference-SP defect on (repeatable)")
    run.add_argument("--seed", type=int, help="seed for generated users (reproducible runs)")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="run scenarios in N worker processes against the one target (one IdP endpoint, "
                          "one report; scenarios that change SP-wide state stay in one worker, in order; those that "
                          "change the trusted IdPs run alone, last)")
    run.add_argument("--property-examples", type=int, metavar="N",
                     help="generated examples per property-based scenario (PROP-*; default 25)")
    run.add_argument("--property-derandomize", action="store_true",
                     help="fixed property-based examples (the same every run; on by default when $CI is set)")
    run.add_argument("--chromium", metavar="PATH", help="Chromium executable for the browser driver")
    run.set_defaults(func=_run)

    sc = sub.add_parser("scenarios", help="list every scenario with its id, needs, refs and expected verdicts")
    fmt = sc.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable listing")
    fmt.add_argument("--markdown", action="store_true", help="the catalogue as Markdown (docs/scenarios.md)")
    sc.set_defaults(func=_scenarios)

    rh = sub.add_parser("rehearse", help="check an IdP's users and attributes against an SP contract "
                        "(and, with --target or --live, sign each one in)")
    rh.add_argument("users", metavar="USERS", nargs="?", help="users file (TOML [[users]] or YAML users: list); "
                    "optional with --preset (then that IdP's default user)")
    rh.add_argument("--preset", choices=["entra", "okta", "google"],
                    help="the IdP the users come from: its default claim names are recognised, and a contract "
                         "attribute it sends under another name is reported as a rename")
    rh.add_argument("--profile", help="contract to check against (redis_cloud, redflag, generic or a TOML path)")
    rh.add_argument("--target", metavar="FILE", help="also sign each user in to this target SP")
    rh.add_argument("--live", action="store_true", help="sign each user in to the bundled reference SP")
    rh.add_argument("--json", action="store_true")
    rh.set_defaults(func=_rehearse)

    rep = sub.add_parser("report", help="work with results files")
    rep_sub = rep.add_subparsers(dest="report_command", metavar="COMMAND")
    rep_sub.required = True
    rd = rep_sub.add_parser("diff", help="what changed between two JSON results files; exit 1 on a regression "
                            "or a coverage loss")
    rd.add_argument("old", metavar="OLD", help="earlier samlconf-results.json")
    rd.add_argument("new", metavar="NEW", help="later samlconf-results.json")
    rd.add_argument("--json", action="store_true")
    rd.add_argument("--allow-coverage-loss", action="store_true",
                    help="exit 0 although scenarios that passed before are not tested (or not run) now")
    rd.set_defaults(func=_report_diff)
    rb = rep_sub.add_parser("build", help="rebuild the JSON, JUnit and HTML reports from the results log "
                            "(after a run that was killed; several logs are merged)")
    rb.add_argument("report_dir", metavar="DIR", help="report folder to write (and to read its log from)")
    rb.add_argument("--log", action="append", default=[], metavar="JSONL",
                    help="results log(s) to read instead of DIR's own (repeatable: merged)")
    rb.set_defaults(func=_report_build)

    for name, module in (("idp", "mock_idp.cli"), ("sp", "reference_sp.cli")):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        mod.add_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (CI cancel, `timeout`, `docker stop`): stop like Ctrl-C, so the reports are written."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While running, SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"samlconf: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SamlconfError as exc:
        print(f"samlconf: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:
        print("samlconf: terminated (SIGTERM); the partial report was written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("samlconf: interrupted; the partial report was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # e.g. a port already in use, a report dir we cannot write
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"samlconf: error: {exc.strerror or one_line(exc)}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user; SAMLCONF_DEBUG=1 shows it
        if os.environ.get("SAMLCONF_DEBUG"):
            raise
        print(f"samlconf: internal error: {type(exc).__name__}: {one_line(exc)} "
              "(SAMLCONF_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
