"""tf.data pipelines from in-memory splits, with augmentation on the training split only.

Order of operations (the tf.data performance guide's advice):
``from_tensor_slices`` -> ``cache`` -> ``shuffle`` (seeded, training only) -> ``batch`` ->
augmentation ``map`` (training only, on whole batches) -> ``prefetch(AUTOTUNE)``.
"""

from dlzoo.errors import UsageError

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
        from dlzoo.registry import unknown_name_message

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

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if training:
        dataset = dataset.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size))
    if training and augmenter is not None:
        # Augmenting whole batches runs the preprocessing layers vectorized.
        dataset = dataset.map(
            lambda images, labels: (augmenter(images, training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_datasets(splits, batch_size, seed=0, augment=None):
    """Train / val / test pipelines of a :class:`~dlzoo.data.splits.Splits`, as a dict.

    Augmentation (``augment`` table) touches the training split only; validation and test
    batches are the data as it is.
    """
    if augment and splits.kind != "image":
        raise UsageError(f"data.augment works on images; {splits.name} holds {splits.kind}")
    # Uncovered pixels get the darkest training value: the background of standardized digit or
    # MNIST images (0 would be the *mean* pixel, a grey frame around every shifted image).
    fill_value = float(splits.x_train.min()) if augment else 0.0
    augmenter = build_augmenter(augment, seed, fill_value)
    return {
        "train": make_dataset(splits.x_train, splits.y_train, batch_size, True, seed, augmenter),
        "val": make_dataset(splits.x_val, splits.y_val, batch_size),
        "test": make_dataset(splits.x_test, splits.y_test, batch_size),
    }
