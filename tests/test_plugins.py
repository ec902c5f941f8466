"""Plug-ins: a student's own model, optimizer and dataset inside the zoo, through the CLI and the
API; the run keeps its copy of the file; errors in a plug-in are one line naming file and line."""

import hashlib
import json
import textwrap

import pytest

import dlzoo

from helpers import invoke, only_run

MODEL_PLUGIN = textwrap.dedent('''
    import keras
    import dlzoo


    @dlzoo.register_model("student_cnn")
    def build(input_shape, num_classes, filters=8, dropout_rate=0.0):
        """A two-layer CNN written by a student."""
        inputs = keras.Input(input_shape)
        hidden = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="student_conv")(inputs)
        hidden = keras.layers.GlobalAveragePooling2D()(hidden)
        hidden = keras.layers.Dropout(dropout_rate)(hidden)
        outputs = keras.layers.Dense(num_classes, activation="softmax")(hidden)
        return keras.Model(inputs, outputs)
''')

OPTIMIZER_PLUGIN = textwrap.dedent('''
    import keras
    import dlzoo


    @dlzoo.register_optimizer("student_sgd")
    class StudentSGD(keras.optimizers.Optimizer):
        """w <- w - learning_rate * g."""

        def __init__(self, learning_rate=0.05, name="student_sgd", **kwargs):
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)

        def update_step(self, gradient, variable, learning_rate):
            self.assign_sub(variable, keras.ops.cast(learning_rate, variable.dtype) * gradient)
''')

DATASET_PLUGIN = textwrap.dedent('''
    import numpy as np
    import dlzoo


    @dlzoo.register_dataset("student_blobs", kind="features")
    def load():
        """Two Gaussian blobs, 200 points each."""
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(-2, 1, (200, 2)), rng.normal(2, 1, (200, 2))]).astype("float32")
        y = np.repeat([0, 1], 200)
        return x, y, ["left", "right"]
''')


