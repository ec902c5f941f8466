"""What the gradient methods differentiate: checked images, class indices and class scores.

Class scores are read from the logits (before the softmax or sigmoid), through
:func:`dlzoo.models.heads.class_score`, so a binary head (one sigmoid unit) scores class 0 as
``-logit`` and class 1 as ``+logit``.
"""

import numpy as np
import tensorflow as tf

from dlzoo.core import validation
from dlzoo.models import heads
from dlzoo.visualize import layers
from dlzoo.visualize.trace import ForwardTrace


def check_images(model, images, argument="images"):
    """Return ``images`` as a float32 array (batch, height, width, channels) the model accepts."""
    array = np.asarray(images, dtype="float32")
    layers.require_image_input(model, "this method")
    if array.ndim != 4:
        raise ValueError(
            f"{argument} must be a 4-D array (batch, height, width, channels), got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{argument} must hold at least one image, got shape {array.shape}")
    expected = tuple(model.inputs[0].shape[1:])
    for size, wanted in zip(array.shape[1:], expected):
        if wanted is not None and size != wanted:
            raise ValueError(
                f"{argument} have shape {array.shape[1:]} per image but the model expects {expected}"
            )
    return array


def number_of_classes(logits):
    """Number of classes of a head from its logits tensor: one unit means two classes."""
    units = int(logits.shape[-1])
    return 2 if units == 1 else units


def predicted_from_logits(logits):
    """Predicted class per sample, shape (batch,): ``logit > 0`` for one unit, argmax otherwise."""
    logits = np.asarray(logits)
    if logits.shape[-1] == 1:
        return (logits[:, 0] > 0).astype("int64")
    return np.argmax(logits, axis=-1).astype("int64")


def resolve_class_indices(class_index, logits, argument="class_index"):
    """The class to explain for each sample, shape (batch,).

    Args:
        class_index: an int (same class for all), a sequence with one int per sample, or
            ``None`` for the class the model predicts.
        logits: the logits of the batch, (batch, units).

    Raises:
        ValueError: a class is not an integer or is out of range, or the length is wrong.
    """
    logits = np.asarray(logits)
    batch = logits.shape[0]
    classes = number_of_classes(logits)
    if class_index is None:
        return predicted_from_logits(logits)
    if validation.is_whole_number(class_index):
        indices = np.full(batch, int(class_index), dtype="int64")
    else:
        indices = np.asarray(class_index)
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(
                f"{argument} must be an int, one int per sample, or None, got {class_index!r}"
            )
        if indices.shape[0] != batch:
            raise ValueError(f"{argument} has {indices.shape[0]} entries for {batch} images")
        indices = indices.astype("int64")
    check_class_range(indices, classes)
    return indices


def check_class_range(indices, classes):
    """Raise ValueError for a class index outside ``0 .. classes - 1``."""
    for index in indices:
        if not 0 <= index < classes:
            raise ValueError(
                f"class {index} is out of range: the model has {classes} classes (0-{classes - 1})"
            )


def class_scores(logits, class_indices):
    """The score of ``class_indices[i]`` for each sample ``i``, shape (batch,)."""
    scores = [
        heads.class_score(logits[position : position + 1], index)
        for position, index in enumerate(class_indices)
    ]
    return tf.concat(scores, axis=0)


def logits_model(model):
    """A model from the inputs to the logits (replayed, so nested models are fine)."""
    trace = ForwardTrace(model)
    return trace.sub_model(layers.logits_tensor(trace))


def input_gradients(score_model, images, class_indices):
    """Gradient of each sample's class score with respect to its input, same shape as ``images``.

    Args:
        score_model: a model from images to logits (see :func:`logits_model`).
        images: float32 array (batch, height, width, channels).
        class_indices: int array (batch,), one class per sample.
    """
    images = tf.convert_to_tensor(images, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = class_scores(score_model(images, training=False), class_indices)
    # Samples do not interact at inference, so d(sum of scores)/d(image i) = d(score i)/d(image i).
    return tape.gradient(scores, images).numpy()


def gradient_function(score_model, class_indices):
    """A compiled version of :func:`input_gradients` for many calls with the same classes.

    Integrated gradients and SmoothGrad evaluate the gradient dozens of times; tracing it once
    with ``tf.function`` makes each later call much cheaper than an eager one.

    Returns:
        a function from images (batch, height, width, channels) to a numpy gradient array.
    """

    @tf.function
    def compiled(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            scores = class_scores(score_model(images, training=False), class_indices)
        return tape.gradient(scores, images)

    return lambda images: compiled(tf.convert_to_tensor(images, dtype="float32")).numpy()


def classes_to_explain(score_model, images, class_index):
    """Resolve ``class_index`` against the model's logits for ``images`` (see :func:`resolve_class_indices`)."""
    logits = score_model(tf.convert_to_tensor(images), training=False)
    return resolve_class_indices(class_index, logits)
