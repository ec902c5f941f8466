"""Class activation maps (Zhou et al., 2016).

When the last feature map ``A`` (h, w, channels) is averaged by global average pooling straight
into the logits, the score of class ``k`` is ``sum_c W[c, k] * mean(A[:, :, c]) + b_k``. Moving
the mean outside gives the map ``sum_c W[c, k] * A[:, :, c]``: how much each location adds to
the class score. No gradient is needed, only the ``logits`` kernel.
"""

import numpy as np
import tensorflow as tf

from dlzoo.visualize import heatmaps, layers, targets
from dlzoo.visualize.trace import ForwardTrace


def class_weights(kernel, class_indices):
    """Column of the logits kernel for each sample's class, shape (batch, channels).

    A binary head has one unit whose logit is the score of class 1; class 0 scores ``-logit``.
    """
    kernel = np.asarray(kernel)
    if kernel.shape[1] == 1:
        signs = np.where(np.asarray(class_indices) == 1, 1.0, -1.0)
        return (signs[:, None] * kernel[:, 0][None, :]).astype("float32")
    return kernel[:, class_indices].T.astype("float32")


def cam(model, images, class_index=None):
    """Class activation maps for ``images``.

    Args:
        model: a classifier whose last feature map goes through GlobalAveragePooling2D
            (and, optionally, dropout) into a Dense layer named ``logits``.
        images: float32 array (batch, height, width, channels).
        class_index: int, one int per sample, or None for the predicted class.

    Returns:
        float32 array (batch, height, width) in [0, 1], at the input resolution.

    Raises:
        NotApplicableError: the model has no such pooling head.
    """
    images = targets.check_images(model, images)
    trace = ForwardTrace(model)
    feature_map, head = layers.pooled_head(trace)
    features, logits = trace.sub_model([feature_map, head.output])(tf.convert_to_tensor(images), training=False)
    class_indices = targets.resolve_class_indices(class_index, logits)
    weights = class_weights(head.layer.kernel.numpy().astype("float32"), class_indices)
    # (batch, h, w, channels) x (batch, channels) -> (batch, h, w)
    maps = tf.einsum("bhwc,bc->bhw", tf.cast(features, "float32"), weights)
    return heatmaps.to_input_resolution(maps, images.shape[1:3])
