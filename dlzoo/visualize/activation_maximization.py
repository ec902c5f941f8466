"""Activation maximization: the input a unit likes best (Erhan et al., 2009).

Start from faint noise and climb the gradient of one unit's activation with respect to the
*image* (the weights stay fixed). The unit is a class score (the ``logits``) or one channel of a
layer (its mean over the feature map). Two regularizers keep the picture natural:

* L2 decay: after each step the image is multiplied by ``1 - l2_decay`` (the gradient step of
  an L2 penalty), which stops pixel values from running off (Yosinski et al., 2015), and
* *jitter*: every step looks at the image shifted by a few random pixels, so patterns that only
  work at one exact position (high-frequency noise) do not pay off.

Each step moves by ``learning_rate`` (in input units) along the gradient divided by its root
mean square, so the step size does not depend on the scale of the gradient; with the decay,
pixel values settle around ``learning_rate / l2_decay`` input units (1 with the defaults).
"""

import numpy as np
import tensorflow as tf
from keras import layers as keras_layers

from dlzoo.core import validation
from dlzoo.visualize import layers, targets
from dlzoo.visualize.trace import ForwardTrace


def input_scale(trace):
    """Typical size of an input value: ``1 / scale`` of a leading Rescaling layer, else 1.

    A model that starts with ``Rescaling(1/255)`` expects pixels in [0, 255], so both the
    starting noise and the steps must be 255 times larger than for inputs in [0, 1].
    """
    for call in trace.calls:
        if isinstance(call.layer, keras_layers.Rescaling):
            scale = np.abs(np.asarray(call.layer.scale, dtype="float64")).mean()
            return float(1.0 / scale) if scale > 0 else 1.0
        if not isinstance(call.layer, (keras_layers.Resizing, keras_layers.InputLayer)):
            return 1.0
    return 1.0


def _objective_function(trace, layer, target_indices):
    """A function from a batch of images to the objective of each one, shape (batch,).

    Image ``i`` is scored by unit ``target_indices[i]``: a class score, or a channel of ``layer``.
    """
    if layer is None:
        logits_output = layers.logits_tensor(trace)
        _check_targets(target_indices, targets.number_of_classes(logits_output), layer)
        to_logits = trace.sub_model(logits_output)
        return lambda images: targets.class_scores(to_logits(images, training=False), target_indices)
    output = trace.find(layer).output
    units = int(output.shape[-1])
    _check_targets(target_indices, units, layer)
    to_layer = trace.sub_model(output)
    one_hot = tf.one_hot(target_indices, units)  # (batch, units)

    def objective(images):
        activations = to_layer(images, training=False)
        if len(activations.shape) > 2:
            # mean over every axis but batch and channels: (batch, ..., units) -> (batch, units)
            activations = tf.reduce_mean(activations, axis=list(range(1, len(activations.shape) - 1)))
        return tf.reduce_sum(activations * one_hot, axis=-1)

    return objective


def _check_targets(target_indices, units, layer):
    """Raise ValueError for a class or channel index outside ``0 .. units - 1``."""
    if layer is None:
        targets.check_class_range(target_indices, units)
        return
    for index in target_indices:
        if not 0 <= index < units:
            raise ValueError(f"filter_index {index} is out of range: layer {layer!r} has {units} units (0-{units - 1})")


def maximize_activations(
    model,
    target_indices,
    layer=None,
    steps=64,
    learning_rate=0.1,
    l2_decay=0.1,
    jitter=1,
    seed=0,
    image_shape=None,
):
    """Optimize one image per target at once: the maximizing input of each target unit.

    Args:
        model: a Keras model taking images.
        target_indices: sequence of class indices (``layer`` None) or channel indices of ``layer``.
        layer: dotted path of a layer; when given, the channels of its output (averaged over
            positions) are maximized instead of class scores.
        steps: number of gradient-ascent steps.
        learning_rate: size of each step, in input units (scaled for a leading Rescaling layer).
        l2_decay: fraction by which the image shrinks after each step (L2 regularization).
        jitter: largest random shift in pixels applied before each step (0 disables it).
        seed: seed of the starting noise and of the jitter.
        image_shape: (height, width, channels), needed only if the model's input size is not fixed.

    Returns:
        (images, histories): float32 (targets, height, width, channels) and the objective of
        each target at each step, before its update, float32 (targets, steps).
    """
    steps = validation.check_integer("steps", steps, minimum=1)
    jitter = validation.check_integer("jitter", jitter, minimum=0)
    learning_rate = validation.check_number("learning_rate", learning_rate, minimum=0, exclusive_minimum=True)
    l2_decay = validation.check_fraction("l2_decay", l2_decay)
    target_indices = [int(index) for index in np.atleast_1d(target_indices)]
    layers.require_image_input(model, "activation maximization")
    shape = tuple(image_shape) if image_shape is not None else tuple(model.inputs[0].shape[1:])
    if None in shape or len(shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels) for this model, got {image_shape!r}")

    # 1. The objective and the scale of the inputs.
    trace = ForwardTrace(model)
    objective = _objective_function(trace, layer, target_indices)
    scale = input_scale(trace)

    # 2. Start from faint noise (for standardized or [0, 1] inputs: around 0, std 0.1).
    generator = np.random.default_rng(seed)
    start = generator.standard_normal((len(target_indices),) + shape).astype("float32") * 0.1 * scale
    images = tf.Variable(start)

    @tf.function
    def ascent_step(shift):
        # 3. Jitter: look at the images shifted by ``shift`` pixels (same shift for the batch).
        with tf.GradientTape() as tape:
            values = objective(tf.roll(images, shift=shift, axis=[1, 2]))
            total = tf.reduce_sum(values)  # images are independent: one gradient per image
        gradient = tape.gradient(total, images)
        # 4. Normalized ascent step per image, then the L2 decay.
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=[1, 2, 3], keepdims=True)) + 1e-12
        images.assign((1.0 - l2_decay) * (images + learning_rate * scale * gradient / rms))
        return values

    history = []
    for _ in range(steps):
        shift = generator.integers(-jitter, jitter + 1, size=2).astype("int32")
        history.append(ascent_step(tf.constant(shift)).numpy())
    return images.numpy(), np.stack(history, axis=1).astype("float32")


def activation_maximization(model, class_index=0, layer=None, filter_index=0, **options):
    """Find an input that maximizes a class score or a layer's channel.

    Args:
        model: a Keras model taking images.
        class_index: the class whose logit is maximized when ``layer`` is None.
        layer: dotted path of a layer; when given, channel ``filter_index`` of its output
            (averaged over positions) is maximized instead of a class score.
        filter_index: channel of ``layer`` to maximize.
        **options: ``steps``, ``learning_rate``, ``l2_decay``, ``jitter``, ``seed``,
            ``image_shape``, as for :func:`maximize_activations`.

    Returns:
        (image, objective_history): float32 (height, width, channels), and the objective
        (class score or mean activation) at each step, before its update, shape (steps,).
    """
    argument = "class_index" if layer is None else "filter_index"
    target = validation.check_integer(argument, class_index if layer is None else filter_index)
    images, histories = maximize_activations(model, [target], layer, **options)
    return images[0], histories[0]
