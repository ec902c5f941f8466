"""Arrays of one dataset, split into train / validation / test, and how to split them.

Small datasets (the embedded ones, ``npz:``, ``keras:``) are held as NumPy arrays in a
:class:`Splits`; datasets read from disk batch by batch are a
:class:`~dlzoo.data.streaming.StreamingBundle`. Both offer the same *data bundle* interface:
``name``, ``kind``, ``class_names``, ``num_classes``, ``input_shape``, ``input_dtype``,
``sizes()``, ``dataset()``, ``arrays()`` and ``input_statistics()``. The splits are
deterministic (seeded) and stratified, so every class keeps its share in every split.
"""

import dataclasses

import numpy as np

# Kinds of inputs; they decide how normalization statistics are pooled.
IMAGE = "image"  # (height, width, channels): one mean/std per channel
SIGNAL = "signal"  # (length,) or (length, channels): one mean/std per channel
FEATURES = "features"  # (features,): one mean/std per feature (tabular data)
KINDS = (IMAGE, SIGNAL, FEATURES)

# What the targets are: class ids (classification) or real values (regression).
CLASSES = "classes"
VALUES = "values"

# The largest float64 chunk of training inputs that Splits.input_statistics converts at once.
STATISTICS_CHUNK_BYTES = 4 * 2**20


