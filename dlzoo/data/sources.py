"""Datasets read from outside the package: TFDS, keras.datasets, a folder of images, an .npz file.

Online sources need the network the first time; when a download fails the user gets one clear
line (a :class:`~dlzoo.errors.UsageError`) instead of a traceback or a hang.
"""

import pathlib
import zipfile

import numpy as np

from dlzoo.data import IMAGE, FEATURES, SIGNAL, make_splits, register
from dlzoo.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")


def _kind_of(x):
    """Guess the input kind from array rank: (n, h, w[, c]) images, (n, length, channels) signals."""
    if x.ndim >= 3:
        return IMAGE
    return FEATURES


def _as_images(x):
    """Give grey images a channel axis: (n, h, w) -> (n, h, w, 1)."""
    return x[..., np.newaxis] if x.ndim == 3 else x


def _download_failed(what, error):
    """The one-line message for a dataset that could not be downloaded or read."""
    return UsageError(
        f"could not load {what}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
        "(is the network reachable? offline, use an embedded dataset such as 'digits' or 'mnist1d')"
    )


@register("tfds")
def load_tfds(argument, seed, options):
    """A supervised TFDS dataset ``tfds:<name>`` with an ``image``/``label`` style feature pair.

    Splits ``train`` and ``test`` (and ``validation`` when the dataset has one) are read as
    NumPy arrays; pixel values are scaled to [0, 1].
    """
    if not argument:
        raise UsageError("tfds needs a dataset name, e.g. 'tfds:mnist'")
    import tensorflow_datasets as tfds

    arrays, info = {}, None
    for split in ("train", "test", "validation"):
        try:
            dataset, info = tfds.load(argument, split=split, as_supervised=True, with_info=True,
                                      data_dir=options.get("data_dir"))
        except Exception as error:  # network, missing split, unknown name: many error types
            if split == "train":
                raise _download_failed(f"tfds:{argument}", error) from error
            continue
        arrays[split] = dataset_to_arrays(tfds, dataset)
    label_feature = info.features["label"] if "label" in info.features else None
    class_names = list(getattr(label_feature, "names", None) or [])
    x, y = arrays["train"]
    if not class_names:
        class_names = [str(label) for label in range(int(np.max(y)) + 1)]
    scale = 255.0 if np.issubdtype(np.asarray(x).dtype, np.integer) else 1.0
    x = _as_images(np.asarray(x, dtype="float32") / scale)
    x_test, y_test = arrays.get("test", (None, None))
    x_val, y_val = arrays.get("validation", (None, None))
    if x_test is not None:
        x_test = _as_images(np.asarray(x_test, dtype="float32") / scale)
    if x_val is not None:
        x_val = _as_images(np.asarray(x_val, dtype="float32") / scale)
    return make_splits(
        f"tfds:{argument}", _kind_of(x), class_names, x, y, x_test, y_test, seed=seed,
        x_val=x_val, y_val=y_val, val_fraction=float(options.get("val_fraction", 0.1)),
    )


def dataset_to_arrays(tfds, dataset, chunk=4096):
    """Read a ``(input, label)`` tf.data.Dataset into two NumPy arrays, in chunks."""
    inputs, labels = [], []
    for batch_inputs, batch_labels in tfds.as_numpy(dataset.batch(chunk)):
        inputs.append(batch_inputs)
        labels.append(batch_labels)
    return np.concatenate(inputs), np.concatenate(labels)


@register("keras")
def load_keras(argument, seed, options):
    """``keras:mnist``, ``keras:fashion_mnist``, ``keras:cifar10``, ``keras:cifar100``."""
    if argument not in KERAS_DATASETS:
        from dlzoo.registry import unknown_name_message

        raise UsageError(unknown_name_message("keras dataset", argument, KERAS_DATASETS))
    import keras

    module = getattr(keras.datasets, argument)
    try:
        (x, y), (x_test, y_test) = module.load_data()
    except Exception as error:
        raise _download_failed(f"keras:{argument}", error) from error
    x = _as_images(x.astype("float32") / 255.0)
    x_test = _as_images(x_test.astype("float32") / 255.0)
    count = int(np.max(y)) + 1
    return make_splits(
        f"keras:{argument}", IMAGE, [str(label) for label in range(count)], x, y.reshape(-1),
        x_test, y_test.reshape(-1), seed=seed, val_fraction=float(options.get("val_fraction", 0.1)),
    )


