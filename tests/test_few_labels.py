"""The few-labels study: every member refitted with N labels per class drawn with its own seed, by
the runner's fit; its stored shape and hand counts, resumption, and its report cells."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
import xarray as xr

from neurosim.analysis.few_labels import (
    analyse_few_labels,
    few_labels_section,
    few_labels_summary,
    fits_folder,
)
from neurosim.analysis.registry import ANALYSES
from neurosim.analysis.statistics import accuracy_interval, format_accuracy
from neurosim.errors import UserError


@pytest.fixture
def run(stored_perceptron_run, tmp_path):
    """A copy of the shared tiny run (perceptron vs. linear, digits, seeds 0 and 1, 3 epochs)."""
    return shutil.copytree(stored_perceptron_run, tmp_path / "run")


@pytest.fixture
def trainings(monkeypatch):
    """Every Trainer the runner builds, as ``(seed, n_per_class, subset_seed, labelled images,
    labels)``; ``fail_at`` makes the k-th training raise, as a killed analysis would stop."""
    from neurosim import runner

    made: list[tuple[int, int | None, int, torch.Tensor, torch.Tensor]] = []
    fail_at: list[int] = []

    class Recording(runner.Trainer):
        def __init__(self, model, task, config, seed, device, n_per_class=None, subset_seed=0):
            super().__init__(model, task, config, seed, device, n_per_class, subset_seed)
            made.append(
                (seed, n_per_class, subset_seed, self.data.x_train.clone(), self.data.y_train.clone())
            )

        def fit(self, *args, **kwargs):
            if len(made) in fail_at:
                raise KeyboardInterrupt("killed")
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(runner, "Trainer", Recording)
    return made, fail_at


def test_every_member_and_seed_is_refitted_on_its_own_labelled_draw(run, trainings):
    from neurosim.evaluation import accuracy
    from neurosim.run_folder import stored_config
    from neurosim.run_loading import load_fitted_model, load_task

    made, _ = trainings
    result = analyse_few_labels(run, labels_per_class=[10])
    assert result.accuracy.dims == ("model", "seed", "n_per_class")
    assert result.accuracy.shape == (2, 2, 1) and list(result.model.values) == ["perceptron", "linear"]
    # Hand counts: 10 labels x 10 digit classes; as many samples as the full-data fits presented
    # (3 epochs of the training split), in whole epochs of 100 images.
    full = 3 * len(load_task(stored_config(run)).y_train)
    assert (result.n_labelled.values == 100).all()
    assert (result.samples_seen.values == 100 * math.ceil(full / 100)).all()
    assert result.subset_seed.sel(n_per_class=10).values.tolist() == [[0, 1], [0, 1]]
    assert len(made) == 4 and all(subset == seed and n == 10 for seed, n, subset, _, _ in made)
    for _, _, _, _, labels in made:
        assert torch.bincount(labels, minlength=10).tolist() == [10] * 10
    by_seed = {seed: x for seed, _, _, x, _ in made}  # the two seeds' draws differ
    assert not torch.equal(by_seed[0], by_seed[1])
    # The stored accuracy is that of the stored few-label model on the whole test split.
    config = stored_config(run)
    task = load_task(config)
    model = load_fitted_model(fits_folder(run, 10), config.member("linear"), task, 1)
    measured = accuracy(model, task.x_test, task.y_test)
    assert float(result.accuracy.sel(model="linear", seed=1, n_per_class=10)) == pytest.approx(measured)
    assert result.attrs["n_test"] == len(task.y_test)
    assert ANALYSES.get("few_labels").stored(run) is not None


@pytest.mark.slow
def test_a_killed_analysis_resumes_and_a_rerun_refits_nothing(run, trainings):
    made, fail_at = trainings
    fail_at.append(3)  # the third training is killed: two fits are stored
    with pytest.raises(KeyboardInterrupt):
        analyse_few_labels(run)
    assert len(list(fits_folder(run, 10).glob("fits/*/seed*.model.pt"))) == 2
    fail_at.clear()
    made.clear()
    first = analyse_few_labels(run)
    assert len(made) == 2  # only the two fits that were not stored
    made.clear()
    again = analyse_few_labels(run)
    assert made == [] and np.array_equal(first.accuracy.values, again.accuracy.values)


@pytest.mark.slow
def test_the_supervised_budget_is_matched_to_the_run_or_replaced(run, trainings):
    """By default the run's floor applies when it exceeds the full-data samples (10**4: 100 epochs
    of the 100 labelled images); given to the study, 500 presents 5 epochs."""
    path = run / "config.json"
    config = json.loads(path.read_text())
    for table in [config["training"], *(member["training"] for member in config["members"])]:
        table["min_samples_seen"] = 10**4
    path.write_text(json.dumps(config))
    result = analyse_few_labels(run, labels_per_class=[10])
    assert (result.samples_seen.values == 10**4).all()
    result = analyse_few_labels(run, labels_per_class=[10], min_samples_seen=500)
    assert (result.samples_seen.values == 500).all() and result.attrs["min_samples_seen"] == 500


def test_the_command_line_sets_the_labels_per_class(run, trainings):
    """``neurosim analyse RUN --analyses few_labels --labels-per-class 4`` refits every member and
    seed at 4 labels per class (the study's default is 10) and stores that count."""
    from neurosim.cli import main

    made, _ = trainings
    status = main(["analyse", str(run), "--analyses", "few_labels", "--labels-per-class", "4", "--no-report"])
    assert status == 0
    stored = ANALYSES.get("few_labels").stored(run)
    assert stored.n_per_class.values.tolist() == [4] and (stored.n_labelled.values == 40).all()
    assert len(made) == 4 and {n for _, n, _, _, _ in made} == {4}


def test_bad_labels_per_class_are_one_line_errors(run):
    with pytest.raises(UserError, match="positive whole numbers"):
        analyse_few_labels(run, labels_per_class=[0])
    with pytest.raises(UserError, match="positive whole numbers"):
        analyse_few_labels(run, labels_per_class=[])
    with pytest.raises(UserError, match="too large"):  # digits have fewer than 1000 per class
        analyse_few_labels(run, labels_per_class=[1000])
    with pytest.raises(UserError, match="min_samples_seen"):
        analyse_few_labels(run, min_samples_seen=-1)


BIO = [0.80, 0.82, 0.81, 0.83, 0.79]
TWIN = [0.70, 0.71, 0.69, 0.72, 0.70]


def stored_result(bio=BIO, twin=TWIN, labels=(10, 100), samples_seen=300) -> xr.Dataset:
    """A hand-made stored result of a pair bio_m / twin_m and an unpaired member, 5 seeds."""
    accuracy = np.full((3, 5, len(labels)), 0.5)
    accuracy[0, :, 0], accuracy[1, :, 0] = bio, twin
    coords = {"model": ["bio_m", "twin_m", "other"], "seed": list(range(5)), "n_per_class": list(labels)}
    dims = ("model", "seed", "n_per_class")
    shape = accuracy.shape
    variables = {
        "accuracy": (dims, accuracy),
        "n_labelled": (dims, np.ones(shape, int) * np.array(labels) * 10),
        "subset_seed": (dims, np.broadcast_to(np.arange(5)[:, None], shape)),
        "samples_seen": (dims, np.full(shape, samples_seen)),
        "diverged": (dims, np.zeros(shape, int)),
    }
    attrs = {
        "n_test": 1000,
        "epochs": 3,
        "min_samples_seen": 0,
        "pair_members": json.dumps({"pair_x": ["bio_m", "twin_m"]}),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def run_results() -> xr.Dataset:
    full = np.array([[0.95] * 5, [0.96] * 5, [0.9] * 5])
    return xr.Dataset(
        {"final_test_accuracy": (("model", "seed"), full), "diverged": (("model", "seed"), np.zeros((3, 5)))},
        coords={
            "model": ["bio_m", "twin_m", "other"],
            "seed": list(range(5)),
            "samples_seen": ("checkpoint", [32, 7210]),
        },
    )


def test_the_summary_cell_names_the_better_member_only_when_the_interval_excludes_zero():
    (cell,) = few_labels_summary(stored_result(), run_results(), "bio_m", "twin_m")
    assert cell.column == "accuracy at 10 labels per class"
    bio = accuracy_interval(BIO, 1000)
    assert cell.bio == f"0.810 [{bio.low:.3f}, {bio.high:.3f}]" and cell.twin.startswith("0.704 [")
    assert cell.difference.startswith("+10.6 [+") and cell.difference.endswith("] points")
    assert cell.better == "bio"
    (reverse,) = few_labels_summary(stored_result(bio=TWIN, twin=BIO), run_results(), "bio_m", "twin_m")
    assert reverse.difference.startswith("-10.6 [-") and reverse.better == "twin"
    (tie,) = few_labels_summary(
        stored_result(twin=[0.81, 0.80, 0.83, 0.79, 0.82]), run_results(), "bio_m", "twin_m"
    )
    assert tie.better is None
    assert few_labels_summary(stored_result(), run_results(), "bio_m", "absent") == []
    (five,) = few_labels_summary(stored_result(labels=(5, 100)), run_results(), "bio_m", "twin_m")
    assert five.column == "accuracy at 5 labels per class"


def test_a_diverged_fit_is_left_out_of_the_cell():
    stored = stored_result(bio=[0.0, *BIO[1:]])
    stored["diverged"][0, 0, 0] = 1
    (cell,) = few_labels_summary(stored, run_results(), "bio_m", "twin_m")
    assert cell.bio.startswith(f"{np.mean(BIO[1:]):.3f} [")  # 0.8125 -> 0.812, not BIO's 0.810


class RecordingPage:
    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.items.append(("heading", text))

    def paragraph(self, text: str) -> None:
        self.items.append(("paragraph", text))

    def table(self, header, rows) -> None:
        self.items.append(("table", (list(header), [list(row) for row in rows])))

    def figure(self, figure, name, caption, tight=True) -> None:
        self.items.append(("figure", name))


def test_the_section_tables_members_and_pairs_and_warns_of_undertraining():
    page = RecordingPage()
    few_labels_section(page, stored_result(), run_results())
    assert page.items[0] == ("heading", "Accuracy with few labels")
    notes = [text for kind, text in page.items if kind == "paragraph" and "under-trained" in str(text)]
    assert len(notes) == 1 and "presented 300 labelled samples, the run's full-data fits 7,210" in str(
        notes[0]
    )
    (_, (_, members)), (_, (_, pairs)) = [item for item in page.items if item[0] == "table"]
    assert members[0] == [
        "bio_m",
        "10",
        "100",
        "300",
        format_accuracy(BIO, 1000),
        format_accuracy([0.95] * 5, 1000),
    ]
    assert len(members) == 6  # 3 members x 2 labels per class
    assert pairs[0][:3] == ["pair_x", "bio_m - twin_m", "10"] and pairs[0][4] == "bio_m"
    assert pairs[1][4].startswith("no decision")  # at 100 both score 0.5
    quiet = RecordingPage()
    few_labels_section(quiet, stored_result(samples_seen=7210), run_results())
    assert not any("under-trained" in str(text) for kind, text in quiet.items if kind == "paragraph")
    assert ANALYSES.get("few_labels").summary is few_labels_summary


HEBBIAN_RUN = """
version = 1
name = "hebbian"
seeds = [0]
extra_models = ["hebbian_krotov", "softhebb_cnn_kmeans"]
[task]
name = "digits"
[training]
epochs = 2
batch_size = 50
[models.hebbian_krotov]
n_hidden = 20
[models.hebbian_krotov.training]
unsupervised_samples = 2000
[models.softhebb_cnn_kmeans]
channels = [4, 8]
[models.softhebb_cnn_kmeans.training]
unsupervised_samples = 400
unsupervised_batch_size = 20
"""


def test_a_few_label_fit_continues_from_the_runs_unsupervised_phase_exactly(tmp_path, caplog):
    """The run's fits keep the checkpoint from the end of their unsupervised phase (named by their
    identity); a few-label fit resumes from a copy instead of running the phase again, and ends
    bitwise where a few-label fit that runs the phase itself ends (Krotov-Hopfield; the whitened
    k-means CNN, whose BN and whitening buffers must travel too)."""
    from neurosim import config
    from neurosim.run_folder import fit_path, snapshot_path
    from neurosim.runner import fit_hash, run_comparison

    resolved = config.resolve(config.tomllib.loads(HEBBIAN_RUN))
    run = run_comparison(resolved, root=tmp_path)
    for member in resolved.members:
        assert snapshot_path(run, member.name, 0, fit_hash(resolved, member, 0)).is_file()
    with caplog.at_level("INFO", logger="neurosim.analysis.few_labels"):
        taken = analyse_few_labels(run, labels_per_class=[5])
    assert caplog.text.count("unsupervised phase taken from the run's fit") == 2
    few = fits_folder(run, 5)
    assert not list(few.glob("fits/*/*.unsupervised-*.pt"))  # a few-label fit keeps no snapshot
    weights = {m.name: torch.load(fit_path(few, m.name, 0, ".model.pt")) for m in resolved.members}
    shutil.rmtree(few)
    for path in run.glob("fits/*/*.unsupervised-*.pt"):
        path.unlink()
    caplog.clear()
    with caplog.at_level("INFO", logger="neurosim.analysis.few_labels"):
        ran = analyse_few_labels(run, labels_per_class=[5])
    assert "taken from the run's fit" not in caplog.text
    assert np.array_equal(taken.accuracy.values, ran.accuracy.values)
    for member in resolved.members:
        again = torch.load(fit_path(few, member.name, 0, ".model.pt"))
        assert weights[member.name].keys() == again.keys()
        assert all(torch.equal(weights[member.name][k], again[k]) for k in again), member.name
