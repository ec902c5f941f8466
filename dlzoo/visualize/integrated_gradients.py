"""Integrated gradients (Sundararajan et al., 2017).

The attribution of pixel ``i`` is ``(x_i - b_i)`` times the average gradient along the straight
path from a baseline ``b`` to the image ``x``. Its defining property, *completeness*, is that the
attributions sum to ``score(x) - score(b)``: the whole change of the class score is shared out
between the pixels. The path integral is computed with the trapezoid rule on ``steps`` intervals.
"""

import keras
import numpy as np

from dlzoo.core import validation
from dlzoo.visualize import targets
from dlzoo.visualize.trace import ForwardTrace

BLANK_IMAGE = "blank image"
MEAN_IMAGE = "mean image"


def trapezoid_weights(steps):
    """Weights of the trapezoid rule on ``steps`` equal intervals of [0, 1], shape (steps + 1,)."""
    weights = np.full(steps + 1, 1.0 / steps)
    weights[0] = weights[-1] = 0.5 / steps
    return weights


def integrated_gradients(model, images, class_index=None, steps=50, baseline=None):
    """Integrated-gradients attributions of the class score.

    Args:
        model: a Keras classifier.
        images: float32 array (batch, height, width, channels).
        class_index: int, one int per sample, or None for the predicted class.
        steps: number of intervals on the path from the baseline to the image (>= 1).
        baseline: array broadcastable to ``images`` (a number, one image, or one per sample);
            ``None`` means all zeros (see :func:`baseline_kind` for what zero is).

    Returns:
        float32 array with the shape of ``images``; its sum over a sample's pixels approximates
        ``score(image) - score(baseline)``.
    """
    steps = validation.check_integer("steps", steps, minimum=1)
    images = targets.check_images(model, images)
    try:
        baseline = np.broadcast_to(np.asarray(0.0 if baseline is None else baseline, dtype="float32"), images.shape)
    except ValueError:
        raise ValueError(
            f"baseline of shape {np.shape(baseline)} cannot be broadcast to images of shape {images.shape}"
        ) from None
    score_model = targets.logits_model(model)
    class_indices = targets.classes_to_explain(score_model, images, class_index)
    gradients = targets.gradient_function(score_model, class_indices)
    path_gradient = np.zeros_like(images)
    for alpha, weight in zip(np.linspace(0.0, 1.0, steps + 1), trapezoid_weights(steps)):
        point = baseline + alpha * (images - baseline)
        path_gradient += weight * gradients(point)
    return ((images - baseline) * path_gradient).astype("float32")


def normalizes_its_inputs(model):
    """True when ``model`` takes raw inputs and standardizes them itself.

    That is, a ``keras.layers.Normalization`` layer comes before any layer with trainable
    weights (right after the input, or after a resizing), also inside nested models.
    """
    for call in ForwardTrace(model).calls:
        if isinstance(call.layer, keras.layers.Normalization):
            return True
        if call.layer.trainable_weights:
            return False
    return False


def looks_standardized(images):
    """True when ``images`` have, per channel, a mean near 0 and a standard deviation near 1.

    The margins are wide because a few test images are not the training split the statistics
    came from; images in [0, 1] (deviation <= 0.5) or raw pixels (0-16, 0-255) fall outside.
    """
    images = np.asarray(images, dtype="float64")
    axes = tuple(range(images.ndim - 1))
    means, deviations = images.mean(axis=axes), images.std(axis=axes)
    return bool(np.all(np.abs(means) < 0.5) and np.all((deviations > 0.5) & (deviations < 2.0)))


def baseline_kind(model, images=None):
    """What the default all-zero baseline is for ``model``: :data:`BLANK_IMAGE` or :data:`MEAN_IMAGE`.

    A model that standardizes its inputs itself (a Normalization layer first) takes raw pixels,
    so zero is a blank (black) image. A model without one that is fed standardized ``images``
    (the data were standardized outside the model) sees zero as the mean training image. A
    model without one fed raw images (or nothing known about them) again sees a blank image.
    """
    if normalizes_its_inputs(model) or images is None or not looks_standardized(images):
        return BLANK_IMAGE
    return MEAN_IMAGE


def baseline_description(model, images=None):
    """One sentence saying which image the default integrated-gradients baseline is for ``model``.

    Args:
        model: the Keras classifier being explained.
        images: the inputs given to it (to tell standardized inputs from raw ones), or None.
    """
    if normalizes_its_inputs(model):
        return ("The baseline is the all-zero raw input, a blank (black) image; the model's Normalization layer "
                "standardizes it like any other input.")
    if baseline_kind(model, images) == MEAN_IMAGE:
        return ("The baseline is the all-zero input; the inputs were standardized outside the model, so zero is "
                "the mean image of the training data (mean grey), not a black one.")
    return "The baseline is the all-zero input, a blank (black) image (the model takes the values as they are)."
