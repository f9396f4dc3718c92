"""Command line: ``neurosim run | sweep | repro | report | analyse | list | data``, each one public function.

User mistakes (unknown names, bad keys, missing data) print one line ``neurosim: error: ...``
and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from neurosim.cli_arguments import (
    analyse_parser,
    data_fetch_parser,
    list_parser,
    report_parser,
    run_parser,
    schema_parser,
    sweep_parser,
    threads_argument,
    workers_argument,
)
from neurosim.errors import UserError
from neurosim.repro.command import add_repro_parser

if TYPE_CHECKING:
    from neurosim.analysis.study import Analysis

LIST_KINDS = ("tasks", "models", "pairs", "comparisons", "repro")


def command_run(args: argparse.Namespace) -> int:
    from neurosim import config as config_module
    from neurosim.api import run_overrides

    overrides = run_overrides(args.set or [], args.seeds, args.device)
    path = config_module.find_comparison(args.comparison)
    standby = _standby_workers(args)
    try:
        return _run(args, config_module.load(path, overrides), standby)
    finally:
        standby.close()


def _standby_workers(args: argparse.Namespace):
    """Worker processes started now, so that their imports overlap reading the comparison (the
    run decides how many it uses; see :mod:`neurosim.fit_workers`)."""
    from neurosim.fit_workers import Standby, choose_workers
    from neurosim.threads import choose_threads

    if args.dry_run:
        return Standby(0)
    # As many as a CPU run would use (a GPU run dismisses them); the fit count is not known yet.
    return Standby(
        choose_workers(args.workers, choose_threads(args.threads).intra_op, sys.maxsize, "cpu") - 1
    )


def _run(args: argparse.Namespace, config, standby) -> int:
    # Before training: an unknown name lists the valid ones; a bad option names what is wrong.
    options = _study_options(args)
    analyses = _analyses(args.analyses or [], options)
    _configure_threads(args)
    if args.dry_run:
        from neurosim.runner import dry_run

        print(json.dumps(config.to_dict(), indent=2, sort_keys=True))
        print("\n".join(dry_run(config, root=args.out)))
        return 0
    from neurosim.progress import progress_factory
    from neurosim.report import build_report
    from neurosim.runner import run_comparison

    mode = "off" if args.quiet else ("bar" if sys.stderr.isatty() else "log")
    run_dir = run_comparison(
        config, root=args.out, progress=progress_factory(mode), workers=args.workers, standby=standby
    )
    print(f"results: {run_dir / 'results.nc'}")
    _run_analyses(run_dir, analyses, args.stimuli, options)
    if not args.no_report:
        print(f"report: {build_report(run_dir)}")
    return 0


def _configure_threads(args: argparse.Namespace) -> None:
    """torch's thread counts from ``--threads``, OMP_NUM_THREADS or the cores available."""
    from neurosim.threads import configure_threads

    configure_threads(getattr(args, "threads", None))


def command_sweep(args: argparse.Namespace) -> int:
    from neurosim.config import find_comparison, parse_value
    from neurosim.extras import missing
    from neurosim.report import build_report
    from neurosim.sweep import run_sweep

    _configure_threads(args)
    if args.cluster == "slurm" and (error := missing("slurm")) is not None:
        raise UserError(error)  # before any sweep folder is created
    options = {}
    for assignment in args.cluster_option or []:
        key, separator, value = assignment.partition("=")
        if not separator:
            raise UserError(f"--cluster-option expects key=value, got {assignment!r}")
        options[key] = parse_value(value)
    sweep_dir = run_sweep(
        find_comparison(args.comparison),
        grid=args.grid or [],
        overrides=args.set or [],
        root=args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        cluster=args.cluster,
        cluster_options=options,
    )
    print(f"results: {sweep_dir / 'sweep.nc'}")
    if not args.no_report:
        print(f"report: {build_report(sweep_dir)}")
    return 0


def _study_options(args: argparse.Namespace) -> dict[str, Any]:
    """The study options given on the command line (``--labels-per-class``), by keyword."""
    options = {"labels_per_class": getattr(args, "labels_per_class", None)}
    return {key: value for key, value in options.items() if value is not None}


def _analyses(names: list[str], options: dict[str, Any] | None = None) -> list[Analysis]:
    """The named analyses; an unknown or retired name, a missing extra, or a study option that no
    named analysis takes raises UserError (naming the choices)."""
    options = options or {}
    if not names and not options:  # the registry imports every analysis: seconds saved on a plain run
        return []
    from neurosim.analysis.registry import ANALYSES, RETIRED
    from neurosim.extras import missing

    for name in names:
        if name in RETIRED:
            raise UserError(f"the analysis {name!r} was retired: {RETIRED[name]}")
    chosen = [ANALYSES.get(name) for name in names]
    for option in options:
        if not any(option in analysis.options for analysis in chosen):
            takers = " ".join(name for name in ANALYSES if option in ANALYSES.get(name).options)
            flag = "--" + option.replace("_", "-")
            raise UserError(f"{flag} applies to the analyses {takers}; add one of them to --analyses")
    if "labels_per_class" in options:
        from neurosim.analysis.few_labels import checked_labels

        checked_labels(options["labels_per_class"])
    for error in (missing(analysis.extra) for analysis in chosen if analysis.extra):
        if error is not None:
            raise UserError(error)
    return chosen


