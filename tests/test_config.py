import pytest

from neurosim import config
from neurosim.errors import UserError


def base():
    return {"name": "t", "pairs": ["perceptron_rosenblatt_mlp"], "task": {"name": "digits"}}


def test_overrides_are_typed():
    raw = base()
    config.apply_override(raw, "training.epochs=3")
    config.apply_override(raw, "training.lr=0.5")
    config.apply_override(raw, "models.perceptron_rosenblatt.n_association_units=64")
    config.apply_override(raw, "device=cpu")
    resolved = config.resolve(raw)
    assert resolved.training.epochs == 3 and resolved.training.lr == 0.5 and resolved.device == "cpu"
    assert resolved.member("mlp").options == {"hidden_sizes": [64]}, "the twin follows the bio model's width"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.epoch=3", "unknown key 'epoch' in \\[training\\]; valid keys: epochs"),
        ("trainin.epochs=3", "unknown key 'trainin'"),
        (
            "training.epochs=three",
            "'training.epochs' must be an integer in \\[1, 100000\\], got 'three' \\(a --set",
        ),
        ("training.optimizer=adamw", "'training.optimizer' must be one of \"adam\", \"sgd\", got 'adamw'"),
        ("device=tpu", '\'device\' must be "auto", "cpu", "cuda" or "cuda:N", got \'tpu\''),
        (
            "pairs=['nope']",
            "unknown pair 'nope'; valid choices: diehl_cook_mlp_kmeans, hebbian_krotov_backprop, "
            "neocognitron_lenet5, perceptron_averaged_linear",
        ),
        ("task.name=cifar", "unknown task 'cifar'"),
        (
            "models.mlp.hidden_sizes=[8]",
            "holds units equal, so the twin's hidden_sizes must be \\[512\\]",
        ),
        ("models.mpl.hidden_sizes=[8]", "\\[models\\] has tables for mpl"),
        ("training.epochs=0", "'training.epochs' must be an integer in \\[1, 100000\\], got 0"),
        ("seeds=[]", "'seeds' must be a non-empty list"),
        (
            "training.lr_schedule=step",
            "'training.lr_schedule' must be one of \"constant\", \"cosine\", got 'step'",
        ),
        ("epochs", "expects key=value"),
        (
            "training.unsupervised_pool=unlabelled",
            "'training.unsupervised_pool' must be one of \"all\", \"labelled\", got 'unlabelled'",
        ),
        (
            "training.unsupervised_epochs=0",
            "'training.unsupervised_epochs' must be an integer in \\[1, 100000\\]",
        ),
        (
            "training.unsupervised_batch_size=-1",
            "'training.unsupervised_batch_size' must be an integer in \\[0, 1048576\\]",
        ),
    ],
)
def test_broken_config_names_the_key(override, message):
    raw = base()
    with pytest.raises(UserError, match=message):
        config.apply_override(raw, override)
        config.resolve(raw)


def test_member_training_overrides_and_extra_models():
    raw = base() | {"extra_models": ["mlp_big"]}
    raw["models"] = {"mlp_big": {"model": "mlp", "hidden_sizes": [32, 16], "training": {"lr": 0.1}}}
    resolved = config.resolve(raw)
    big = resolved.member("mlp_big")
    assert big.model == "mlp" and big.options == {"hidden_sizes": [32, 16]}
    assert big.training.lr == 0.1 and resolved.member("mlp").training.lr == resolved.training.lr
    assert big.role == "reference" and resolved.member("perceptron_rosenblatt").role == "bio"


def test_members_cannot_change_the_shared_budget():
    raw = base() | {"models": {"mlp": {"training": {"epochs": 50}}}}
    with pytest.raises(UserError, match="may not set epochs: the budget"):
        config.resolve(raw)


def test_hash_ignores_seeds_but_not_budget():
    a = config.resolve(base() | {"seeds": [0]})
    b = config.resolve(base() | {"seeds": [0, 1]})
    c = config.resolve(base() | {"training": {"epochs": 2}})
    assert a.hash() == b.hash() != c.hash()


def test_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(UserError, match=r"broken\.toml"):
        config.load(path)


def test_late_training_keys_at_their_default_leave_identities_unchanged():
    """Adding unsupervised_* keys must not move finished runs to new folders or invalidate fits."""
    from neurosim.runner import fit_hash

    plain = config.resolve(base())
    defaults = {
        "unsupervised_epochs": 1,
        "unsupervised_samples": 0,
        "unsupervised_pool": "all",
        "unsupervised_batch_size": 0,
    }
    explicit = config.resolve(base() | {"training": defaults})
    changed = config.resolve(base() | {"training": {"unsupervised_epochs": 5}})
    assert plain.hash() == explicit.hash() != changed.hash()
    member = plain.member("mlp")
    assert fit_hash(plain, member, 0) == fit_hash(explicit, explicit.member("mlp"), 0)
    assert fit_hash(plain, member, 0) != fit_hash(changed, changed.member("mlp"), 0)
    # The value the identity had before these keys existed (a stored fit of the mlp twin).
    assert fit_hash(plain, member, 0) == "09deca026a2a57a4"


