"""Nothing is lost: atomic checkpoints, SIGTERM, vanished processes, write failures, exports."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers import QUICK, shared_run

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


def run_folders(root, recipe):
    """The run folders of ``recipe`` under ``root``, oldest first."""
    return sorted((pathlib.Path(root) / recipe).iterdir())


def temporary_files(folder):
    """Files a writer left behind half-way (``.tmp`` in their name)."""
    return [path for path in pathlib.Path(folder).rglob("*") if ".tmp" in path.name or ".staging" in path.name]


def test_interrupted_checkpoint_write_keeps_the_previous_best(cli_run, tmp_path, monkeypatch):
    """A signal while a checkpoint is written leaves the previous checkpoint whole."""
    import h5py

    from dlzoo.runs import folders

    original = folders.atomic_write_bytes
    writes = {"best": 0}

    def atomic_write_bytes(path, data):
        if pathlib.Path(path).name == "best.weights.h5":
            writes["best"] += 1
            if writes["best"] == 2:  # the second best checkpoint: half written, then Ctrl-C
                (pathlib.Path(path).parent / ".best.weights.h5.half.tmp").write_bytes(data[: len(data) // 2])
                raise KeyboardInterrupt
        return original(path, data)

    monkeypatch.setattr(folders, "atomic_write_bytes", atomic_write_bytes)
    # checkpoint_seconds = 0: the weights files are written after every epoch, as a long run writes them.
    result = cli_run("train", "softmax-regression", "--epochs", "6", "--set", "train.verbose=0",
                     "--set", "train.checkpoint_seconds=0", "--runs", "runs")
    assert result.exit_code == 130, (result.output, result.stderr)
    (folder,) = run_folders(tmp_path / "runs", "softmax-regression")
    best = folder / "checkpoints" / "best.weights.h5"
    with h5py.File(best, "r"):  # the first best checkpoint, whole
        pass
    assert not temporary_files(folder / "checkpoints")
    assert json.loads((folder / "metrics.json").read_text())["status"] == "interrupted"


def tiny_model():
    """A compiled one-layer Keras model whose weights a test can set to known values."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def epoch_weights(model, value):
    """Set every weight of ``model`` to ``value`` (marks which epoch a checkpoint holds)."""
    import numpy as np

    model.set_weights([np.full_like(weights, value) for weights in model.get_weights()])


def test_throttled_checkpoint_keeps_the_best_epoch_in_memory_until_the_end(tmp_path):
    """With every_seconds far away, nothing .h5 is written during training; at the end the best
    file holds the best epoch's weights (not the last), and the state names the best value."""
    import numpy as np

    from dlzoo.training.callbacks.atomic_checkpoint import AtomicCheckpoint

    model = tiny_model()
    paths = [tmp_path / "best.weights.h5", tmp_path / "last.weights.h5", tmp_path / "last.state.npz"]
    checkpoint = AtomicCheckpoint(*paths, monitor="val_loss", every_seconds=1e9)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    for epoch, val_loss in enumerate([3.0, 1.0, 2.0]):
        epoch_weights(model, epoch + 1)
        checkpoint.on_epoch_end(epoch, {"val_loss": val_loss})
        assert not paths[0].exists() and not paths[1].exists()
        with np.load(paths[2]) as state:  # the resume state is written after every epoch
            assert int(state["epoch"]) == epoch + 1 and np.isnan(state["best"])
    checkpoint.on_train_end()
    model.load_weights(str(paths[0]))
    assert all(np.all(weights == 2) for weights in model.get_weights())  # epoch 2 had the lowest val_loss
    model.load_weights(str(paths[1]))
    assert all(np.all(weights == 3) for weights in model.get_weights())
    with np.load(paths[2]) as state:
        assert float(state["best"]) == 1.0


def test_checkpoint_after_an_exception_writes_the_best_but_not_half_an_epoch(tmp_path):
    """fit raised (Ctrl-C): the best weights in memory reach the disk, the unfinished epoch's do not."""
    import numpy as np

    from dlzoo.training.callbacks.atomic_checkpoint import AtomicCheckpoint

    model = tiny_model()
    paths = [tmp_path / "best.weights.h5", tmp_path / "last.weights.h5", tmp_path / "last.state.npz"]
    checkpoint = AtomicCheckpoint(*paths, monitor="val_loss", every_seconds=1e9)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    epoch_weights(model, 1)
    checkpoint.on_epoch_end(0, {"val_loss": 0.5})
    epoch_weights(model, 7)  # half-way through epoch 2
    checkpoint.on_fit_raised()
    assert not paths[1].exists()
    assert all(np.all(weights == 7) for weights in model.get_weights())  # the model itself is left alone
    model.load_weights(str(paths[0]))
    assert all(np.all(weights == 1) for weights in model.get_weights())
    with np.load(paths[2]) as state:
        assert float(state["best"]) == 0.5 and int(state["epoch"]) == 1


