"""The original CIFAR-10 files (``cifar-10-batches-py``), read without running their pickles' code.

The "python version" of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html) is six Python
pickles: ``data_batch_1`` ... ``data_batch_5`` (50,000 training images) and ``test_batch``
(10,000), each a dict with ``b"data"`` (a uint8 array of shape (10000, 3072): 1024 red, then
1024 green, then 1024 blue values per image) and ``b"labels"`` (a list of ints), plus
``batches.meta`` with ``b"label_names"``.

``pickle.load`` on a file from the internet can run any code the file names. :class:`SafeUnpickler`
only lets a pickle rebuild what these files hold (dicts, lists, bytes, numbers and NumPy arrays);
any other object (``os.system``, a class of some module) makes the file a usage error instead.
"""

import io
import pathlib
import pickle

import numpy as np

from dlzoo.core.errors import UsageError

TRAIN_FILES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The only globals a CIFAR pickle needs: NumPy's array reconstruction (NumPy 1 and 2 names), and
# ``_codecs.encode``, with which Python 3 writes bytes into protocol-2 pickles (a pure function).
ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class SafeUnpickler(pickle.Unpickler):
    """A pickle reader that refuses every global except NumPy's array reconstruction."""

    def find_class(self, module, name):
        """Return the allowed NumPy functions and classes; refuse anything else with UnpicklingError."""
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not part of a CIFAR batch)")
        return super().find_class(module, name)


def read_pickle(path):
    """The object in the pickle ``path``, through :class:`SafeUnpickler` (Python 2 pickles: bytes keys)."""
    try:
        content = pathlib.Path(path).read_bytes()
        return SafeUnpickler(io.BytesIO(content), encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as error:
        raise UsageError(f"{path} is not a readable CIFAR batch ({type(error).__name__}: {error})") from None


def read_batch(path):
    """``(images, labels)`` of one batch file: uint8 images (n, 32, 32, 3) and int32 labels (n,)."""
    batch = read_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = ", ".join(str(key) for key in batch) if isinstance(batch, dict) else type(batch).__name__
        raise UsageError(f"{path} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels', found {keys}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise UsageError(f"{path}: b'data' must be uint8 of shape (n, 3072), found {data.dtype} {data.shape}")
    if labels.shape != (len(data),):
        raise UsageError(f"{path} has {len(data)} images but {labels.size} labels")
    # (n, 3072) holds channel planes: (n, 3, 32, 32) -> (n, 32, 32, 3), the layout Keras expects.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype("int32")


def write_batch(path, images, labels, protocol=2):
    """Write a CIFAR-10 batch file (images (n, 32, 32, 3) uint8): test fixtures and exercises."""
    data = np.asarray(images, dtype=np.uint8).transpose(0, 3, 1, 2).reshape(len(images), -1)
    with open(path, "wb") as stream:
        pickle.dump({b"batch_label": b"dlzoo fixture", b"labels": [int(label) for label in labels], b"data": data},
                    stream, protocol=protocol)


def batches_folder(folder):
    """The folder that holds the batch files: ``folder`` itself or its ``cifar-10-batches-py``, else ``None``."""
    folder = pathlib.Path(folder)
    for candidate in (folder, folder / "cifar-10-batches-py"):
        if all((candidate / name).is_file() for name in (*TRAIN_FILES, TEST_FILE)):
            return candidate
    return None


def class_names(folder):
    """The class names of ``batches.meta`` when the folder has one, else CIFAR-10's ten names."""
    meta_path = pathlib.Path(folder) / META_FILE
    if not meta_path.is_file():
        return list(CLASS_NAMES)
    meta = read_pickle(meta_path)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not names:
        return list(CLASS_NAMES)
    return [name.decode("utf-8") if isinstance(name, bytes) else str(name) for name in names]


def load_folder(folder):
    """``(x_train, y_train, x_test, y_test, class_names)`` of a ``cifar-10-batches-py`` folder."""
    found = batches_folder(folder)
    if found is None:
        raise UsageError(f"{folder} does not hold CIFAR-10's batch files ({', '.join(TRAIN_FILES)}, {TEST_FILE}), "
                         "nor a cifar-10-batches-py folder with them")
    parts = [read_batch(found / name) for name in TRAIN_FILES]
    x_train = np.concatenate([images for images, _ in parts])
    y_train = np.concatenate([labels for _, labels in parts])
    x_test, y_test = read_batch(found / TEST_FILE)
    return x_train, y_train, x_test, y_test, class_names(found)
