"""Contracts over every registry entry: models, pairs, rules and shipped comparisons."""

import inspect

import pytest
import torch

from neurosim import config
from neurosim.errors import UserError
from neurosim.models import MODELS, NeurosimModel
from neurosim.models.registry import SUPPLIED
from neurosim.pairs import PAIRS
from neurosim.rules import RULES
from neurosim.run_loading import build_model, load_task
from neurosim.runner import check_pairs

SHAPES = [((1, 8, 8), 10), ((2,), 2), ((1, 28, 28), 10)]


def build_or_skip(name: str, input_shape: tuple, n_classes: int):
    """Build a model; one whose card says it cannot take ``input_shape`` must refuse it with a
    clear error (and the test skips), any other must build."""
    card = MODELS.card(name)
    if card.accepts(input_shape):
        return MODELS.get(name)(input_shape, n_classes)
    with pytest.raises(UserError) as refused:
        MODELS.get(name)(input_shape, n_classes)
    pytest.skip(f"{name} cannot take input shape {input_shape} ({card.input_constraints()}): {refused.value}")


@pytest.mark.parametrize("name", MODELS.list())
@pytest.mark.parametrize(("input_shape", "n_classes"), SHAPES)
def test_every_model_keeps_the_contract(name, input_shape, n_classes):
    torch.manual_seed(0)
    model = build_or_skip(name, input_shape, n_classes)
    assert isinstance(model, NeurosimModel)
    x = torch.rand(5, *input_shape)
    model.eval()  # dropout is randomness, not state
    logits = model(x)
    assert logits.shape == (5, n_classes)
    assert torch.equal(model(x), logits), "no hidden state may carry over between calls"
    points = model.probe_points()
    assert points and all(isinstance(m, torch.nn.Module) for m in points.values())
    plan = model.learning_plan()
    assert plan and all(step.rule in RULES for step in plan)
    assert len({step.group for step in plan}) == len(plan)
    weights = model.first_layer_weights()
    # Rows of kernels (a patch) or of the model's own retina (images resized) need not match the input.
    spans_input = MODELS.card(name).receptive_field == "input"
    assert weights.ndim == 2 and (weights.shape[1] == x[0].numel() or not spans_input)
    counts = model.count_parameters()
    assert counts["trainable"] > 0 and counts["fixed"] >= 0


def _variants() -> list[tuple[str, dict]]:
    """Every model at its defaults, and the models with an ``encoder`` option with each encoder (the
    rate encoder draws from a generator of its own)."""
    from neurosim.encoders import ENCODERS

    encoded = [name for name in MODELS.list() if "encoder" in MODELS.card(name).defaults]
    assert encoded, "the spiking models take an encoder"
    spiking = [(name, {"encoder": e}) for name in encoded for e in ENCODERS.list()]
    return [(name, {}) for name in MODELS.list()] + spiking


@pytest.mark.parametrize(("name", "options"), _variants(), ids=lambda v: v if isinstance(v, str) else "-")
def test_outputs_depend_only_on_the_input_and_the_state_dict(name, options):
    """A call's result depends on its input and the model's state dict only: a model that draws
    random numbers keeps its generator's state there (so a resumed run draws what an uninterrupted
    one would), and replaying from a saved state dict gives the same result bit for bit."""
    import copy

    torch.manual_seed(0)
    model = MODELS.get(name)((1, 28, 28), 10, **options).eval()
    x = torch.rand(5, 1, 28, 28)
    saved = copy.deepcopy(model.state_dict())
    first = model(x)
    again = model(x)
    if not torch.equal(again, first):  # randomness: its state must be in the state dict
        assert any(not torch.equal(saved[k], v) for k, v in model.state_dict().items() if k in saved)
    model.load_state_dict(saved)
    assert torch.equal(model(x), first)


@pytest.mark.parametrize("name", MODELS.list())
def test_models_do_not_move_themselves(name):
    model = MODELS.get(name)((1, 28, 28), 10)
    assert {t.device.type for t in [*model.parameters(), *model.buffers()]} == {"cpu"}


