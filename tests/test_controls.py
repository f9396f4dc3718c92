"""The pairs' unsupervised-ANN controls: k-means in place of a Hebbian rule (the readout kept),
the patch k-means and class-means rules by hand, and a nearest-class-mean readout on the
Neocognitron's UC3."""

from __future__ import annotations

import pytest
import torch

from neurosim.config import TrainingConfig
from neurosim.errors import UserError
from neurosim.models import MODELS
from neurosim.models.prototype_readout import ClassMeans
from neurosim.models.unsupervised_controls import PrototypeLinear, unit_rows
from neurosim.pairs import PAIRS
from neurosim.rules import RULES
from neurosim.rules.class_means import ClassMeansRule
from neurosim.rules.patch_kmeans import PatchKMeansRule, image_patches
from neurosim.tasks import TASKS
from neurosim.training import Trainer

CPU = torch.device("cpu")
DIGITS = (1, 8, 8)
CONTROLS = {
    "hebbian_krotov_backprop": ("krotov_kmeans", {"n_hidden": 12, "k": 2}),
    "softhebb_mlp_backprop": ("softhebb_mlp_kmeans", {"n_hidden": 12}),
    "softhebb_cnn_backprop": ("softhebb_cnn_kmeans", {"channels": [4, 6]}),
    "neocognitron_lenet5": ("neocognitron_kmeans", {"planes": [4, 6]}),
}


def _build(model: str, options: dict) -> torch.nn.Module:
    return MODELS.get(model)(DIGITS, 10, **options)


def test_diehl_and_cooks_unsupervised_control_is_its_named_k_means_twin():
    """Kept with ``controls = false`` (the quickstart): it has been the pair's twin from the start."""
    pair = PAIRS.get("diehl_cook_mlp_kmeans")
    assert pair.twins == ("mlp", "kmeans") and pair.controls == ()
    assert MODELS.card("kmeans").family != "control" and not MODELS.card("kmeans").bio


@pytest.mark.parametrize("pair_name", list(CONTROLS))
def test_every_pair_whose_bio_model_learns_without_labels_has_a_control(pair_name):
    pair = PAIRS.get(pair_name)
    assert pair.controls and set(pair.controls) <= set(pair.twins)
    assert all(pair.role(c) == "control" for c in pair.controls)
    assert pair.role(pair.twins[0]) == "twin"
    assert all(not MODELS.card(c).bio for c in pair.controls)


@pytest.mark.parametrize("pair_name", list(CONTROLS))
def test_a_control_keeps_the_bio_models_units_and_readout_and_learns_by_k_means(pair_name):
    pair = PAIRS.get(pair_name)
    control, bio_options = CONTROLS[pair_name]
    bio = _build(pair.bio, bio_options)
    options = pair.twin_options(bio_options, {}, control)
    built = _build(control, options)
    pair.check(bio, built)  # what the pair holds equal holds for its control
    rules = {step.rule for step in built.learning_plan() if step.phase == "unsupervised"}
    assert rules <= {"minibatch_kmeans", "patch_kmeans"} and rules
    bio_top = next(s for s in bio.learning_plan() if s.phase == "supervised")
    control_top = next(s for s in built.learning_plan() if s.phase == "supervised")
    assert (control_top.rule, type(control_top.module)) == (bio_top.rule, type(bio_top.module))
    assert built.loss_name == bio.loss_name


def test_the_control_of_the_krotov_pair_takes_the_bio_readout_options():
    options = PAIRS.get("hebbian_krotov_backprop").twin_options(
        {"n_hidden": 30, "beta": 0.1, "p": 4.0, "eps0": 0.1}, {}, "krotov_kmeans"
    )
    assert options == {"n_hidden": 30, "beta": 0.1, "p": 4.0}


