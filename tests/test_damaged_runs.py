"""Runs stopped at awkward moments and run folders with damaged files.

* a run stopped after training (while it evaluated, exported or drew) resumes and completes
  with the metrics an uninterrupted run has;
* a signal that arrives where Python cannot raise it (a destructor, the last epoch's end) still
  ends the run as interrupted;
* a damaged ``metrics.json``, ``model.keras`` or checkpoint is one line naming the file, exit 2,
  and nothing on disk changes.
"""

import json
import os
import pathlib
import signal

import numpy as np
import pytest

from helpers import shared_run
from test_resume import TRAIN, run_folder, weights_of

# The mlp run of tests/test_resume.py on its default output (what a user sees).
TRAIN_SHOWN = TRAIN[:5] + TRAIN[7:]


def read_record(folder):
    """A run's metrics.json."""
    return json.loads((pathlib.Path(folder) / "metrics.json").read_text())


def without_timings(record):
    """The parts of a run's record that do not depend on how long it took or when it ran."""
    return {key: value for key, value in record["metrics"].items() if "seconds" not in key}


def folder_contents(folder):
    """``{relative path: bytes}`` of every file under ``folder`` (to check nothing changed)."""
    folder = pathlib.Path(folder)
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# 1. Stopped after model.keras was written ------------------------------------------------------

def stop_in_export(monkeypatch):
    """Ctrl-C while the SavedModel is written (model.keras is already on disk)."""
    from dlzoo.runs import export

    def write_saved_model(model, path, endpoints):
        pathlib.Path(path).mkdir(parents=True)
        (pathlib.Path(path) / "saved_model.pb").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "write_saved_model", write_saved_model)