@pytest.mark.gpu
@pytest.mark.parametrize("name", MODELS.list())
def test_models_run_on_cuda_and_match_cpu(name):
    if MODELS.card(name).cuda_differs:
        pytest.skip(f"CPU and CUDA differ by design: {MODELS.card(name).cuda_differs}")
    torch.manual_seed(0)
    model = MODELS.get(name)((1, 28, 28), 10).eval()  # dropout is randomness, not a result
    x = torch.rand(5, 1, 28, 28)
    expected = model(x)
    model = model.cuda()
    # Relative too: logits of tens differ in their sixth digit between CPU and GPU sums.
    assert torch.allclose(model(x.cuda()).cpu(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODELS.list())
def test_every_card_states_the_inputs_its_model_takes(name):
    """A card's input constraints hold at the boundaries: the smallest images it claims to take
    build (with ``small_image_options``, smaller ones too), the next smaller size and other channel
    counts are refused with a clear error; defaults are the factory's own."""
    card, factory = MODELS.card(name), MODELS.get(name)
    assert card.defaults == {
        key: p.default for key, p in inspect.signature(factory).parameters.items() if key not in SUPPLIED
    }
    if not card.image_input:
        assert card.accepts((3,)) and card.accepts((1, 5, 5))
        factory((3,), 2)
        return
    channels = card.channels or 1
    side = card.min_image_side
    assert card.accepts((channels, side, side)) and not card.accepts((channels * side * side,))
    factory((channels, side, side), 10)
    with pytest.raises(UserError):
        factory((channels * side * side,), 10)
    if side > 1:
        assert not card.accepts((channels, side - 1, side - 1))
        with pytest.raises(UserError):
            factory((channels, side - 1, side - 1), 10)
        if card.small_image_options:
            factory((channels, 8, 8), 10, **card.small_image_options)
    if card.channels is not None:
        assert not card.accepts((channels + 1, 28, 28))
        with pytest.raises(UserError):
            factory((channels + 1, 28, 28), 10)


def test_every_pair_pits_a_bio_inspired_model_against_conventional_twins():
    for name in PAIRS.list():
        pair = PAIRS.get(name)
        assert MODELS.card(pair.bio).bio, name
        assert not any(MODELS.card(twin).bio for twin in pair.twins), name


def test_model_cards_keep_the_fit_versions_of_stored_fits():
    """A fit's identity includes its model's fit version (when not 1): these values name fits
    already stored, so they may only ever go up, with a note of what changed."""
    versions = {name: MODELS.card(name).fit_version for name in MODELS.list()}
    assert {name: v for name, v in versions.items() if v != 1} == {
        "diehl_cook": 6,
        "softhebb_mlp": 2,
        "softhebb_cnn_kmeans": 3,  # 2: whitened patches by default; 3: k-means++ continued over batches
        "kmeans": 2,  # k-means++ continued over batches (the four below too)
        "krotov_kmeans": 2,
        "softhebb_mlp_kmeans": 2,
        "neocognitron_kmeans": 2,
    }


@pytest.mark.parametrize("name", PAIRS.list())
def test_every_pair_satisfies_its_matching_policy(name):
    pair = PAIRS.get(name)
    raw = {"name": "t", "pairs": [name], "task": {"name": "digits"}}
    task = load_task(config.resolve(raw))
    card = MODELS.card(pair.bio)
    if not card.accepts(task.input_shape):  # 8x8 digits: padded convolutions (the twin follows)
        assert card.small_image_options, f"{pair.bio} cannot take the digits and has no options that can"
        raw["models"] = {pair.bio: dict(card.small_image_options)}
    resolved = config.resolve(raw)
    check_pairs(resolved, task)  # raises if broken
    bio = build_model(resolved.member(pair.bio), task, 0)
    for twin in pair.twins:
        pair.check(bio, build_model(resolved.member(twin), task, 0))


def test_pair_policy_violation_is_caught():
    pair = PAIRS.get("perceptron_rosenblatt_mlp")
    bio = MODELS.get("perceptron_rosenblatt")((1, 8, 8), 10, n_association_units=64)
    twin = MODELS.get("mlp")((1, 8, 8), 10, hidden_sizes=[32])
    with pytest.raises(ValueError, match="hidden widths differ"):
        pair.check(bio, twin)
    wide = MODELS.get("mlp")((1, 8, 8), 10, hidden_sizes=[64, 64])
    with pytest.raises(ValueError, match="exactly one hidden layer"):
        pair.check(bio, wide)
    dc = MODELS.get("diehl_cook")((1, 8, 8), 10, n_neurons=20)
    with pytest.raises(ValueError, match=r"^unit counts differ: 20 vs 30$"):
        PAIRS.get("diehl_cook_mlp_kmeans").check(dc, MODELS.get("kmeans")((1, 8, 8), 10, n_prototypes=30))
    linear = PAIRS.get("perceptron_linear")
    with pytest.raises(ValueError, match=r"linear maps .* differ: \(10, 64\) vs \(5, 64\)"):
        linear.check(MODELS.get("perceptron")((1, 8, 8), 10), MODELS.get("linear")((1, 8, 8), 5))


@pytest.mark.parametrize("name", config.list_comparisons())
def test_every_shipped_comparison_parses(name):
    resolved = config.load(config.find_comparison(name))
    assert resolved.members and resolved.seeds
    assert resolved.version >= 1


def test_a_model_without_its_contract_cannot_be_built():
    class NoPlan(NeurosimModel):
        def forward(self, x):
            return x

        def probe_points(self):
            return {}

        def first_layer_weights(self):
            return torch.zeros(1, 1)

    with pytest.raises(TypeError, match="learning_plan"):
        NoPlan()


def test_every_rule_and_model_objective_is_registered_and_an_unknown_one_fails_before_training():
    from neurosim.config import TrainingConfig
    from neurosim.objectives import OBJECTIVES
    from neurosim.tasks import TASKS
    from neurosim.training import Trainer

    for name in RULES.list():
        assert RULES.get(name).objective in OBJECTIVES, name
    for name in MODELS.list():
        assert MODELS.get(name)((1, 28, 28), 10).loss_name in OBJECTIVES, name
    model = MODELS.get("mlp")((1, 8, 8), 10, hidden_sizes=[4])
    model.loss_name = "my_own_loss"
    task = TASKS.get("digits")()
    with pytest.raises(UserError, match="unknown training objective 'my_own_loss'"):
        Trainer(model, task, TrainingConfig(epochs=1), 0, torch.device("cpu"))
