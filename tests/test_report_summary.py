"""The report's summary rows, their sentences and the paired comparisons, on results built by hand
(known accuracies, predictions and p-values), so that every cell can be checked against a hand
count."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from neurosim.analysis.statistics import accuracy_difference, accuracy_interval
from neurosim.analysis.study import Analysis, SummaryCell
from neurosim.report.paired import (
    PAIRED_HEADER,
    mcnemar_cell,
    mcnemar_family_size,
    paired_comparisons,
    paired_row,
)
from neurosim.report.summary import ACCURACY_COLUMN, summary_notes, summary_rows, summary_table
from neurosim.report.verdicts import row_sentence


def hand_results(
    accuracies: dict[str, list[float]], pairs: dict[str, list[str]], n_test: int = 1000
) -> xr.Dataset:
    """A results.nc with only what the summary reads: final accuracies ``[model, seed]``, the
    pairs, and a confusion total of ``n_test`` images per fit."""
    members = list(accuracies)
    n_seeds = len(accuracies[members[0]])
    confusion = np.zeros((len(members), n_seeds, 2, 2))
    confusion[..., 0, 0] = n_test
    results = xr.Dataset(
        {
            "final_test_accuracy": (("model", "seed"), np.array([accuracies[m] for m in members])),
            "confusion": (("model", "seed", "class_true", "class_pred"), confusion),
        },
        coords={"model": members, "seed": np.arange(n_seeds)},
    )
    results.attrs["pair_members"] = json.dumps(pairs)
    return results


def fake_study(name: str, cells: list[SummaryCell]) -> Analysis:
    """A study whose summary hook returns ``cells`` for every pair."""

    def compute(run_dir, n_stimuli):
        raise AssertionError("the report never computes")

    return Analysis(name, "a study for tests", compute, summary=lambda stored, results, bio, twin: cells)


BETTER_TWIN = {"bio": [0.80, 0.82, 0.81], "twin": [0.90, 0.91, 0.93]}


def test_a_summary_row_holds_the_accuracy_cell_and_each_studys_cells_or_the_command_that_computes_them():
    results = hand_results(BETTER_TWIN, {"p": ["bio", "twin"]})
    comparisons = paired_comparisons(results, {"p": ["bio", "twin"]})
    noise = SummaryCell(
        "noise robustness (AUC)", "0.7", "0.6", "+0.10 [+0.05, +0.15]", "bio", "robust to noise"
    )
    studies = [fake_study("robustness", [noise]), fake_study("energy", [])]
    run = Path("/runs/x")
    (row,) = summary_rows(run, results, comparisons, studies, {"robustness": xr.Dataset(), "energy": None})
    accuracy, stored = row.cells
    assert (row.pair, row.bio, row.twin) == ("p", "bio", "twin")
    assert accuracy.column == ACCURACY_COLUMN and stored == noise
    # means 0.81 and 0.9133: -10.3 points; the interval is the bootstrap's, wholly below 0
    difference = accuracy_difference(BETTER_TWIN["bio"], BETTER_TWIN["twin"], 1000)
    assert accuracy.difference.startswith("-10.3 [") and accuracy.difference.endswith("] points")
    assert difference.high < 0 and accuracy.better == "twin" and accuracy.what == "accurate"
    bio = accuracy_interval(BETTER_TWIN["bio"], 1000)
    assert accuracy.bio == f"0.810 [{bio.low:.3f}, {bio.high:.3f}]"
    assert row.not_run == ["energy"]
    table = summary_table([row], seeds=3, run_dir=run)
    assert table.header == [
        "bio vs. twin (pair)",
        ACCURACY_COLUMN,
        "noise robustness (AUC)",
        "not run: the command that computes it",
    ]
    assert table.rows[0][0] == "bio vs. twin\n(p)"
    assert table.rows[0][2] == "bio 0.7\ntwin 0.6\n+0.10 [+0.05, +0.15]\nbio better"
    assert table.rows[0][3] == "neurosim analyse /runs/x --analyses energy"
    assert table.marks == [["wrap", "twin", "bio", "wrap command"]]


def test_a_pairs_unsupervised_control_is_labelled_control_not_twin():
    """krotov_kmeans is hebbian_krotov_backprop's control (config role "twin", which its fit identity
    keeps): the summary row and the pair's member table call it a control; the backprop twin stays a twin."""
    from neurosim.pairs import stored_controls
    from neurosim.report.build import member_role

    accuracies = {"hebbian_krotov": [0.8] * 3, "krotov_backprop": [0.9] * 3, "krotov_kmeans": [0.85] * 3}
    pairs = {"hebbian_krotov_backprop": list(accuracies)}
    results = hand_results(accuracies, pairs)
    results.attrs["config"] = json.dumps(
        {
            "members": [
                {"name": name, "model": name, "pairs": ["hebbian_krotov_backprop"]} for name in accuracies
            ]
        }
    )
    assert stored_controls(results.attrs) == {"krotov_kmeans"}
    rows = summary_rows(Path("/r"), results, paired_comparisons(results, pairs), [], {})
    labels = [row[0] for row in summary_table(rows, seeds=3, run_dir=Path("/r")).rows]
    assert labels == [
        "hebbian_krotov vs. krotov_backprop\n(hebbian_krotov_backprop)",
        "hebbian_krotov vs. krotov_kmeans (control)\n(hebbian_krotov_backprop)",
    ]
    results = results.assign_coords(role=("model", ["bio", "twin", "twin"]))
    controls = stored_controls(results.attrs)
    assert [member_role(results, m, controls) for m in accuracies] == ["bio", "twin", "control"]


