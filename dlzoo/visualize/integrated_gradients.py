"""Integrated gradients (Sundararajan et al., 2017).

The attribution of pixel ``i`` is ``(x_i - b_i)`` times the average gradient along the straight
path from a baseline ``b`` to the image ``x``. Its defining property, *completeness*, is that the
attributions sum to ``score(x) - score(b)``: the whole change of the class score is shared out
between the pixels. The path integral is computed with the trapezoid rule on ``steps`` intervals.
"""

import numpy as np

from dlzoo import validation
from dlzoo.visualize import targets


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
            ``None`` means all zeros (the mean image for standardized inputs).

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