def stop_in_pictures(monkeypatch):
    """Ctrl-C while the learning curves are drawn (model.keras and saved_model/ are on disk)."""
    from dlzoo.plots import curves

    def learning_curves(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(curves, "learning_curves", learning_curves)


def stop_in_report(monkeypatch):
    """SIGTERM while the report is written at the very end (metrics.json already says completed)."""
    from dlzoo.runs import report
    from dlzoo.core.errors import Terminated

    original, calls = report.write_report, []

    def write_report(folder):
        calls.append(folder)
        if len(calls) == 1:
            raise Terminated(signal.SIGTERM)
        return original(folder)

    monkeypatch.setattr(report, "write_report", write_report)


@pytest.mark.parametrize("stop", [stop_in_export, stop_in_pictures, stop_in_report])
def test_a_run_stopped_after_training_resumes_to_the_uninterrupted_metrics(cli_run, tmp_path, monkeypatch, stop):
    assert cli_run(*TRAIN_SHOWN, "--runs", "whole").exit_code == 0
    whole = run_folder(tmp_path / "whole")

    stop(monkeypatch)
    result = cli_run(*TRAIN_SHOWN, "--runs", "parts")
    assert result.exit_code in (130, 143), (result.output, result.stderr)
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    parts = run_folder(tmp_path / "parts")
    assert (parts / "model.keras").is_file() and read_record(parts)["status"] == "interrupted"

    for attempt in range(2):  # a second resume of a completed run is refused, as for any completed run
        result = cli_run("train", "--resume", parts)
        if attempt == 0:
            assert result.exit_code == 0, (result.output, result.stderr)
            assert "completed" in result.output and "training had ended" in result.output, result.output
        else:
            assert result.exit_code == 2 and "already completed" in result.stderr, result.stderr
    record, reference = read_record(parts), read_record(whole)
    assert record["status"] == "completed" and record["resumed"] and "error" not in record
    assert record["epochs_run"] == reference["epochs_run"] == 3
    assert without_timings(record) == without_timings(reference)
    for resumed, uninterrupted in zip(weights_of(parts), weights_of(whole)):
        np.testing.assert_array_equal(resumed, uninterrupted)
    assert (parts / "history.csv").read_text() == (whole / "history.csv").read_text()
    assert (parts / "saved_model" / "saved_model.pb").stat().st_size > 1000
    assert record["export"]["max_abs_difference"] <= record["export"]["tolerance"]
    assert (parts / "plots" / "learning_curves.png").is_file() and (parts / "report.md").is_file()
    assert not [path for path in parts.rglob("*") if ".tmp" in path.name or path.name.startswith(".saved_model")]


# 2. Signals Python could not raise where they arrived; files of a killed attempt ------------------

class SignalsWhenCollected:
    """An object whose destructor sends this process SIGTERM, as a signal can arrive while
    Python runs a destructor (TensorFlow and h5py objects are collected all the time)."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs here, inside the destructor
            pass


def test_sigterm_in_a_destructor_after_training_ends_the_run_as_interrupted(cli_run, tmp_path, monkeypatch):
    from dlzoo.tasks import embed

    original = embed.write_projector_files

    def write_projector_files(*args):
        SignalsWhenCollected()  # collected at once: its destructor gets the signal's exception
        return original(*args)

    monkeypatch.setattr(embed, "write_projector_files", write_projector_files)
    result = cli_run("train", "word2vec", "--quick", "--runs", "runs")
    assert result.exit_code == 143, (result.output, result.stderr)
    assert "Traceback" not in result.stderr and "Terminated" not in result.stderr, result.stderr
    (folder,) = (tmp_path / "runs" / "word2vec").iterdir()
    record = read_record(folder)
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"], record

    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert read_record(folder)["status"] == "completed"
    assert (folder / "embeddings" / "vectors.tsv").is_file()


def test_sigterm_after_the_last_batch_is_not_lost(cli_run, tmp_path, monkeypatch):
    """SignalStop records a signal during training and raises it at the next batch; after the
    last batch there is none, and the run must still end as interrupted."""
    import keras

    from dlzoo.training import fit

    class SignalAtLastEpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    original = fit.platform_callbacks
    monkeypatch.setattr(fit, "platform_callbacks",
                        lambda *args, **kwargs: original(*args, **kwargs) + [SignalAtLastEpochEnd()])
    result = cli_run(*TRAIN_SHOWN, "--runs", "runs")
    assert result.exit_code == 143, (result.output, result.stderr)
    folder = run_folder(tmp_path / "runs")
    assert read_record(folder)["status"] == "interrupted"
    assert not (folder / "model.keras").exists()  # stopped before the steps after training
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert read_record(folder)["status"] == "completed" and read_record(folder)["epochs_run"] == 3


def test_resume_removes_the_files_a_killed_attempt_was_writing(cli_run, tmp_path, monkeypatch):
    from test_resume import interrupt_after_first_epoch

    interrupt_after_first_epoch(monkeypatch)
    assert cli_run(*TRAIN_SHOWN, "--runs", "runs").exit_code == 130
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    folder = run_folder(tmp_path / "runs")
    # What kill -9 leaves in the middle of a checkpoint write and of a SavedModel export.
    orphan = folder / "checkpoints" / ".best.tmp-4242.weights.h5"
    orphan.write_bytes(b"\x89HDF half")
    staging = folder / ".saved_model.tmp-abc123"
    (staging / "variables").mkdir(parents=True)
    (staging / "variables" / "variables.index").write_bytes(b"half")
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert read_record(folder)["status"] == "completed"
    assert not orphan.exists() and not staging.exists()
    assert not [path for path in folder.rglob("*") if ".tmp" in path.name]


# 3. Damaged files of a run -------------------------------------------------------------------

def truncate(path):
    """Cut ``path`` to a third of its size (a copy or a write stopped half-way)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def garble(path):
    """Replace ``path`` with random bytes of the same size."""
    path.write_bytes(np.random.default_rng(0).integers(0, 256, path.stat().st_size, dtype=np.uint8).tobytes())


def make_folder(path):
    """Replace the file ``path`` with an empty folder."""
    path.unlink()
    path.mkdir()


DAMAGES = {"truncated": truncate, "garbled": garble, "a folder": make_folder}


def assert_refused(result, damaged_path, before, folder):
    """Exit 2, one line naming the damaged file, nothing on disk changed."""
    assert result.exit_code == 2, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(damaged_path) in lines[0] and "damaged" in lines[0], result.stderr
    assert folder_contents(folder) == before


@pytest.fixture(scope="module")
def completed_run(tmp_path_factory):
    """The session's finished quick run of softmax-regression (tests damage copies of it)."""
    return shared_run(tmp_path_factory, "softmax-regression", "--quick").folder


@pytest.fixture
def run_copy(completed_run, tmp_path):
    """A copy of the completed run that a test may damage."""
    import shutil

    return pathlib.Path(shutil.copytree(completed_run, tmp_path / "runs" / "softmax-regression" / completed_run.name))


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_a_damaged_metrics_file_is_named(cli_run, tmp_path, run_copy, damage, command):
    DAMAGES[damage](run_copy / "metrics.json")
    before = folder_contents(tmp_path)
    result = cli_run(command, run_copy, *(["--out", "delivery"] if command == "export" else []))
    assert_refused(result, run_copy / "metrics.json", before, tmp_path)


@pytest.mark.parametrize("command, damage", [("evaluate", damage) for damage in DAMAGES]
                         + [("export", "truncated"), ("visualize", "garbled")])
def test_a_damaged_model_file_is_named(cli_run, tmp_path, run_copy, damage, command):
    DAMAGES[damage](run_copy / "model.keras")
    before = folder_contents(tmp_path)
    result = cli_run(command, run_copy, *(["--out", "delivery"] if command != "evaluate" else []))
    assert_refused(result, run_copy / "model.keras", before, tmp_path)


@pytest.fixture(scope="module")
def interrupted_mlp(tmp_path_factory):
    """An mlp run interrupted (Ctrl-C) after its first epoch, with its checkpoints written."""
    import keras
    from click.testing import CliRunner

    from dlzoo.training import fit
    from dlzoo.cli import cli

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    root = tmp_path_factory.mktemp("interrupted")
    original = fit.platform_callbacks
    fit.platform_callbacks = lambda *args, **kwargs: original(*args, **kwargs) + [StopAfterFirstEpoch()]
    try:
        result = CliRunner().invoke(cli, [*TRAIN_SHOWN, "--set", "train.checkpoint_seconds=0", "--runs",
                                          str(root / "runs")], catch_exceptions=False)
    finally:
        fit.platform_callbacks = original
    assert result.exit_code == 130, result.output
    folder = run_folder(root / "runs")
    assert all((folder / "checkpoints" / f"{name}.weights.h5").is_file() for name in ("best", "last"))
    return folder


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", ["metrics.json", "checkpoints/best.weights.h5", "checkpoints/last.weights.h5",
                                  "checkpoints/last.state.npz"])
