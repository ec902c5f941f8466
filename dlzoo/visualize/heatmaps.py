"""Turning coarse class-activation maps into heatmaps at the input's resolution."""

import tensorflow as tf


def to_input_resolution(maps, size):
    """Keep the positive evidence, resize to ``size`` and scale each map to [0, 1].

    Args:
        maps: (batch, height, width) coarse maps, any sign.
        size: (height, width) of the input images.

    Returns:
        numpy float32 (batch, size[0], size[1]) in [0, 1]; a map with no positive value is all 0.
    """
    maps = tf.nn.relu(tf.convert_to_tensor(maps, dtype="float32"))
    # Bilinear resizing mixes neighbouring values, so it keeps them >= 0.
    resized = tf.image.resize(maps[..., tf.newaxis], size, method="bilinear")[..., 0]
    peaks = tf.reduce_max(resized, axis=(1, 2), keepdims=True)
    scaled = tf.math.divide_no_nan(resized, peaks)
    return tf.clip_by_value(scaled, 0.0, 1.0).numpy()
