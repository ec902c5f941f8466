"""dlzoo tune on KerasTuner: trials are normal runs, the search resumes without repeating trials."""

import json

import pytest

from dlzoo.commands import tune
from dlzoo.core.errors import UsageError

SPACES = ("--space", "optimizer.learning_rate=log(1e-3,1e-1)", "--space", "data.batch_size=[16,64]")


def test_parse_space_kinds():
    assert tune.parse_space("optimizer.learning_rate=log(1e-4, 1e-1)") == {
        "key": "optimizer.learning_rate", "kind": "log", "low": 1e-4, "high": 1e-1}
    assert tune.parse_space("model.dropout_rate=[0,0.2,0.5]")["values"] == [0.0, 0.2, 0.5]
    assert tune.parse_space("train.epochs=int(2,5)")["kind"] == "int"
    for bad in ("learning_rate=log(1,2)", "optimizer.learning_rate=log(0,1)", "optimizer.learning_rate=log(2,1)",
                "model.dropout_rate=[]", "model.dropout_rate=0.5", "train.epochs=int(1.5,3)"):
        with pytest.raises(UsageError):
            tune.parse_space(bad)


def test_search_resumes_without_repeating_trials(cli_run, tmp_path):
    first = cli_run("tune", "softmax-regression", *SPACES, "--trials", "2", "--quick", "--runs", "runs")
    assert first.exit_code == 0, first.output + first.stderr
    folder = next((tmp_path / "runs" / "softmax-regression-tune").iterdir())
    trials_folder = folder / "trials" / "softmax-regression"
    assert len(list(trials_folder.iterdir())) == 2
    for run in trials_folder.iterdir():  # every trial is a normal run folder
        assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    resumed = cli_run("tune", "--resume", folder, "--trials", "3")
    assert resumed.exit_code == 0, resumed.output + resumed.stderr
    assert "2 trials already done" in resumed.output
    assert len(list(trials_folder.iterdir())) == 3  # one new trial, the first two not repeated
    trials = json.loads((folder / "tune.json").read_text())["trials"]
    assert sorted(trial["trial"] for trial in trials) == ["0", "1", "2"]
    report = (folder / "report.md").read_text()
    assert "Trials, best first" in report and (folder / "plots" / "parallel_coordinates.png").exists()
    objectives = [trial["objective"] for trial in trials]
    best = max(trials, key=lambda trial: trial["objective"])
    assert max(objectives) == best["objective"] and best["overrides"][0] in (folder / "report.md").read_text()
    # best.toml is a recipe that dlzoo train accepts.
    trained = cli_run("train", folder / "best.toml", "--quick", "--set", "train.verbose=0", "--runs", "again")
    assert trained.exit_code == 0, trained.stderr


def test_hyperband_runs_its_capped_trials(cli_run, tmp_path):
    result = cli_run("tune", "softmax-regression", "--space", "optimizer.learning_rate=log(1e-3,1e-1)",
                     "--algo", "hyperband", "--trials", "2", "--quick", "--runs", "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = next((tmp_path / "runs" / "softmax-regression-tune").iterdir())
    assert len(json.loads((folder / "tune.json").read_text())["trials"]) == 2


@pytest.mark.parametrize("arguments, message", [
    (("--space", "model.no_such_key=[1,2]"), "unknown key"),
    (("--space", "optimizer.learning_rate=log(1e-3)"), "expected section.key"),
    (("--space", "data.batch_size=[\"a\",\"b\"]"), "must be int"),
    (("--space", "model.dropout_rate=[0,0.5]", "--trials", "0"), "--trials must be at least 1"),
    ((), "at least one --space"),
])
def test_bad_spaces_fail_before_any_trial(cli_run, tmp_path, arguments, message):
    result = cli_run("tune", "mlp", *arguments, "--runs", "runs")
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "runs" / "mlp-tune").exists()  # no search folder, no trial


def test_tune_refuses_a_recipe_without_a_validation_metric(cli_run):
    result = cli_run("tune", "optimizers-2d", "--space", "optimizer.learning_rate=[0.1,0.01]")
    assert result.exit_code == 2 and "classify" in result.stderr.partition("tasks that can:")[2] and "optimizer-paths" in result.stderr