def test_a_pair_with_a_diverged_member_is_not_compared_and_is_flagged():
    results = hand_results(BETTER_TWIN, {"p": ["bio", "twin"]})
    results["diverged"] = (("model", "seed"), np.array([[0, 0, 0], [0, 1, 0]], dtype=np.int8))
    comparisons = paired_comparisons(results, {"p": ["bio", "twin"]})
    (row,) = summary_rows(Path("r"), results, comparisons, [], {})
    (cell,) = row.cells
    assert (cell.twin, cell.difference, cell.better) == ("DIVERGED", "not tested: twin diverged", None)
    assert row.flags == ["twin DIVERGED"]
    assert row_sentence("bio", "twin", row.cells, 3) == (
        "Test accuracy (full training set): not tested: twin diverged. 95 % CIs, 3 seeds."
    )
    notes = summary_notes(results, comparisons)
    assert "Not results: twin diverged in seed 1 of 3" in notes[-1]
    assert "not claim-grade" in notes[0].lower() and "2 degrees of freedom" in notes[0]


ACCURATE_BIO = SummaryCell(ACCURACY_COLUMN, "0.95", "0.90", "+5.0 [+3.0, +7.0] points", "bio", "accurate")
NOISY_TWIN = SummaryCell(
    "noise robustness (AUC)", "0.5", "0.6", "-0.10 [-0.15, -0.05]", "twin", "robust to noise"
)
UNDECIDED = SummaryCell("energy per inference", "1 nJ", "2 nJ", "x0.5 [0.2, 1.3]", None, "frugal with energy")
SIMILARITY = SummaryCell("CKA to the twin", "", "", "0.71 [0.69, 0.73]", None, "")


def test_the_sentence_when_the_bio_model_is_better():
    assert row_sentence("krotov", "backprop", [ACCURATE_BIO], 5) == (
        "krotov is more accurate than backprop (+5.0 [+3.0, +7.0] points). 95 % CIs, 5 seeds."
    )


def test_the_sentence_when_the_twin_is_better_and_another_measure_is_undecided():
    assert row_sentence("krotov", "backprop", [NOISY_TWIN, UNDECIDED, SIMILARITY], 5) == (
        "krotov is less robust to noise than backprop (-0.10 [-0.15, -0.05]). No decision on energy "
        "per inference: the interval includes no difference. CKA to the twin: 0.71 [0.69, 0.73]. "
        "95 % CIs, 5 seeds."
    )


def test_the_sentence_when_nothing_is_decided_names_both_members():
    assert row_sentence("snn", "mlp", [UNDECIDED], 1) == (
        "No decision between snn and mlp on energy per inference: the interval includes no "
        "difference. 95 % CIs, 1 seed."
    )
    second = SummaryCell("noise robustness (AUC)", "0.5", "0.5", "+0.00 [-0.1, +0.1]", None, "robust")
    third = SummaryCell("energy to train", "1 J", "1 J", "x1.0 [0.5, 2.0]", None, "frugal")
    assert row_sentence("snn", "mlp", [UNDECIDED, second, third], 1).startswith(
        "No decision between snn and mlp on energy per inference, noise robustness (AUC) and energy "
        "to train: the intervals include no difference."
    )


def test_the_sentence_orders_decided_clauses_first():
    assert row_sentence("a", "b", [UNDECIDED, ACCURATE_BIO, NOISY_TWIN], 3) == (
        "a is more accurate than b (+5.0 [+3.0, +7.0] points); less robust to noise (-0.10 [-0.15, "
        "-0.05]). No decision on energy per inference: the interval includes no difference. 95 % CIs, "
        "3 seeds."
    )


THREE_PAIRS = {
    "a": [0.90, 0.92, 0.95, 0.91],
    "a_twin": [0.85, 0.90, 0.88, 0.86],
    "b": [0.80, 0.81, 0.79, 0.82],
    "b_twin": [0.80, 0.80, 0.80, 0.80],
    "c": [0.70, 0.75, 0.72, 0.74],
    "c_twin": [0.60, 0.62, 0.61, 0.66],
}
PAIRS = {"pa": ["a", "a_twin"], "pb": ["b", "b_twin"], "pc": ["c", "c_twin"]}


