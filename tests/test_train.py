"""Trainer details: schedule steps filled per run, target checks, device choice."""

from dlzoo.optimizers.schedules import fill_auto_steps
from dlzoo.commands.lifecycle import target_check
from helpers import shared_run


def test_auto_decay_steps_become_the_run_length():
    section = {"name": "adam", "learning_rate": {"schedule": "cosine", "initial": 0.01, "decay_steps": "auto"}}
    filled = fill_auto_steps(section, 1200)
    assert filled["learning_rate"]["decay_steps"] == 1200
    assert section["learning_rate"]["decay_steps"] == "auto", "the recipe itself is not modified"
    assert fill_auto_steps({"name": "sgd", "learning_rate": 0.1}, 5) == {"name": "sgd", "learning_rate": 0.1}


def test_cosine_auto_schedule_ends_at_the_last_step(tmp_path_factory):
    import json

    folder = shared_run(tmp_path_factory, "softmax-regression", "--quick").folder
    assert 'decay_steps = "auto"' in (folder / "config.toml").read_text(), "config.toml keeps the recipe's words"
    assert json.loads((folder / "metrics.json").read_text())["status"] == "completed"


def test_target_check_minimum_and_maximum():
    assert target_check({"metric": "test_accuracy", "minimum": 0.9}, {"test_accuracy": 0.95})["passed"]
    assert not target_check({"metric": "test_accuracy", "minimum": 0.9}, {"test_accuracy": 0.85})["passed"]
    assert target_check({"metric": "ratio", "minimum": 0.0, "maximum": 1e-3}, {"ratio": 1e-6})["passed"]
    assert not target_check({"metric": "ratio", "minimum": 0.0, "maximum": 1e-3}, {"ratio": 0.5})["passed"]
    assert not target_check({"metric": "missing", "minimum": 0.0}, {})["passed"]


def test_gpu_requested_without_one_is_a_usage_error(cli_run):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return  # this machine has a GPU: the refusal cannot happen here
    result = cli_run("train", "mlp", "--quick", "--device", "gpu")
    assert result.exit_code == 2 and "sees no GPU" in result.stderr
