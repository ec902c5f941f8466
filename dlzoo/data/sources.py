"""Datasets read from outside the package: TFDS, keras.datasets, a folder of images, an .npz file.

Online sources need the network the first time; when a download fails the user gets one clear
line (a :class:`~dlzoo.core.errors.UsageError`) instead of a traceback or a hang. ``tfds:`` and
``folder:`` datasets may not fit in memory: they return a
:class:`~dlzoo.data.streaming.StreamingBundle` that reads from disk batch by batch (unless
``data.stream = false``); ``keras:`` and ``npz:`` are arrays in a :class:`~dlzoo.data.splits.Splits`.
"""

import pathlib
import zipfile

import numpy as np

from dlzoo.data import IMAGE, FEATURES, SIGNAL, make_splits, register
from dlzoo.core.errors import UsageError

# The formats tf.io.decode_image reads: folder datasets decode in the input pipeline, so TIFF and
# WebP (which `dlzoo predict` reads with PIL) are not among them.
FOLDER_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
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


@register("tfds", options={"data_dir": (str,), "image_size": (int, list), "kind": (str,), "vocabulary_size": (int,),
                           "sequence_length": (int,), "embedding_dim": (int,), "max_length": (int,)})
def load_tfds(argument, seed, options):
    """A supervised TFDS dataset ``tfds:<name>``, streamed from its prepared files.

    Splits ``train`` and ``test`` (and ``validation`` when the dataset has one) are read batch
    by batch, never converted to NumPy as a whole. Missing splits are cut out of ``train`` by
    position (``train[:n]``; TFDS stores examples shuffled), with ``test_fraction`` and
    ``val_fraction`` as for other sources. Images keep their stored values (uint8 pixels); images
    of varying size need ``data.image_size``. ``data.stream = false`` reads everything into memory.

    Text inputs (``tfds:imdb_reviews``, ``tfds:ted_hrlr_translate/pt_to_en``) are read into
    memory by :mod:`dlzoo.data.tfds_text`: labelled strings for ``classify`` (options
    ``vocabulary_size``, ``sequence_length``, ``embedding_dim``), string pairs for ``seq2seq``
    (option ``max_length``).
    """
    if not argument:
        raise UsageError("tfds needs a dataset name, e.g. 'tfds:mnist'")
    import tensorflow_datasets as tfds

    from dlzoo.data import streaming

    try:
        builder = tfds.builder(argument, data_dir=options.get("data_dir"))
        builder.download_and_prepare()
        splits = _tfds_split_sizes(builder)
        if "train" not in splits:
            raise ValueError(f"it has no 'train' split (splits: {', '.join(splits) or 'none'})")
    except Exception as error:  # network, unknown name, missing split: many error types
        raise _download_failed(f"tfds:{argument}", error) from error
    info = builder.info
    if not info.supervised_keys:
        raise UsageError(f"tfds:{argument} has no (input, label) pair (no supervised_keys); dlzoo needs a labelled dataset")
    input_key, label_key = info.supervised_keys[:2]
    input_feature, label_feature = info.features[input_key], info.features[label_key]
    if _is_text(input_feature):
        return _load_tfds_text(argument, builder, splits, input_key, label_key, input_feature, label_feature,
                               seed, options)
    input_shape, transform, kind, input_dtype = _tfds_inputs(argument, input_feature, options)
    class_names = list(getattr(label_feature, "names", None) or [])
    if not class_names:
        raise UsageError(f"tfds:{argument}: its label '{label_key}' is not a class label (no class names)")
    split_names = _tfds_split_names(splits, float(options.get("test_fraction", 0.2)),
                                    float(options.get("val_fraction", 0.1)))
    sources = {split: streaming.TfdsSource(builder, name, size, transform) for split, (name, size) in split_names.items()}
    bundle = streaming.StreamingBundle(f"tfds:{argument}", kind, class_names, input_shape, input_dtype, sources,
                                       cache_dir=options.get("cache", ""), seed=seed)
    if not options.get("stream", True):
        return bundle.to_splits()  # load() then selects classes and training samples as for arrays
    if options.get("classes"):
        raise UsageError("data.classes needs the tfds data in memory: add --set data.stream=false")
    if options.get("train_samples"):
        bundle.sources["train"] = bundle.sources["train"].first(int(options["train_samples"]))
    return bundle


