"""The ``fashion-transfer`` recipe: pretrain on five kinds of clothing of Fashion-MNIST, reuse the
base for the other five with 100 labels per class (frozen, fine-tuned, from scratch).

The run reads a small Fashion-MNIST written in the real IDX format (tests/conftest.py's
generator, 140 training images per class so that 100 labels per class exist); the real files
are for the measurements in the recipe's ``[expect]``.
"""

import json

import pytest
from conftest import write_idx_folder

from dlzoo.config import resolve
from helpers import only_run

# Class names of Fashion-MNIST in the order of their ids.
NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.fixture
def fashion_files(tmp_path, monkeypatch):
    """``$DLZOO_DATA`` with a Fashion-MNIST of 1,400 training and 200 test images in IDX files."""
    root = tmp_path / "data"
    write_idx_folder(root / "fashion_mnist", train_count=1400, test_count=200)
    monkeypatch.setenv("DLZOO_DATA", str(root))
    return root


def test_recipe_splits_the_ten_classes_in_two_halves_with_100_labels_per_target_class():
    recipe = resolve.load_config("fashion-transfer")
    options = recipe["transfer"]
    source, target = options["source_classes"], options["target_classes"]
    assert len(source) == len(target) == 5 and sorted(source + target) == list(range(10))
    assert options["target_train_samples"] == 100 * len(target)
    assert recipe["data"]["dataset"] == "fashion_mnist"
    assert recipe["expect"]["metric"] == "transfer_gain"
    assert "Yosinski" in recipe["expect"]["source"] and "--seed 0 / 1 / 2" in recipe["expect"]["source"]


def test_quick_run_reports_frozen_fine_tuned_scratch_and_their_difference(cli_run, tmp_path, fashion_files):
    # As a user types it: the default output, no train.verbose=0.
    result = cli_run("train", "fashion-transfer", "--quick", "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = only_run(tmp_path / "runs", "fashion-transfer")
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed"
    metrics = record["metrics"]
    for name in ("frozen_test_accuracy", "fine_tuned_test_accuracy", "scratch_test_accuracy"):
        assert 0.0 <= metrics[name] <= 1.0, name
        assert f"   {name} " in result.output, name  # the summary block prints all three
    assert metrics["transfer_gain"] == pytest.approx(metrics["fine_tuned_test_accuracy"]
                                                     - metrics["scratch_test_accuracy"])
    assert "transfer_gain" in result.output
    options = resolve.load_config("fashion-transfer")["transfer"]
    assert record["stages"]["fine_tuned"]["test_accuracy"] == pytest.approx(metrics["fine_tuned_test_accuracy"])
    report = (folder / "report.md").read_text()
    target_names = ", ".join(NAMES[label] for label in options["target_classes"])
    source_names = ", ".join(NAMES[label] for label in options["source_classes"])
    # The classes by name, and 100 labels for each target class (quick mode keeps them:
    # 500 <= train.quick_train_samples).
    assert f"Target classes {options['target_classes']} ({target_names}) with 500 training labels (100 per class)" \
        in report
    assert f"source classes {options['source_classes']} ({source_names})" in report
    assert "Fine-tuned minus scratch: **" in report
    for stage in ("a. frozen base, new head", "b. fine-tuned", "c. same architecture from scratch"):
        assert stage in report, stage
