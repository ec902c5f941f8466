"""Classical baselines next to every classification and regression run ("is deep learning worth it?")."""

import json
import warnings

import numpy as np

from dlzoo.metrics import baselines
from dlzoo.data import make_splits

from helpers import QUICK, shared_run


def linear_problem(seed=0):
    """Two Gaussian blobs far apart: logistic regression must separate them almost perfectly."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-3, 1, (200, 5)), rng.normal(3, 1, (200, 5))]) * 50 + 1000  # raw, unscaled
    y = np.repeat([0, 1], 200)
    splits = make_splits("blobs", "features", ["a", "b"], x, y, seed=seed)
    splits.normalization = {"mean": splits.x_train.mean(0).tolist(), "variance": splits.x_train.var(0).tolist()}
    return splits


def test_inputs_are_standardized_with_the_training_statistics():
    splits = linear_problem()
    rows, _ = baselines.standardized_rows(splits, "train")
    assert np.allclose(rows.mean(0), 0, atol=1e-3) and np.allclose(rows.std(0), 1, atol=1e-3)


def test_baselines_score_a_separable_problem_and_time_their_fit():
    result = baselines.fit_baselines(linear_problem())
    assert result["metric"] == "accuracy"
    assert [model["name"] for model in result["models"]] == ["logistic regression", "RBF-SVM"]
    for model in result["models"]:
        assert model["test_accuracy"] >= 0.97 and model["fit_seconds"] > 0


def test_verdict_says_which_side_wins():
    result = {"metric": "accuracy", "models": [{"name": "RBF-SVM", "test_accuracy": 0.90, "fit_seconds": 0.1}]}
    assert "beats" in baselines.verdict(0.99, result, 1000)
    assert "classical baseline is better" in baselines.verdict(0.70, result, 1000)
    assert "within noise" in baselines.verdict(0.905, result, 1000)


def test_streamed_data_is_skipped_with_a_reason():
    class Streamed:
        name = "folder:images"
    assert "streamed" in baselines.fit_baselines(Streamed())["skipped"]


def test_classification_run_reports_baselines(tmp_path_factory):
    folder = shared_run(tmp_path_factory, "softmax-regression", "--quick").folder
    record = json.loads((folder / "metrics.json").read_text())
    names = [model["name"] for model in record["baselines"]["models"]]
    assert names == ["logistic regression", "RBF-SVM"]
    best = max(model["test_accuracy"] for model in record["baselines"]["models"])
    assert record["metrics"]["baseline_best_test_accuracy"] == best > 0.8  # 512 digits are plenty for an SVM
    assert record["baselines"]["verdict"]
    assert "## Classical baselines" in (folder / "report.md").read_text()


def test_regression_run_reports_baselines_and_they_can_be_turned_off(cli_run, tmp_path, tmp_path_factory):
    assert cli_run("train", "linear-neuron", *QUICK, "--runs", "off", "--set", "train.baselines=false").exit_code == 0
    record = json.loads((shared_run(tmp_path_factory, "linear-neuron", "--quick").folder / "metrics.json").read_text())
    assert record["baselines"]["metric"] == "r2"
    assert [model["name"] for model in record["baselines"]["models"]] == ["linear regression", "random forest"]
    assert "baseline_best_test_r2" in record["metrics"]
    record = json.loads((next((tmp_path / "off" / "linear-neuron").iterdir()) / "metrics.json").read_text())
    assert "baselines" not in record and "baseline_best_test_r2" not in record["metrics"]


def test_list_markdown_has_the_baseline_column(cli_run):
    result = cli_run("list", "--markdown")
    header = result.output.splitlines()[0]
    assert "| baseline |" in header
    assert "RBF-SVM accuracy" in result.output


def test_the_readme_recipe_table_is_what_list_markdown_prints(cli_run):
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text().splitlines()
    printed = [line for line in cli_run("list", "--markdown").output.splitlines() if line.startswith("| ")]
    stale = [line[:80] for line in printed if line not in readme]
    assert not stale, f"README.md's recipe table is stale (paste `dlzoo list --markdown`): {stale}"


def test_large_training_splits_fit_baselines_on_a_stated_subsample(cli_run, tmp_path):
    # 16,000 examples of 6 features: more than LARGE_TRAINING_SPLIT training examples after the splits.
    rng = np.random.default_rng(0)
    labels = np.arange(16000) % 3
    inputs = rng.normal(size=(16000, 6)) + labels[:, np.newaxis]
    np.savez(tmp_path / "large.npz", x=inputs, y=labels)
    result = cli_run("train", "softmax-regression", "--data", "npz:large.npz", "--quick", "--set",
                     "train.quick_train_samples=20000", "--runs", "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = next((tmp_path / "runs" / "softmax-regression").iterdir())
    record = json.loads((folder / "metrics.json").read_text())
    train_size = record["data"]["sizes"]["train"]
    assert train_size > baselines.LARGE_TRAINING_SPLIT
    sample = record["baselines"]["sample"]
    assert sample["train"] == [baselines.TRAIN_SAMPLE, train_size]
    assert sample["test"] == [baselines.EVALUATION_SAMPLE, record["data"]["sizes"]["test"]]
    models = record["baselines"]["models"]
    assert [model["name"] for model in models] == ["logistic regression", "RBF-SVM"]
    assert all("val_accuracy" not in model for model in models), "large data: scored on the test split only"
    assert record["metrics"]["baseline_best_test_accuracy"] > 0.6  # classes one standard deviation apart
    report = (folder / "report.md").read_text()
    assert f"fitted on {baselines.TRAIN_SAMPLE:,} of {train_size:,} training examples" in report


def test_a_baseline_stopped_at_its_iteration_cap_is_a_word_in_the_report_not_a_warning(cli_run, tmp_path,
                                                                                         monkeypatch):
    # Fashion-MNIST's capped logistic regression (100 iterations) stopped before converging and
    # scikit-learn printed eight lines of ConvergenceWarning in the run's output; one iteration
    # does the same on the digits.
    from sklearn import linear_model, svm

    monkeypatch.setattr(baselines, "candidate_models", lambda *arguments, **options: [
        ("logistic regression", linear_model.LogisticRegression(max_iter=1)), ("RBF-SVM", svm.SVC())])
    # pytest records warnings instead of printing them: record them here, as the ones a user would see.
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        result = cli_run("train", "softmax-regression", "--quick", "--runs", "runs")
    assert result.exit_code == 0, result.output + result.stderr
    assert not [warning for warning in escaped if "converge" in str(warning.message)], escaped
    assert "ConvergenceWarning" not in result.output + result.stderr
    folder = next((tmp_path / "runs" / "softmax-regression").iterdir())
    models = json.loads((folder / "metrics.json").read_text())["baselines"]["models"]
    assert models[0]["converged"] is False and "converged" not in models[1]
    report = (folder / "report.md").read_text()
    assert "| logistic regression (stopped at its iteration cap, not converged) |" in report
    assert "| RBF-SVM |" in report