def write(folder, name, text):
    """Write a plug-in file and return its path."""
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    """``cnn`` trained with a plug-in model through the CLI; the plug-in file is deleted afterwards."""
    folder = tmp_path_factory.mktemp("plugin")
    plugin = write(folder, "my_models.py", MODEL_PLUGIN)
    digest = hashlib.sha256(plugin.read_bytes()).hexdigest()
    result = invoke("train", "cnn", "--quick", "--plugin", plugin, "--set", "model.name=student_cnn",
                    "--set", "model.filters=4", "--runs", folder / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    plugin.unlink()  # the student edits or deletes their file: the run keeps working
    return only_run(folder / "runs", "cnn"), digest


def test_a_plugin_model_trains_and_the_run_keeps_its_copy(plugin_run):
    folder, digest = plugin_run
    copy = folder / "plugins" / "my_models.py"
    assert copy.read_text() == MODEL_PLUGIN
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed" and record["plugins"][0]["sha256"] == digest
    config = dlzoo.load(folder).config
    assert config["plugins"] == ["plugins/my_models.py"]
    # Switching model.name starts from the new builder's defaults: cnn's own keys are gone.
    assert config["model"] == {"name": "student_cnn", "filters": 4}


def test_evaluate_visualize_and_export_use_the_runs_copy(plugin_run, cli_run, tmp_path):
    folder, _ = plugin_run
    evaluated = cli_run("evaluate", folder)
    assert evaluated.exit_code == 0, evaluated.stderr
    visualized = cli_run("visualize", folder, "--method", "gradcam", "--layer", "student_conv", "--samples", "2")
    assert visualized.exit_code == 0, visualized.stderr
    assert "wrote" in visualized.output
    exported = cli_run("export", folder, "--out", tmp_path / "delivery")
    assert exported.exit_code == 0, exported.stderr
    assert (tmp_path / "delivery" / "saved_model" / "saved_model.pb").is_file()
    # ... and the API on the same run.
    run = dlzoo.load(folder)
    metrics = run.evaluate(split="val")
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert all(path.is_file() for path in run.visualize("saliency", samples=2))
    assert (run.export(tmp_path / "api-delivery") / "saved_model" / "saved_model.pb").is_file()


def test_a_plugin_model_trains_through_the_api(tmp_path):
    plugin = write(tmp_path, "my_models.py", MODEL_PLUGIN)
    run = dlzoo.train("cnn", quick=True, runs=tmp_path / "runs", plugins=plugin, echo=lambda line: None,
                      overrides={"model.name": "student_cnn", "model.filters": 4})
    assert run.status == "completed" and run.config["model"] == {"name": "student_cnn", "filters": 4}
    assert run.model.get_layer("student_conv").filters == 4  # the plug-in's model, read back from the run


def test_plugin_optimizer_and_dataset_through_the_api(tmp_path):
    optimizer = write(tmp_path, "my_sgd.py", OPTIMIZER_PLUGIN)
    dataset = write(tmp_path, "my_data.py", DATASET_PLUGIN)
    run = dlzoo.train("logistic-neuron", data="student_blobs", quick=True, runs=tmp_path / "runs",
                      plugins=[optimizer, dataset], echo=lambda line: None,
                      overrides={"optimizer.name": "student_sgd", "optimizer.learning_rate": 0.5, "train.quick_epochs": 5})
    assert run.status == "completed" and run.config["optimizer"]["name"] == "student_sgd"
    assert sorted(path.name for path in (run.folder / "plugins").iterdir()) == ["my_data.py", "my_sgd.py"]
    # Two well separated blobs: 45 steps of plain SGD at 0.5 turn even an inverted start around.
    assert run.metrics["test_accuracy"] > 0.7


def test_a_recipe_file_names_its_plugins_relative_to_itself(cli_run, tmp_path):
    write(tmp_path, "my_models.py", MODEL_PLUGIN)
    shown = cli_run("show", "cnn")
    recipe = 'plugins = ["my_models.py"]\n' + shown.output.replace('name = "cnn"\n', 'name = "cnn"\n', 1)
    (tmp_path / "mine.toml").write_text(recipe)
    result = cli_run("show", "mine.toml", "--set", "model.name=student_cnn")
    assert result.exit_code == 0, result.stderr
    assert str(tmp_path / "my_models.py") in result.output and "filters = 8" not in result.output


def test_switching_to_another_builtin_model_drops_the_recipes_model_keys(cli_run):
    result = cli_run("show", "cnn", "--set", "model.name=lenet")  # cnn's [model] keys are not lenet's
    assert result.exit_code == 0, result.stderr
    assert '[model]\nname = "lenet"\n' in result.output


@pytest.mark.parametrize("text, expected", [
    ("def broken(:\n    pass\n", "line 1: syntax error"),
    ("import dlzoo\n\n\n@dlzoo.register_model('lazy_model')\ndef build(input_shape, num_classes):\n    return None\n",
     "line 4) returned NoneType; a builder must return a keras.Model"),
    ("import keras, dlzoo\n\n\n@dlzoo.register_model('narrow')\ndef build(input_shape, num_classes):\n"
     "    inputs = keras.Input(input_shape)\n    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))\n",
     "outputs shape (None, 3); the task expects (batch, 10)"),
    ("import dlzoo\n\n\n@dlzoo.register_model('cnn')\ndef build(input_shape, num_classes):\n    pass\n",
     "model 'cnn' is a built-in of dlzoo"),
    ("import dlzoo\nraise RuntimeError('half-written plug-in')\n", "line 2: RuntimeError: half-written plug-in"),
])
def test_errors_in_a_plugin_are_one_line_naming_the_file(cli_run, tmp_path, text, expected):
    plugin = write(tmp_path, "bad_plugin.py", text)
    model = {"lazy_model": "lazy_model", "narrow": "narrow"}
    name = next((value for key, value in model.items() if key in text), "cnn")
    result = cli_run("train", "cnn", "--quick", "--plugin", plugin, "--set", f"model.name={name}", "--runs", "runs")
    assert result.exit_code == 2, result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(plugin) in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr
    assert not (tmp_path / "runs" / "cnn").exists()


def test_a_missing_plugin_is_refused_before_tensorflow(tmp_path):
    import subprocess
    import sys

    program = ("import sys\nfrom click.testing import CliRunner\nfrom dlzoo.cli import cli\n"
               "result = CliRunner().invoke(cli, ['train', 'cnn', '--plugin', 'missing.py'])\n"
               "print(result.exit_code, 'tensorflow' in sys.modules)\nprint(result.stderr.strip())\n")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path,
                               timeout=120)
    code, imported = completed.stdout.splitlines()[0].split()
    assert (code, imported) == ("2", "False"), completed.stdout + completed.stderr
    assert "plugin missing.py: no such file" in completed.stdout


def test_a_plugin_option_key_is_checked_like_a_builtin(cli_run, tmp_path):
    plugin = write(tmp_path, "my_models.py", MODEL_PLUGIN)
    result = cli_run("train", "cnn", "--quick", "--plugin", plugin, "--set", "model.name=student_cnn",
                     "--set", "model.filtrs=4", "--runs", "runs")
    assert result.exit_code == 2
    assert "unknown key 'model.filtrs'; did you mean 'filters'?" in result.stderr
