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
==========================  =================================================================

:func:`load` returns a normalized :class:`~dlzoo.data.splits.Splits`;
:func:`dlzoo.data.pipeline.make_datasets` turns it into batched ``tf.data`` pipelines.
"""

import numpy as np

from dlzoo.data.splits import FEATURES, IMAGE, SIGNAL, Splits, make_splits  # noqa: F401
from dlzoo.errors import UsageError
from dlzoo.registry import Registry

DATASETS = Registry("dataset")
register = DATASETS.register


def _load_sources():
    """Import the modules whose loaders register themselves."""
    from dlzoo.data import embedded, sources  # noqa: F401


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


def load(spec, seed=0, options=None, normalize_inputs=True):
    """Load dataset ``spec`` as normalized train/val/test arrays.

    Args:
        spec: dataset spec string, see the module docstring.
        seed: the data seed; it fixes the splits (and generated data).
        options: the recipe's ``[data]`` table; loaders read the keys they know
            (``test_fraction``, ``val_fraction``, ``image_size``, ``num_samples``, ``classes``).
        normalize_inputs: standardize with statistics of the training split.

    Returns:
        A :class:`Splits` whose ``normalization`` holds the statistics used.
    """
    _load_sources()
    # Unset optional keys of [data] are None; loaders use their own defaults for them.
    options = {key: value for key, value in (options or {}).items() if value is not None}
    source, argument = parse_spec(spec)
    loader = DATASETS.get(source)
    splits = loader(argument, seed=seed, options=options)
    splits.name = spec
    if isinstance(splits, Splits):
        classes = options.get("classes")
        if classes:
            splits = select_classes(splits, classes)
        limit = options.get("train_samples")
        if limit:
            splits = limit_training_samples(splits, int(limit), seed)
    elif normalize_inputs:
        # A streamed bundle (its loader applied classes/train_samples); callers that want
        # normalized arrays get it read into memory, as before streaming existed.
        splits = splits.to_splits()
    if normalize_inputs:
        normalize(splits)
    return splits


def normalization_axes(kind, rank):
    """The axes to average over for the mean/std of inputs of ``kind`` and ``rank`` (batch included).

    Images and signals share one statistic per channel (pixels are exchangeable); tabular features
    each get their own, since they are measured in different units.
    """
    if kind == FEATURES:
        return (0,)
    return tuple(range(rank - 1)) if rank > 2 else (0, 1)


def normalize(splits):
    """Standardize all splits in place with the mean and std of the *training* split only.

    Statistics from train alone keep test examples from leaking into training. The statistics
    are stored in ``splits.normalization`` so that a run can record them.
    """
    axes = normalization_axes(splits.kind, splits.x_train.ndim)
    mean = splits.x_train.mean(axis=axes, keepdims=True)
    std = splits.x_train.std(axis=axes, keepdims=True)
    std = np.where(std < 1e-6, 1.0, std)  # constant inputs (e.g. blank digit pixels) stay 0
    for name in ("train", "val", "test"):
        x = getattr(splits, f"x_{name}")
        setattr(splits, f"x_{name}", ((x - mean) / std).astype("float32"))
    splits.normalization = {"mean": mean.reshape(-1).tolist(), "std": std.reshape(-1).tolist()}
    return splits


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
