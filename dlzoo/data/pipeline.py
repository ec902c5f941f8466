"""tf.data pipelines from in-memory splits, augmentation, and input statistics.

Order of operations (the tf.data performance guide's advice):
example indices -> ``shuffle`` (seeded, training only) -> ``batch`` -> gather the batch's
examples -> augmentation ``map`` (training only, on whole batches) -> ``prefetch(AUTOTUNE)``.
Streamed datasets (:mod:`dlzoo.data.streaming`) follow the same order, with a parallel
decoding ``map`` and ``cache`` in front. Arrays already in memory are neither cached nor
shuffled as examples: a cache, or a shuffle buffer of every example, would be a second copy of
them (about 90 MB more for Fashion-MNIST's training split); shuffling their *indices* gives the
same full shuffle for 8 bytes an example. Nor are they handed to TensorFlow whole: each batch
is gathered out of the NumPy arrays themselves (``tf.numpy_function``), so the split exists once
in memory, not once in NumPy and once more as a ``tf.constant`` (which also needs a second,
passing copy while it converts: 80 MB more at its peak for Fashion-MNIST's training images).
"""

import numpy as np

from dlzoo.core.errors import UsageError

# The keys of [data] augment and the Keras preprocessing layer each one adds.
AUGMENTATIONS = ("flip", "rotation", "translation", "zoom", "contrast")


def build_augmenter(augment, seed, fill_value=0.0):
    """A ``keras.Sequential`` of random preprocessing layers from an ``augment`` table, or ``None``.

    Args:
        augment: e.g. ``{rotation = 0.05, translation = 0.1, zoom = 0.1}``; ``flip`` takes
            ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``; the others are
            fractions as in the Keras layers (rotation in fractions of a full turn).
        seed: seed of the random transformations.
        fill_value: value of the pixels that rotations, shifts and zooms uncover.
    """
    if not augment:
        return None
    unknown = sorted(set(augment) - set(AUGMENTATIONS))
    if unknown:
        from dlzoo.core.registry import unknown_name_message

        raise UsageError(unknown_name_message("augmentation", unknown[0], AUGMENTATIONS).replace("unknown", "unknown data.augment key", 1))
    import keras
    from keras import layers

    steps = []
    if augment.get("flip"):
        steps.append(layers.RandomFlip(augment["flip"], seed=seed))
    if augment.get("rotation"):
        steps.append(layers.RandomRotation(float(augment["rotation"]), fill_mode="constant", fill_value=fill_value,
                                             seed=seed))
    if augment.get("translation"):
        shift = float(augment["translation"])
        steps.append(layers.RandomTranslation(shift, shift, fill_mode="constant", fill_value=fill_value, seed=seed))
    if augment.get("zoom"):
        steps.append(layers.RandomZoom(float(augment["zoom"]), fill_mode="constant", fill_value=fill_value, seed=seed))
    if augment.get("contrast"):
        steps.append(layers.RandomContrast(float(augment["contrast"]), seed=seed))
    return keras.Sequential(steps, name="augmentation") if steps else None


