"""The transfer task: pretrain on digits 0-4, reuse the base for 5-9 (frozen, fine-tuned, scratch).

One quick run through the real CLI is shared by most tests (module fixture): a transfer run is
four trainings, too slow to repeat per test.
"""

import json

import numpy as np
import pytest

from helpers import assert_usage_error, invoke, shared_run

QUICK = ("--quick", "--set", "train.verbose=0", "--set", "train.quick_train_samples=64")


def only_run_folder(root):
    """The single run folder under ``root`` (recipe/timestamp)."""
    folders = [path for path in root.glob("*/*") if path.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory):
    """The session's quick transfer run (pretrain here, 1 epoch per stage); returns its run folder."""
    return shared_run(tmp_path_factory, "transfer", "--quick").folder


def test_run_reports_frozen_fine_tuned_and_scratch_accuracies(transfer_run):
    record = json.loads((transfer_run / "metrics.json").read_text())
    assert record["status"] == "completed"
    metrics = record["metrics"]
    for name in ("frozen_test_accuracy", "fine_tuned_test_accuracy", "scratch_test_accuracy", "source_test_accuracy"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["test_accuracy"] == pytest.approx(metrics["fine_tuned_test_accuracy"])
    assert set(record["stages"]) == {"pretrain", "frozen", "fine_tuned", "scratch"}
    for name in ("pretrained.keras", "frozen.keras", "scratch.keras", "model.keras", "saved_model",
                 "plots/transfer_curves.png", "history.csv"):
        assert (transfer_run / name).exists(), name
    assert "## Transfer learning" in (transfer_run / "report.md").read_text()
    # The run's configuration names the target data, so evaluate/visualize reload digits 5-9.
    config = (transfer_run / "config.toml").read_text()
    assert "classes = [\n    5," in config or "classes = [5, 6, 7, 8, 9]" in config


def test_final_model_nests_the_base_as_one_layer(transfer_run):
    import keras

    from dlzoo.runs.load import load_keras_model

    model = load_keras_model(transfer_run / "model.keras")
    assert [layer.name for layer in model.layers] == ["inputs", "base", "gap", "logits", "probabilities"]
    base = model.get_layer("base")
    assert isinstance(base, keras.Model)
    assert any(isinstance(layer, keras.layers.Conv2D) for layer in base.layers)
    assert len(base.output.shape) == 4  # the cut is before the global pooling
    assert model.output_shape == (None, 5)


def test_frozen_stage_leaves_the_pretrained_base_unchanged(transfer_run):
    from dlzoo.runs.load import load_keras_model
    from dlzoo.tasks.transfer import extract_base

    pretrained = extract_base(load_keras_model(transfer_run / "pretrained.keras")).get_weights()
    frozen = load_keras_model(transfer_run / "frozen.keras").get_layer("base").get_weights()
    fine_tuned = load_keras_model(transfer_run / "model.keras").get_layer("base").get_weights()
    assert len(pretrained) == len(frozen) == len(fine_tuned)
    for before, after in zip(pretrained, frozen):
        np.testing.assert_array_equal(before, after)
    # Fine-tuning does change the convolution kernels.
    assert any(not np.array_equal(before, after) for before, after in zip(pretrained, fine_tuned))


def test_gradcam_finds_the_convolutions_inside_the_base(transfer_run, tmp_path):
    result = invoke("visualize", transfer_run, "--method", "gradcam", "--samples", "2", "--out", tmp_path / "default")
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "default").glob("*.png"))
    result = invoke("visualize", transfer_run, "--method", "gradcam", "--layer", "base.conv1", "--samples", "2",
                    "--out", tmp_path / "layer")
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "layer").glob("*.png"))


def test_base_from_an_earlier_run(transfer_run, tmp_path):
    root = tmp_path / "runs"
    result = invoke("train", "transfer", *QUICK, "--set", "train.export=false",
                    "--set", f"transfer.base='{transfer_run}'", "--runs", root)
    assert result.exit_code == 0, result.output
    folder = only_run_folder(root)
    record = json.loads((folder / "metrics.json").read_text())
    assert "pretrain" not in record["stages"] and not (folder / "pretrained.keras").exists()
    assert str(transfer_run) in record["base"]
    assert "fine_tuned_test_accuracy" in record["metrics"]


@pytest.mark.parametrize("error", [
    Exception("URL fetch failure on https://storage.googleapis.com/x.h5: None -- [Errno -3] name resolution"),
    OSError("[Errno 101] Network is unreachable"),
])
def test_keras_application_offline_is_a_usage_error(cli_run, monkeypatch, tmp_path, error):
    import keras

    def offline(**options):
        raise error

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)  # never touches the network
    result = cli_run("train", "transfer", *QUICK, "--set", "transfer.base='keras:mobilenet_v2'",
                     "--runs", tmp_path / "runs")
    assert_usage_error(result, "keras:mobilenet_v2", "network")
    assert not (tmp_path / "runs" / "transfer").exists()


