"""Scale: mirrored training on logical CPU devices, mixed precision, XLA, two workers."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

from helpers import QUICK

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


def dlzoo_process(arguments, cwd, extra_environment=None):
    """``python -m dlzoo ARGUMENTS`` in a fresh process (TensorFlow's devices are set per process)."""
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), TF_CPP_MIN_LOG_LEVEL="3")
    environment.pop("TF_CONFIG", None)
    environment.update(extra_environment or {})
    return subprocess.Popen([sys.executable, "-m", "dlzoo", *map(str, arguments)], cwd=cwd, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_mirrored_training_with_batch_norm_exports_what_keras_predicts(tmp_path):
    """Two logical CPU devices, a CNN with batch normalization: the export check (SavedModel vs
    Keras outputs within 1e-4) passes and metrics.json says how the run was computed."""
    process = dlzoo_process(["train", "cnn", *QUICK, "--devices", "2", "--set", 'train.distribute="mirrored"',
                             "--set", "model.batch_norm=true", "--set", "data.batch_size=64",
                             "--runs", tmp_path / "runs"], tmp_path)
    output, errors = process.communicate(timeout=300)
    assert process.returncode == 0, (output, errors)
    (folder,) = (tmp_path / "runs" / "cnn").iterdir()
    record = json.loads((folder / "metrics.json").read_text())
    assert record["distribute"] == "mirrored" and record["replicas"] == 2, record
    assert record["export"]["max_abs_difference"] <= 1e-4


def test_mixed_precision_keeps_probabilities_in_float32(cli_run, tmp_path):
    import keras

    result = cli_run("train", "softmax-regression", *QUICK, "--set", 'train.precision="mixed"',
                     "--set", "train.jit_compile=false", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    (folder,) = (tmp_path / "runs" / "softmax-regression").iterdir()
    record = json.loads((folder / "metrics.json").read_text())
    assert record["precision"] == "mixed" and record["dtype_policy"].startswith("mixed_")
    assert record["jit_compile"] is False
    assert keras.config.dtype_policy().name == "float32", "the policy does not leak into later runs"
    from dlzoo.runs.load import load_keras_model

    model = load_keras_model(folder / "model.keras")
    assert model.get_layer("probabilities").dtype_policy.compute_dtype == "float32"
    assert model.output.dtype == "float32"
    from dlzoo.runs.export import load_saved_model

    inputs = np.zeros((2, *record["data"]["input_shape"]), "float32")
    outputs = load_saved_model(folder / "saved_model")(inputs)
    assert outputs["probabilities"].dtype == np.float32


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_workers_on_localhost_finish_with_identical_weights(tmp_path):
    from dlzoo.runs.load import load_keras_model

    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(dlzoo_process(
            ["train", "softmax-regression", *QUICK, "--set", 'train.distribute="multiworker"', "--set",
             "train.export=false", "--runs", tmp_path / f"worker{index}"], tmp_path, {"TF_CONFIG": tf_config}))
    try:
        results = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (output, errors) in zip(processes, results):
        assert process.returncode == 0, (output, errors[-3000:])
    weights = []
    for index in range(2):
        (folder,) = (tmp_path / f"worker{index}" / "softmax-regression").iterdir()
        assert json.loads((folder / "metrics.json").read_text())["replicas"] == 2
        weights.append(load_keras_model(folder / "model.keras").get_weights())
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)
