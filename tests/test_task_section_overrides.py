"""``--set`` reaches every key a task declares for its own section (``[transfer]``, ``[generate]``,
``[autoencode]``, ...), also the keys a recipe leaves at their defaults and does not write;
a key the task does not declare is still refused in one line, before TensorFlow loads."""

import json

import pytest

from dlzoo import tasks
from dlzoo.config import recipes
from helpers import assert_usage_error
from test_bad_input_fast import assert_refused_before_tensorflow, run_fresh


def toml_value(value):
    """``value`` as the TOML text of a ``--set`` (JSON spells numbers, strings, booleans and arrays alike)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


def unwritten_task_keys():
    """``(recipe, section, {key: default})`` for every packaged recipe whose task declares keys the recipe does not write."""
    cases = []
    for path in recipes.recipe_files():
        raw = recipes.read_toml(path)
        task = tasks.create(raw.get("task", "classify"))
        if not task.section:
            continue
        written = raw.get(task.section, {})
        unwritten = {key: value for key, value in task.section_defaults.items()
                     if key not in written and value is not None}
        if unwritten:
            cases.append((path.stem, task.section, unwritten))
    return cases


CASES = unwritten_task_keys()


def test_there_are_recipes_that_leave_task_keys_unwritten():
    sections = {section for _, section, _ in CASES}
    assert {"transfer", "generate", "autoencode"} <= sections, sections


@pytest.mark.parametrize("recipe, section, unwritten", CASES, ids=[case[0] for case in CASES])
def test_every_declared_task_key_can_be_set(cli_run, recipe, section, unwritten):
    arguments = ["show", recipe]
    for key, default in unwritten.items():
        arguments += ["--set", f"{section}.{key}={toml_value(default)}"]
    result = cli_run(*arguments)
    assert result.exit_code == 0, result.stderr
    shown = recipes.tomllib.loads(result.output)[section]
    assert set(unwritten) <= set(shown), (sorted(unwritten), sorted(shown))


def test_an_unwritten_transfer_key_reaches_the_resolved_config(cli_run):
    # fashion-transfer does not write scratch_epochs (default: frozen + fine-tune epochs).
    assert "scratch_epochs" not in recipes.read_toml(recipes.find_recipe("fashion-transfer"))["transfer"]
    result = cli_run("show", "fashion-transfer", "--set", "transfer.scratch_epochs=5")
    assert result.exit_code == 0, result.stderr
    assert recipes.tomllib.loads(result.output)["transfer"]["scratch_epochs"] == 5


def test_a_table_valued_task_key_takes_sub_keys(cli_run):
    # dcgan leaves scorer_model at {} (the default judge): one of its cnn keys can still be set.
    assert "scorer_model" not in recipes.read_toml(recipes.find_recipe("dcgan"))["generate"]
    result = cli_run("show", "dcgan", "--set", "generate.scorer_model.dense_units=48", "--set", "generate.scorer_epochs=2")
    assert result.exit_code == 0, result.stderr
    shown = recipes.tomllib.loads(result.output)["generate"]
    assert shown["scorer_model"] == {"dense_units": 48} and shown["scorer_epochs"] == 2


@pytest.mark.parametrize("assignment, fragments", [
    ("transfer.scratch_epoch=5", ("unknown key 'transfer.scratch_epoch'", "did you mean 'scratch_epochs'")),
    ("transfer.scratch_epochs.x=5", ("unknown key 'transfer.scratch_epochs'",)),
])
def test_train_refuses_an_undeclared_task_key_before_tensorflow(tmp_path, assignment, fragments):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "fashion-transfer", "--set", assignment), *fragments)


def test_show_refuses_an_undeclared_task_key_listing_the_declared_ones(cli_run):
    result = cli_run("show", "dcgan", "--set", "generate.scorer_modl.dense_units=32")
    assert_usage_error(result, "unknown key 'generate.scorer_modl'", "did you mean 'scorer_model'", "scorer_batch_size")


def test_a_task_section_of_another_task_is_still_refused(cli_run):
    assert_usage_error(cli_run("show", "mlp", "--set", "transfer.scratch_epochs=5"), "unknown key 'transfer'")
