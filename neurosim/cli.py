"""Command line: ``neurosim run | sweep | repro | report | analyse | list | data``, each one public function.

User mistakes (unknown names, bad keys, missing data) print one line ``neurosim: error: ...``
and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from neurosim.errors import UserError
from neurosim.repro.command import add_repro_parser

LIST_KINDS = ("tasks", "models", "pairs", "comparisons", "repro")
#: One line per registered analysis (a test checks that it names every entry of ANALYSES; the
#: registry itself is not imported here, since it loads every analysis and torch).
ANALYSIS_HELP = {
    "representations": "CKA and RSA maps, sparseness, dimensionality",
    "robustness": "accuracy vs. Gaussian noise, salt-and-pepper, occlusion, FGSM, PGD",
    "attacks": "black-box Square Attack and transfer attacks",
    "tolerance": "accuracy vs. translation, rotation, elastic deformation",
    "orientation": "first-layer orientation tuning from gratings, OSI",
    "receptive_fields": "spike-triggered averages from white noise",
    "energy": "operations and energy per inference and to train, priced by hardware profiles",
}


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
    analyses = _analyses(args.analyses or [])  # before training: an unknown name lists the valid ones
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
    _run_analyses(run_dir, analyses, args.stimuli)
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


def _analyses(names: list[str]) -> list[tuple[str, Callable]]:
    """The named analyses; an unknown name, or one whose extra is not installed, raises UserError
    (listing the valid names, or naming the extra)."""
    if not names:  # the registry loads every analysis (and rsatoolbox): ~1 s saved on a plain run
        return []
    from neurosim.analysis.registry import ANALYSES, ANALYSIS_EXTRAS
    from neurosim.extras import missing

    chosen = [(name, ANALYSES.get(name)) for name in names]
    for name, _ in chosen:
        error = missing(ANALYSIS_EXTRAS[name]) if name in ANALYSIS_EXTRAS else None
        if error is not None:
            raise UserError(error)
    return chosen


def _run_analyses(run_dir, analyses: list[tuple[str, Callable]], n_stimuli: int) -> None:
    for name, analyse in analyses:
        analyse(run_dir, n_stimuli)
        print(f"analysis: {run_dir / 'analyses' / (name + '.nc')}")


def command_analyse(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.report import build_report

    analyses = _analyses(args.analyses)
    run_dir = Path(args.run_dir)
    if not (run_dir / "results.nc").is_file():
        raise UserError(f"{run_dir} holds no results.nc; run `neurosim run` first (or check the path)")
    _configure_threads(args)
    _run_analyses(run_dir, analyses, args.stimuli)
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

        names = MODELS.list()
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


def _analysis_arguments(command: argparse.ArgumentParser, default: list[str] | None) -> None:
    from neurosim.analysis import N_STIMULI

    command.add_argument(
        "--analyses",
        nargs="+",
        default=default,
        metavar="NAME",
        help="analyses of the stored models: "
        + "; ".join(f"{name} ({what})" for name, what in ANALYSIS_HELP.items())
        + (f". Default: {' '.join(default)}" if default else ". Default: none"),
    )
    command.add_argument(
        "--stimuli",
        type=int,
        default=N_STIMULI,
        help=f"test images the analyses record (default {N_STIMULI})",
    )


def _workers(text: str) -> int | str:
    """``--workers``: a positive integer or ``auto``."""
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return int(text)


def _threads_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads (default: $OMP_NUM_THREADS, else the cores this process may use)",
    )


def _workers_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        metavar="N",
        help="processes that train fits at once, sharing the threads (default auto: one per thread "
        "on a CPU, at most 4; 1 on a GPU)",
    )


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    main_parser = argparse.ArgumentParser(prog="neurosim", description=__doc__.split("\n")[0])
    main_parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = main_parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run a comparison (fits every member for every seed), then write its report"
    )
    run.add_argument("comparison", help="path to a comparison TOML, or the name of a shipped one")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key, e.g. training.epochs=3",
    )
    run.add_argument("--seeds", type=int, nargs="+", help="model seeds (overrides the file's)")
    run.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help="where to train (overrides the file's)"
    )
    run.add_argument("--out", default="runs", help="folder for run directories (default: runs)")
    run.add_argument("--no-report", action="store_true", help="skip writing the report")
    run.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress (a bar on a terminal, else a log line per 10 %%)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="validate everything, print the resolved comparison and the fits a run would train, "
        "and create nothing",
    )
    _threads_argument(run)
    _workers_argument(run)
    _analysis_arguments(run, default=None)
    run.set_defaults(handler=command_run)

    sweep = sub.add_parser(
        "sweep", help="run a grid of comparisons on Dask, resumable, merged into one dataset"
    )
    sweep.add_argument("comparison", help="path to a comparison TOML, or the name of a shipped one")
    sweep.add_argument(
        "--grid", action="append", metavar="KEY=V1,V2", help="a swept key, e.g. task.n_per_class=1,10,all"
    )
    sweep.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key in every cell"
    )
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:port)")
    sweep.add_argument("--workers", type=int, help="local workers or SLURM jobs (default: cores, or GPUs)")
    sweep.add_argument(
        "--cluster", default="local", choices=("local", "slurm"), help="where to start workers"
    )
    sweep.add_argument("--cluster-option", action="append", metavar="KEY=VALUE", help="a SLURMCluster option")
    sweep.add_argument("--out", default="runs", help="folder for sweep directories (default: runs)")
    sweep.add_argument("--no-report", action="store_true", help="skip writing the report")
    sweep.set_defaults(handler=command_sweep)

    add_repro_parser(sub, _threads_argument, _workers_argument)

    report = sub.add_parser(
        "report", help="rebuild the HTML/Markdown report of a run from its stored results"
    )
    report.add_argument("run_dir")
    report.add_argument("--out", help="folder for report.html, report.md, figures/ (default: RUN_DIR/report)")
    report.set_defaults(handler=command_report)

    analyse = sub.add_parser(
        "analyse",
        help="run analyses on a finished run's stored models (no retraining), then rebuild its report",
    )
    analyse.add_argument("run_dir")
    _analysis_arguments(analyse, default=["representations"])
    analyse.add_argument("--no-report", action="store_true", help="skip rebuilding the report")
    _threads_argument(analyse)
    analyse.set_defaults(handler=command_analyse)

    schema = sub.add_parser("schema", help="print the JSON Schema of comparison files (for editors)")
    schema.add_argument("--out", help="write it to this file instead of printing it")
    schema.set_defaults(handler=command_schema)

    listing = sub.add_parser(
        "list", help="list registered tasks, models, pairs, shipped comparisons or repro cards"
    )
    listing.add_argument("kind", choices=LIST_KINDS)
    listing.set_defaults(handler=command_list)

    data = sub.add_parser("data", help="dataset commands")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser(
        "fetch", help="download a dataset's official files and verify their checksums"
    )
    fetch.add_argument("name", help="fashion_mnist or mnist")
    fetch.add_argument("--root", help="download folder (default: $NEUROSIM_DATA or ./data)")
    fetch.add_argument("--base-url", help="mirror to download from instead of the official location")
    fetch.set_defaults(handler=command_data_fetch)
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