def test_resume_names_a_damaged_file_and_changes_nothing(cli_run, tmp_path, interrupted_mlp, damage, name):
    import shutil

    folder = pathlib.Path(shutil.copytree(interrupted_mlp, tmp_path / "runs" / "mlp" / interrupted_mlp.name))
    DAMAGES[damage](folder / name)
    before = folder_contents(tmp_path)
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 2, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(folder / name) in lines[0], result.stderr
    assert "damaged" in lines[0] or "corrupt" in lines[0], result.stderr
    assert folder_contents(tmp_path) == before


# 4. A full disk ------------------------------------------------------------------------------

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


def dlzoo_with_file_size_limit(arguments, limit_bytes, cwd):
    """Run ``python -m dlzoo ARGUMENTS`` where no file can grow past ``limit_bytes``.

    ``RLIMIT_FSIZE`` makes a write past the limit fail with ``EFBIG`` as a full disk fails with
    ``ENOSPC`` (creating empty files still works, as on a full disk), through the real writers
    (h5py, TensorFlow, Python), without mounting anything.
    """
    import resource
    import subprocess
    import sys

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, arguments)], cwd=cwd, env=environment,
                          preexec_fn=limit, capture_output=True, text=True, timeout=300)


def test_a_checkpoint_on_a_full_disk_fails_the_run_in_one_line(tmp_path):
    # The mlp's weights files are about 260 kB: the first checkpoint cannot be written whole.
    completed = dlzoo_with_file_size_limit(["train", "mlp", "--quick", "--set", "train.checkpoint_seconds=0",
                                            "--runs", "runs"], 150_000, tmp_path)
    assert completed.returncode == 1, completed.stderr[-3000:]
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr[-3000:]
    (folder,) = (tmp_path / "runs" / "mlp").iterdir()
    assert lines[0].startswith(f"run failed: cannot write runs/mlp/{folder.name}/checkpoints/"), lines
    assert ".weights.h5: File too large" in lines[0], lines
    record = read_record(folder)
    assert record["status"] == "failed" and "cannot write" in record["error"]
    assert not [path for path in folder.rglob("*") if ".tmp" in path.name]