def test_paired_rows_give_the_ci_and_holm_over_the_reports_family():
    results = hand_results(THREE_PAIRS, PAIRS)
    comparisons = paired_comparisons(results, PAIRS)
    raw = [stats.ttest_rel(THREE_PAIRS[m], THREE_PAIRS[f"{m}_twin"]).pvalue for m in "abc"]
    order = np.argsort(raw)  # Holm by hand: the i-th smallest times (m - i), made monotone
    holm = np.empty(3)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[index]))
        holm[index] = running
    rows = [paired_row(results, c, 0) for c in comparisons]
    assert len(PAIRED_HEADER) == len(rows[0]) == 7
    for row, p, adjusted, member in zip(rows, raw, holm, "abc", strict=True):
        difference = accuracy_difference(THREE_PAIRS[member], THREE_PAIRS[f"{member}_twin"], 1000)
        low, high = 100 * difference.low, 100 * difference.high
        assert row[1] == f"{100 * difference.mean:+.1f} [{low:+.1f}, {high:+.1f}]"
        assert row[2] == f"{adjusted:.3g}" and row[5] == f"{p:.3g}"
        assert row[4] == "4 (3)"
        assert row[6].startswith("not stored (fit before per-image predictions")
    assert holm[order[0]] == pytest.approx(3 * raw[order[0]])
    assert float(rows[0][2]) > float(rows[0][5]), "adjusting over three tests raises p"


def with_predictions(results: xr.Dataset, correct: dict[str, list[list[bool]]]) -> xr.Dataset:
    """``results`` with per-image predictions: label 0 for every image, predicted 0 where
    ``correct[member][seed][image]``, else 1."""
    members = [str(m) for m in results.model.values]
    predictions = np.array([[np.where(seed, 0, 1) for seed in correct[m]] for m in members], dtype=np.int16)
    n_images = predictions.shape[-1]
    return results.assign(test_prediction=(("model", "seed", "test_image"), predictions)).assign_coords(
        test_label=("test_image", np.zeros(n_images, dtype=np.int16))
    )


def test_mcnemar_per_seed_counts_discordant_images_and_rejects_after_holm_over_the_reports_tests():
    accuracies = {"bio": [1.0, 0.6], "twin": [0.5, 0.4], "bio2": [1.0, 1.0], "twin2": [0.7, 1.0]}
    pairs = {"p": ["bio", "twin"], "q": ["bio2", "twin2"]}
    results = hand_results(accuracies, pairs, n_test=20)
    right, wrong = [True], [False]
    correct = {
        "bio": [right * 20, right * 12 + wrong * 8],
        "twin": [right * 10 + wrong * 10, right * 9 + wrong * 3 + right + wrong * 7],
        "bio2": [right * 20, right * 20],
        "twin2": [right * 14 + wrong * 6, right * 20],
    }
    results = with_predictions(results, correct)
    # Discordant counts (bio only / twin only) and exact two-sided p: p seed 0, 10/0: 2 / 2^10 =
    # 0.00195; p seed 1, 3/1: (1 + 4 + 4 + 1) / 16 = 0.625; q seed 0, 6/0: 2 / 2^6 = 0.03125;
    # q seed 1, 0/0: 1. Holm over the 4: 4 x 0.00195 rejects, 3 x 0.03125 = 0.094 does not (and
    # the rest do not), so q's raw 0.031 is no rejection in a family of four.
    first, second = paired_comparisons(results, pairs)
    assert paired_row(results, first, 4)[6] == (
        "1 of 2 seeds reject at 0.05 (Holm over the report's 4 McNemar tests; bio better in 1, twin in 0)\n"
        "bio only / twin only correct: 10/0, 3/1\n"
        "raw p: 0.00195, 0.625"
    )
    assert second.mcnemar_holm == pytest.approx((3 * 2 / 2**6, 1.0))
    assert mcnemar_cell(results, second, 4).startswith("0 of 2 seeds reject")
    assert mcnemar_family_size([first, second]) == 4


def test_a_degenerate_difference_has_no_p_and_is_left_out_of_the_family():
    """Identical differences in every seed: the t-test is undefined, so Holm's family is smaller."""
    accuracies = {"a": [0.9, 0.9], "a_twin": [0.8, 0.8], "b": [0.9, 0.7], "b_twin": [0.8, 0.75]}
    pairs = {"pa": ["a", "a_twin"], "pb": ["b", "b_twin"]}
    results = hand_results(accuracies, pairs)
    first, second = paired_comparisons(results, pairs)
    assert math.isnan(first.holm_p) and first.test is not None and math.isnan(first.test.p_value)
    assert second.holm_p == pytest.approx(second.test.p_value), "a family of one: Holm changes nothing"
