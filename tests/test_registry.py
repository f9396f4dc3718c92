import pytest

from neurosim.errors import UserError
from neurosim.models.card import ModelCard
from neurosim.models.registry import ModelRegistry
from neurosim.registry import Registry


def test_register_get_list_and_pattern():
    registry = Registry("widget")
    registry.register("snn_mlp")(1)
    registry.add("snn_cnn", 2)
    registry.add("mlp", 3)
    assert registry.get("snn_cnn") == 2
    assert registry.list() == ["mlp", "snn_cnn", "snn_mlp"]
    assert registry.list("snn_*") == ["snn_cnn", "snn_mlp"]
    assert "mlp" in registry and len(registry) == 3


def test_duplicate_and_malformed_names_raise():
    registry = Registry("widget")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", 2)
    with pytest.raises(ValueError, match="lower_snake"):
        registry.add("BadName", 3)


def test_unknown_name_lists_valid_choices():
    registry = Registry("widget")
    registry.add("alpha", 1)
    registry.add("beta", 2)
    with pytest.raises(UserError, match="unknown widget 'gamma'; valid choices: alpha, beta"):
        registry.get("gamma")


def _factory(input_shape, n_classes, width: int = 4, kind: str = "relu"):
    raise AssertionError("never built here")


def test_models_register_with_a_card_whose_defaults_come_from_the_factory():
    registry = ModelRegistry()
    card = ModelCard(family="conventional", paper="Someone 2024", bio=False)
    assert registry.register("plain", card)(_factory) is _factory
    assert registry.get("plain") is _factory
    assert registry.card("plain").defaults == {"width": 4, "kind": "relu"}
    assert registry.card("plain").fit_version == 1 and card.defaults == {}

    class Net:  # a class is its own factory: its __init__ gives the options
        def __init__(self, input_shape, n_classes, units: int = 10) -> None: ...

    registry.register("net", ModelCard(family="spiking", paper="", bio=True, fit_version=3))(Net)
    assert registry.card("net").defaults == {"units": 10} and registry.card("net").fit_version == 3
    with pytest.raises(UserError, match="unknown model 'nope'; valid choices: net, plain"):
        registry.card("nope")


def test_a_model_without_a_card_or_with_a_wrong_one_is_refused():
    registry = ModelRegistry()
    card = ModelCard(family="hebbian", paper="", bio=True)
    with pytest.raises(TypeError, match="must be registered with its ModelCard"):
        registry.register("bare")(_factory)
    with pytest.raises(ValueError, match="needs a default"):
        registry.add("required", lambda input_shape, n_classes, width: None, card)
    with pytest.raises(ValueError, match=r"takes \(input_shape, n_classes"):
        registry.add("shape_first", lambda shape, n_classes: None, card)
    with pytest.raises(ValueError, match="unknown model family 'magic'"):
        ModelCard(family="magic", paper="", bio=True)
    with pytest.raises(ValueError, match="fit_version must be an int >= 1"):
        ModelCard(family="hebbian", paper="", bio=True, fit_version=0)
    with pytest.raises(ValueError, match="describe image inputs only"):
        ModelCard(family="hebbian", paper="", bio=True, min_image_side=4)
    small = ModelCard(family="hebbian", paper="", bio=True, image_input=True, small_image_options={"pad": 1})
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['pad'\]"):
        registry.add("small", _factory, small)
    assert "bare" not in registry and "small" not in registry and len(registry) == 0


def test_a_card_says_which_inputs_its_model_takes():
    flat = ModelCard(family="conventional", paper="", bio=False)
    assert flat.accepts((2,)) and flat.accepts((3, 8, 8))
    assert flat.input_constraints() == "any shape; flattened"
    conv = ModelCard(
        family="conventional",
        paper="",
        bio=False,
        image_input=True,
        min_image_side=16,
        small_image_options={"padding": 2},
        input_note="convolved as given",
    )
    assert conv.accepts((3, 16, 20)) and not conv.accepts((1, 8, 8)) and not conv.accepts((256,))
    assert (
        conv.input_constraints()
        == "images [C, H, W] with H, W >= 16 (smaller with padding=2); convolved as given"
    )
    gray = ModelCard(family="competitive", paper="", bio=True, image_input=True, channels=1, input_note="")
    assert gray.accepts((1, 3, 3)) and not gray.accepts((3, 28, 28))
    assert gray.input_constraints() == "images [1, H, W]"


def test_the_shipped_cards():
    from neurosim.models import MODELS

    assert MODELS.card("diehl_cook").fit_version == 6 and MODELS.card("softhebb_mlp").fit_version == 2
    assert MODELS.card("mlp").defaults == {"hidden_sizes": (128,), "activation": "relu"}
    assert MODELS.card("perceptron").defaults == {}
    assert MODELS.card("snn_cnn").small_image_options == {"padding": 2}
    assert not MODELS.card("lenet5").accepts((3, 32, 32)) and MODELS.card("lenet5").accepts((1, 8, 8))
    families = {name: MODELS.card(name).family for name in MODELS.list()}
    assert families["neocognitron"] == "competitive" and families["kmeans"] == "clustering"
    assert {name for name, family in families.items() if family == "spiking"} == {
        "diehl_cook",
        "snn_cnn",
        "snn_mlp",
    }


def test_list_models_verbose_prints_every_card(capsys):
    from neurosim import cli
    from neurosim.models import MODELS

    assert cli.main(["list", "models"]) == 0
    assert capsys.readouterr().out.split() == MODELS.list(), "the plain list stays one name a line"
    assert cli.main(["list", "models", "-v"]) == 0
    out = capsys.readouterr().out
    blocks = {block.split("\n", 1)[0]: block for block in out.strip().split("\n\n")}
    assert list(blocks) == MODELS.list()
    dc = blocks["diehl_cook"]
    assert "  family       spiking (bio-inspired: yes)\n" in dc
    assert "  paper        Diehl & Cook 2015, Front. Comput. Neurosci. 9:99\n" in dc
    assert "  fit version  6\n" in dc
    assert "n_neurons=100, preset='paper', mode='exact'" in dc
    assert "any shape; square one-channel images resized" in dc
    assert "  cuda         differs from the CPU by design" in dc
    cnn = blocks["cnn"]
    assert "  family       conventional (bio-inspired: no)\n" in cnn
    assert "  inputs       images [C, H, W] with H, W >= 16 (smaller with padding=2)" in cnn
    assert "  defaults     channels=[12, 64], kernel_size=5, padding=0\n" in cnn
    assert cnn.endswith("  fit version  1") and "cuda" not in cnn
    assert "  defaults     (no options)" in blocks["perceptron"]
    assert "  fit version  2" in blocks["softhebb_mlp"]
    assert all(len(line) <= 100 for line in out.splitlines())
    # Before the command, -v is the global one (debug logging), not the cards.
    assert not cli.parser().parse_args(["-v", "list", "models"]).cards
