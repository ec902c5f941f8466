"""dlzoo check (no training) and train --overfit-batch: each finding must be able to fail."""

import json

import numpy as np
import pytest
from sklearn import datasets

from dlzoo.commands import check
from helpers import assert_usage_error
from test_bad_input_fast import assert_refused_before_tensorflow, run_fresh


def digits_npz(path, planted):
    """Digits as an .npz with an official test split; ``planted`` test images copied from train."""
    digits = datasets.load_digits()
    x = digits.images.astype("float32")[..., None]
    y = digits.target
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:].copy(), y[1400:].copy()
    x_test[:planted], y_test[:planted] = x_train[:planted], y_train[:planted]  # exact leakage
    x_test[planted:2 * planted] = x_train[planted:2 * planted] + 0.01  # near duplicates
    y_test[planted:2 * planted] = y_train[planted:2 * planted]
    np.savez(path, x=x_train, y=y_train, x_test=x_test, y_test=y_test)
    return path


def test_duplicates_finds_exact_and_near_copies_only():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 20)).astype("float32")
    test = rng.normal(size=(100, 20)).astype("float32")
    test[:5] = train[:5]
    test[5:8] = train[10:13] + 1e-3
    found = check.duplicates(train, test)
    assert found["exact"] == [0, 1, 2, 3, 4]
    assert found["near"] == [5, 6, 7]


def test_near_duplicates_are_searched_on_a_seeded_sample_of_a_large_test_split_exact_ones_on_all():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(400, 16)).astype("float32")
    test = rng.normal(size=(300, 16)).astype("float32")
    test[:30] = train[:30]  # exact copies: every one is found, sample or not
    test[30:130] = train[100:200] + 1e-3  # a third of the test split nearly copied
    found = check.duplicates(train, test, sample=60, seed=4)
    assert found["exact"] == list(range(30)) and found["compared"] == 60 and found["test_size"] == 300
    assert set(found["near"]) <= set(range(30, 130)) and 5 <= len(found["near"]) <= 40
    assert found == check.duplicates(train, test, sample=60, seed=4)  # seeded: the same sample
    level, line = check.duplicate_finding(found, 300)
    assert level == check.PROBLEM and "among 60 sampled test examples (seeded; about" in line, line
    assert len(check.duplicates(train, test)["near"]) == 100  # below the sample size: all compared


def test_a_handful_of_duplicates_in_a_large_test_split_is_a_warning_not_a_problem():
    found = {"exact": [], "near": [17], "median_distance": 880.0, "closest_ratio": 0.27, "compared": 2000,
             "test_size": 10000}
    level, line = check.duplicate_finding(found, 10000)
    assert level == check.WARNING and "1 more nearly among 2000 sampled test examples" in line, line
    assert "0.27x the median" in line and "too few to move the test score" in line
    clean = {**found, "near": [], "closest_ratio": 0.4}
    level, line = check.duplicate_finding(clean, 10000)
    assert level == check.OK and "searched for 2000 sampled test examples" in line, line


