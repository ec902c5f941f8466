"""Real datasets read from files on disk: ``fashion_mnist``, ``mnist``, ``cifar10``, ``idx:<folder>``.

They keep their **official test split** (10,000 images), so test accuracies compare with
published ones; the validation split is a seeded, stratified part of the official training
split (``data.val_fraction`` of all examples, 7,000 of 60,000 by default). Images stay uint8
(the stored pixels) until the model's own standardization layer: the decoded Fashion-MNIST is
55 MB, not the 220 MB of float32 copies.

Where the files are looked for, in this order (the first complete set wins):

1. ``$DLZOO_DATA/<name>/`` (``fashion_mnist``, ``mnist``, ``cifar10``);
2. the Keras cache (``$KERAS_HOME`` or ``~/.keras``): ``datasets/fashion-mnist/``,
   ``datasets/mnist.npz``, ``datasets/cifar-10-batches-py-target/cifar-10-batches-py/``;
3. ``/usr/share/datasets/`` (Debian's ``dataset-fashion-mnist`` package puts Fashion-MNIST there);
4. with the network (and ``DLZOO_OFFLINE`` unset), the files Keras downloads, from the same
   addresses, into the Keras cache.

All of this happens without TensorFlow, while the configuration is checked
(:func:`check_fashion_mnist` and friends): a missing dataset is one line and exit code 2 that
names every place looked in and how to get the files.
"""

import os
import pathlib
import shutil
import tarfile
import tempfile
import urllib.request

import numpy as np

from dlzoo.data import IMAGE, register
from dlzoo.data import cifar, idx
from dlzoo.core.errors import UsageError

# Debian's dataset packages install here; tests point it elsewhere.
SYSTEM_DATA = pathlib.Path("/usr/share/datasets")

FASHION_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                       "Ankle boot")
MNIST_CLASS_NAMES = tuple(str(digit) for digit in range(10))

# Where Keras downloads from (keras/src/datasets/*.py) and what it names the files.
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz")
CIFAR10_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
DOWNLOAD_TIMEOUT_SECONDS = 30

HOW_TO_GET = {
    "fashion_mnist": "install Debian's package (apt-get install dataset-fashion-mnist), or put the four .gz files "
                     "of github.com/zalandoresearch/fashion-mnist in $DLZOO_DATA/fashion_mnist/",
    "mnist": "put mnist.npz (keras.datasets.mnist.load_data() downloads it) or the four IDX files of "
             "MNIST in $DLZOO_DATA/mnist/",
    "cifar10": "unpack cifar-10-python.tar.gz (www.cs.toronto.edu/~kriz/cifar.html) into $DLZOO_DATA/cifar10/",
}


def keras_datasets_folder():
    """The Keras cache's ``datasets`` folder (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``)."""
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")).expanduser() / "datasets"


def user_folder(name):
    """``$DLZOO_DATA/<name>``, or ``None`` when ``DLZOO_DATA`` is not set."""
    root = os.environ.get("DLZOO_DATA")
    return pathlib.Path(root).expanduser() / name if root else None


def candidates(name):
    """``[(path, reader)]`` in search order; ``reader(path)`` is None when ``path`` does not hold the data."""
    keras_folder = keras_datasets_folder()
    places = []
    if user_folder(name) is not None:
        places.append(user_folder(name))
    if name == "fashion_mnist":
        places += [keras_folder / "fashion-mnist", SYSTEM_DATA / "fashion-mnist"]
    elif name == "mnist":
        places += [keras_folder / "mnist.npz", SYSTEM_DATA / "mnist"]
    else:
        places += [keras_folder / "cifar-10-batches-py-target", keras_folder / "cifar-10-batches-py",
                   SYSTEM_DATA / "cifar-10"]
    return places


def holds(name, path):
    """True when ``path`` holds a complete copy of dataset ``name`` (files present; read later)."""
    path = pathlib.Path(path)
    if name == "cifar10":
        return cifar.batches_folder(path) is not None
    if name == "mnist" and path.suffix == ".npz":
        return path.is_file()
    if name == "mnist" and (path / "mnist.npz").is_file():
        return True
    return idx.find_files(path) is not None


