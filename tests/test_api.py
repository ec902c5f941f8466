"""The Python API (``dlzoo.train``, ``dlzoo.load``, ``dlzoo.Run``): the same code path and the
same messages as the command line, and cheap to import."""

import json
import subprocess
import sys

import numpy as np
import pytest

import dlzoo


@pytest.fixture(scope="module")
def quick_mlp(tmp_path_factory):
    """One quick run of ``mlp`` trained through the API, shared by the tests that only read it."""
    runs_root = tmp_path_factory.mktemp("api") / "runs"
    lines = []
    run = dlzoo.train("mlp", quick=True, runs=runs_root, seed=1, echo=lines.append)
    return run, runs_root, lines


def test_import_dlzoo_loads_no_tensorflow():
    program = ("import sys, dlzoo; rows = dlzoo.recipes('lenet'); "
               "print(rows[0]['name'], 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["lenet", "False", "False"]


def test_train_returns_a_run_that_reads_its_folder(quick_mlp):
    run, runs_root, lines = quick_mlp
    assert run.status == "completed" and run.folder.parent == runs_root / "mlp"
    assert lines[0].startswith("== mlp (classify) on ") and lines[0].endswith("(quick)")  # the CLI's first line
    record = json.loads((run.folder / "metrics.json").read_text())
    assert run.metrics == record["metrics"] and 0.0 <= run.metrics["test_accuracy"] <= 1.0
    assert run.config["train"]["seed"] == 1 and run.config["name"] == "mlp"
    epochs = run.config["train"]["quick_epochs"]
    assert len(run.history["loss"]) == epochs and len(run.history["val_loss"]) == epochs
    assert all(np.isfinite(run.history["loss"]))


def test_load_and_evaluate_give_the_runs_own_test_metrics(quick_mlp):
    run = dlzoo.load(quick_mlp[0].folder)
    result = run.evaluate()
    # The same model on the same test split: the run's own accuracy, up to float rounding.
    assert abs(result["accuracy"] - run.metrics["test_accuracy"]) < 1e-6
    assert len(list(run.folder.glob("evaluation-test-*.json"))) == 1


def test_predict_visualize_and_export_through_the_run(quick_mlp, tmp_path):
    run = dlzoo.load(quick_mlp[0].folder)
    from sklearn.datasets import load_digits

    lines = run.predict(load_digits().images[:3])  # raw 8x8 images, values 0-16
    assert len(lines) == 3 and all("p =" in line for line in lines)
    pictures = run.visualize("saliency", samples=2)
    assert pictures and all(path.is_file() and path.suffix == ".png" for path in pictures)
    exported = run.export(tmp_path / "delivery")
    assert (exported / "saved_model" / "saved_model.pb").is_file() and (exported / "report.md").is_file()


def test_a_run_shows_itself_in_a_notebook(quick_mlp):
    run = quick_mlp[0]
    html = run._repr_html_()
    assert "completed in" in html and "target: test_accuracy" in html
    assert 'src="data:image/png;base64,' in html  # the learning curves, inline
    assert run._repr_markdown_().startswith("```") and str(run.folder) in run._repr_markdown_()


@pytest.mark.parametrize("overrides, message", [
    ({"optimizer.learning_rat": 0.01}, "unknown option 'learning_rat' for optimizer 'keras.adam'; did you mean 'learning_rate'"),
    ({"train.epochs": "ten"}, "train.epochs"),
    ({"nodot": 1}, "--set expects section.key=value"),
])
def test_overrides_follow_the_set_rules_and_messages(cli_run, tmp_path, overrides, message):
    with pytest.raises(dlzoo.UsageError) as error:
        dlzoo.train("mlp", quick=True, runs=tmp_path / "runs", overrides=overrides)
    assert message in str(error.value)
    assert not (tmp_path / "runs" / "mlp").exists()  # refused before a run folder is made
    # The command line says the same line.
    (dotted, value), = overrides.items()
    result = cli_run("train", "mlp", "--quick", "--set", f"{dotted}={json.dumps(value)}", "--runs", "runs")
    assert result.exit_code == 2 and str(error.value) in result.stderr


def test_load_of_a_recipe_without_a_finished_run_is_a_usage_error(tmp_path):
    with pytest.raises(dlzoo.UsageError, match="mlp"):
        dlzoo.load("mlp", runs=tmp_path / "runs")
    with pytest.raises(dlzoo.UsageError, match="not a run folder"):
        dlzoo.Run(tmp_path)
