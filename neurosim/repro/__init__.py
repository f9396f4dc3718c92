"""Repro cards: each model checked end to end against its paper's number (``neurosim repro``)."""

from neurosim.repro.card import Card, find_card, list_cards, load_card
from neurosim.repro.measure import CardOutcome, run_card
from neurosim.repro.report import card_report

__all__ = ["Card", "CardOutcome", "card_report", "find_card", "list_cards", "load_card", "run_card"]