@dataclasses.dataclass
class Splits:
    """Train, validation and test arrays of one dataset plus what models need to know about it.

    Attributes:
        name: the dataset spec it came from (``"digits"``, ``"npz:data.npz"``).
        kind: one of ``"image"``, ``"signal"``, ``"features"``.
        class_names: one name per class; labels are integers ``0..num_classes-1``.
        x_train, y_train, x_val, y_val, x_test, y_test: float32 inputs and int32 labels.
        normalization: ``{"mean": ..., "variance": ...}``: statistics of the training inputs,
            which the model's ``standardize`` layer uses (the arrays themselves stay raw).
        targets: ``"classes"`` or ``"values"`` (regression; then ``class_names`` is empty).
    """

    name: str
    kind: str
    class_names: list
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    normalization: dict = dataclasses.field(default_factory=dict)
    targets: str = CLASSES

    @property
    def input_shape(self):
        """Shape of one input, without the batch axis."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.class_names)

    @property
    def input_dtype(self):
        """The dtype of the stored inputs as a string (``"float32"`` for arrays)."""
        return str(self.x_train.dtype)

    def dataset(self, split, batch_size, training=False, seed=0, augmenter=None):
        """A batched, prefetched ``tf.data.Dataset`` of ``(inputs, labels)`` of ``split``.

        Training pipelines are shuffled (seeded, reshuffled every epoch) and augmented by
        ``augmenter`` (a Keras model of random layers); other splits are read in order.
        """
        from dlzoo.data import pipeline

        x, y = self.split(split)
        return pipeline.make_dataset(x, y, batch_size, training=training, seed=seed, augmenter=augmenter)

    def arrays(self, split, limit=None):
        """``(x, y)`` of the first ``limit`` examples of ``split`` (all when ``None``), in split order."""
        x, y = self.split(split)
        return (x, y) if limit is None else (x[:limit], y[:limit])

    def input_statistics(self, max_examples=4096):
        """Mean and variance of the training inputs for ``keras.layers.Normalization(axis=-1)``.

        In-memory data uses *all* of the training split (it is cheap and exact), so
        ``max_examples`` is only there to match :class:`~dlzoo.data.streaming.StreamingBundle`.
        """
        from dlzoo.data import pipeline

        statistics = pipeline.RunningStatistics(self.kind, self.input_shape)
        # In chunks of at most 4096 examples and STATISTICS_CHUNK_BYTES of float64 values: the sums
        # of all 53,000 Fashion-MNIST images at once would need 330 MB, and even 4096 of them a
        # float64 copy and its square of 25 MB each, which the process kept after it freed them.
        values_per_example = int(np.prod(self.input_shape)) or 1
        chunk = max(1, min(4096, STATISTICS_CHUNK_BYTES // (8 * values_per_example)))
        for start in range(0, len(self.x_train), chunk):
            statistics.update(self.x_train[start:start + chunk])
        return statistics.result()

    def split(self, name):
        """Return ``(x, y)`` of split ``"train"``, ``"val"`` or ``"test"``."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split '{name}'; choose one of: train, val, test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def sizes(self):
        """Number of examples per split, as a dict."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def describe(self):
        """A one-line description: name, shapes, classes and split sizes."""
        sizes = self.sizes()
        return (
            f"{self.name}: inputs {self.input_shape}, {self.num_classes} classes, "
            f"{sizes['train']} train / {sizes['val']} val / {sizes['test']} test"
        )


def stratified_split(x, y, fraction, seed, stratify=True):
    """Split ``(x, y)`` into two parts, the second holding ``fraction`` of each class.

    Stratifying keeps the class balance of small datasets (digits has ~180 images per class)
    the same in every split, and the fixed ``seed`` makes the split reproducible. Regression
    targets (``stratify=False``) are split at random.
    """
    import math

    from sklearn.model_selection import train_test_split

    size = fraction
    if stratify:
        classes = len(np.unique(y))
        # A small fraction of a small dataset (2 % of 300 images) holds fewer examples than there
        # are classes: hold one of each class instead, or split at random when even that is too many.
        if math.ceil(fraction * len(y)) < classes:
            size, stratify = (classes, True) if len(y) >= 2 * classes else (fraction, False)
    x_keep, x_held, y_keep, y_held = train_test_split(
        x, y, test_size=size, random_state=seed, stratify=y if stratify else None
    )
    return x_keep, y_keep, x_held, y_held


def make_splits(name, kind, class_names, x, y, x_test=None, y_test=None, seed=0,
                test_fraction=0.2, val_fraction=0.1, x_val=None, y_val=None, targets=CLASSES):
    """Build a :class:`Splits`, carving test and validation splits out of ``x`` where missing.

    Args:
        name, kind, class_names: see :class:`Splits`.
        x, y: the training pool (or all data when no test split exists).
        x_test, y_test: an official test split, used as is when given.
        x_val, y_val: an official validation split, used as is when given.
        seed: seed of the splits (the data seed, independent of the training seed).
        test_fraction: fraction of all data held out for test when there is no test split.
        val_fraction: fraction of all data held out for validation when there is no val split.
        targets: ``"classes"`` (int32 labels, stratified splits) or ``"values"`` (float32
            regression targets, shape (n,) or (n, outputs); splits are random, not stratified).
    """
    as_targets = (lambda values: np.asarray(values).astype("int32").reshape(-1)) if targets == CLASSES else \
        (lambda values: np.asarray(values, dtype="float32"))
    stratify = targets == CLASSES
    x = np.asarray(x, dtype="float32")
    y = as_targets(y)
    x, y, x_val, y_val, x_test, y_test = split_pool(x, y, x_test, y_test, x_val, y_val, seed, test_fraction,
                                                    val_fraction, stratify)
    return Splits(
        name=name,
        kind=kind,
        class_names=[str(class_name) for class_name in class_names],
        x_train=np.asarray(x, dtype="float32"),
        y_train=as_targets(y),
        x_val=np.asarray(x_val, dtype="float32"),
        y_val=as_targets(y_val),
        x_test=np.asarray(x_test, dtype="float32"),
        y_test=as_targets(y_test),
        targets=targets,
    )


def split_pool(x, y, x_test=None, y_test=None, x_val=None, y_val=None, seed=0, test_fraction=0.2, val_fraction=0.1,
               stratify=True):
    """Carve the missing test and validation splits out of ``(x, y)``; returns six arrays.

    ``x`` may hold anything indexable by rows: inputs, or the file paths of a streamed folder
    (splitting paths gives exactly the splits the images would get). ``stratify=False`` splits
    regression targets at random. Returns ``x_train, y_train, x_val, y_val, x_test, y_test``.
    """
    if x_test is None:
        x, y, x_test, y_test = stratified_split(x, y, test_fraction, seed, stratify)
    if x_val is None:
        # val_fraction is a share of all data; express it as a share of what is left.
        share_of_pool = val_fraction * (len(y) + len(y_test)) / len(y)
        x, y, x_val, y_val = stratified_split(x, y, min(share_of_pool, 0.5), seed + 1, stratify)
    return x, y, x_val, y_val, x_test, y_test
