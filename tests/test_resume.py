"""--resume continues a run exactly; --deterministic repeats one exactly."""

import json
import pathlib

import numpy as np
import pytest

from helpers import shared_run

TRAIN = ("train", "mlp", "--epochs", "3", "--deterministic", "--set", "train.verbose=0",
         "--set", "data.train_samples=300")


def run_folder(root):
    """The one run folder of mlp under ``root``."""
    (folder,) = (pathlib.Path(root) / "mlp").iterdir()
    return folder


def weights_of(folder):
    """The trained model's weights of a run folder."""
    from dlzoo.runs.load import load_keras_model

    return [np.asarray(value) for value in load_keras_model(folder / "model.keras").get_weights()]


def interrupt_after_first_epoch(monkeypatch):
    """Make the next run stop with Ctrl-C right after its first epoch's checkpoints."""
    import keras

    from dlzoo.training import fit

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    original = fit.platform_callbacks
    monkeypatch.setattr(fit, "platform_callbacks",
                        lambda *args, **kwargs: original(*args, **kwargs) + [StopAfterFirstEpoch()])
    return original


def test_resume_equals_an_uninterrupted_run(cli_run, tmp_path, monkeypatch):
    assert cli_run(*TRAIN, "--runs", "whole").exit_code == 0
    whole = run_folder(tmp_path / "whole")

    original = interrupt_after_first_epoch(monkeypatch)
    result = cli_run(*TRAIN, "--runs", "parts")
    assert result.exit_code == 130, result.stderr
    parts = run_folder(tmp_path / "parts")
    assert json.loads((parts / "metrics.json").read_text())["status"] == "interrupted"
    assert "--resume" in result.stderr
    monkeypatch.setattr("dlzoo.training.fit.platform_callbacks", original)

    result = cli_run("train", "--resume", parts)
    assert result.exit_code == 0, (result.output, result.stderr)
    record, reference = (json.loads((folder / "metrics.json").read_text()) for folder in (parts, whole))
    assert record["status"] == "completed" and record["resumed"] and record["deterministic"]
    assert record["epochs_run"] == reference["epochs_run"] == 3
    assert record["metrics"] == reference["metrics"]
    for resumed, uninterrupted in zip(weights_of(parts), weights_of(whole)):
        np.testing.assert_array_equal(resumed, uninterrupted)
    assert (parts / "history.csv").read_text() == (whole / "history.csv").read_text()
    epochs = [line.split(",")[0] for line in (parts / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3"]  # the resumed part goes on numbering from where it stopped, from 1


def test_same_seed_twice_gives_identical_metrics(cli_run, tmp_path):
    for root in ("first", "second"):
        assert cli_run(*TRAIN, "--runs", root).exit_code == 0
    first, second = (json.loads((run_folder(tmp_path / root) / "metrics.json").read_text())
                     for root in ("first", "second"))
    assert first["metrics"] == second["metrics"] and first["deterministic"] is True


@pytest.fixture
def interrupted_run(cli_run, tmp_path, monkeypatch):
    """An mlp run interrupted after its first epoch."""
    interrupt_after_first_epoch(monkeypatch)
    assert cli_run(*TRAIN, "--runs", "runs").exit_code == 130
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    return run_folder(tmp_path / "runs")


def test_resume_refuses_missing_corrupt_and_foreign_checkpoints(cli_run, tmp_path, interrupted_run):
    state = interrupted_run / "checkpoints" / "last.state.npz"
    good = state.read_bytes()

    state.write_bytes(good[: len(good) // 3])
    result = cli_run("train", "--resume", interrupted_run)
    assert result.exit_code == 2 and "corrupt" in result.stderr, result.stderr

    state.unlink()
    result = cli_run("train", "--resume", interrupted_run)
    assert result.exit_code == 2 and "no checkpoint" in result.stderr, result.stderr

    state.write_bytes(good)
    config = interrupted_run / "config.toml"
    config.write_text(config.read_text().replace("hidden_units = [\n    256,\n]", "hidden_units = [\n    32,\n]"))
    assert "32" in config.read_text()
    result = cli_run("train", "--resume", interrupted_run)
    assert result.exit_code == 2 and "another model" in result.stderr, result.stderr
    assert json.loads((interrupted_run / "metrics.json").read_text())["status"] == "interrupted"


def test_resume_refuses_a_completed_run_and_a_recipe(cli_run, tmp_path, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "softmax-regression", "--quick").copy_into(tmp_path / "runs")
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 2 and "already completed" in result.stderr
    result = cli_run("train", "mlp", "--resume", folder)
    assert result.exit_code == 2 and "--resume" in result.stderr


# Tasks with loops or optimizers of their own ----------------------------------------------------

NUMPY_TRAIN = ("train", "mlp-numpy", "--epochs", "3", "--deterministic", "--set", "train.verbose=0",
               "--set", "data.train_samples=300", "--set", "optimizer.name=\"momentum\"",
               "--set", "model.dropout_rate=0.2")
GAN_TRAIN = ("train", "dcgan", "--quick", "--deterministic", "--set", "train.verbose=0", "--set", "train.quick_epochs=2",
             "--set", "train.quick_train_samples=128", "--set", "generate.samples=40", "--set", "train.export=false")


def only_folder(root, recipe):
    """The one run folder of ``recipe`` under ``root``."""
    (folder,) = (pathlib.Path(root) / recipe).iterdir()
    return folder


def interrupted_folder(cli_run, tmp_path, monkeypatch, interrupt, command, root, recipe):
    """Run ``command`` with ``interrupt`` patched in (Ctrl-C after the first epoch), expect exit
    130, undo the patch and return the interrupted run's folder under ``tmp_path / root``."""
    interrupt(monkeypatch)
    result = cli_run(*command, "--runs", root)
    assert result.exit_code == 130, result.stderr
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    return only_folder(tmp_path / root, recipe)


def history_without_timings(folder):
    """``history.csv`` without its per-epoch wall times (they differ between any two runs)."""
    import csv

    with open(folder / "history.csv") as handle:
        return [{key: value for key, value in row.items() if "seconds" not in key} for row in csv.DictReader(handle)]


def interrupt_run_epochs_after_first_epoch(monkeypatch):
    """Make the next ``run_epochs`` loop stop with Ctrl-C when its second epoch begins."""
    from dlzoo.training import fit

    original = fit.run_epochs

    def interrupted(epoch_function, *args, **kwargs):
        def one_epoch(epoch):
            if epoch == 1:
                raise KeyboardInterrupt
            return epoch_function(epoch)

        return original(one_epoch, *args, **kwargs)

    monkeypatch.setattr(fit, "run_epochs", interrupted)


def test_numpy_mlp_resume_equals_an_uninterrupted_run(cli_run, tmp_path, monkeypatch):
    assert cli_run(*NUMPY_TRAIN, "--runs", "whole").exit_code == 0
    whole = only_folder(tmp_path / "whole", "mlp-numpy")

    parts = interrupted_folder(cli_run, tmp_path, monkeypatch, interrupt_run_epochs_after_first_epoch, NUMPY_TRAIN,
                               "parts", "mlp-numpy")
    assert len(history_without_timings(parts)) == 1

    result = cli_run("train", "--resume", parts)
    assert result.exit_code == 0, (result.output, result.stderr)
    record, reference = (json.loads((folder / "metrics.json").read_text()) for folder in (parts, whole))
    assert record["status"] == "completed" and record["resumed"]
    assert record["epochs_run"] == reference["epochs_run"] == 3
    assert record["metrics"] == reference["metrics"]
    for resumed, uninterrupted in zip(weights_of(parts), weights_of(whole)):
        np.testing.assert_array_equal(resumed, uninterrupted)
    assert history_without_timings(parts) == history_without_timings(whole)


def test_numpy_mlp_resume_refuses_another_network(cli_run, tmp_path, monkeypatch):
    folder = interrupted_folder(cli_run, tmp_path, monkeypatch, interrupt_run_epochs_after_first_epoch, NUMPY_TRAIN,
                                "runs", "mlp-numpy")
    config = folder / "config.toml"
    config.write_text(config.read_text().replace("hidden_units = [\n    128,\n]", "hidden_units = [\n    16,\n]"))
    assert "16" in config.read_text()
    before = sorted(path.name for path in folder.rglob("*"))
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 2 and "another model" in result.stderr, result.stderr
    assert sorted(path.name for path in folder.rglob("*")) == before
    assert json.loads((folder / "metrics.json").read_text())["status"] == "interrupted"


def test_gan_resume_restores_both_optimizers_and_equals_an_uninterrupted_run(cli_run, tmp_path, monkeypatch):
    assert cli_run(*GAN_TRAIN, "--runs", "whole").exit_code == 0
    whole = only_folder(tmp_path / "whole", "dcgan")
    state = np.load(whole / "checkpoints" / "last.state.npz")
    # Both optimizers' moments and step counts are in the checkpoint (Adam: iterations + 2 per weight).
    for name in ("generator", "discriminator"):
        assert sum(key.startswith(f"optimizer-{name}/") for key in state.files) > 2, state.files

    parts = interrupted_folder(cli_run, tmp_path, monkeypatch, interrupt_after_first_epoch, GAN_TRAIN, "parts", "dcgan")

    # A checkpoint without the generator optimizer's state (as older dlzoo wrote) is refused up front.
    import shutil

    old = tmp_path / "old"
    shutil.copytree(parts, old)
    with np.load(old / "checkpoints" / "last.state.npz") as archive:
        kept = {key: archive[key] for key in archive.files if not key.startswith("optimizer-generator/")}
    np.savez(old / "checkpoints" / "last.state.npz", **kept)
    result = cli_run("train", "--resume", old)
    assert result.exit_code == 2 and "no state for the generator optimizer" in result.stderr, result.stderr
    assert json.loads((old / "metrics.json").read_text())["status"] == "interrupted"

    result = cli_run("train", "--resume", parts)
    assert result.exit_code == 0, (result.output, result.stderr)
    record, reference = (json.loads((folder / "metrics.json").read_text()) for folder in (parts, whole))
    assert record["status"] == "completed" and record["resumed"] and record["epochs_run"] == 2
    # Every variable (both networks, both optimizers, the noise generators' seeds) continues
    # where it stopped and the data order is replayed, so with --deterministic the result is
    # the uninterrupted one exactly.
    assert record["metrics"] == reference["metrics"]
    for resumed, uninterrupted in zip(weights_of(parts), weights_of(whole)):
        np.testing.assert_array_equal(resumed, uninterrupted)
    assert (parts / "history.csv").read_text() == (whole / "history.csv").read_text()
    assert len(np.load(parts / "checkpoints" / "progress_frames.npy")) == 2  # the GIF has every epoch


@pytest.mark.parametrize("task", ["rnn_study", "optimizer-paths", "transfer"])
def test_resume_refuses_tasks_that_cannot_resume_before_writing(cli_run, tmp_path, task):
    folder = tmp_path / "runs" / "x" / "20260101-000000"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'name = "x"\ntask = "{task}"\n')
    (folder / "metrics.json").write_text(json.dumps({"status": "interrupted", "task": task}))
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    result = cli_run("train", "--resume", folder)
    assert result.exit_code == 2, result.stderr
    assert f"task '{task}' cannot be resumed" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
