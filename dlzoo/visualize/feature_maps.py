"""Feature maps: what one layer computes for one image, channel by channel."""

import numpy as np
import tensorflow as tf

from dlzoo.visualize import layers, targets
from dlzoo.visualize.trace import ForwardTrace


def feature_maps(model, image, layer=None):
    """Activations of a layer for one input image.

    Args:
        model: a Keras model taking images.
        image: float32 array (height, width, channels), or a batch holding one image.
        layer: dotted path of a layer with a 4-D output; None for the first convolutional layer.

    Returns:
        float32 array (map_height, map_width, channels).

    Raises:
        NotApplicableError: ``layer`` is None and the model has no convolutional layer.
    """
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3:
        image = image[np.newaxis]
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"image must be one image (height, width, channels), got shape {image.shape}")
    image = targets.check_images(model, image, argument="image")
    trace = ForwardTrace(model)
    if layer is None:
        call = layers.require_convolution(trace, "feature maps")[0]
    else:
        call = layers.feature_map_call(trace, layer, "feature maps")
    activations = trace.sub_model(call.output)(tf.convert_to_tensor(image), training=False)
    return np.asarray(activations)[0]
