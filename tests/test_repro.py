"""Repro cards: validation of card files, the measurements they take, their reports, the CLI, and
every shipped card's ``--quick`` version inside its measured band (the CI regression test)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosim.errors import UserError
from neurosim.repro.card import Band, find_card, list_cards, load_card
from neurosim.repro.measure import CardOutcome, Execution, measurement, paired_delta, run_card
from neurosim.tasks import TASKS
from tests.conftest import REPO, run_cli

SHIPPED = list_cards()
MINIMAL = """
version = 1
title = "t"
model = "perceptron"
metric = "best_checkpoint"
differences = ["none"]
[paper]
citation = "c"
doi = "d"
where = "w"
published = 0.75
protocol = "p"
[band]
low = 0.75
high = 0.75
why = "exact"
[protocol]
seeds = [0, 1]
extra_models = ["perceptron"]
[protocol.task]
name = "xor"
[protocol.training]
epochs = 50
batch_size = 1
n_checkpoints = 100
train_eval_limit = 4
"""


def _card(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "card.toml"
    path.write_text(text)
    return path


def _write(text: str) -> Path:
    import tempfile

    return _card(Path(tempfile.mkdtemp()), text)


def test_every_shipped_card_validates_with_its_variants_and_ablations():
    required = {"diehl_cook_100", "krotov_hopfield", "softhebb_mlp", "snntorch_tutorial5", "lenet5"}
    assert required <= set(SHIPPED)
    for name in SHIPPED:
        card = find_card(name)
        assert "quick" in card.variants(), f"{name} has no --quick version for CI"
        assert card.paper["doi"] and card.paper["citation"] and card.differences
        for variant in card.variants():
            band = card.band(variant)
            assert 0 <= band.low <= band.high <= 1 and band.why


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('title = "t"', 'title = "t"\ncolour = 1'), "colour"),
        (lambda t: t.replace("low = 0.75", "low = 0.9"), "low <= high"),
        (lambda t: t.replace('model = "perceptron"', 'model = "mlp"'), "not a member"),
        (lambda t: t.replace("epochs = 50", "epochs = 0"), "epochs"),
        (lambda t: t.replace("version = 1", "version = 2"), "version"),
        (lambda t: t + '[[ablations]]\nname = "a"\nwhat = "b"\noverrides = ["training.bogus=1"]\n', "bogus"),
        (lambda t: t.replace("published = 0.75", 'published = "high"'), "published"),
    ],
)
def test_a_bad_card_is_a_one_line_error_before_anything_runs(tmp_path, edit, message):
    with pytest.raises(UserError, match=message) as error:
        load_card(_card(tmp_path, edit(MINIMAL)))
    assert "\n" not in str(error.value) and str(tmp_path / "card.toml") in str(error.value)


def test_unknown_card_lists_the_shipped_ones():
    with pytest.raises(UserError, match=r"valid choices: .*lenet5"):
        find_card("lenet")


def _results(
    test_accuracy: np.ndarray, train_accuracy: np.ndarray, seeds=(3, 5), diverged=(0, 0)
) -> xr.Dataset:
    """A results dataset of one model: ``[seed, checkpoint]`` accuracies (NaN-padded)."""
    dims = ("model", "seed", "checkpoint")
    final = np.array(
        [[row[~np.isnan(row)][-1] if (~np.isnan(row)).any() else np.nan for row in test_accuracy]]
    )
    return xr.Dataset(
        {
            "test_accuracy": (dims, test_accuracy[None]),
            "train_accuracy": (dims, train_accuracy[None]),
            "final_test_accuracy": (("model", "seed"), final),
            "learnt": (("model", "seed"), np.array([[1, 0]])),
            "diverged": (("model", "seed"), np.array([list(diverged)])),
        },
        coords={"model": ["m"], "seed": list(seeds)},
    )


def test_measurement_metrics_hand_counted():
    test = np.array([[0.5, 0.75, 0.5], [0.25, 0.5, np.nan]])
    train = np.array([[0.6, 0.9, 1.0], [0.5, 0.7, np.nan]])
    results = _results(test, train)
    final = measurement(results, Path("."), "m", "final")
    assert final.accuracy.tolist() == [0.5, 0.5] and final.seeds == (3, 5)
    assert final.learnt.tolist() == [1, 0]
    assert measurement(results, Path("."), "m", "best_checkpoint").accuracy.tolist() == [0.75, 0.5]
    assert measurement(results, Path("."), "m", "final_train").accuracy.tolist() == [1.0, 0.7]


def test_a_diverged_seed_has_no_accuracy_and_fails_the_band():
    results = _results(np.array([[0.8, 0.9], [0.7, np.nan]]), np.array([[0.5, 0.6], [np.nan, np.nan]]))
    results["diverged"][0, 1] = 1
    for metric in ("final", "best_checkpoint", "final_train"):
        measured = measurement(results, Path("."), "m", metric)
        assert np.isnan(measured.accuracy[1]) and not measured.complete
    assert measurement(results, Path("."), "m", "best_checkpoint").accuracy[0] == 0.9
    card = load_card(_write(MINIMAL))
    outcome = CardOutcome(
        card, "card", Band(0.0, 1.0, "any"), measurement(results, Path("."), "m", "final"), ()
    )
    assert outcome.measurement.summary.mean == 0.9 and not outcome.within_band


def test_paired_delta_pairs_by_seed():
    base = measurement(_results(np.array([[0.5], [0.7]]), np.zeros((2, 1))), Path("."), "m", "final")
    # The same seeds in the other order: pairing by position would give 0.2 and -0.1.
    shifted = measurement(
        _results(np.array([[0.7], [0.6]]), np.zeros((2, 1)), seeds=(5, 3)), Path("."), "m", "final"
    )
    delta = paired_delta(shifted, base)
    assert delta.mean == pytest.approx(0.05) and delta.n == 2
    # t-interval of the differences [0.1, 0.0]: 0.05 +- t(0.975, 1) * 0.0707 / sqrt(2).
    assert delta.high - delta.mean == pytest.approx(12.706 * 0.05, rel=1e-3)


def test_card_run_report_and_resume(tmp_path):
    """A card runs as ordinary comparisons (an ablation paired with it), writes its report and
    numbers, and a second run reuses the stored fits."""
    ablation = '[[ablations]]\nname = "short"\nwhat = "fewer passes"\noverrides = ["training.epochs=2"]\n'
    text = MINIMAL + ablation
    card = load_card(_card(tmp_path, text))
    outcome = run_card(card, execution=Execution(tmp_path / "out"))
    assert outcome.within_band and outcome.measurement.accuracy.tolist() == [0.75, 0.75]
    (effect,) = outcome.ablations
    assert effect.delta.mean == pytest.approx(float(np.mean(effect.measurement.accuracy)) - 0.75)
    from neurosim.repro.report import card_report

    html = card_report(outcome, tmp_path / "out")
    numbers = json.loads((html.parent / "card.json").read_text())
    assert numbers["within_band"] and numbers["seeds"] == [0, 1] and "short" in numbers["ablations"]
    markdown = (html.parent / "report.md").read_text()
    assert "within band" in markdown and "fewer passes" in markdown and "git_sha" in markdown
    fits = sorted((outcome.measurement.run_dir / "fits").rglob("*.nc"))
    stamps = [path.stat().st_mtime_ns for path in fits]
    again = run_card(card, execution=Execution(tmp_path / "out"), ablations=False)
    assert again.measurement.accuracy.tolist() == [0.75, 0.75]
    assert again.measurement.run_dir == outcome.measurement.run_dir and not again.ablations
    assert len(fits) == 2 and [path.stat().st_mtime_ns for path in fits] == stamps  # reused, not refitted


@pytest.mark.slow
def test_cli_device_and_workers_reach_the_runs(tmp_path):
    """``--device`` replaces the card's device in every run (and so its hash); ``--workers 2`` trains
    the two seeds in two processes and measures what one process does."""
    path = _card(tmp_path, MINIMAL.replace("[protocol]\n", '[protocol]\ndevice = "auto"\n'))
    options = ("-q", "--device", "cpu", "--workers", "2")
    process = run_cli("repro", str(path), "--out", str(tmp_path / "out"), *options)
    assert "within band: mean 0.7500" in process.stdout, process.stdout
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.name.startswith("repro_card-")]
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cpu"
    default = load_card(path).comparison()
    assert default.device == "auto" and run_dir.name != f"{default.name}-{default.hash()}"


@pytest.mark.slow
def test_cli_list_and_a_missed_band_exits_1(tmp_path):
    listed = run_cli("list", "repro").stdout
    assert all(name in listed for name in SHIPPED)
    missed = MINIMAL.replace("low = 0.75\nhigh = 0.75", "low = 0.9\nhigh = 1.0")
    path = _card(tmp_path, missed)
    process = run_cli("repro", str(path), "--out", str(tmp_path / "out"), "-q", check=False)
    assert process.returncode == 1, process.stderr
    assert "MISSED band: mean 0.7500, expected [0.9000, 1.0000]" in process.stdout
    bad = run_cli("repro", "no_such_card", "--out", str(tmp_path / "out2"), check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and not (tmp_path / "out2").exists()
    # A card whose ablation cannot run (a subset larger than the data) fails before any fit.
    late = MINIMAL + '[[ablations]]\nname = "big"\nwhat = "b"\noverrides = ["task.n_per_class=9"]\n'
    failed = run_cli("repro", str(_card(tmp_path, late)), "--out", str(tmp_path / "out3"), check=False)
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1, failed.stderr
    assert not (tmp_path / "out3").exists()


def _needs_mnist_10k(card) -> bool:
    return card.raw["protocol"].get("task", {}).get("name") == "mnist_10k"


def _mnist_10k_present() -> bool:
    try:
        TASKS.get("mnist_10k")()
    except UserError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("name", SHIPPED)
def test_quick_card_within_its_measured_band(name, tmp_path):
    """Every shipped card's ``--quick`` version, as CI runs it (a regression test of the model on
    its paper's data at a small budget; the bands were measured, see each card)."""
    card = find_card(name)
    if _needs_mnist_10k(card) and not _mnist_10k_present():
        pytest.skip("the MNIST 10k subset is not present")
    outcome = run_card(card, "quick", Execution(tmp_path))
    summary = outcome.measurement.summary
    assert not math.isnan(summary.mean)
    assert outcome.within_band, f"{name} --quick: {summary.mean:.4f} outside {outcome.band}"


def test_cards_cite_nothing_outside_the_repository():
    for path in (REPO / "repro").glob("*.toml"):
        assert "../shared" not in path.read_text(), path