def locate(name):
    """The first place holding dataset ``name`` (downloading it when allowed); a UsageError otherwise."""
    places = candidates(name)
    for place in places:
        if holds(name, place):
            return place
    downloaded, reason = download(name)
    if downloaded is not None:
        return downloaded
    looked = ", ".join(str(place) for place in places)
    unset = "" if user_folder(name) is not None else " ($DLZOO_DATA is not set)"
    raise UsageError(f"dataset {name} not found; looked in {looked}{unset}; {reason}; to get it: {HOW_TO_GET[name]}")


def download(name):
    """Download ``name`` as Keras does, into the Keras cache: ``(path, None)`` or ``(None, why not)``."""
    if os.environ.get("DLZOO_OFFLINE"):
        return None, "not downloaded (DLZOO_OFFLINE is set)"
    folder = keras_datasets_folder()
    try:
        if name == "fashion_mnist":
            for file_name in FASHION_FILES:
                fetch(KERAS_ORIGIN + file_name, folder / "fashion-mnist" / file_name)
            return folder / "fashion-mnist", None
        if name == "mnist":
            fetch(KERAS_ORIGIN + "mnist.npz", folder / "mnist.npz")
            return folder / "mnist.npz", None
        archive = folder / "cifar-10-python.tar.gz"
        fetch(CIFAR10_ORIGIN, archive)
        extract_safely(archive, folder / "cifar-10-batches-py-target")
        return folder / "cifar-10-batches-py-target", None
    except (OSError, tarfile.TarError) as error:  # urllib's URLError and timeouts are OSErrors
        return None, f"the download failed ({type(error).__name__}: {error})"


def extract_safely(archive, destination):
    """Unpack a .tar.gz into ``destination``, refusing members that would land outside it."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+ / 3.11.4+: the standard library checks
            tar.extractall(destination, filter="data")
            return
        root = pathlib.Path(destination).resolve()
        for member in tar.getmembers():
            target = (root / member.name).resolve()
            if root not in (target, *target.parents) or member.issym() or member.islnk():
                raise tarfile.TarError(f"refusing archive member {member.name!r} (outside {root} or a link)")
        tar.extractall(destination)


def fetch(url, destination):
    """Download ``url`` to ``destination`` (temp file + rename, so a cut download leaves nothing)."""
    destination = pathlib.Path(destination)
    if destination.is_file():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response, \
            tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
        try:
            shutil.copyfileobj(response, partial)
        except BaseException:  # a cut connection or Ctrl-C: no half file left behind
            os.unlink(partial.name)
            raise
    os.replace(partial.name, destination)


def check_named(name):
    """The configuration-time check of ``fashion_mnist``, ``mnist``, ``cifar10`` (no TensorFlow)."""

    def check(argument, options):
        if argument and name != "cifar10":
            raise UsageError(f"dataset {name} takes no argument, got '{name}:{argument}' (for a folder: 'idx:{argument}')")
        if argument:
            folder_argument(argument, "cifar10", lambda path: cifar.batches_folder(path) is not None)
        else:
            locate(name)

    return check


def folder_argument(argument, source, is_complete):
    """The existing folder of ``source:<folder>``; a UsageError when it is missing or incomplete."""
    if not argument:
        raise UsageError(f"{source} needs a folder, e.g. '{source}:data/{source}'")
    folder = pathlib.Path(argument).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{source}:{argument}: no such folder")
    if not is_complete(folder):
        what = "CIFAR-10's batch files (data_batch_1..5, test_batch)" if source == "cifar10" else \
            "the four IDX files (train/t10k images idx3 and labels idx1, optionally .gz)"
        raise UsageError(f"{source}:{argument} does not hold {what}; it has: "
                         f"{', '.join(sorted(path.name for path in folder.iterdir())[:8]) or 'nothing'}")
    return folder


def read_mnist_format(path):
    """``(x_train, y_train, x_test, y_test)`` from an IDX folder or Keras's ``mnist.npz`` (a file or in ``path``)."""
    path = pathlib.Path(path)
    npz = path if path.suffix == ".npz" else path / "mnist.npz"
    if npz.is_file() and idx.find_files(path) is None:
        try:
            with np.load(npz, allow_pickle=False) as archive:
                return tuple(archive[key] for key in ("x_train", "y_train", "x_test", "y_test"))
        except (OSError, ValueError, KeyError, EOFError) as error:
            raise UsageError(f"{npz} is not Keras's mnist.npz ({type(error).__name__}: {error})") from None
    return idx.load_folder(path)