def test_last_checkpoint_keeps_the_optimizer_state(tmp_path_factory):
    import numpy as np

    folder = shared_run(tmp_path_factory, "softmax-regression", "--quick").folder
    assert (folder / "checkpoints" / "last.weights.h5").is_file()
    with np.load(folder / "checkpoints" / "last.state.npz") as state:
        assert any(name.startswith("optimizer/") for name in state.files)
        assert int(state["epoch"]) == 1


def test_sigterm_ends_the_run_as_interrupted(tmp_path):
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "dlzoo", "train", "softmax-regression", "--epochs", "500",
               "--set", "train.verbose=0", "--runs", str(tmp_path / "runs")]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if list((tmp_path / "runs").glob("softmax-regression/*/history.csv")):
                break
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, (output, errors)
    (folder,) = run_folders(tmp_path / "runs", "softmax-regression")
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "interrupted", record
    assert (folder / "report.md").is_file()
    assert str(folder) in output + errors
    assert "Traceback" not in errors


def finished_process_id():
    """The id of a process that has already exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_running_run_whose_process_is_gone_is_interrupted(cli_run, tmp_path):
    from dlzoo.runs import folders

    assert cli_run("train", "softmax-regression", *QUICK, "--runs", "runs").exit_code == 0
    (folder,) = run_folders(tmp_path / "runs", "softmax-regression")
    record = json.loads((folder / "metrics.json").read_text())
    assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
    record.update(status="running", pid=finished_process_id())
    (folder / "metrics.json").write_text(json.dumps(record))
    assert folders.read_json(folder / "metrics.json")["status"] == "interrupted"
    result = cli_run("compare", folder, "--out", "comparison")
    assert result.exit_code == 0 and "interrupted" in result.output, result.output
    record.update(pid=os.getpid())  # a live process: still running
    (folder / "metrics.json").write_text(json.dumps(record))
    assert folders.read_json(folder / "metrics.json")["status"] == "running"


def test_a_write_failure_fails_the_run_and_leaves_no_temporary_file(cli_run, tmp_path, monkeypatch):
    import errno

    import keras

    def save(self, filepath, *args, **kwargs):
        pathlib.Path(filepath).write_bytes(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(filepath))

    monkeypatch.setattr(keras.Model, "save", save)
    result = cli_run("train", "softmax-regression", *QUICK, "--runs", "runs")
    assert result.exit_code == 1
    assert result.stderr.startswith("run failed: cannot write"), result.stderr
    (folder,) = run_folders(tmp_path / "runs", "softmax-regression")
    assert json.loads((folder / "metrics.json").read_text())["status"] == "failed"
    assert not temporary_files(folder), temporary_files(folder)


@pytest.fixture
def trained_run(tmp_path, tmp_path_factory):
    """A copy of the session's finished quick run of softmax-regression, under ``tmp_path/runs``."""
    return shared_run(tmp_path_factory, "softmax-regression", "--quick").copy_into(tmp_path / "runs")


def test_export_stages_beside_the_destination(cli_run, tmp_path, trained_run, monkeypatch):
    from dlzoo.runs import export

    destination = tmp_path / "delivery"
    staged = []
    original = export.write_saved_model

    def write_saved_model(model, path, endpoints):
        staged.append(pathlib.Path(path))
        return original(model, path, endpoints)

    monkeypatch.setattr(export, "write_saved_model", write_saved_model)
    # A staging folder left by an export killed with -9 (its process is gone).
    stale = tmp_path / f".delivery.staging-{finished_process_id()}"
    stale.mkdir()
    (stale / "half-written").write_text("x")
    result = cli_run("export", trained_run, "--out", destination)
    assert result.exit_code == 0, result.stderr
    assert staged and all(destination not in path.parents for path in staged), staged
    assert not stale.exists(), "stale staging is cleaned"
    assert (destination / "saved_model" / "saved_model.pb").is_file()
    assert not temporary_files(tmp_path / "delivery") and not list(tmp_path.glob(".delivery.staging*"))


def test_export_of_a_failed_run_is_refused(cli_run, tmp_path, trained_run):
    record = json.loads((trained_run / "metrics.json").read_text())
    record.update(status="failed", error="RunFailed: something")
    (trained_run / "metrics.json").write_text(json.dumps(record))
    result = cli_run("export", trained_run, "--out", "delivery")
    assert result.exit_code == 2 and "failed" in result.stderr and "--allow-failed" in result.stderr, result.stderr
    assert not (tmp_path / "delivery").exists()
    result = cli_run("export", trained_run, "--out", "delivery", "--allow-failed")
    assert result.exit_code == 0, result.stderr
    exported = json.loads((tmp_path / "delivery" / "export.json").read_text())
    assert exported["run_status"] == "failed" and exported["allow_failed"] is True
