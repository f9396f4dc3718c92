import pytest

from neurosim.errors import UserError
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
