"""Every bad input gives one clear line, the right exit code, no traceback, and loses no file."""

import json

import numpy as np
import pytest

from helpers import QUICK, assert_usage_error, shared_run


@pytest.fixture
def existing_run(tmp_path):
    """An earlier run folder with a file that must survive every failed command."""
    folder = tmp_path / "runs" / "mlp" / "20200101-000000"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('name = "mlp"\n')
    (folder / "notes.txt").write_text("precious")
    return folder


def test_unknown_recipe(cli_run):
    assert_usage_error(cli_run("train", "mlpp"), "unknown recipe 'mlpp'", "did you mean 'mlp'")


def test_unknown_set_key(cli_run):
    assert_usage_error(cli_run("train", "mlp", "--set", "optimizer.learning_rat=0.1"),
                       "did you mean 'learning_rate'")
    assert_usage_error(cli_run("train", "mlp", "--set", "train.epoch=2"), "unknown key 'train.epoch'", "valid keys")


def test_wrong_value_type(cli_run):
    assert_usage_error(cli_run("train", "mlp", "--set", "data.batch_size=big"), "data.batch_size must be int")
    assert_usage_error(cli_run("train", "mlp", "--set", "optimizer.learning_rate=fast"), "learning_rate")


def test_malformed_recipe_file(cli_run, tmp_path):
    (tmp_path / "bad.toml").write_text("name = 'x'\n[data\n")
    assert_usage_error(cli_run("train", "bad.toml"), "is not valid TOML")


def test_missing_and_corrupt_dataset_files(cli_run, tmp_path):
    assert_usage_error(cli_run("train", "mlp", "--data", "npz:nowhere.npz"), "no such file")
    (tmp_path / "corrupt.npz").write_bytes(b"garbage")
    assert_usage_error(cli_run("train", "mlp", "--data", "npz:corrupt.npz"), "not a readable .npz")


def test_folder_dataset_without_images(cli_run, tmp_path):
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    assert_usage_error(cli_run("train", "cnn", "--data", "folder:photos"), "has no images")


def test_dataset_that_does_not_fit_the_model(cli_run):
    assert_usage_error(cli_run("train", "cnn", "--data", "moons", *QUICK), "does not fit model 'cnn'")


def test_unwritable_output_folder(cli_run, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    assert_usage_error(cli_run("train", "mlp", *QUICK, "--runs", "a_file/runs"), "cannot write to")


def test_commands_on_a_folder_without_a_run(cli_run, tmp_path):
    (tmp_path / "empty").mkdir()
    for command in ("evaluate", "export", "visualize"):
        assert_usage_error(cli_run(command, "empty"), "not a run folder")
    assert_usage_error(cli_run("evaluate", "mlp", "--runs", "nowhere"), "no completed run of 'mlp'")


def test_nan_loss_fails_the_run_and_exports_nothing(cli_run, tmp_path, existing_run):
    result = cli_run("train", "mlp", "--epochs", "2", "--set", "train.verbose=0", "--set", "optimizer.name=keras.sgd",
                     "--set", "optimizer.learning_rate=1e12", "--runs", "runs")
    assert result.exit_code == 1, (result.output, result.stderr)
    assert "NaN" in result.stderr and "Traceback" not in result.stderr
    failed = [folder for folder in (tmp_path / "runs" / "mlp").iterdir() if folder != existing_run]
    assert len(failed) == 1
    record = json.loads((failed[0] / "metrics.json").read_text())
    assert record["status"] == "failed" and "NaN" in record["error"]
    assert not (failed[0] / "saved_model").exists() and not (failed[0] / "model.keras").exists()
    assert "The run failed" in (failed[0] / "report.md").read_text()
    assert (existing_run / "notes.txt").read_text() == "precious"


def test_export_never_overwrites(cli_run, tmp_path, tmp_path_factory):
    shared_run(tmp_path_factory, "softmax-regression", "--quick").copy_into(tmp_path / "runs")
    (tmp_path / "delivery").mkdir()
    (tmp_path / "delivery" / "keep.txt").write_text("mine")
    result = cli_run("export", "softmax-regression", "--runs", "runs", "--out", "delivery")
    assert_usage_error(result, "already exists")
    assert (tmp_path / "delivery" / "keep.txt").read_text() == "mine"
    assert sorted(path.name for path in (tmp_path / "delivery").iterdir()) == ["keep.txt"]


def test_bare_saved_model_needs_data(cli_run, tmp_path_factory):
    saved_model = shared_run(tmp_path_factory, "softmax-regression", "--quick").folder / "saved_model"
    assert_usage_error(cli_run("evaluate", saved_model), "--data")
    assert_usage_error(cli_run("evaluate", saved_model, "--data", "moons"), "inputs")


def test_debug_shows_the_traceback(cli_run):
    result = cli_run("--debug", "train", "mlpp")
    assert result.exit_code == 2 and "Traceback" in result.stderr and "unknown recipe" in result.stderr


def test_npz_labels_must_be_integers(cli_run, tmp_path):
    np.savez(tmp_path / "floats.npz", x=np.zeros((10, 2)), y=np.linspace(0, 1, 10))
    assert_usage_error(cli_run("train", "mlp", "--data", "npz:floats.npz"), "integer class ids")


@pytest.mark.parametrize("override, fragment", [
    ("optimizer.name=adamm", "did you mean 'adam'"),
    ("optimizer.learning_rate=-0.1", "learning_rate"),
    ("optimizer.learning_rate=true", "learning_rate"),
    ("optimizer.clipnorm=0", "clipnorm"),
    ("model.activation=sigmod", "did you mean 'sigmoid'"),
    ("model.initializer=hee", "initializer"),
])
def test_bad_optimizer_and_model_settings_stop_before_training(cli_run, tmp_path, override, fragment):
    result = cli_run("train", "deep-mlp", "--set", override, "--runs", "runs")
    assert_usage_error(result, fragment)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))