def test_keras_application_base_is_resized_and_nested(monkeypatch):
    import keras

    from dlzoo.config import resolve
    from dlzoo.tasks.transfer import TransferTask

    calls = []

    def tiny_application(input_shape, include_top, weights):
        """A stand-in for MobileNetV2 with the same calling convention (no download)."""
        calls.append((input_shape, include_top, weights))
        inputs = keras.Input(shape=input_shape)
        features = keras.layers.Conv2D(4, 3, strides=2, name="Conv1")(inputs)
        return keras.Model(inputs, keras.layers.ReLU(name="out_relu")(features), name="mobilenetv2")

    monkeypatch.setattr(keras.applications, "MobileNetV2", tiny_application)
    config = resolve.load_config("transfer", ["transfer.base='keras:mobilenet_v2'", "train.verbose=0"])
    prepared = TransferTask().prepare(config, quick=True)
    assert calls == [((32, 32, 3), False, "imagenet")]
    names = [layer.name for layer in prepared.transfer_model.layers]
    assert names == ["inputs", "standardize", "resize", "to_rgb", "base", "gap", "logits", "probabilities"]
    assert prepared.transfer_model.predict(prepared.target_splits.x_test[:3], verbose=0).shape == (3, 5)
    assert prepared.source_model is None


@pytest.mark.parametrize("assignment, fragments", [
    ("transfer.frozen_epoch=3", ("unknown key 'transfer.frozen_epoch'", "frozen_epochs")),
    ("transfer.target_classes=[5]", ("transfer.target_classes",)),
    ("transfer.fine_tune_learning_rate=-1", ("transfer.fine_tune_learning_rate",)),
    ("transfer.pretrain_epochs=0", ("transfer.pretrain_epochs",)),
    ("transfer.base='keras:mobilenet_v9'", ("keras:mobilenet_v9", "mobilenet_v2")),
    ("transfer.base='no/such/run'", ("no/such/run",)),
    ("data.classes=[1,2]", ("data.classes",)),
])
def test_bad_transfer_options_exit_2(cli_run, tmp_path, assignment, fragments):
    result = cli_run("train", "transfer", *QUICK, "--set", assignment, "--runs", tmp_path / "runs")
    assert_usage_error(result, *fragments)
    assert not (tmp_path / "runs" / "transfer").exists()


def test_the_cut_is_the_last_feature_map():
    from dlzoo import models
    from dlzoo.tasks.transfer import extract_base

    gap_cnn = models.build("cnn", (8, 8, 1), 5, filters=[4, 8])
    assert extract_base(gap_cnn).layers[-1].name == "conv2_act"
    flatten_cnn = models.build("cnn", (8, 8, 1), 5, filters=[4, 8], global_pooling="flatten", dense_units=16)
    assert extract_base(flatten_cnn).layers[-1].name == "pool2"


# transfer-shapes: pretrain on circles, squares and triangles; stars vs crosses from 20 labels.


def test_transfer_shapes_quick_run_reports_three_accuracies_and_exports(tmp_path, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "transfer-shapes", "--quick").folder
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed"
    metrics = record["metrics"]
    for name in ("frozen_test_accuracy", "fine_tuned_test_accuracy", "scratch_test_accuracy", "source_test_accuracy"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["transfer_gain"] == pytest.approx(metrics["fine_tuned_test_accuracy"]
                                                     - metrics["scratch_test_accuracy"])
    assert record["export"]["max_abs_difference"] <= 1e-4
    assert (folder / "saved_model" / "saved_model.pb").exists() and (folder / "model.keras").exists()
    # Two classes: the new head is one sigmoid unit on the 64 features of the base.
    assert record["stages"]["frozen"]["trainable_parameters"] == 64 + 1  # only the new head: one sigmoid unit
    report = (folder / "report.md").read_text()
    assert "## Transfer learning" in report and "Target classes [3, 4]" in report


def test_quick_transfer_generates_only_a_small_shapes_pool():
    from dlzoo.config import resolve
    from dlzoo.tasks.transfer import TransferTask

    config = resolve.load_config("transfer-shapes", ["train.verbose=0", "train.quick_train_samples=100"])
    prepared = TransferTask().prepare(config, quick=True)
    # A pool of 100 images (25 test images over 5 shapes), not the recipe's 3000 (750 test images).
    assert len(prepared.target_splits.y_test) + len(prepared.source_splits.y_test) <= 25
    assert len(prepared.target_splits.y_train) == 20
    assert prepared.target_splits.class_names == ["star", "cross"]
    assert prepared.source_splits.class_names == ["circle", "square", "triangle"]
    # The recipe's own settings are untouched: a full run generates the whole pool.
    assert config["data"]["num_samples"] == 3000
