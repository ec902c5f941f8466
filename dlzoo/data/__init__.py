"""Datasets: a registry of loaders giving NumPy splits, and tf.data pipelines built from them.

A dataset is named by a spec string ``source[:argument]``:

==========================  =================================================================
``digits``                  scikit-learn's 8x8 handwritten digits (embedded, offline)
``mnist1d``                 MNIST-1D (Greydanus 2020), generated locally (offline)
``moons``, ``circles``      2-D toy problems from scikit-learn (offline)
``breast_cancer``           Wisconsin breast cancer, 30 features (embedded, offline)
``tfds:<name>``             a supervised TensorFlow Datasets dataset (needs the network once)
``keras:<name>``            ``mnist``, ``fashion_mnist``, ``cifar10`` from keras.datasets
``folder:<path>``           images in one sub-folder per class
``npz:<path>``              arrays ``x``, ``y`` and optionally ``x_test``, ``y_test``
``fashion_mnist``, ``mnist``  the real datasets, official test split, found on disk (:mod:`.real`)
``cifar10[:<folder>]``      CIFAR-10's original batch files (:mod:`.real`, :mod:`.cifar`)
``idx:<folder>``            any MNIST-format data in four IDX files (:mod:`.idx`)
==========================  =================================================================

:func:`load` returns a :class:`~dlzoo.data.splits.Splits` holding the dataset's **raw** values
(digits pixels 0-16, image files' bytes, an ``.npz`` as stored): standardization happens inside
the model (a ``standardize`` layer adapted with :func:`input_statistics` of the training split),
so that a saved model takes what the dataset stores. :func:`dlzoo.data.pipeline.make_datasets`
turns the splits into batched ``tf.data`` pipelines.
"""

import numpy as np

from dlzoo.data.splits import CLASSES, FEATURES, IMAGE, SIGNAL, VALUES, Splits, make_splits  # noqa: F401
from dlzoo.core.errors import UsageError
from dlzoo.core.registry import Registry

DATASETS = Registry("dataset")


def register(name, options=None, check=None):
    """Decorator registering a loader ``loader(argument, seed, options) -> bundle`` as source ``name``.

    Args:
        name: the source part of a dataset spec (``"moons"`` in ``"moons"``, ``"npz"`` in
            ``"npz:file.npz"``).
        options: the ``[data]`` keys this source reads beyond the common ones, each with the
            types it accepts (``{"noise": (int, float)}``): a recipe may set them only for this
            source, and the loader checks their values when it runs.
        check: ``check(argument, options)``, run while the configuration is checked, before
            TensorFlow is imported: it raises UsageError when the data cannot be there (a
            missing file or folder), so the user hears it before a slow import.
    """

    def decorator(loader):
        loader.options = dict(options or {})
        loader.check = check
        return DATASETS.register(name)(loader)

    return decorator


def source_options(spec):
    """The extra ``[data]`` keys (name -> accepted types) of the source named in ``spec``."""
    _load_sources()
    source, _ = parse_spec(spec)
    return DATASETS.get(source).options


def _load_sources():
    """Import every module of this package, so that each loader registers itself (no list to edit)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def check_available(spec, options=None):
    """Run the source's own check of ``spec`` (files on disk, no TensorFlow); nothing for sources without one."""
    _load_sources()
    source, argument = parse_spec(spec)
    check = getattr(DATASETS.get(source), "check", None)
    if check is not None:
        check(argument, dict(options or {}))


def names():
    """Names of the registered dataset sources (``digits``, ``tfds``, ...)."""
    _load_sources()
    return DATASETS.names()


def parse_spec(spec):
    """Split ``"source:argument"`` into ``(source, argument)``; the argument may be ``None``."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"a dataset spec must be a non-empty string like 'digits', got {spec!r}")
    source, _, argument = spec.strip().partition(":")
    return source, (argument or None)


def load(spec, seed=0, options=None):
    """Load dataset ``spec`` as raw train/val/test arrays.

    Args:
        spec: dataset spec string, see the module docstring.
        seed: the data seed; it fixes the splits (and generated data).
        options: the recipe's ``[data]`` table; loaders read the keys they know
            (``test_fraction``, ``val_fraction``, ``image_size``, ``num_samples``, ``classes``).

    Returns:
        A :class:`Splits` of raw values whose ``normalization`` holds the statistics of the
        training inputs (for the model's ``standardize`` layer).
    """
    _load_sources()
    # Unset optional keys of [data] are None; loaders use their own defaults for them.
    options = {key: value for key, value in (options or {}).items() if value is not None}
    source, argument = parse_spec(spec)
    loader = DATASETS.get(source)
    splits = loader(argument, seed=seed, options=options)
    splits.name = spec
    if isinstance(splits, Splits):  # a streamed bundle's loader applied these to its file lists
        classes = options.get("classes")
        if classes:
            splits = select_classes(splits, classes)
        limit = options.get("train_samples")
        if limit:
            splits = limit_training_samples(splits, int(limit), seed)
    check_finite(splits)
    mean, variance = splits.input_statistics()
    # Constant inputs (the always-blank corner pixels of digits) get variance 1: they stay 0
    # after standardization instead of being divided by zero.
    variance = np.where(variance < 1e-12, 1.0, variance)
    splits.normalization = {"mean": mean.tolist(), "variance": variance.tolist()}
    return splits


def check_finite(splits):
    """Refuse in-memory data with NaN or infinite inputs or targets (a usage error that names the
    dataset and the count): a NaN trains a model of NaN weights that ReLU hides from the loss."""
    if not isinstance(splits, Splits):
        return  # streamed images are decoded integers: always finite
    counts = {}
    for split in ("train", "val", "test"):
        for part, values in zip(("inputs", "targets"), splits.split(split)):
            values = np.asarray(values)
            if values.dtype.kind == "f":
                counts[part] = counts.get(part, 0) + int(values.size - np.count_nonzero(np.isfinite(values)))
    bad = {part: count for part, count in counts.items() if count}
    if bad:
        described = " and ".join(f"{count} in the {part}" for part, count in bad.items())
        raise UsageError(f"dataset {splits.name} has {sum(bad.values())} non-finite values (NaN or inf): "
                         f"{described}; remove or impute them")


def select_classes(splits, classes):
    """Keep only the listed class ids, relabelled ``0..len(classes)-1`` (for transfer learning)."""
    classes = [int(label) for label in classes]
    unknown = [label for label in classes if not 0 <= label < splits.num_classes]
    if unknown:
        raise UsageError(
            f"data.classes {unknown} out of range: {splits.name} has classes 0-{splits.num_classes - 1}"
        )
    mapping = {old: new for new, old in enumerate(classes)}
    for name in ("train", "val", "test"):
        x, y = splits.split(name)
        keep = np.isin(y, classes)
        setattr(splits, f"x_{name}", x[keep])
        setattr(splits, f"y_{name}", np.array([mapping[label] for label in y[keep]], dtype="int32"))
    splits.class_names = [splits.class_names[label] for label in classes]
    return splits


def limit_training_samples(splits, count, seed):
    """Keep ``count`` training examples (a balanced, seeded subset) to study the small-data regime."""
    if count >= len(splits.y_train):
        return splits
    rng = np.random.default_rng(seed)
    per_class = max(1, count // splits.num_classes)
    chosen = []
    for label in range(splits.num_classes):
        indices = np.flatnonzero(splits.y_train == label)
        chosen.extend(rng.permutation(indices)[:per_class])
    chosen = np.sort(np.array(chosen))
    splits.x_train, splits.y_train = splits.x_train[chosen], splits.y_train[chosen]
    return splits