def _run_analyses(run_dir, analyses: list[Analysis], n_stimuli: int, options: dict[str, Any]) -> None:
    """Each analysis in turn, given the command-line options it takes (:attr:`Analysis.options`)."""
    for analysis in analyses:
        taken = {key: value for key, value in options.items() if key in analysis.options}
        analysis.compute(run_dir, n_stimuli, **taken)
        print(f"analysis: {run_dir / 'analyses' / (analysis.name + '.nc')}")


def command_analyse(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.report import build_report

    options = _study_options(args)
    analyses = _analyses(args.analyses, options)
    run_dir = Path(args.run_dir)
    if not (run_dir / "results.nc").is_file():
        raise UserError(f"{run_dir} holds no results.nc; run `neurosim run` first (or check the path)")
    _configure_threads(args)
    _run_analyses(run_dir, analyses, args.stimuli, options)
    if not args.no_report:
        print(f"report: {build_report(run_dir)}")
    return 0


def command_report(args: argparse.Namespace) -> int:
    """Rebuild a report; an unreadable results.nc is moved aside and rebuilt from the fits."""
    from pathlib import Path

    from neurosim.report import build_report
    from neurosim.results.storage import UnreadableFile, quarantine
    from neurosim.run_folder import check_out_folder

    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else run_dir / "report"
    check_out_folder(out)
    try:
        print(build_report(run_dir, out))
    except UnreadableFile as error:
        if error.path != run_dir / "results.nc":
            raise
        if not (run_dir / "config.json").is_file():
            raise UserError(f"{error}, and {run_dir} has no config.json to rebuild it from") from None
        from neurosim.runner import rebuild_results

        logging.getLogger(__name__).warning(
            "%s; moved to %s, rebuilding it from the stored fits", error, quarantine(error.path)
        )
        rebuild_results(run_dir)
        print(build_report(run_dir, out))
    return 0


def command_schema(args: argparse.Namespace) -> int:
    from neurosim.config_schema import comparison_schema

    text = json.dumps(comparison_schema(), indent=2)
    if args.out:
        from neurosim.results.storage import write_text

        print(write_text(args.out, text + "\n"))
    else:
        print(text)
    return 0


def command_list(args: argparse.Namespace) -> int:
    if args.kind == "tasks":
        from neurosim.tasks import TASKS

        names = TASKS.list()
    elif args.kind == "models":
        from neurosim.models import MODELS

        names = [MODELS.describe()] if args.cards else MODELS.list()
    elif args.kind == "pairs":
        from neurosim.pairs import PAIRS

        for name in PAIRS.list():
            pair = PAIRS.get(name)
            print(f"{name}: {pair.bio} vs {', '.join(pair.twins)} (held equal: {pair.held_equal})")
        return 0
    elif args.kind == "repro":
        from neurosim.repro.card import find_card, list_cards

        for name in list_cards():
            card = find_card(name)
            published, variants = card.paper["published"], ", ".join(card.variants())
            print(f"{name}: {card.title} (published {published:.4f}; {variants})")
        return 0
    else:
        from neurosim.config import list_comparisons

        names = list_comparisons()
    print("\n".join(names))
    return 0


def command_data_fetch(args: argparse.Namespace) -> int:
    from neurosim.tasks.fetch import fetch

    print(fetch(args.name, root=args.root, base_url=args.base_url))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests); the arguments of each
    subcommand are in :mod:`neurosim.cli_arguments`."""
    main_parser = argparse.ArgumentParser(prog="neurosim", description=__doc__.split("\n")[0])
    main_parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = main_parser.add_subparsers(dest="command", required=True)
    run_parser(sub).set_defaults(handler=command_run)
    sweep_parser(sub).set_defaults(handler=command_sweep)
    add_repro_parser(sub, threads_argument, workers_argument)
    report_parser(sub).set_defaults(handler=command_report)
    analyse_parser(sub).set_defaults(handler=command_analyse)
    schema_parser(sub).set_defaults(handler=command_schema)
    list_parser(sub, LIST_KINDS).set_defaults(handler=command_list)
    data_fetch_parser(sub).set_defaults(handler=command_data_fetch)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurosim`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return args.handler(args)
    except UserError as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print(
            "neurosim: interrupted; finished fits and checkpoints are kept, rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    except OSError as error:  # the machine's, not the code's: a full disk, a read-only folder
        if args.verbose:
            raise
        where = f" {error.filename}" if error.filename else ""
        return _fail(f"cannot access{where}: {error.strerror or error} (rerun with -v for details)")
    except MemoryError:
        if args.verbose:
            raise
        return _fail("out of memory; use a smaller model, batch or dataset (rerun with -v for details)")


def _fail(message: str) -> int:
    """Print one line ``neurosim: error: ...`` (never more: a multi-line message is joined)."""
    print(f"neurosim: error: {' '.join(message.split())}", file=sys.stderr)
    return 2
