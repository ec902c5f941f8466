"""Real datasets (Fashion-MNIST, MNIST, CIFAR-10, any IDX folder) from small fixtures in their real
file formats (tests/conftest.py writes them; ``$DLZOO_DATA`` points at them): where the files
are looked for, the official splits, class names, and every broken file a clear usage error."""

import gzip
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import write_cifar_folder, write_idx_folder

from dlzoo import data
from dlzoo.data import idx, real
from dlzoo.core.errors import UsageError


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No real dataset anywhere: empty $DLZOO_DATA, Keras cache and system folder (and no download)."""
    for name in ("user", "keras", "system"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("DLZOO_DATA", str(tmp_path / "user"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(real, "SYSTEM_DATA", tmp_path / "system")
    return tmp_path


def test_fashion_mnist_keeps_the_official_test_split_uint8_pixels_and_its_class_names():
    splits = data.load("fashion_mnist", seed=3)
    sizes = splits.sizes()
    assert sizes["test"] == 100, "the t10k files are the test split, as they are"
    assert sizes["train"] + sizes["val"] == 300 and 0.05 < sizes["val"] / 400 < 0.15
    assert splits.x_train.dtype == np.uint8 and splits.input_shape == (28, 28, 1)
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[9] == "Ankle boot"
    # Validation is a stratified part of the training files: every class keeps its share.
    assert np.bincount(splits.y_val, minlength=10).min() >= 1
    again = data.load("fashion_mnist", seed=3)
    assert np.array_equal(again.x_val, splits.x_val), "the split is seeded"
    assert not np.array_equal(data.load("fashion_mnist", seed=4).y_train, splits.y_train)


def test_files_are_looked_for_in_dlzoo_data_then_the_keras_cache_then_the_system_folder(nowhere):
    write_idx_folder(nowhere / "system" / "fashion-mnist", train_count=50, test_count=20)
    assert real.locate("fashion_mnist") == nowhere / "system" / "fashion-mnist"
    write_idx_folder(nowhere / "keras" / "datasets" / "fashion-mnist", train_count=60, test_count=20)
    assert real.locate("fashion_mnist") == nowhere / "keras" / "datasets" / "fashion-mnist"
    write_idx_folder(nowhere / "user" / "fashion_mnist", train_count=70, test_count=30)
    assert data.load("fashion_mnist").sizes()["test"] == 30
    # MNIST from the Keras cache's mnist.npz.
    images, labels = np.zeros((200, 28, 28), np.uint8), np.arange(200) % 10
    np.savez(nowhere / "keras" / "datasets" / "mnist.npz", x_train=images, y_train=labels, x_test=images[:20],
             y_test=labels[:20])
    assert data.load("mnist").sizes()["test"] == 20


def test_a_missing_dataset_is_one_line_and_exit_2_before_tensorflow_is_imported(nowhere):
    code = ("import pathlib, sys\n"
            "from click.testing import CliRunner\n"
            "from dlzoo.data import real\n"
            f"real.SYSTEM_DATA = pathlib.Path({str(nowhere / 'system')!r})\n"
            "from dlzoo.cli import cli\n"
            "result = CliRunner().invoke(cli, ['train', 'mlp', '--data', 'fashion_mnist', '--quick'])\n"
            "heavy = [name for name in ('tensorflow', 'keras') if name in sys.modules]\n"
            "print(result.exit_code, heavy)\n"
            "print(result.output.strip())\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=nowhere,
                               env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")))
    assert completed.returncode == 0, completed.stderr
    status, *message = completed.stdout.strip().splitlines()
    assert status == "2 []", completed.stdout
    assert len(message) == 1, message
    for place in (nowhere / "user" / "fashion_mnist", nowhere / "keras" / "datasets" / "fashion-mnist",
                  nowhere / "system" / "fashion-mnist"):
        assert str(place) in message[0], message
    assert "apt-get install dataset-fashion-mnist" in message[0] and "DLZOO_OFFLINE" in message[0]


def test_idx_folder_trains_and_predict_speaks_its_class_names(cli_run, tmp_path):
    folder = write_idx_folder(tmp_path / "kmnist", train_count=200, test_count=60, seed=2)
    (folder / "class_names.txt").write_text("\n".join(f"letter-{index}" for index in range(10)) + "\n")
    result = cli_run("train", "softmax-regression", "--data", f"idx:{folder}", "--quick", "--runs", "runs")
    assert result.exit_code == 0, result.output + result.stderr
    (run,) = (tmp_path / "runs" / "softmax-regression").iterdir()
    record = json.loads((run / "metrics.json").read_text())
    assert record["data"]["sizes"]["test"] == 60 and record["data"]["classes"][3] == "letter-3"
    np.save(tmp_path / "one.npy", idx.read_idx(folder / "t10k-images-idx3-ubyte.gz")[:2, ..., None].astype("float32"))
    predicted = cli_run("predict", str(run), "--file", tmp_path / "one.npy")
    assert predicted.exit_code == 0, predicted.output + predicted.stderr
    assert "letter-" in predicted.output


def test_idx_reader_round_trips_every_type_and_refuses_broken_files(tmp_path):
    for dtype in ("uint8", "int8", "int16", "int32", "float32", "float64"):
        values = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        idx.write_idx(tmp_path / f"{dtype}.idx", values)
        assert np.array_equal(idx.read_idx(tmp_path / f"{dtype}.idx"), values)
    good = (tmp_path / "uint8.idx").read_bytes()
    broken = {"truncated": good[:-3], "too long": good + b"\0\0", "not IDX": b"PK\3\4" + good[4:],
              "header cut": good[:6]}
    messages = {}
    for name, content in broken.items():
        (tmp_path / "broken").write_bytes(content)
        with pytest.raises(UsageError) as raised:
            idx.read_idx(tmp_path / "broken")
        messages[name] = str(raised.value)
    assert "truncated" in messages["truncated"] and "download it again" in messages["truncated"]
    assert "bytes after" in messages["too long"] and "not an IDX file" in messages["not IDX"]
    assert "truncated IDX header" in messages["header cut"]
    # A cut-off .gz download.
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(UsageError, match="cannot read it"):
        idx.read_idx(tmp_path / "cut.gz")


def test_inconsistent_idx_folders_are_usage_errors(cli_run, tmp_path):
    folder = write_idx_folder(tmp_path / "data", train_count=30, test_count=10)
    idx.write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))  # 10 images, 9 labels
    result = cli_run("train", "softmax-regression", "--data", f"idx:{folder}", "--quick", "--runs", "runs")
    assert result.exit_code == 2 and "has 10 images but t10k-labels-idx1-ubyte.gz has 9 labels" in result.stderr
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    result = cli_run("train", "softmax-regression", "--data", f"idx:{folder}", "--quick", "--runs", "runs")
    assert result.exit_code == 2 and "does not hold the four IDX files" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs" / "softmax-regression").exists()


def test_cifar10_batches_are_read_without_running_pickled_code(tmp_path):
    splits = data.load("cifar10")
    assert splits.input_shape == (32, 32, 3) and splits.x_train.dtype == np.uint8
    assert splits.sizes()["test"] == 100 and splits.class_names[:2] == ["airplane", "automobile"]
    folder = write_cifar_folder(tmp_path / "cifar", per_batch=20, test_count=20)
    assert data.load(f"cifar10:{folder}").sizes()["train"] + data.load(f"cifar10:{folder}").sizes()["val"] == 100

    class Exploit:
        """A pickle that would run a shell command when loaded with plain pickle.load."""

        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(UsageError, match="refusing to load"):
        data.load(f"cifar10:{folder}")
    assert not (tmp_path / "pwned").exists()


def test_doctor_lists_the_real_datasets_present(cli_run, real_dataset_files):
    result = cli_run("doctor")
    assert result.exit_code == 0, result.output + result.stderr
    assert f"dataset fashion_mnist: {real_dataset_files / 'fashion_mnist'}" in result.output
    assert f"dataset cifar10: {real_dataset_files / 'cifar10'}" in result.output


def test_keras_fashion_mnist_gets_its_class_names_too(monkeypatch):
    import keras

    images, labels = np.zeros((200, 28, 28), np.uint8), np.arange(200) % 10
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data",
                        lambda: ((images, labels), (images[:50], labels[:50])))
    splits = data.load("keras:fashion_mnist")
    assert splits.class_names[:2] == ["T-shirt/top", "Trouser"] and splits.sizes()["test"] == 50


def test_keras_source_gives_the_named_datasets_splits_in_uint8(cli_run, real_dataset_files, monkeypatch):
    """``keras:fashion_mnist`` (the issue's first command) takes the named dataset's path: the same
    uint8 images and the same splits for a seed, not a float32 copy four times the size."""
    import keras

    x_train, y_train, x_test, y_test = real.read_mnist_format(real_dataset_files / "fashion_mnist")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: ((x_train, y_train), (x_test, y_test)))
    through_keras, named = data.load("keras:fashion_mnist", seed=4), data.load("fashion_mnist", seed=4)
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(through_keras, part), getattr(named, part), err_msg=part)
    assert through_keras.x_train.dtype == np.uint8 and through_keras.class_names == named.class_names
    result = cli_run("check", "keras:fashion_mnist")
    assert result.exit_code == 0, result.output + result.stderr
    assert "stored as uint8" in result.output, result.output


def test_without_local_files_the_keras_download_fills_the_keras_cache(nowhere, monkeypatch):
    import io
    import urllib.error

    served = write_idx_folder(nowhere / "served", train_count=100, test_count=20)
    requested = []

    def serve(url, timeout):
        requested.append(url)
        return io.BytesIO((served / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.delenv("DLZOO_OFFLINE")
    monkeypatch.setattr(real.urllib.request, "urlopen", serve)
    assert data.load("fashion_mnist").sizes()["test"] == 20
    assert all(url.startswith(real.KERAS_ORIGIN) for url in requested) and len(requested) == 4
    assert real.locate("fashion_mnist") == nowhere / "keras" / "datasets" / "fashion-mnist"

    def unreachable(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(real.urllib.request, "urlopen", unreachable)
    with pytest.raises(UsageError, match="dataset mnist not found.*the download failed.*name resolution"):
        real.locate("mnist")
    assert not list((nowhere / "keras" / "datasets").glob("tmp*")), "a failed download leaves no partial file"