def test_the_dense_softhebb_control_starts_from_the_bio_temperature_and_may_tune_its_own():
    pair = PAIRS.get("softhebb_mlp_backprop")
    bio = {"n_hidden": 30, "feature_t_invert": 50.0, "t_invert": 250.0}
    assert pair.twin_options(bio, {}, "softhebb_mlp_kmeans") == {"n_hidden": 30, "feature_t_invert": 50.0}
    tuned = pair.twin_options(bio, {"feature_t_invert": 100.0}, "softhebb_mlp_kmeans")
    assert tuned == {"n_hidden": 30, "feature_t_invert": 100.0}
    assert "feature_t_invert" not in pair.twin_options(bio, {}, "softhebb_mlp_backprop")  # the twin's own
    with pytest.raises(UserError, match="n_hidden must be 30"):  # held keys stay held
        pair.twin_options(bio, {"n_hidden": 40}, "softhebb_mlp_kmeans")


def test_prototype_rows_are_scaled_to_the_rules_unit_sphere():
    layer = PrototypeLinear(2, 2, p=3.0)
    layer.weight.data = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    scale = 2.0 ** (-1.0 / 3.0)  # ||(1, 1)||_3 = 2^(1/3)
    assert torch.allclose(layer(torch.tensor([[1.0, 0.0]])), torch.tensor([[scale, 0.0]]))
    assert torch.allclose(unit_rows(torch.tensor([[3.0, 4.0]]), 2.0), torch.tensor([[0.6, 0.8]]))


def test_golden_patch_kmeans_step():
    """A 1x1 kernel: patches are pixels. Prototypes 0 and 10 with 1 and 3 taken; pixels 1, 2 join 0
    (2 new, 3 in all: 0 + (3 - 2 * 0) / 3 = 1), pixel 9 joins 10 (4 in all: 10 + (9 - 10) / 4)."""
    conv = torch.nn.Conv2d(1, 2, 1)
    conv.weight = torch.nn.Parameter(torch.tensor([0.0, 10.0]).view(2, 1, 1, 1), requires_grad=False)
    conv.taken = torch.nn.Parameter(torch.tensor([1.0, 3.0]), requires_grad=False)
    rule = PatchKMeansRule(patches_per_image=3)
    rule.write_grads(conv, torch.tensor([1.0, 2.0, 9.0]).view(1, 1, 1, 3))
    torch.optim.SGD([conv.weight, conv.taken], lr=1.0).step()
    assert torch.allclose(conv.weight.flatten(), torch.tensor([1.0, 9.75]))
    assert torch.equal(conv.taken, torch.tensor([3.0, 4.0]))
    assert rule.last_updates == 3


def test_centred_patches_give_zero_mean_kernels_that_see_raw_patches_as_centred_ones():
    """Golden: 1x2 patches (0, 2) and (1, 9), centred to (-1, 1) and (-4, 4), join the prototypes
    (-1, 1) and (-3, 3) (1 taken each): (-1, 1) stays, (-3, 3) + ((-4, 4) - (-3, 3)) / 2 =
    (-3.5, 3.5). A zero-mean kernel's response to a raw patch is its response to the centred one."""
    conv = torch.nn.Conv2d(1, 2, (1, 2), bias=False)
    start = torch.tensor([[-1.0, 1.0], [-3.0, 3.0]])
    conv.weight = torch.nn.Parameter(start.view(2, 1, 1, 2).clone(), requires_grad=False)
    conv.taken = torch.nn.Parameter(torch.tensor([1.0, 1.0]), requires_grad=False)
    rule = PatchKMeansRule(patches_per_image=10, centre_patches=True)
    images = torch.tensor([[0.0, 2.0], [1.0, 9.0]]).view(2, 1, 1, 2)
    rule.write_grads(conv, images)
    torch.optim.SGD([conv.weight, conv.taken], lr=1.0).step()
    assert torch.allclose(conv.weight.view(2, 2), torch.tensor([[-1.0, 1.0], [-3.5, 3.5]]))
    raw = torch.nn.functional.conv2d(images, conv.weight).flatten()
    centred = images - images.mean(dim=3, keepdim=True)
    assert torch.allclose(raw, torch.nn.functional.conv2d(centred, conv.weight).flatten())
    assert torch.allclose(raw, torch.tensor([2.0, 7.0, 8.0, 28.0]))


