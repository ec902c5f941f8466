"""The command line end to end: every recipe trains through the real entry point, and the run
folder contract holds (files, metrics.json, report, evaluate / export / compare on it)."""

import json
import re
import subprocess
import sys

import pytest

from dlzoo import tasks
from dlzoo.config import recipes
from dlzoo.config import resolve

from helpers import QUICK, shared_run


def run_folder(runs_root, recipe):
    """The single run folder of ``recipe`` under ``runs_root``."""
    folders = sorted((runs_root / recipe).iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def quick_arguments(recipe):
    """--quick, plus for sweeps only their first and last variants (tests/test_sweep.py covers
    whole sweeps; every variant's configuration is still checked before training)."""
    sweep = resolve.load_config(recipe).get("sweep")
    if not sweep:
        return ("--quick",)
    names = [variant["name"] for variant in sweep["variants"]]
    return ("--quick", "--set", f"sweep.only={[names[0], names[-1]]!r}".replace("'", '"'))


@pytest.mark.parametrize("recipe", recipes.recipe_names())
def test_every_recipe_trains_in_quick_mode_with_its_default_output(tmp_path_factory, recipe):
    # As a user types it: no train.verbose=0, so the lines before epoch 1 (task.describe) and
    # Keras's own progress output run too. The run is the session's shared one: the other tests
    # that read a plain quick run of this recipe read this one instead of training their own.
    run = shared_run(tmp_path_factory, recipe, *quick_arguments(recipe))
    folder, output = run.folder, run.output
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert (folder / "config.toml").exists() and (folder / "report.md").exists()
    if record["task"] != "sweep":  # the names expect.metric is checked against up front cover what the run reports
        resolved = resolve.load_config(str(folder / "config.toml"))
        names = tasks.create(resolved["task"]).metric_names(resolved)
        assert names is None or set(record["metrics"]) <= names, set(record["metrics"]) - names
        # The header, then the task's one-line description, then the run folder.
        header = f"== {recipe} ({resolved['task']}) on "
        lines = output.splitlines()
        assert lines[0].startswith(header) and lines[0].endswith("(quick)"), lines[:3]
        assert lines[1].startswith("   ") and len(lines[1].strip()) > 20, lines[:3]
        assert lines[2].startswith("   run folder: "), lines[:3]
    # The summary block: status, the target verdict of a smoke test, where things are.
    assert f"== {recipe} (quick): completed in " in output
    if (record.get("target") or {}).get("value") is not None:  # (a sweep cut by sweep.only may not report it)
        assert "(quick run: a smoke test, not the recipe's budget)" in output
    assert f"run folder:  {folder}" in output
    assert "report:      " in output
    assert "Traceback" not in output and "Error" not in run.stderr


def test_run_folder_contract(cli_run, tmp_path):
    result = cli_run("train", "logistic-neuron", *QUICK, "--runs", "runs", "--seed", "3", "--data", "moons")
    assert result.exit_code == 0, result.stderr
    folder = run_folder(tmp_path / "runs", "logistic-neuron")
    for name in ("config.toml", "history.csv", "metrics.json", "model.keras", "saved_model/saved_model.pb",
                 "report.md", "evaluation.json", "plots/learning_curves.png", "plots/confusion_matrix.png",
                 "plots/decision_boundary.png", "checkpoints/best.weights.h5"):
        assert (folder / name).exists(), name
    assert any((folder / "tensorboard").rglob("*tfevents*"))
    record = json.loads((folder / "metrics.json").read_text())
    for key in ("metrics", "parameters", "wall_seconds", "samples_per_second", "device", "versions", "seed", "status"):
        assert key in record, key
    assert record["seed"] == 3 and record["parameters"] == 3  # one neuron on 2-D inputs: 2 weights + bias
    assert record["export"]["max_abs_difference"] <= 1e-4
    assert set(record["metrics"]) >= {"train_accuracy", "val_accuracy", "test_accuracy", "test_loss", "test_roc_auc"}
    report = (folder / "report.md").read_text()
    assert "## Target" in report and "plots/confusion_matrix.png" in report and "```toml" in report
    # The saved config repeats the run.
    assert resolve.load_config(str(folder / "config.toml"))["train"]["seed"] == 3


def test_mse_cost_trains_the_same_neuron(cli_run, tmp_path):
    result = cli_run("train", "logistic-neuron", *QUICK, "--set", "train.loss=mse", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    folder = run_folder(tmp_path / "runs", "logistic-neuron")
    assert 'loss = "mse"' in (folder / "config.toml").read_text()


def test_evaluate_export_and_compare_on_runs(cli_run, tmp_path):
    assert cli_run("train", "softmax-regression", *QUICK, "--runs", "runs").exit_code == 0
    assert cli_run("train", "softmax-regression", *QUICK, "--runs", "runs", "--seed", "1").exit_code == 0
    folders = sorted((tmp_path / "runs" / "softmax-regression").iterdir())
    # A recipe name never means a --quick smoke run...
    only_quick = cli_run("evaluate", "softmax-regression", "--runs", "runs")
    assert only_quick.exit_code == 2 and "only --quick" in only_quick.stderr, only_quick.stderr
    # ...so once the older run counts as a full one, the name finds it, not the newer quick one.
    record = json.loads((folders[0] / "metrics.json").read_text())
    (folders[0] / "metrics.json").write_text(json.dumps({**record, "quick": False}))
    evaluated = cli_run("evaluate", "softmax-regression", "--runs", "runs", "--split", "val")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "val accuracy" in evaluated.output and str(folders[0].name) in evaluated.output
    exported = cli_run("export", folders[1], "--out", "delivery")
    assert exported.exit_code == 0, exported.stderr
    assert (tmp_path / "delivery" / "saved_model" / "saved_model.pb").exists()
    assert json.loads((tmp_path / "delivery" / "export.json").read_text())["max_abs_difference"] <= 1e-4
    bare = cli_run("evaluate", "delivery/saved_model", "--data", "digits")
    assert bare.exit_code == 0, bare.stderr
    compared = cli_run("compare", *folders, "--out", "comparison")
    assert compared.exit_code == 0, compared.stderr
    assert (tmp_path / "comparison" / "compare.md").exists()
    assert (tmp_path / "comparison" / "learning_curves.png").stat().st_size > 0
    assert f"softmax-regression/{folders[1].name} (quick)" in compared.output


def test_show_prints_a_recipe_train_accepts(cli_run, tmp_path):
    shown = cli_run("show", "mlp", "--set", "train.epochs=1", "--set", "model.hidden_units=[8]")
    assert shown.exit_code == 0, shown.stderr
    (tmp_path / "mine.toml").write_text(shown.output)
    trained = cli_run("train", "mine.toml", "--quick", "--set", "train.verbose=0", "--runs", "runs")
    assert trained.exit_code == 0, trained.stderr
    assert (tmp_path / "runs" / "mlp").is_dir()


def test_list_filters_by_topic_and_pattern(cli_run):
    listed = cli_run("list", "--topic", "cnn")
    assert listed.exit_code == 0 and "mnist1d-cnn" in listed.output and "mlp-numpy" not in listed.output
    assert "mnist1d-mlp" in cli_run("list", "mnist1d").output


def test_bench_quick_writes_a_table(cli_run, tmp_path):
    result = cli_run("bench", "softmax-regression", "--quick", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    assert "| recipe | metric | value | target | pass | wall s | samples/s |" in result.output
    bench_json = next((tmp_path / "runs" / "bench").rglob("bench.json"))
    rows = json.loads(bench_json.read_text())["rows"]
    assert rows[0]["recipe"] == "softmax-regression" and rows[0]["value"] is not None
    # A smoke test checks that the recipe runs, not its target; the table is rounded for reading.
    assert "BELOW TARGET" not in result.output and "smoke test, target not checked" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| softmax-regression"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    value, wall, speed = cells[2], cells[5], cells[6]
    assert len(value.replace("0.", "").replace(".", "")) <= 4, value
    assert re.fullmatch(r"\d+\.\d", wall), wall
    assert re.fullmatch(r"\d+", speed.replace(",", "")), speed


def test_runs_option_is_the_runs_root_in_every_command(cli_run):
    for command in ("train", "bench", "evaluate", "export", "visualize", "compare"):
        shown = cli_run(command, "--help").output
        assert "--runs" in shown, command
    for command in ("train", "bench"):
        assert "--out" not in cli_run(command, "--help").output, command


def test_help_list_and_show_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from dlzoo.cli import cli\n"
        "for args in (['--help'], ['list'], ['show', 'cnn']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "heavy = [name for name in ('tensorflow', 'keras') if name in sys.modules]\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_python_dash_m_runs_the_cli():
    completed = subprocess.run([sys.executable, "-m", "dlzoo", "--help"], capture_output=True, text=True)
    assert completed.returncode == 0 and "train" in completed.stdout


def test_a_run_that_fails_before_epoch_one_still_says_why_in_its_folder(cli_run, tmp_path, monkeypatch):
    # The description printed before epoch 1 is part of the run: when it breaks (as the
    # transformer translators' did), the folder has config.toml and metrics.json saying failed.
    task_class = tasks.get("classify")

    def broken_describe(self, prepared):
        raise AttributeError("no attribute 'encoder_type'")

    monkeypatch.setattr(task_class, "describe", broken_describe)
    result = cli_run("train", "softmax-regression", "--quick", "--runs", "runs")
    assert result.exit_code == 1, result.output
    assert "run failed: AttributeError: no attribute 'encoder_type'" in result.stderr
    folder = run_folder(tmp_path / "runs", "softmax-regression")
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "failed" and "encoder_type" in record["error"]
    assert resolve.load_config(str(folder / "config.toml"))["name"] == "softmax-regression"
