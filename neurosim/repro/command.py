"""``neurosim repro [NAME ...] [--quick | --paper-data]``: the command line of the repro cards.

Imported by :mod:`neurosim.cli` to build its parser, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from neurosim.errors import UserError


def add_repro_parser(
    sub,
    threads_argument: Callable[[argparse.ArgumentParser], None],
    workers_argument: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add the ``repro`` sub-command to the CLI's sub-parsers."""
    repro = sub.add_parser(
        "repro",
        help="run repro cards: each model against its paper's published number (exit 1 if one misses)",
    )
    repro.add_argument("cards", nargs="*", metavar="NAME", help="cards (default: every shipped card)")
    variants = repro.add_mutually_exclusive_group()
    variants.add_argument("--quick", action="store_true", help="the small-budget version CI runs")
    variants.add_argument(
        "--paper-data", action="store_true", help="the paper's own data (e.g. MNIST 60k/10k, if fetched)"
    )
    repro.add_argument("--no-ablations", action="store_true", help="skip the card's ablations")
    repro.add_argument("--out", default="runs/repro", help="folder for runs and card reports")
    repro.add_argument("-q", "--quiet", action="store_true", help="no progress")
    repro.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help="where to train (default: each card's own)"
    )
    threads_argument(repro)
    workers_argument(repro)
    repro.set_defaults(handler=command_repro)


def _cards(names: list[str], variant: str) -> list:
    """The named cards, or every shipped card with this variant (the perceptron's have no paper
    data: such cards are named as skipped); none at all is an error."""
    from neurosim.repro.card import find_card, list_cards

    if names:  # a named card without the variant fails in check_runs, before any fit
        return [find_card(name) for name in names]
    cards = [find_card(name) for name in list_cards()]
    skipped = [card.name for card in cards if variant not in card.variants()]
    if skipped:
        print(f"skipped (no {variant} variant): {', '.join(skipped)}")
    chosen = [card for card in cards if variant in card.variants()]
    if not chosen:
        raise UserError(f"no shipped repro card has a {variant} variant")
    return chosen


def command_repro(args: argparse.Namespace) -> int:
    """Run cards; exit status 1 if a card misses its band (or a seed diverged), 0 otherwise."""
    from neurosim.progress import progress_factory
    from neurosim.report.document import Table
    from neurosim.repro.measure import Execution, check_runs, run_card
    from neurosim.repro.report import SUMMARY_HEADER, card_report, summary_row, verdict
    from neurosim.threads import configure_threads

    variant = "quick" if args.quick else ("paper_data" if args.paper_data else "card")
    cards = _cards(args.cards, variant)
    configure_threads(getattr(args, "threads", None))
    mode = "off" if args.quiet else ("bar" if sys.stderr.isatty() else "log")
    execution = Execution(args.out, progress_factory(mode), args.workers, args.device)
    ablations = not args.no_ablations
    for card in cards:  # every run of every card is checked before the first fit
        check_runs(card, variant, ablations, execution)
    outcomes = []
    for card in cards:
        outcome = run_card(card, variant, execution, ablations, checked=True)
        outcomes.append(outcome)
        print(f"{card.name}: {verdict(outcome)}")
        print(f"report: {card_report(outcome, args.out)}")
    print(Table(SUMMARY_HEADER, [summary_row(o) for o in outcomes]).markdown())
    return 0 if all(o.within_band for o in outcomes) else 1