def test_image_patches_are_the_layers_valid_patches():
    x = torch.arange(2 * 1 * 3 * 3, dtype=torch.float32).view(2, 1, 3, 3)
    patches = image_patches(x, (2, 2), per_image=100)
    assert patches.shape == (2 * 4, 4)
    assert patches[0].tolist() == [0.0, 1.0, 3.0, 4.0] and patches[4].tolist() == [9.0, 10.0, 12.0, 13.0]
    assert image_patches(x, (2, 2), per_image=3).shape == (6, 4)


def test_golden_class_means_and_their_scores():
    readout = ClassMeans(2, 3, metric="euclidean")
    rule = RULES.get("class_means")()
    assert isinstance(rule, ClassMeansRule)
    x, y = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]]), torch.tensor([0, 0, 1])
    for _ in range(2):  # a second pass leaves the means as they are
        mistakes = rule.write_grads(readout, x, y)
        torch.optim.SGD(list(readout.parameters()), lr=1.0).step()
        readout.zero_grad()
    assert mistakes == 0.0  # after the first pass every training point is nearest its own mean
    assert torch.allclose(readout.means(), torch.tensor([[1.0, 0.0], [0.0, 4.0], [0.0, 0.0]]))
    scores = readout(torch.tensor([[1.0, 1.0]]))
    assert torch.allclose(scores, -torch.tensor([[1.0, 10.0, 11.0]]))  # -||f - m_c||^2; empty: lowest - 1
    cosine = ClassMeans(2, 2)
    cosine.weight.data, cosine.counts.data = torch.tensor([[2.0, 0.0], [0.0, 5.0]]), torch.ones(2)
    assert torch.allclose(cosine(torch.tensor([[3.0, 4.0]])), torch.tensor([[0.6, 0.8]]))


def test_the_class_means_rule_needs_labels():
    with pytest.raises(ValueError, match="supervised"):
        ClassMeansRule().write_grads(ClassMeans(2, 2), torch.zeros(1, 2), None)


def test_neocognitron_knn_keeps_the_unsupervised_phases_and_replaces_us4():
    bio = _build("neocognitron", {"planes": [4, 6]})
    options = PAIRS.get("neocognitron_lenet5").twin_options(
        {"planes": [4, 6], "theta_recognition": [0.45, 0.3, 0.3, 0.2]}, {}, "neocognitron_knn"
    )
    assert options["theta_recognition"] == [0.45, 0.3, 0.3]
    knn = _build("neocognitron_knn", options)
    steps = [(s.group, s.rule, s.phase) for s in knn.learning_plan()]
    assert steps[:2] == [(s.group, s.rule, s.phase) for s in bio.learning_plan()][:2]
    assert steps[2] == ("class_means", "class_means", "supervised")
    assert knn.supervised_passes == bio.supervised_passes == 1
    x = torch.rand(3, *DIGITS)
    assert knn.features(x).shape == bio.features(x).shape


def test_a_k_means_control_learns_from_the_images_it_is_given():
    """Krotov's control on digits: every image of the unlabelled phase is taken by one prototype,
    and the readout then learns (above chance on the test split)."""
    task = TASKS.get("digits")()
    model = MODELS.get("krotov_kmeans")(task.input_shape, 10, n_hidden=40, readout="linear")
    config = TrainingConfig(epochs=5, batch_size=32, lr=0.01, unsupervised_samples=300, n_checkpoints=2)
    result = Trainer(model, task, config, 0, CPU, n_per_class=20).fit()
    assert float(model.hidden.taken.sum()) == 300 + (-300 % 32)  # whole batches: 10 x 32 = 320
    assert result.final_test_accuracy > 0.6


