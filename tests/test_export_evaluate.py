"""SavedModel export is verified; the evaluation metrics agree with scikit-learn and by hand."""

import json

import numpy as np
import pytest

from dlzoo.runs import export
from dlzoo.core.errors import RunFailed
from dlzoo.metrics.classification import classification_metrics, expected_calibration_error


def tiny_model():
    """A small classifier with the dlzoo head, for export tests."""
    from dlzoo import models

    return models.build("mlp", (4,), 3, hidden_units=[8])


def classifier_endpoints(model, input_shape):
    """The classification task's ``serve`` endpoint for ``model`` (named outputs, raw inputs)."""
    from dlzoo.data import make_splits
    from dlzoo.tasks.classify import ClassifyTask

    rng = np.random.default_rng(0)
    classes = model.output_shape[-1]
    splits = make_splits("tiny", "features", [str(k) for k in range(classes)],
                         rng.normal(size=(200, *input_shape)), np.arange(200) % classes)
    return ClassifyTask().serving_endpoints(model, splits)


def test_saved_model_reload_gives_the_same_predictions(tmp_path):
    model = tiny_model()
    inputs = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    check = export.export_saved_model(model, tmp_path / "saved_model", classifier_endpoints(model, (4,)), inputs)
    assert check["max_abs_difference"] <= export.TOLERANCE
    reloaded = export.load_saved_model(tmp_path / "saved_model")(inputs)
    assert set(reloaded) == {"probabilities", "predicted_class"}  # named outputs, not output_0
    np.testing.assert_allclose(reloaded["probabilities"], model.predict(inputs, verbose=0), atol=1e-5)
    np.testing.assert_array_equal(reloaded["predicted_class"], model.predict(inputs, verbose=0).argmax(axis=1))
    assert check["signature"] == "serve(inputs: float32[None, 4])"


def test_export_mismatch_fails_loudly_and_leaves_nothing(tmp_path, monkeypatch):
    model = tiny_model()
    monkeypatch.setattr(export, "compare_with_saved_model", lambda *args: 0.5)
    with pytest.raises(RunFailed, match="disagrees with the Keras model"):
        export.export_saved_model(model, tmp_path / "saved_model", classifier_endpoints(model, (4,)),
                                  np.zeros((2, 4), "float32"))
    assert not (tmp_path / "saved_model").exists()
    assert list(tmp_path.iterdir()) == [], "the staging folder is removed"


def test_export_refuses_to_overwrite(tmp_path):
    (tmp_path / "saved_model").mkdir()
    with pytest.raises(FileExistsError):
        model = tiny_model()
        export.export_saved_model(model, tmp_path / "saved_model", classifier_endpoints(model, (4,)),
                                  np.zeros((2, 4), "float32"))


def test_a_run_whose_export_disagrees_is_marked_failed(cli_run, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "compare_with_saved_model", lambda *args: 1.0)
    result = cli_run("train", "softmax-regression", "--quick", "--set", "train.verbose=0", "--runs", "runs")
    assert result.exit_code == 1 and "disagrees" in result.stderr
    folder = next((tmp_path / "runs" / "softmax-regression").iterdir())
    assert json.loads((folder / "metrics.json").read_text())["status"] == "failed"
    assert not (folder / "saved_model").exists()


def test_metrics_agree_with_scikit_learn():
    from sklearn import metrics

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 200)
    logits = rng.normal(size=(200, 4)) + 2.0 * np.eye(4)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result = classification_metrics(labels, probabilities, ["a", "b", "c", "d"])
    predictions = probabilities.argmax(axis=1)
    assert result["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predictions))
    assert result["macro_f1"] == pytest.approx(metrics.f1_score(labels, predictions, average="macro"))
    assert result["top_k_accuracy"]["3"] == pytest.approx(metrics.top_k_accuracy_score(labels, probabilities, k=3))
    assert "5" not in result["top_k_accuracy"], "top-k only where k < classes"
    assert np.array_equal(result["confusion_matrix"], metrics.confusion_matrix(labels, predictions))
    assert result["per_class"]["b"]["support"] == int(np.sum(labels == 1))


def test_binary_head_outputs_get_roc_auc():
    labels = np.array([0, 0, 1, 1])
    outputs = np.array([[0.1], [0.4], [0.35], [0.8]])
    result = classification_metrics(labels, outputs, ["no", "yes"])
    assert result["roc_auc"] == pytest.approx(0.75)
    assert result["accuracy"] == pytest.approx(0.75)


def test_expected_calibration_error_by_hand():
    # Two predictions at confidence 0.9 (one right), two at 0.6 (both right):
    # ECE = 0.5 * |0.5 - 0.9| + 0.5 * |1.0 - 0.6| = 0.4
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.4)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(np.array([0, 1]), perfect) == pytest.approx(0.0)


def test_export_runs_batch_norm_in_inference_mode_after_resizing(tmp_path):
    # Regression: model.export() traced LeNet (Resizing -> Conv -> BatchNorm) in training mode,
    # so the SavedModel disagreed with the model by 0.25 after one epoch.
    from dlzoo import models

    model = models.build("lenet", (8, 8, 1), 10, variant="modern", batch_norm=True)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    model.fit(inputs, rng.integers(0, 10, 64), epochs=2, verbose=0)
    check = export.export_saved_model(model, tmp_path / "saved_model", classifier_endpoints(model, (8, 8, 1)),
                                      inputs[:16])
    assert check["max_abs_difference"] <= export.TOLERANCE
