"""``train.quick_model``: the smaller model a recipe declares for ``--quick`` runs.

It is applied in one place (:func:`dlzoo.commands.lifecycle.prepare`), checked like any ``[model]`` key,
and leaves the run's ``config.toml`` as the recipe wrote it.
"""

import json

import pytest

from dlzoo import tasks
from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo.commands import lifecycle
from helpers import shared_run

TRANSFORMERS = ("gpt-char", "transformer-classifier", "transformer-dates", "transformer-numbers")


def test_with_quick_model_replaces_model_keys_and_leaves_the_recipe_alone():
    resolved = resolve.load_config("transformer-dates")
    quick = recipes.with_quick_model(resolved)
    assert quick["model"]["num_layers"] == resolved["train"]["quick_model"]["num_layers"]
    assert quick["model"]["name"] == resolved["model"]["name"] == "transformer"
    assert resolved["model"]["num_layers"] == 2 and quick is not resolved  # the recipe itself is unchanged
    plain = resolve.load_config("mlp")
    assert recipes.with_quick_model(plain) is plain  # no quick_model: the recipe's own model


def test_a_model_key_set_on_the_command_line_wins_over_the_quick_model():
    resolved = resolve.load_config("transformer-dates", ["model.num_layers=2", "model.num_heads=8"])
    quick = recipes.with_quick_model(resolved)
    assert quick["model"]["num_layers"] == 2 and quick["model"]["num_heads"] == 8  # not silently replaced
    assert quick["model"]["model_dim"] == resolved["train"]["quick_model"]["model_dim"] < resolved["model"]["model_dim"]
    assert "num_layers" not in resolved["train"]["quick_model"]  # config.toml says what the quick run built


@pytest.mark.parametrize("recipe", TRANSFORMERS)
def test_every_transformer_recipe_declares_a_smaller_quick_model(recipe):
    resolved = resolve.load_config(recipe)
    quick_model = resolved["train"]["quick_model"]
    assert quick_model, f"{recipe} trains its full transformer in --quick runs"
    for key in ("num_layers", "model_dim", "feed_forward_dim"):
        assert quick_model[key] < resolved["model"][key]


@pytest.mark.parametrize("recipe", ["transformer-classifier", "transformer-dates"])
def test_quick_prepares_the_smaller_model(recipe):
    resolved = resolve.load_config(recipe)
    task = tasks.create(resolved["task"])
    full = lifecycle.prepare(task, resolved, quick=False).model.count_params()
    quick = lifecycle.prepare(task, resolved, quick=True).model.count_params()
    assert quick < full / 3, (quick, full)


def test_a_quick_run_keeps_the_recipe_in_config_toml(tmp_path_factory):
    folder = shared_run(tmp_path_factory, "transformer-classifier", "--quick").folder
    saved = resolve.load_config(str(folder / "config.toml"))
    recipe = resolve.load_config("transformer-classifier")
    assert saved["model"] == recipe["model"] and saved["train"]["quick_model"] == recipe["train"]["quick_model"]
    record = json.loads((folder / "metrics.json").read_text())
    assert record["quick"] is True and "model.num_layers" not in record["changed_settings"]
    full = lifecycle.prepare(tasks.create("classify"), recipe, quick=False).model.count_params()
    assert record["parameters"] < full / 3


@pytest.mark.parametrize("value, fragments", [
    ("{num_layer = 1}", ("train.quick_model.num_layer", "did you mean 'num_layers'")),
    ('{name = "mlp"}', ("train.quick_model.name",)),
])
def test_a_quick_model_key_the_model_does_not_have_is_refused_up_front(cli_run, tmp_path, value, fragments):
    for command in (("show", "transformer-dates"), ("train", "transformer-dates", "--quick", "--runs", "runs")):
        result = cli_run(*command, "--set", f"train.quick_model={value}")
        assert result.exit_code == 2, (result.output, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and all(fragment in lines[0] for fragment in fragments), lines
    assert not (tmp_path / "runs").exists()


def test_a_quick_model_value_of_the_wrong_type_is_refused_even_without_quick(cli_run, tmp_path):
    result = cli_run("train", "transformer-classifier", "--epochs", "1", "--set", 'train.quick_model={num_layers = "one"}',
                     "--runs", "runs")
    assert result.exit_code == 2, (result.output, result.stderr)
    assert "num_layers" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))