def test_controls_take_the_bio_models_unlabelled_budget_and_controls_false_leaves_them_out():
    from neurosim.config import load_raw, resolve

    raw = load_raw("comparisons/quickstart.toml")
    raw["controls"] = True
    raw["models"]["softhebb_cnn_kmeans"] = {"training": {"unsupervised_samples": 99}}
    members = {m.name: m for m in resolve(raw).members}
    krotov, control = members["hebbian_krotov"].training, members["krotov_kmeans"].training
    assert control.unsupervised_samples == krotov.unsupervised_samples == 72100
    # A control whose own table states its budget keeps its own, none of it inherited.
    assert members["softhebb_cnn_kmeans"].training.unsupervised_samples == 99
    assert {"neocognitron_kmeans", "neocognitron_knn", "softhebb_mlp_kmeans"} <= set(members)
    del raw["models"]["softhebb_cnn_kmeans"]
    raw["controls"] = False
    names = {m.name for m in resolve(raw).members}
    assert not names & {"krotov_kmeans", "softhebb_mlp_kmeans", "softhebb_cnn_kmeans", "neocognitron_knn"}
    assert "kmeans" in names  # Diehl & Cook's named twin stays


def test_k_means_seeding_continues_over_batches_smaller_than_the_layer():
    """5 prototypes, batches of 2 distinct inputs: each batch seeds 2 empty prototypes with its own
    inputs (k-means++ never picks an input twice), an empty prototype takes nothing, and after 3
    batches every prototype is a distinct input; before stop 36 one batch seeded all 5 with
    replacement, so at most 2 were distinct and the copies could never win an input. (In the third
    batch one input seeds the last prototype and the other joins its nearest.)"""
    from neurosim.rules.kmeans import MiniBatchKMeansRule

    layer = torch.nn.Linear(3, 5, bias=False)
    layer.weight = torch.nn.Parameter(torch.zeros(5, 3), requires_grad=False)
    layer.taken = torch.nn.Parameter(torch.zeros(5), requires_grad=False)
    optimiser = torch.optim.SGD([layer.weight, layer.taken], lr=1.0)
    rule = MiniBatchKMeansRule()
    batches = torch.eye(3).repeat(2, 1) * torch.arange(1, 7).view(6, 1)  # 6 distinct inputs
    torch.manual_seed(0)
    for step, batch in enumerate(batches.split(2), start=1):
        optimiser.zero_grad()
        rule.write_grads(layer, batch)
        optimiser.step()
        seeded = min(2 * step, 5)
        assert int((layer.taken > 0).sum()) == seeded and float(layer.taken.sum()) == 2 * step
        assert len({tuple(row.tolist()) for row in layer.weight[layer.taken > 0]}) == seeded
        if step == 2:  # 4 seeds, no input left over to move one: the seeds are the 4 inputs
            assert {tuple(r.tolist()) for r in layer.weight[layer.taken > 0]} == {
                tuple(r.tolist()) for r in batches[:4]
            }


def test_an_empty_prototype_wins_no_input_and_a_duplicate_is_never_seeded():
    """A prototype the seeding never reached (taken 0, weights 0) would be nearest to a faint input;
    it must not win at inference. An input equal to a seeded prototype up to cdist's rounding gets
    no k-means++ weight, so 64 copies of prototype 0 seed nothing."""
    from neurosim.models.kmeans import Prototypes
    from neurosim.models.neocognitron_controls import TriangleKMeans
    from neurosim.rules.kmeans import seed_empty

    layer = Prototypes(2, 3)
    layer.weight.data = torch.tensor([[5.0, 5.0], [4.0, 6.0], [0.0, 0.0]])
    layer.taken.data = torch.tensor([3.0, 2.0, 0.0])
    assert layer(torch.tensor([[0.1, 0.1]])).argmax().item() == 0
    triangle = TriangleKMeans(2, 3)
    triangle.weight.data, triangle.taken.data = layer.weight.data.clone(), layer.taken.data.clone()
    features = triangle(torch.tensor([[0.1, 0.1]])).flatten()
    assert features[2] == 0 and features.shape == (3,)
    torch.manual_seed(2)
    prototypes = torch.randn(3, 784)  # 2 seeded, 1 empty; 64 copies: cdist's product formula
    copies = prototypes[:1].repeat(64, 1)
    assert float(torch.cdist(copies, prototypes[:2]).pow(2).min(dim=1).values.max()) > 0  # rounding
    _, usable = seed_empty(copies, prototypes, torch.tensor([1.0, 1.0, 0.0]))
    assert not usable[2]
