"""Grad-CAM (Selvaraju et al., 2017) and Grad-CAM++ (Chattopadhay et al., 2018).

Both weigh the channels of a convolutional feature map ``A`` (h, w, channels) by how much the
class score ``S`` depends on them, then add the weighted channels up and keep the positive part:

* Grad-CAM: channel weight = spatial mean of ``dS/dA``.
* Grad-CAM++: channel weight = sum over locations of ``alpha * relu(dS/dA)`` with
  ``alpha = g^2 / (2 g^2 + sum(A) g^3)`` (``g = dS/dA``): the closed form the paper derives for
  an exponential score, which counts each location that supports the class, not just the
  biggest one, so maps cover several objects better.

By default the feature map is the output of the last convolutional block, found on its own,
also inside a nested model; ``layer`` chooses another one by dotted path ("base.conv2d_3").
"""

import numpy as np
import tensorflow as tf

from dlzoo.visualize import heatmaps, layers, targets
from dlzoo.visualize.trace import ForwardTrace


def feature_gradients(model, images, class_index, layer, method):
    """Feature map, gradient of the class score with respect to it, and the class per sample.

    Returns:
        (features, gradients, class_indices): two (batch, h, w, channels) tensors and an int
        array (batch,).
    """
    images = targets.check_images(model, images)
    trace = ForwardTrace(model)
    target = layers.feature_map_call(trace, layer, method)
    split = trace.sub_model([target.output, layers.logits_tensor(trace)])
    images = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        features, logits = split(images, training=False)
        class_indices = targets.resolve_class_indices(class_index, logits)
        scores = targets.class_scores(logits, class_indices)
    # float32 maths even for mixed-precision models (float16 feature maps).
    gradients = tf.cast(tape.gradient(scores, features), "float32")
    return tf.cast(features, "float32"), gradients, class_indices


def gradcam(model, images, class_index=None, layer=None):
    """Grad-CAM heatmaps, float32 (batch, height, width) in [0, 1] at the input resolution.

    Args:
        model: a Keras classifier with a convolutional layer.
        images: float32 array (batch, height, width, channels).
        class_index: int, one int per sample, or None for the predicted class.
        layer: dotted path of the feature-map layer; None for the last convolutional block.
    """
    features, gradients, _ = feature_gradients(model, images, class_index, layer, "Grad-CAM")
    weights = tf.reduce_mean(gradients, axis=(1, 2))  # (batch, channels)
    maps = tf.einsum("bhwc,bc->bhw", features, weights)
    return heatmaps.to_input_resolution(maps, np.shape(images)[1:3])


def gradcam_plus_plus(model, images, class_index=None, layer=None):
    """Grad-CAM++ heatmaps, float32 (batch, height, width) in [0, 1] at the input resolution.

    Same arguments as :func:`gradcam`.
    """
    features, gradients, _ = feature_gradients(model, images, class_index, layer, "Grad-CAM++")
    squared, cubed = gradients**2, gradients**3
    activation_sums = tf.reduce_sum(features, axis=(1, 2), keepdims=True)  # (batch, 1, 1, channels)
    denominator = 2.0 * squared + activation_sums * cubed
    alphas = tf.math.divide_no_nan(squared, denominator)  # 0 where the gradient is 0
    weights = tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=(1, 2))  # (batch, channels)
    maps = tf.einsum("bhwc,bc->bhw", features, weights)
    return heatmaps.to_input_resolution(maps, np.shape(images)[1:3])