def _is_text(feature):
    """True for a TFDS string feature (``tfds.features.Text``: a review, a sentence)."""
    return np.dtype(getattr(feature, "np_dtype", "float32")).kind in "OSU" or type(feature).__name__ == "Text"


def _load_tfds_text(argument, builder, splits, input_key, label_key, input_feature, label_feature, seed, options):
    """Labelled strings (a class label) or string pairs (a text label) of a TFDS dataset."""
    from dlzoo.data import tfds_text

    name = f"tfds:{argument}"
    split_names = _tfds_split_names(splits, float(options.get("test_fraction", 0.2)),
                                    float(options.get("val_fraction", 0.1)))
    if _is_text(label_feature):
        return tfds_text.load_text_pairs(name, builder, split_names, input_key, label_key, options)
    class_names = list(getattr(label_feature, "names", None) or [])
    if not class_names:
        raise UsageError(f"{name}: its label '{label_key}' is neither a class label nor text")
    return tfds_text.load_text_classes(name, builder, split_names, input_key, class_names, label_key, seed, options)


def _tfds_split_sizes(builder):
    """``{split: examples}`` of the splits ``train``, ``test``, ``validation`` that the dataset has."""
    sizes = {}
    for split in ("train", "test", "validation"):
        try:
            dataset = builder.as_dataset(split=split, as_supervised=True)
        except Exception:  # the split does not exist (the error type varies between TFDS versions)
            continue
        count = int(dataset.cardinality())
        sizes[split] = count if count >= 0 else builder.info.splits[split].num_examples
    return sizes


def _tfds_split_names(sizes, test_fraction, val_fraction):
    """``{"train"|"val"|"test": (tfds split string, size)}``, cutting missing splits out of train."""
    train = sizes["train"]
    test_count = 0 if "test" in sizes else int(round(test_fraction * train))
    total = train + sizes.get("test", 0)
    val_count = 0 if "validation" in sizes else int(round(min(val_fraction * total, 0.5 * (train - test_count))))
    keep = train - test_count - val_count
    if keep < 1:
        raise UsageError(f"test_fraction {test_fraction} and val_fraction {val_fraction} leave no training examples")
    names = {"train": (f"train[:{keep}]", keep)}
    names["val"] = ("validation", sizes["validation"]) if "validation" in sizes else (f"train[{keep}:{keep + val_count}]", val_count)
    names["test"] = ("test", sizes["test"]) if "test" in sizes else (f"train[{keep + val_count}:]", test_count)
    return names


def _tfds_inputs(argument, feature, options):
    """Shape, transform, kind and dtype of a TFDS input feature: ``(shape, transform, kind, dtype)``.

    Rank-2 and rank-3 inputs are images (unless ``data.kind`` says otherwise): uint8 ones stay
    uint8, grey ones get a channel axis, and they are resized when ``data.image_size`` says so.
    Other inputs become float32.
    """
    import tensorflow as tf

    from dlzoo.data import streaming

    shape = tuple(feature.shape)
    is_uint8 = np.dtype(getattr(feature, "np_dtype", "float32")) == np.uint8
    kind = options.get("kind") or (IMAGE if len(shape) in (2, 3) else FEATURES)
    if kind == IMAGE:
        channels = shape[2] if len(shape) == 3 else 1
        if channels is None:
            raise UsageError(f"tfds:{argument}: images with an unknown number of channels are not supported")
        height, width = _image_size(options.get("image_size"), shape[:2], f"tfds:{argument}")

        def transform(image, label):
            if len(shape) == 2:
                image = image[..., tf.newaxis]  # (h, w) -> (h, w, 1)
            if tuple(shape[:2]) != (height, width):
                image = streaming.resize_image(image, height, width)
            elif not is_uint8:
                image = tf.cast(image, tf.float32)
            image.set_shape((height, width, channels))
            return image, tf.cast(label, tf.int32)

        return (height, width, channels), transform, IMAGE, "uint8" if is_uint8 else "float32"
    if any(side is None for side in shape):
        raise UsageError(f"tfds:{argument}: inputs of varying shape {shape} are not supported")

    def transform_values(values, label):
        return tf.cast(values, tf.float32), tf.cast(label, tf.int32)

    return shape, transform_values, kind, "float32"


