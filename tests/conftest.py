"""Shared fixtures: a quiet TensorFlow, a temporary runs root, the CLI runner, a plain
TensorFlow process in which dlzoo cannot be imported (how a stranger uses an export), and small
real-format copies of Fashion-MNIST, MNIST and CIFAR-10 that ``$DLZOO_DATA`` points at (the
tests never read the real files nor download them)."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= (os.cpu_count() or 1):
    # As many pytest workers as cores: one thread for each op's own work in each worker, instead
    # of every worker's pool using all the cores (set before TensorFlow is imported). The pool
    # that runs independent ops side by side keeps its size: with one thread, ops that wait on
    # each other could block it.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

IDX_NAMES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def generated_images(count, shape, seed, classes=10):
    """``(images uint8, labels)``: noise plus a bright block whose place tells the class (learnable)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    images = rng.integers(0, 60, size=(count, *shape), dtype=np.uint8)
    block = shape[0] // 4
    for index, label in enumerate(labels):
        row, column = divmod(int(label) % 9, 3)
        images[index, row * block:(row + 2) * block, column * block:(column + 2) * block] = 200 + label * 5
    return images, labels.astype(np.uint8)


def write_idx_folder(folder, train_count=300, test_count=100, size=28, seed=0):
    """Four gzipped IDX files of generated MNIST-format data in ``folder``; returns the folder."""
    from dlzoo.data import idx

    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train_count), ("test", test_count)):
        images, labels = generated_images(count, (size, size), seed + (split == "test"))
        idx.write_idx(folder / IDX_NAMES[split][0], images)
        idx.write_idx(folder / IDX_NAMES[split][1], labels)
    return folder


def write_cifar_folder(folder, per_batch=40, test_count=100, seed=0):
    """A ``cifar-10-batches-py`` folder of generated colour images in CIFAR-10's pickle format."""
    import pickle

    from dlzoo.data import cifar

    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate((*cifar.TRAIN_FILES, cifar.TEST_FILE)):
        images, labels = generated_images(test_count if name == cifar.TEST_FILE else per_batch, (32, 32, 3),
                                          seed + index)
        cifar.write_batch(folder / name, images, labels)
    with open(folder / cifar.META_FILE, "wb") as stream:
        pickle.dump({b"label_names": [name.encode() for name in cifar.CLASS_NAMES]}, stream, protocol=2)
    return folder


@pytest.fixture(scope="session", autouse=True)
def real_dataset_files(tmp_path_factory):
    """``$DLZOO_DATA`` with small fixtures of fashion_mnist, mnist and cifar10, and no downloads."""
    root = tmp_path_factory.mktemp("dlzoo_data")
    write_idx_folder(root / "fashion_mnist")
    write_idx_folder(root / "mnist", seed=5)
    write_cifar_folder(root / "cifar10" / "cifar-10-batches-py")
    saved = {key: os.environ.get(key) for key in ("DLZOO_DATA", "DLZOO_OFFLINE")}
    os.environ.update(DLZOO_DATA=str(root), DLZOO_OFFLINE="1")
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def runs_root(tmp_path):
    """A fresh runs root for one test."""
    return tmp_path / "runs"


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    """Call the real ``dlzoo`` click entry point in-process, from inside ``tmp_path``.

    Returns a function ``cli_run(*args) -> click.testing.Result``; exit codes and stderr are
    those a user would see.
    """
    from dlzoo.cli import cli

    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def plain_tensorflow():
    """``run(body) -> stdout lines``: run ``body`` in a new Python where ``tf`` and ``json`` are
    imported and any ``import dlzoo`` fails, with a bare environment (no PYTHONPATH)."""

    def run(body):
        program = ("import json, sys; sys.modules['dlzoo'] = None  # any 'import dlzoo' now fails\n"
                   "import tensorflow as tf\n" + body)
        completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                                   env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        assert completed.returncode == 0, completed.stderr[-2000:]
        return completed.stdout.strip().splitlines()

    return run