def make_dataset(x, y, batch_size, training=False, seed=0, augmenter=None):
    """One batched ``tf.data.Dataset`` of ``(inputs, labels)``.

    Args:
        x, y: arrays of one split.
        batch_size: examples per batch; a batch size >= the split size is full-batch GD.
        training: shuffle (seeded, reshuffled each epoch) and augment.
        seed: shuffle seed.
        augmenter: a Keras model of random preprocessing layers, applied to training batches.
    """
    import tensorflow as tf

    x, y = np.asarray(x), np.asarray(y)
    indices = tf.data.Dataset.range(len(y))
    if training:
        indices = indices.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    dataset = indices.batch(int(batch_size)).map(batch_gatherer(x, y))
    if training and augmenter is not None:
        # Augmenting whole batches runs the preprocessing layers vectorized (as float32: uint8
        # pixels of the real datasets would not survive a rotation's interpolation).
        dataset = dataset.map(
            lambda images, labels: (augmenter(tf.cast(images, "float32"), training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def batch_gatherer(x, y):
    """A tf.data map function: a batch of example indices -> ``(inputs, targets)`` of those examples.

    The rows are read out of the NumPy arrays ``x`` and ``y`` (the caller's own, not a copy) and
    keep their dtype: uint8 pixels stay uint8 until the model's first layer.
    """
    import tensorflow as tf

    def gather(chosen):
        return x[chosen], y[chosen]

    def gather_batch(chosen):
        # (batch,) indices -> (batch, *input_shape) inputs and (batch, ...) targets. A pure
        # function of its indices (stateful=False): deterministic, and tf.data may reorder it.
        inputs, targets = tf.numpy_function(gather, [chosen], (tf.as_dtype(x.dtype), tf.as_dtype(y.dtype)),
                                            stateful=False)
        inputs.set_shape((None, *x.shape[1:]))
        targets.set_shape((None, *y.shape[1:]))
        return inputs, targets

    return gather_batch


def make_datasets(bundle, batch_size, seed=0, augment=None):
    """Train / val / test pipelines of a data bundle (in-memory ``Splits`` or streamed), as a dict.

    Augmentation (``augment`` table) touches the training split only; validation and test
    batches are the data as it is.
    """
    if augment and bundle.kind != "image":
        raise UsageError(f"data.augment works on images; {bundle.name} holds {bundle.kind}")
    # Uncovered pixels get 0, the raw data's background (blank digit pixels, black image borders);
    # the model standardizes after augmentation, inside itself.
    augmenter = build_augmenter(augment, seed, fill_value=0.0)
    return {
        "train": bundle.dataset("train", batch_size, training=True, seed=seed, augmenter=augmenter),
        "val": bundle.dataset("val", batch_size),
        "test": bundle.dataset("test", batch_size),
    }


class RunningStatistics:
    """Mean and variance of inputs, accumulated batch by batch, for ``keras.layers.Normalization``.

    The statistics are shaped for ``Normalization(axis=-1)``: images and signals with a channel
    axis get one value per channel (pixels are exchangeable, so they share one statistic);
    tabular features get one value per feature (they are measured in different units); a 1-D
    signal of shape ``(length,)`` has one channel, so its one statistic is repeated ``length``
    times (the layer keeps the last axis).

    Sums are kept in float64, so that millions of pixels do not lose precision.
    """

    def __init__(self, kind, input_shape):
        """Start empty for inputs of ``kind`` (``"image"``, ``"signal"``, ``"features"``) and ``input_shape``."""
        self.kind = kind
        self.input_shape = tuple(input_shape)
        self.count = 0
        self.total = 0.0
        self.total_of_squares = 0.0

    def _reduce_axes(self, rank):
        """Axes of a batch of ``rank`` dimensions to sum over (all but the channel or feature axis)."""
        if self.kind == "features" or (self.kind == "signal" and len(self.input_shape) == 1):
            # Features: per feature. A (length,) signal: sum everything, repeated per position below.
            return (0,) if self.kind == "features" else tuple(range(rank))
        return tuple(range(rank - 1))

    def update(self, batch):
        """Add a batch of inputs, shaped ``(batch, *input_shape)``."""
        batch = np.asarray(batch, dtype="float64")
        axes = self._reduce_axes(batch.ndim)
        self.count += int(np.prod([batch.shape[axis] for axis in axes]))
        self.total = self.total + batch.sum(axis=axes)
        self.total_of_squares = self.total_of_squares + np.square(batch).sum(axis=axes)

    def result(self):
        """``(mean, variance)`` as float32 arrays; raises ValueError when nothing was added."""
        if self.count == 0:
            raise ValueError("no examples to compute input statistics from")
        mean = np.asarray(self.total / self.count)
        # E[x^2] - E[x]^2 can dip below 0 by rounding for constant inputs.
        variance = np.maximum(np.asarray(self.total_of_squares / self.count) - np.square(mean), 0.0)
        if mean.ndim == 0:  # a (length,) signal: one channel, one value per position for axis=-1
            mean = np.full(self.input_shape, mean)
            variance = np.full(self.input_shape, variance)
        return mean.astype("float32"), variance.astype("float32")