def test_check_of_a_large_test_split_says_it_sampled(cli_run, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(3000, 6, 6, 1)).astype("uint8")
    y = np.arange(3000) % 3
    x_test, y_test = rng.integers(0, 256, size=(2500, 6, 6, 1)).astype("uint8"), np.arange(2500) % 3
    x_test[:5] = x[:5]  # 5 exact copies of 2,500: 0.2 %, a warning
    np.savez(tmp_path / "large.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    result = cli_run("check", "softmax-regression", "--data", f"npz:{tmp_path / 'large.npz'}")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.output.splitlines() if "leakage:" in line and "[" in line)
    assert line.strip().startswith("[warning] leakage: 5 test examples also in train/val exactly", ) and \
        f"among {check.NEAR_SAMPLE} sampled test examples" in line, line


def test_findings_flag_problems():
    assert check.loss_finding(20.0, np.log(10), "softmax")[0] == check.PROBLEM
    assert check.loss_finding(2.4, np.log(10), "softmax")[0] == check.OK
    assert check.gradient_finding([("a/kernel", 1.0), ("b/kernel", 0.0)])[0] == check.PROBLEM
    assert check.gradient_finding([("a/kernel", 1.0), ("b/kernel", 1e-6)])[0] == check.WARNING
    assert check.balance_finding({"train": [100, 10], "test": [10, 10]})[0] == check.WARNING
    assert check.balance_finding({"train": [100, 90], "test": [10, 0]})[0] == check.PROBLEM


def test_check_flags_planted_duplicates(cli_run, tmp_path):
    path = digits_npz(tmp_path / "leaky.npz", planted=20)
    result = cli_run("check", "softmax-regression", "--data", f"npz:{path}")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.output.splitlines() if "leakage:" in line and "[" in line)
    assert "[PROBLEM]" in line and "20 test examples also in train/val exactly, 20 more nearly" in line
    assert "initial loss" in result.output and "ln(10)" in result.output
    assert "examples per class" in result.output and "gradient norms at initialization" in result.output


def test_check_passes_a_clean_recipe_and_sees_vanishing_gradients(cli_run):
    clean = cli_run("check", "mlp")
    assert clean.exit_code == 0 and "[PROBLEM]" not in clean.output and "[warning]" not in clean.output, clean.output
    deep = cli_run("check", "deep-mlp")  # deep sigmoid network: the lesson of vanishing gradients
    assert "[warning] gradients" in deep.output, deep.output


def test_check_refuses_a_task_without_a_model(cli_run):
    result = cli_run("check", "optimizers-2d")
    assert result.exit_code == 2 and "classify" in result.stderr.partition("tasks that can:")[2] and "optimizer-paths" in result.stderr


def test_overfit_batch_passes_and_a_planted_bug_fails(cli_run, tmp_path):
    good = cli_run("train", "mlp", "--overfit-batch", "--runs", "runs")
    assert good.exit_code == 0 and good.output.startswith("ok:"), good.output
    # The planted bug: a learning rate of zero, so nothing can learn.
    bad = cli_run("train", "mlp", "--overfit-batch", "--runs", "runs", "--set", "optimizer.learning_rate=0.0")
    assert bad.exit_code == 0 and "CANNOT overfit" in bad.output, bad.output
    folders = sorted((tmp_path / "runs" / "mlp-overfit-batch").iterdir())
    records = [json.loads((folder / "metrics.json").read_text())["overfit_batch"] for folder in folders]
    assert [record["passed"] for record in records] == [True, False]
    assert records[0]["final_loss"] < 0.05 * records[0]["first_loss"]
    assert "FAILED" in (folders[1] / "report.md").read_text()


# dlzoo check DATASET: the data checks alone ------------------------------------------------

def verdict_lines(output):
    """``{name: line}`` of the verdict lines (``  [level] name: ...``) of a check's output."""
    lines = [line.strip() for line in output.splitlines() if line.startswith("  [")]
    return {line.split("] ", 1)[1].split(":", 1)[0]: line for line in lines}


def test_check_of_a_dataset_runs_the_data_checks_and_says_the_model_ones_do_not_apply(cli_run):
    result = cli_run("check", "digits")
    assert result.exit_code == 0, result.stderr
    verdicts = verdict_lines(result.output)
    assert set(verdicts) == {"splits", "inputs", "labels", "leakage", "model"}, verdicts
    assert verdicts["splits"].startswith("[ok]") and "train /" in verdicts["splits"] and "test" in verdicts["splits"]
    assert verdicts["inputs"].startswith("[ok]") and "(8, 8, 1)" in verdicts["inputs"] and "float32" in verdicts["inputs"]
    assert verdicts["labels"].startswith("[ok] labels: balanced")
    assert verdicts["leakage"].startswith("[ok] leakage: no exact or near duplicates")
    assert verdicts["model"].startswith("[n/a]") and "dlzoo check RECIPE --data digits" in verdicts["model"]
    assert "[ok] initial loss" not in result.output and "gradient norms at initialization" not in result.output


def test_check_of_fashion_mnist_reads_its_files_without_tensorflow(tmp_path):
    # The $DLZOO_DATA fixture holds small Fashion-MNIST files in the real IDX format.
    result = run_fresh(tmp_path, "check", "fashion_mnist")
    assert result["exit_code"] == 0, result["stderr"]
    assert "T-shirt/top" in result["stdout"] and "[ok] leakage:" in result["stdout"], result["stdout"]
    assert "shape (28, 28, 1), stored as uint8" in result["stdout"]
    assert not result["tensorflow"], "a NumPy dataset's check imported TensorFlow"


def test_check_of_an_idx_folder_finds_planted_leakage_and_a_test_split_on_another_scale(cli_run, tmp_path):
    from dlzoo.data import idx

    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 200, size=(300, 28, 28), dtype=np.uint8)
    test_images = rng.integers(0, 200, size=(100, 28, 28), dtype=np.uint8)
    test_images[:10] = train_images[:10]  # 10% of the test split copied from train: leakage
    test_images[50, 0, 0] = 255  # beyond the training range [0, 199] by more than 10% of it
    labels = {"train": np.arange(300) % 10, "test": np.arange(100) % 10}
    for split, images in (("train", train_images), ("test", test_images)):
        prefix = "t10k" if split == "test" else "train"
        idx.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        idx.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels[split].astype(np.uint8))
    result = cli_run("check", f"idx:{tmp_path}")
    assert result.exit_code == 0, result.stderr
    verdicts = verdict_lines(result.output)
    assert verdicts["leakage"].startswith("[PROBLEM] leakage: 10 test examples also in train/val exactly"), verdicts
    assert verdicts["inputs"].startswith("[warning]") and "test [0, 255]" in verdicts["inputs"], verdicts["inputs"]


def test_check_of_a_dataset_takes_data_keys_only(cli_run, tmp_path):
    seeded = cli_run("check", "digits", "--set", "data.test_fraction=0.5")
    assert seeded.exit_code == 0 and "/ 899 test" in seeded.output, seeded.output
    assert_usage_error(cli_run("check", "digits", "--set", "train.epochs=2"), "data.* keys only")
    assert_usage_error(cli_run("check", "digits", "--set", "data.nois=1"), "unknown key 'data.nois'")
    assert_usage_error(cli_run("check", "digits", "--data", "moons"), "is a dataset already")


@pytest.mark.parametrize("arguments, fragments", [
    (("fashion_mnst",), ("'fashion_mnst' is neither a recipe nor a dataset", "the dataset 'fashion_mnist'")),
    (("fashion-mlpp",), ("neither a recipe nor a dataset", "the recipe 'fashion-mlp'")),
    (("idx:no-such-folder",), ("idx:no-such-folder",)),
])
def test_check_refuses_what_is_neither_a_recipe_nor_an_available_dataset_before_tensorflow(tmp_path, arguments,
                                                                                            fragments):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "check", *arguments), *fragments)