def test_a_new_fit_version_of_a_model_gives_its_fits_a_new_identity(monkeypatch):
    """A code change that alters what a configuration learns must not reuse the old fits."""
    import dataclasses

    from neurosim.models import MODELS
    from neurosim.runner import fit_hash

    plain = config.resolve(base())
    member = plain.member("mlp")
    before = fit_hash(plain, member, 0)
    card = MODELS.card
    monkeypatch.setattr(MODELS, "card", lambda name: dataclasses.replace(card(name), fit_version=2))
    assert fit_hash(plain, member, 0) != before
    monkeypatch.setattr(MODELS, "card", lambda name: dataclasses.replace(card(name), fit_version=1))
    assert fit_hash(plain, member, 0) == before


RENAMED = """
pairs = ["perceptron_rosenblatt_mlp", "diehl_cook_mlp_kmeans"]
[models.perceptron_rosenblatt]
n_association_units = 64
[models.diehl_cook]
n_neurons = 20
[pair_members.diehl_cook_mlp_kmeans]
mlp = "mlp_dc"
"""


def test_a_renamed_pair_member_lets_two_pairs_use_one_model_with_different_options():
    resolved = config.resolve(config.tomllib.loads(RENAMED))
    assert resolved.member("mlp").options["hidden_sizes"] == [64]
    renamed = resolved.member("mlp_dc")
    assert renamed.model == "mlp" and renamed.options["hidden_sizes"] == [20]
    assert renamed.role == "twin" and renamed.pairs == ("diehl_cook_mlp_kmeans",)
    assert resolved.pair_members() == {
        "perceptron_rosenblatt_mlp": ["perceptron_rosenblatt", "mlp"],
        "diehl_cook_mlp_kmeans": ["diehl_cook", "mlp_dc", "kmeans"],
    }
    # Without the rename the two pairs need one member with two widths: the error says how to fix it.
    with pytest.raises(UserError, match=r"\[pair_members.<pair>\]"):
        config.resolve(config.tomllib.loads(RENAMED.replace('mlp = "mlp_dc"', "")))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[pair_members.perceptron_linear]\nlinear = "x"',
            "pair in \\[pair_members\\].*diehl_cook_mlp_kmeans",
        ),
        ('[pair_members.diehl_cook_mlp_kmeans]\ncnn = "x"', "diehl_cook, mlp, kmeans"),
        ('[pair_members.diehl_cook_mlp_kmeans]\nmlp = "x"\n[models.x]\nmodel = "cnn"', "may not change"),
    ],
)
def test_broken_pair_members_name_the_valid_choices(table, message):
    raw = config.tomllib.loads(RENAMED.replace('[pair_members.diehl_cook_mlp_kmeans]\nmlp = "mlp_dc"', table))
    with pytest.raises(UserError, match=message):
        config.resolve(raw)


def test_stored_results_name_each_pairs_members():
    import json

    from neurosim.pairs import group_by_pair, stored_pair_members

    resolved = config.resolve(config.tomllib.loads(RENAMED))
    attrs = {"pairs": ",".join(resolved.pairs), "pair_members": json.dumps(resolved.pair_members())}
    assert stored_pair_members(attrs)["diehl_cook_mlp_kmeans"] == ["diehl_cook", "mlp_dc", "kmeans"]
    # Results stored before members could be renamed: the pair's model keys are the members.
    assert stored_pair_members({"pairs": "snn_mlp_mlp"}) == {"snn_mlp_mlp": ["snn_mlp", "mlp"]}
    groups = group_by_pair(stored_pair_members(attrs), ["mlp", "mlp_dc", "kmeans", "diehl_cook", "x"])
    assert groups == [["mlp"], ["diehl_cook", "mlp_dc", "kmeans"], ["x"]]


def test_evaluating_on_validation_is_a_new_identity_and_test_is_the_old_one():
    from neurosim.runner import fit_hash

    plain = config.resolve(base())
    on_test = config.resolve(base() | {"task": {"name": "digits", "evaluate_on": "test"}})
    on_validation = config.resolve(base() | {"task": {"name": "digits", "evaluate_on": "validation"}})
    member = plain.member("mlp")
    assert plain.hash() == on_test.hash() and fit_hash(plain, member, 0) == fit_hash(on_test, member, 0)
    assert plain.hash() != on_validation.hash()
    assert fit_hash(plain, member, 0) != fit_hash(on_validation, on_validation.member("mlp"), 0)