def official_splits(name, class_names, x_train, y_train, x_test, y_test, seed, options):
    """A :class:`~dlzoo.data.splits.Splits` of uint8 images: the official test split, validation
    carved (seeded, stratified) out of the official training split."""
    from dlzoo.data import splits as splits_module

    def as_images(images):
        return np.asarray(images)[..., np.newaxis] if np.asarray(images).ndim == 3 else np.asarray(images)

    labels = np.concatenate([np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)]).astype("int64")
    if labels.min() < 0:
        raise UsageError(f"{name}: class ids must be >= 0, found {labels.min()}")
    count = max(int(labels.max()) + 1, len(class_names))
    names = list(class_names) if len(class_names) == count else [str(label) for label in range(count)]
    x, y, x_val, y_val, x_test, y_test = splits_module.split_pool(
        as_images(x_train), np.asarray(y_train).astype("int32").reshape(-1), as_images(x_test),
        np.asarray(y_test).astype("int32").reshape(-1), seed=seed, val_fraction=float(options.get("val_fraction", 0.1)))
    return splits_module.Splits(name, IMAGE, names, x, y, x_val, y_val, x_test, y_test)


def idx_class_names(folder, count):
    """Class names of an IDX folder: a ``class_names.txt`` (one per line) when it has one, else ``0..count-1``."""
    path = pathlib.Path(folder) / "class_names.txt"
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(names) >= count:
            return names
    return [str(label) for label in range(count)]


@register("fashion_mnist", check=check_named("fashion_mnist"))
def load_fashion_mnist(argument, seed, options):
    """Fashion-MNIST (Xiao et al. 2017): 70,000 grey 28x28 images of 10 kinds of clothing, official split."""
    return official_splits("fashion_mnist", FASHION_CLASS_NAMES, *read_mnist_format(locate("fashion_mnist")),
                           seed=seed, options=options)


@register("mnist", check=check_named("mnist"))
def load_mnist(argument, seed, options):
    """MNIST (LeCun et al. 1998): 70,000 grey 28x28 handwritten digits, official 60,000 / 10,000 split."""
    return official_splits("mnist", MNIST_CLASS_NAMES, *read_mnist_format(locate("mnist")), seed=seed,
                           options=options)


@register("cifar10", check=check_named("cifar10"))
def load_cifar10(argument, seed, options):
    """CIFAR-10 (Krizhevsky 2009): 60,000 colour 32x32 images of 10 classes, official 50,000 / 10,000 split.

    ``cifar10`` looks in the usual places; ``cifar10:<folder>`` reads that folder (the batch
    files or a ``cifar-10-batches-py`` folder holding them). The batch files are pickles, read
    without running their code (:class:`~dlzoo.data.cifar.SafeUnpickler`).
    """
    folder = pathlib.Path(argument).expanduser() if argument else locate("cifar10")
    x_train, y_train, x_test, y_test, names = cifar.load_folder(folder)
    return official_splits("cifar10", names, x_train, y_train, x_test, y_test, seed=seed, options=options)


def check_idx(argument, options):
    """The configuration-time check of ``idx:<folder>``: the folder holds the four IDX files."""
    folder_argument(argument, "idx", lambda folder: idx.find_files(folder) is not None)


@register("idx", check=check_idx)
def load_idx(argument, seed, options):
    """``idx:<folder>``: any MNIST-format data (MNIST, Fashion-MNIST, KMNIST, EMNIST) in four IDX files.

    The folder's ``t10k`` files are the test split; a ``class_names.txt`` (one name per line)
    names the classes.
    """
    folder = folder_argument(argument, "idx", lambda path: idx.find_files(path) is not None)
    x_train, y_train, x_test, y_test = idx.load_folder(folder)
    count = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    return official_splits(f"idx:{argument}", idx_class_names(folder, count), x_train, y_train, x_test, y_test,
                           seed=seed, options=options)


def present():
    """``{name: folder or None}`` of the real datasets found on disk (no download): for ``dlzoo doctor``."""
    return {name: next((place for place in candidates(name) if holds(name, place)), None)
            for name in ("fashion_mnist", "mnist", "cifar10")}
