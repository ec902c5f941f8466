"""Performance pictures and model cost of classification runs; dlzoo doctor; bench on several devices."""

import json

import keras
import numpy as np
import pytest

from dlzoo.metrics import performance

from helpers import QUICK, shared_run, train_once


def test_flops_of_dense_and_convolution_layers():
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8 positions x 3*3*1*4 weights
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(features))  # 256 x 10
    model = keras.Model(inputs, outputs)
    assert performance.flops_per_example(model) == 2 * (64 * 36) + 2 * (256 * 10)


def test_confident_mistakes_and_reliability():
    labels = np.array([0, 1, 1, 0])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.95, 0.05], [0.4, 0.6]])
    assert performance.confident_mistakes(labels, probabilities).tolist() == [2, 3]  # 0.95 wrong first
    confidence, accuracy, counts = performance.reliability(labels, probabilities, bins=2)
    assert counts.sum() == 4 and np.all((accuracy >= 0) & (accuracy <= 1))


def test_classification_run_draws_performance_pictures(tmp_path_factory):
    folder = shared_run(tmp_path_factory, "cnn", "--quick").folder
    for name in ("roc_pr_curves.png", "reliability.png", "confident_mistakes.png"):
        assert (folder / "plots" / name).exists(), name
    record = json.loads((folder / "metrics.json").read_text())
    assert record["flops_per_example"] > record["parameters"]  # a conv layer reuses its weights at every pixel
    report = (folder / "report.md").read_text()
    assert "## Performance" in report and "top-3 accuracy" in report and "FLOPs per example" in report


@pytest.fixture(scope="module", params=["softmax-regression", "linear-neuron"])
def counted_run(request, tmp_path_factory):
    """``(run folder, rows of every Model.predict call)`` of one quick run of a classifier (8x8
    digits) and of a regression."""
    predicted_rows = []
    original = keras.Model.predict

    def counting_predict(model, *arguments, **keywords):
        outputs = original(model, *arguments, **keywords)
        predicted_rows.append(len(outputs))
        return outputs

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "predict", counting_predict)
        _, folder = train_once(tmp_path_factory, request.param, *QUICK)
    return folder, predicted_rows


def test_the_test_split_goes_through_the_model_once(counted_run):
    # Evaluation predicts the test split; the pictures (performance, predicted vs true) reuse those outputs.
    folder, predicted_rows = counted_run
    pictures = ("reliability.png", "roc_pr_curves.png") if "softmax" in folder.parent.name else ("predicted_vs_true.png",)
    assert all((folder / "plots" / name).exists() for name in pictures), pictures
    sizes = json.loads((folder / "metrics.json").read_text())["data"]["sizes"]
    assert len(set(sizes.values())) == 3, sizes  # distinct split sizes: a call's rows say which split it was
    assert predicted_rows.count(sizes["test"]) == 1, (predicted_rows, sizes)
    assert predicted_rows.count(sizes["val"]) == 1, (predicted_rows, sizes)


def test_doctor_reports_versions_devices_and_folders(cli_run, tmp_path):
    result = cli_run("doctor", "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.stderr
    assert "TensorFlow" in result.output and "Keras" in result.output and "CUDA" in result.output
    assert "GPU" in result.output and "TFDS data folder" in result.output and "runs folder" in result.output


def test_bench_compares_devices_or_says_there_is_no_gpu(cli_run, tmp_path, monkeypatch):
    from dlzoo.commands import bench_devices

    monkeypatch.setattr(bench_devices, "gpu_available", lambda: False)
    result = cli_run("bench", "softmax-regression", "--quick", "--device", "cpu", "--device", "gpu",
                     "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    assert "no GPU visible" in result.output and "cpu samples/s" in result.output
    written = next((tmp_path / "runs" / "bench-devices").iterdir())
    assert json.loads((written / "devices.json").read_text())["devices"] == ["cpu"]
    refused = cli_run("bench", "softmax-regression", "--device", "auto", "--device", "gpu")
    assert refused.exit_code == 2 and "auto is not a device" in refused.stderr
