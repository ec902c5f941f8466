"""Recipes and configuration: layering, strict overrides, TOML round trip."""

import pytest

from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo.core.errors import UsageError


def test_every_packaged_recipe_resolves():
    names = recipes.recipe_names()
    assert "mlp" in names and len(names) == len(set(names)), "recipe names must be unique"
    for name in names:
        resolved = resolve.load_config(name)
        assert resolved["name"] == name
        assert resolved["expect"]["source"], f"{name} must say where its target comes from"


@pytest.mark.parametrize("text, expected", [
    ("0.1", 0.1), ("3", 3), ("true", True), ("[64, 32]", [64, 32]), ("rmsprop", "rmsprop"),
    ('"keras.adam"', "keras.adam"), ("{schedule = 'cosine', initial = 0.1, decay_steps = 10}",
                                     {"schedule": "cosine", "initial": 0.1, "decay_steps": 10}),
])
def test_override_values_parse_as_toml(text, expected):
    assert recipes.parse_value(text) == expected


def test_override_changes_the_value():
    resolved = resolve.load_config("mlp", ["optimizer.learning_rate=0.01", "model.hidden_units=[32]", "train.epochs=3"])
    assert resolved["optimizer"]["learning_rate"] == 0.01
    assert resolved["model"]["hidden_units"] == [32]
    assert resolved["train"]["epochs"] == 3


def test_unknown_key_names_valid_keys_and_closest_match():
    with pytest.raises(UsageError) as error:
        resolve.load_config("mlp", ["train.epoch=3"])
    message = str(error.value)
    assert "unknown key 'train.epoch'" in message and "did you mean 'epochs'" in message
    assert "valid keys:" in message and "batch_size" not in message.split("valid keys:")[0]


def test_unknown_section_is_an_error():
    with pytest.raises(UsageError, match="unknown key 'trian'"):
        resolve.load_config("mlp", ["trian.epochs=3"])


def test_wrong_type_is_an_error():
    with pytest.raises(UsageError, match="train.epochs must be int"):
        resolve.load_config("mlp", ["train.epochs=ten"])
    with pytest.raises(UsageError, match="data.normalize must be bool"):
        resolve.load_config("mlp", ["data.normalize=1"])


def test_int_is_accepted_where_a_float_is_expected():
    resolved = resolve.load_config("mlp", ["expect.minimum=1"])
    assert resolved["expect"]["minimum"] == 1


def test_shortcuts_override_the_recipe():
    resolved = resolve.load_config("mlp", epochs=2, dataset="moons", seed=5)
    assert (resolved["train"]["epochs"], resolved["data"]["dataset"]) == (2, "moons")
    assert resolved["train"]["seed"] == resolved["data"]["seed"] == 5


def test_show_output_is_a_recipe_that_loads_unchanged(tmp_path):
    resolved = resolve.load_config("cnn", ["optimizer.learning_rate=0.02"])
    path = tmp_path / "copy.toml"
    path.write_text(recipes.to_toml(resolved))
    assert resolve.load_config(str(path)) == resolved


def test_malformed_toml_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[data\ndataset = 'digits'\n")
    with pytest.raises(UsageError, match="is not valid TOML"):
        resolve.load_config(str(path))


def test_unknown_recipe_suggests_a_name():
    with pytest.raises(UsageError, match="unknown recipe 'mpl'; did you mean 'mlp'"):
        resolve.load_config("mpl")


def test_model_options_are_checked_against_the_builder():
    resolved = resolve.load_config("mlp", ["model.hidden_unit=[3]"])
    with pytest.raises(UsageError, match="unknown key 'model.hidden_unit'.*did you mean 'hidden_units'"):
        resolve.check_component_options(resolved)