def test_a_full_disk_at_the_start_is_refused_before_a_run_folder_exists(tmp_path):
    completed = dlzoo_with_file_size_limit(["train", "mlp", "--quick", "--runs", "runs"], 0, tmp_path)
    assert completed.returncode == 2, completed.stderr[-3000:]
    assert completed.stderr.strip().splitlines() == ["error: cannot write to runs: File too large"]
    assert not list((tmp_path / "runs").rglob("*"))


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_evaluate_and_export_on_a_full_disk_are_one_line(completed_run, tmp_path, command):
    import shutil

    folder = shutil.copytree(completed_run, tmp_path / "run")
    before = folder_contents(folder)
    completed = dlzoo_with_file_size_limit([command, folder], 0, tmp_path)
    assert completed.returncode == 2, completed.stderr[-3000:]
    where = folder if command == "evaluate" else tmp_path  # exports/ is created in the working folder
    assert completed.stderr.strip().splitlines() == [f"error: cannot write to {where}: File too large"]
    assert folder_contents(folder) == before and not list(tmp_path.glob("exports/*"))


def test_an_export_that_fills_the_disk_names_the_folder(cli_run, tmp_path, completed_run, monkeypatch):
    import keras
    import tensorflow as tf

    def write_out(self, filepath, **kwargs):
        # What TensorFlow's SaveV2 op raises when the disk fills under the variables file.
        raise tf.errors.ResourceExhaustedError(None, None, f"{filepath}/variables/variables_temp/part-00000; "
                                                           "No space left on device [Op:SaveV2]")

    # ExportArchive() makes an instance of the backend's subclass: that is the class to patch.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", write_out)
    result = cli_run("export", completed_run, "--out", "delivery")
    assert result.exit_code == 1, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write ") and \
        lines[0].endswith("saved_model: No space left on device"), lines
    assert not (tmp_path / "delivery").exists() and not list(tmp_path.glob(".delivery*"))


def test_visualize_on_a_disk_that_fills_is_one_line(cli_run, tmp_path, run_copy, monkeypatch):
    import errno

    from dlzoo.runs import folders

    original = folders.atomic_write_bytes

    def atomic_write_bytes(path, data):
        if str(path).endswith(".png"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, data)

    monkeypatch.setattr(folders, "atomic_write_bytes", atomic_write_bytes)
    result = cli_run("visualize", run_copy, "--out", "pictures")
    assert result.exit_code == 1, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write ") and \
        lines[0].endswith(".png: No space left on device"), lines


def test_a_full_disk_still_leaves_status_failed(cli_run, tmp_path, monkeypatch):
    """When even the atomic rewrite of metrics.json finds no room, the run still says failed."""
    import errno

    from dlzoo.plots import curves
    from dlzoo.runs import folders

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(args[-1] if args else "a file"))

    original_write_json = folders.atomic_write_json

    def atomic_write_json(path, data):
        if isinstance(data, dict) and data.get("status") == "failed":
            full(path)  # no room for the second copy an atomic write needs
        return original_write_json(path, data)

    monkeypatch.setattr(curves, "learning_curves", full)
    monkeypatch.setattr(folders, "atomic_write_json", atomic_write_json)
    result = cli_run("train", "softmax-regression", "--quick", "--runs", "runs")
    assert result.exit_code == 1 and "No space left on device" in result.stderr, (result.output, result.stderr)
    (folder,) = (tmp_path / "runs" / "softmax-regression").iterdir()
    record = read_record(folder)
    assert record["status"] == "failed" and "No space left on device" in record["error"], record


def test_a_disk_that_fills_before_config_is_written_leaves_no_run_folder(cli_run, tmp_path, monkeypatch):
    import errno

    from dlzoo.runs import folders

    original = folders.atomic_write_text

    def atomic_write_text(path, text):
        if pathlib.Path(path).name == "config.toml":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, text)

    monkeypatch.setattr(folders, "atomic_write_text", atomic_write_text)
    result = cli_run("train", "softmax-regression", "--quick", "--runs", "runs")
    assert result.exit_code == 1, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.toml: No space left on device" in lines[0], lines
    assert not list((tmp_path / "runs").rglob("*.*"))  # no run folder with files, no empty one
    assert not (tmp_path / "runs" / "softmax-regression").exists() or \
        not list((tmp_path / "runs" / "softmax-regression").iterdir())
