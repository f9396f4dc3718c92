"""The arguments of each ``neurosim`` subcommand (:mod:`neurosim.cli` attaches the handlers).

Each ``*_parser(sub)`` adds one subcommand to the ``add_subparsers`` object ``sub`` and returns its
parser. Building the parser imports no model, analysis or training code: the ``--analyses`` help
reads the analysis registry only when it is shown.
"""

from __future__ import annotations

import argparse
from typing import Any


class _AnalysesOption(argparse.Action):
    """``--analyses NAME ...``; its help is read from the registry (seconds to import) only when shown."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, *_: Any) -> None:
        setattr(namespace, self.dest, values)

    @property
    def help(self) -> str:  # every registered analysis and its description
        from neurosim.analysis.registry import STUDIES

        listing = "; ".join(f"{a.name} ({a.description})" for a in STUDIES).replace("%", "%%")
        return f"analyses of the stored models: {listing}. Default: {' '.join(self.default or ['none'])}"

    @help.setter  # argparse sets a help text; this option writes its own
    def help(self, text: str | None) -> None: ...


def analysis_arguments(command: argparse.ArgumentParser, default: list[str] | None) -> None:
    from neurosim.analysis import N_STIMULI

    command.add_argument("--analyses", action=_AnalysesOption, nargs="+", default=default, metavar="NAME")
    command.add_argument(
        "--stimuli",
        type=int,
        default=N_STIMULI,
        help=f"test images the analyses record (default {N_STIMULI})",
    )
    command.add_argument(
        "--labels-per-class",
        type=int,
        nargs="+",
        metavar="K",
        help="labelled images per class of the few_labels analysis (default 10); each count "
        "refits every member of every seed",
    )


def _workers(text: str) -> int | str:
    """``--workers``: a positive integer or ``auto``."""
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return int(text)


def threads_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads (default: $OMP_NUM_THREADS, else the cores this process may use)",
    )


def workers_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        metavar="N",
        help="processes that train fits at once, sharing the threads (default auto: one per thread "
        "on a CPU, at most 4; 1 on a GPU)",
    )


def run_parser(sub: Any) -> argparse.ArgumentParser:
    """``neurosim run COMPARISON``."""
    run = sub.add_parser(
        "run", help="run a comparison (fits every member for every seed), then write its report"
    )
    run.add_argument("comparison", help="path to a comparison TOML, or the name of a shipped one")
    run.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. training.epochs=3"
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
    threads_argument(run)
    workers_argument(run)
    analysis_arguments(run, default=None)
    return run


def sweep_parser(sub: Any) -> argparse.ArgumentParser:
    """``neurosim sweep COMPARISON --grid KEY=V1,V2``."""
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
    return sweep


def report_parser(sub: Any) -> argparse.ArgumentParser:
    """``neurosim report RUN_DIR``."""
    report = sub.add_parser(
        "report", help="rebuild the HTML/Markdown report of a run from its stored results"
    )
    report.add_argument("run_dir")
    report.add_argument("--out", help="folder for report.html, report.md, figures/ (default: RUN_DIR/report)")
    return report


def analyse_parser(sub: Any) -> argparse.ArgumentParser:
    """``neurosim analyse RUN_DIR --analyses NAME ...``."""
    analyse = sub.add_parser(
        "analyse",
        help="run analyses on a finished run's stored models (no retraining), then rebuild its report",
    )
    analyse.add_argument("run_dir")
    analysis_arguments(analyse, default=["representations"])
    analyse.add_argument("--no-report", action="store_true", help="skip rebuilding the report")
    threads_argument(analyse)
    return analyse


def schema_parser(sub: Any) -> argparse.ArgumentParser:
    """``neurosim schema``."""
    schema = sub.add_parser("schema", help="print the JSON Schema of comparison files (for editors)")
    schema.add_argument("--out", help="write it to this file instead of printing it")
    return schema


def list_parser(sub: Any, kinds: tuple[str, ...]) -> argparse.ArgumentParser:
    """``neurosim list KIND [-v]``."""
    listing = sub.add_parser(
        "list", help="list registered tasks, models, pairs, shipped comparisons or repro cards"
    )
    listing.add_argument("kind", choices=kinds)
    cards = "models: each model's card (family, paper, inputs, default options, fit version)"
    listing.add_argument("-v", "--verbose", dest="cards", action="store_true", help=cards)
    return listing


def data_fetch_parser(sub: Any) -> argparse.ArgumentParser:
    """``neurosim data fetch NAME``."""
    data = sub.add_parser("data", help="dataset commands")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser(
        "fetch", help="download a dataset's official files and verify their checksums"
    )
    fetch.add_argument("name", help="fashion_mnist or mnist")
    fetch.add_argument("--root", help="download folder (default: $NEUROSIM_DATA or ./data)")
    fetch.add_argument("--base-url", help="mirror to download from instead of the official location")
    return fetch