def _image_size(image_size, stored_size, what):
    """``(height, width)`` from ``data.image_size`` (an int or [height, width]) or the stored size."""
    if image_size is None:
        if any(side is None for side in stored_size):
            raise UsageError(f"{what} has images of different sizes: set data.image_size (e.g. --set data.image_size=96)")
        return int(stored_size[0]), int(stored_size[1])
    sides = [image_size] * 2 if isinstance(image_size, int) else list(image_size)
    if len(sides) != 2 or not all(isinstance(side, int) and not isinstance(side, bool) and side > 0 for side in sides):
        raise UsageError(f"data.image_size must be a positive integer or [height, width], got {image_size!r}")
    return sides[0], sides[1]


@register("keras")
def load_keras(argument, seed, options):
    """``keras:mnist``, ``keras:fashion_mnist``, ``keras:cifar10``, ``keras:cifar100``."""
    if argument not in KERAS_DATASETS:
        from dlzoo.core.registry import unknown_name_message

        raise UsageError(unknown_name_message("keras dataset", argument, KERAS_DATASETS))
    import keras

    module = getattr(keras.datasets, argument)
    try:
        (x, y), (x_test, y_test) = module.load_data()
    except Exception as error:
        raise _download_failed(f"keras:{argument}", error) from error
    count = int(np.max(y)) + 1
    from dlzoo.data import cifar, real

    # Class names come with the data, so pictures and predictions speak them.
    known_names = {"fashion_mnist": real.FASHION_CLASS_NAMES, "cifar10": cifar.CLASS_NAMES}
    class_names = list(known_names.get(argument, [str(label) for label in range(count)]))
    # The path of the named datasets (fashion_mnist, mnist, cifar10): the images stay the uint8
    # arrays Keras gives (a float32 copy of Fashion-MNIST would be 4x its 52 MiB), the model's own
    # layer standardizes them, the official test split is the test split.
    return real.official_splits(f"keras:{argument}", class_names, x, y, x_test, y_test, seed=seed, options=options)


@register("npz", options={"kind": (str,)}, check=lambda argument, options: existing_path(argument, "npz"))
def load_npz(argument, seed, options):
    """``npz:<path>``: arrays ``x`` and ``y``, optionally ``x_test``/``y_test`` and ``class_names``."""
    path = existing_path(argument, "npz")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path} is not a readable .npz file ({type(error).__name__}: {error})") from error
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise UsageError(f"{path} has no array {' or '.join(repr(key) for key in missing)}; it has: {', '.join(arrays) or 'nothing'}")
    if arrays["x"].ndim == 0 or arrays["y"].ndim == 0:
        raise UsageError(f"{path}: x and y must be arrays with one row per example, got a single value "
                         f"(x shape {arrays['x'].shape}, y shape {arrays['y'].shape})")
    if arrays["y"].dtype.kind not in "iufb":
        raise UsageError(f"{path}: y must hold integer class ids, got {arrays['y'].dtype} values like "
                         f"{arrays['y'].reshape(-1)[:3].tolist()}")
    if arrays["x"].dtype.kind not in "iufb":
        raise UsageError(f"{path}: x must hold numbers, got {arrays['x'].dtype} values")
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