def test_momentum_outside_unit_interval(cli_run):
    result = cli_run("train", "deep-mlp", "--set", "optimizer.name=momentum", "--set", "optimizer.momentum=1.0")
    assert_usage_error(result, "momentum")


# --- issue #7: messages a new user met ---------------------------------------------------

def test_model_option_of_the_wrong_type_names_the_option_not_the_dataset(cli_run, tmp_path):
    for command in ("show", "train"):
        result = cli_run(command, "mlp", "--set", "model.dropout_rate=abc", "--runs", "runs") if command == "train" \
            else cli_run(command, "mlp", "--set", "model.dropout_rate=abc")
        assert_usage_error(result, "model.dropout_rate must be a number, got 'abc'")
        assert "does not fit" not in result.stderr
    assert_usage_error(cli_run("show", "mlp", "--set", "model.batch_norm=1"), "model.batch_norm must be true or false")
    assert_usage_error(cli_run("show", "cnn", "--set", "model.kernel_size=2.5"), "model.kernel_size must be an integer")
    assert_usage_error(cli_run("show", "mlp", "--set", "model.hidden_units=64"), "model.hidden_units must be a list")
    # Values of the right type still pass: an int for a float option, a list for a tuple default.
    assert cli_run("show", "mlp", "--set", "model.dropout_rate=0", "--set", "model.hidden_units=[8, 4]").exit_code == 0
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))


def test_misspelt_optimizer_name_key_gets_a_closest_match(cli_run):
    result = cli_run("train", "mlp", "--set", "optimizer.nmae=0.1")
    assert_usage_error(result, "did you mean 'name'", "name, learning_rate")


def test_message_ending_in_a_quote_keeps_it(cli_run):
    result = cli_run("train", "mlp", "--set", "optimizer.learning_rate=fast")
    assert_usage_error(result, "got 'fast'")
    assert result.stderr.strip().endswith("'fast'")


def test_error_message_of_a_key_error_has_no_repr_quotes():
    from dlzoo.config import resolve

    assert resolve.error_message(KeyError("no such column 'x'")) == "no such column 'x'"
    assert resolve.error_message(ValueError("got 'fast'")) == "got 'fast'"


def test_a_path_that_is_no_run_is_not_offered_to_dlzoo_train(cli_run):
    for command in ("evaluate", "export", "visualize"):
        result = cli_run(command, "runs/nowhere")
        assert_usage_error(result, "runs/nowhere does not exist")
        assert "dlzoo train" not in result.stderr


def test_debug_works_after_the_command_name(cli_run):
    result = cli_run("train", "mlpp", "--debug")
    assert result.exit_code == 2 and "Traceback" in result.stderr and "unknown recipe" in result.stderr


def test_out_is_not_the_runs_root_of_train_and_bench(cli_run, tmp_path):
    for command in ("train", "bench"):
        assert_usage_error(cli_run(command, "mlp", "--out", "somewhere"), "--runs somewhere")
    assert not (tmp_path / "somewhere").exists()


def test_list_with_no_match(cli_run):
    assert_usage_error(cli_run("list", "foo"), "no recipe matches 'foo'")


def test_device_option_has_help(cli_run):
    for command in ("train", "bench"):
        shown = cli_run(command, "--help").output
        assert "--device" in shown and "Where to train" in shown, shown


def test_no_tensorflow_log_lines_before_a_one_line_error(tmp_path):
    import os
    import subprocess
    import sys

    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run([sys.executable, "-m", "dlzoo", "show", "mlp", "--set", "model.dropout_rate=abc"],
                               capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.strip().splitlines() == ["error: model.dropout_rate must be a number, got 'abc'"]


USAGE_ERRORS = [
    ["train", "lenett"],
    ["train", "mlp", "--set", "train.epoch=2"],
    ["train", "mlp", "--runs", "a_file/runs"],
    ["train", "mlp", "--out", "runs"],
    ["bench", "nothing-like-this"],
    ["export", "cnn", "--out", "full"],
    ["evaluate", "runs/nowhere"],
    ["evaluate", "mlp"],
    ["visualize", "runs/nowhere"],
    ["export", "runs/nowhere"],
    ["list", "foo"],
]


def test_usage_errors_fail_before_tensorflow_is_imported(tmp_path):
    import subprocess
    import sys

    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from dlzoo.cli import cli\n"
        "result = CliRunner().invoke(cli, sys.argv[1:])\n"
        "heavy = [name for name in ('tensorflow', 'keras') if name in sys.modules]\n"
        "print(result.exit_code, heavy, result.output.strip().splitlines()[-1:])\n"
    )
    for arguments in USAGE_ERRORS:
        completed = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True, cwd=tmp_path)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.startswith("2 [] "), (arguments, completed.stdout)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