@register("npz")
def load_npz(argument, seed, options):
    """``npz:<path>``: arrays ``x`` and ``y``, optionally ``x_test``/``y_test`` and ``class_names``."""
    path = _existing_path(argument, "npz")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path} is not a readable .npz file ({type(error).__name__}: {error})") from error
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise UsageError(f"{path} has no array {' or '.join(repr(key) for key in missing)}; it has: {', '.join(arrays) or 'nothing'}")
    x, y = arrays["x"].astype("float32"), arrays["y"].reshape(-1)
    if len(x) != len(y):
        raise UsageError(f"{path}: x has {len(x)} rows but y has {len(y)}")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise UsageError(f"{path}: y must hold integer class ids, got values like {y[:3].tolist()}")
    labels = np.concatenate([y, arrays.get("y_test", np.array([], dtype=y.dtype)).reshape(-1)]).astype("int64")
    if labels.min() < 0:
        raise UsageError(f"{path}: class ids must be >= 0, found {labels.min()}")
    count = int(labels.max()) + 1
    class_names = [str(name) for name in arrays["class_names"]] if "class_names" in arrays else [str(k) for k in range(count)]
    x = _as_images(x) if x.ndim == 3 and options.get("kind") != SIGNAL else x
    x_test = arrays.get("x_test")
    if x_test is not None:
        x_test = x_test.astype("float32")
        x_test = _as_images(x_test) if x_test.ndim == 3 and options.get("kind") != SIGNAL else x_test
    kind = options.get("kind") or _kind_of(x)
    return make_splits(
        f"npz:{argument}", kind, class_names, x, y, x_test, arrays.get("y_test"), seed=seed,
        test_fraction=float(options.get("test_fraction", 0.2)), val_fraction=float(options.get("val_fraction", 0.1)),
    )


@register("folder")
def load_folder(argument, seed, options):
    """``folder:<path>``: images in one sub-folder per class (``path/cat/1.png``, ``path/dog/2.png``).

    All images are resized to ``[data] image_size`` (default: the size of the first image) and
    scaled to [0, 1]; grey images keep one channel, others are read as RGB.
    """
    root = _existing_path(argument, "folder")
    if not root.is_dir():
        raise UsageError(f"folder:{argument} is not a folder")
    class_folders = sorted(path for path in root.iterdir() if path.is_dir())
    files = {folder.name: sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) for folder in class_folders}
    files = {name: paths for name, paths in files.items() if paths}
    if not files:
        raise UsageError(f"folder:{argument} has no images in class sub-folders (expected {root}/<class>/<image>{IMAGE_SUFFIXES[0]})")
    if len(files) < 2:
        raise UsageError(f"folder:{argument} has images for one class only ({', '.join(files)}); a classifier needs two or more")
    images, labels = _read_images(files, options.get("image_size"))
    return make_splits(f"folder:{argument}", IMAGE, list(files), images, labels, seed=seed,
                       test_fraction=float(options.get("test_fraction", 0.2)), val_fraction=float(options.get("val_fraction", 0.1)))


def _read_images(files_by_class, image_size):
    """Read every image as float32 in [0, 1], resized to ``image_size`` (an int or [h, w])."""
    from PIL import Image

    first = Image.open(next(iter(files_by_class.values()))[0])
    if image_size is None:
        size = first.size  # PIL gives (width, height)
    else:
        size = (image_size, image_size) if isinstance(image_size, int) else (image_size[1], image_size[0])
    mode = "L" if first.mode in ("L", "1", "I;16") else "RGB"
    images, labels = [], []
    for label, paths in enumerate(files_by_class.values()):
        for path in paths:
            try:
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert(mode).resize(size), dtype="float32") / 255.0
            except OSError as error:
                raise UsageError(f"cannot read image {path}: {error}") from error
            images.append(pixels)
            labels.append(label)
    return _as_images(np.stack(images)), np.array(labels)


def _existing_path(argument, source):
    """The path of a ``source:<path>`` spec; a clear error when it is missing or does not exist."""
    if not argument:
        raise UsageError(f"{source} needs a path, e.g. '{source}:data/my_dataset'")
    path = pathlib.Path(argument).expanduser()
    if not path.exists():
        raise UsageError(f"{source}:{argument}: no such file or folder")
    return path