@register("folder", options={"image_size": (int, list)},
          check=lambda argument, options: existing_path(argument, "folder"))
def load_folder(argument, seed, options):
    """``folder:<path>``: images in one sub-folder per class (``path/cat/1.png``, ``path/dog/2.png``).

    Only the file paths are read up front: the seeded, stratified splits are splits of paths,
    and images are decoded batch by batch when training reads them. Images are resized to
    ``[data] image_size`` (default: the size of the first image); grey images keep one channel,
    others are RGB; values are the stored uint8 pixels (16-bit PNGs scaled to 8 bits).
    ``data.stream = false`` reads all images into memory instead.
    """
    from dlzoo import data
    from dlzoo.data import splits as splits_module
    from dlzoo.data import streaming

    root = existing_path(argument, "folder")
    if not root.is_dir():
        raise UsageError(f"folder:{argument} is not a folder")
    class_folders = sorted(path for path in root.iterdir() if path.is_dir())
    files = {folder.name: sorted(p for p in folder.rglob("*") if p.suffix.lower() in FOLDER_IMAGE_SUFFIXES) for folder in class_folders}
    files = {name: paths for name, paths in files.items() if paths}
    if not files:
        raise UsageError(f"folder:{argument} has no images in class sub-folders (expected {root}/<class>/<image>{FOLDER_IMAGE_SUFFIXES[0]})")
    if len(files) < 2:
        raise UsageError(f"folder:{argument} has images for one class only ({', '.join(files)}); a classifier needs two or more")
    # 1. The first image decides the default size and grey vs colour (and must be readable).
    first_height, first_width, first_channels = streaming.inspect_image(next(iter(files.values()))[0])
    height, width = _image_size(options.get("image_size"), (first_height, first_width), f"folder:{argument}")
    channels = 1 if first_channels in (1, 2) else 3  # grey (+ alpha) stays grey
    # 2. Seeded, stratified splits of the paths (the same splits the images would get).
    paths = np.array([str(path) for class_paths in files.values() for path in class_paths], dtype=object)
    labels = np.concatenate([np.full(len(class_paths), label) for label, class_paths in enumerate(files.values())])
    x_train, y_train, x_val, y_val, x_test, y_test = splits_module.split_pool(
        paths, labels, seed=seed, test_fraction=float(options.get("test_fraction", 0.2)),
        val_fraction=float(options.get("val_fraction", 0.1)))
    name = f"folder:{argument}"
    path_splits = splits_module.Splits(name, IMAGE, list(files), x_train, y_train, x_val, y_val, x_test, y_test)
    if options.get("stream", True):
        # 3. Class selection and the small-data subset work on paths exactly as on arrays.
        if options.get("classes"):
            path_splits = data.select_classes(path_splits, options["classes"])
        if options.get("train_samples"):
            path_splits = data.limit_training_samples(path_splits, int(options["train_samples"]), seed)
    sources = {split: streaming.ImageFileSource(*path_splits.split(split), channels, height, width)
               for split in ("train", "val", "test")}
    bundle = streaming.StreamingBundle(name, IMAGE, path_splits.class_names, (height, width, channels), "uint8",
                                       sources, cache_dir=options.get("cache", ""), seed=seed)
    # In memory, load() selects classes and training samples as for every array dataset.
    return bundle if options.get("stream", True) else bundle.to_splits()


def existing_path(argument, source):
    """The path of a ``source:<path>`` spec; a clear error when it is missing or does not exist."""
    if not argument:
        raise UsageError(f"{source} needs a path, e.g. '{source}:data/my_dataset'")
    path = pathlib.Path(argument).expanduser()
    if not path.exists():
        raise UsageError(f"{source}:{argument}: no such file or folder")
    return path
