"""Every pair states what it holds equal, and each held property's check refuses a twin that
differs in it (so ``held_equal`` says only what is checked)."""

from __future__ import annotations

import pytest

from neurosim.models import MODELS
from neurosim.pairs import PAIRS

DIGITS = (1, 8, 8)
SNN_CNN = {"channels": [4, 6], "padding": 2, "n_steps": 2}
#: pair -> (bio options, twin options that break a held property: {twin: options}, what it names)
CASES = {
    "perceptron_linear": ({}, (DIGITS, (1, 8, 9)), "linear maps"),
    "perceptron_averaged_linear": ({}, (DIGITS, (1, 8, 9)), "linear maps"),
    "snn_mlp_mlp": ({"hidden_sizes": [16]}, {"hidden_sizes": [17]}, "layer shapes"),
    "snn_cnn_cnn": (SNN_CNN, {"channels": [4, 7], "padding": 2}, "layer shapes"),
    "perceptron_rosenblatt_mlp": (
        {"n_association_units": 16},
        {"hidden_sizes": [16, 16]},
        "one hidden layer",
    ),
    "hebbian_krotov_backprop": ({"n_hidden": 12, "k": 2}, {"n_hidden": 13}, "layer shapes"),
    "softhebb_mlp_backprop": ({"n_hidden": 12}, {"n_hidden": 13}, "layer shapes"),
    "softhebb_cnn_backprop": ({"channels": [4, 6]}, {"channels": [4, 7]}, "layer shapes"),
    "neocognitron_lenet5": ({"planes": [4, 6]}, {"image_size": 26, "margin": 3}, "retinas"),
    "diehl_cook_mlp_kmeans": ({"n_neurons": 10}, {"hidden_sizes": [11]}, "unit counts"),
}


def _twin(pair, bio_options: dict, twin: str, overrides: dict | None = None):
    options = pair.twin_options(bio_options, {}, twin) | (overrides or {})
    return MODELS.get(twin)(DIGITS, 10, **options)


def test_every_pair_is_tested_here():
    assert set(CASES) == set(PAIRS.list())


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_pair_holds_its_properties_for_every_twin_and_control(name):
    pair, (bio_options, _, _) = PAIRS.get(name), CASES[name]
    bio = MODELS.get(pair.bio)(DIGITS, 10, **bio_options)
    for twin in pair.twins:
        pair.check(bio, _twin(pair, bio_options, twin))


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_check_fails_when_a_held_property_differs(name):
    pair, (bio_options, breaking, message) = PAIRS.get(name), CASES[name]
    bio = MODELS.get(pair.bio)(DIGITS, 10, **bio_options)
    twin = pair.twins[0]
    if isinstance(breaking, tuple):  # another input shape: the linear map's D differs
        built = MODELS.get(twin)(breaking[1], 10)
    else:
        built = _twin(pair, bio_options, twin, breaking)
    with pytest.raises(ValueError, match=message):
        pair.check(bio, built)


def test_the_neocognitron_pair_states_the_retina_only_and_what_differs():
    pair = PAIRS.get("neocognitron_lenet5")
    assert pair.held_equal == "retina (image_size, margin)"
    assert "architecture" not in pair.held_equal
    assert "planes" in pair.differs and "60k parameters" in pair.differs


def test_held_names_are_what_the_listing_prints():
    assert PAIRS.get("perceptron_rosenblatt_mlp").held_equal == "units"
    assert PAIRS.get("snn_mlp_mlp").held_equal == "every layer's weight shape"
