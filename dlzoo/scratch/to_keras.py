"""The trained NumPy MLP as an equivalent Keras model, for export, evaluation and pictures.

The rest of dlzoo (SavedModel export, ``dlzoo evaluate``, ``dlzoo visualize``) works on Keras
models; this module rebuilds the same network with Keras layers and copies the NumPy weights
into it, so that both give the same probabilities (up to float32 round-off)::

    inputs ─► [Flatten] ─► (Dense(activation) [─► Dropout]) × hidden layers
           ─► Dense "logits" ─► Activation "probabilities" (softmax)

A NumPy kernel is (fan_in, fan_out), the layout of a Keras ``Dense`` kernel, so the weights
copy over unchanged. The L2 penalty becomes ``keras.regularizers.L2(l2)`` on every kernel (the
same term), so that fine-tuning the Keras model continues the same objective.
"""

import math

import keras
import numpy as np
from keras import layers

from dlzoo.models import heads


def _check_input_shape(numpy_mlp, input_shape):
    """Return ``input_shape`` as a tuple of ints whose product is the MLP's input size."""
    try:
        shape = tuple(int(size) for size in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be a tuple of integers, got {input_shape!r}") from None
    if not shape or math.prod(shape) != numpy_mlp.layer_sizes[0]:
        raise ValueError(
            f"input_shape must hold {numpy_mlp.layer_sizes[0]} values per sample (the MLP's "
            f"input size), got {input_shape!r}"
        )
    return shape


def _softmax_head(features, num_classes, kernel_regularizer):
    """The ``logits`` + ``probabilities`` head, always a softmax over ``num_classes`` units.

    :func:`dlzoo.models.heads.classifier_head` gives two classes a single sigmoid unit; the
    NumPy MLP has two softmax units instead (its output layer is a softmax for every number of
    classes), and a (fan_in, 2) kernel does not fit a one-unit layer. Both heads express the
    same family of classifiers (sigmoid(z1 - z0) = softmax(z)[1]), but copying the weights
    exactly needs the softmax form, so for two classes the head is built here with the same
    layer names. ``heads.class_score`` and ``heads.predicted_classes`` handle both forms.
    """
    if num_classes > 2:
        return heads.classifier_head(features, num_classes, kernel_regularizer=kernel_regularizer)
    logits = layers.Dense(num_classes, name=heads.LOGITS_LAYER,
                          kernel_regularizer=kernel_regularizer)(features)
    return layers.Activation("softmax", name=heads.PROBABILITIES_LAYER)(logits)


def to_keras_model(numpy_mlp, input_shape):
    """A functional Keras model equivalent to ``numpy_mlp``, with its weights copied in.

    Args:
        numpy_mlp: a trained :class:`~dlzoo.scratch.mlp.NumpyMLP`.
        input_shape: shape of one sample without the batch axis, e.g. ``(64,)`` or ``(8, 8)``;
            a rank above 1 adds a ``Flatten`` layer. Its size must be ``layer_sizes[0]``.

    Returns:
        A float32 ``keras.Model`` named ``"numpy_mlp"``, not compiled, whose ``predict`` equals
        ``numpy_mlp.predict_proba`` up to float32 round-off. Hidden layers are named
        ``dense_1``, ``dropout_1``, ...; the head ``logits`` and ``probabilities``.
    """
    shape = _check_input_shape(numpy_mlp, input_shape)
    regularizer = keras.regularizers.L2(numpy_mlp.l2) if numpy_mlp.l2 > 0 else None
    inputs = keras.Input(shape=shape, name="inputs")
    features = layers.Flatten(name="flatten")(inputs) if len(shape) > 1 else inputs
    for index, units in enumerate(numpy_mlp.layer_sizes[1:-1], start=1):
        features = layers.Dense(units, activation=numpy_mlp.activation,
                                kernel_regularizer=regularizer, name=f"dense_{index}")(features)
        if numpy_mlp.dropout_rate > 0:
            features = layers.Dropout(numpy_mlp.dropout_rate, seed=numpy_mlp.seed,
                                      name=f"dropout_{index}")(features)
    probabilities = _softmax_head(features, numpy_mlp.num_classes, regularizer)
    model = keras.Model(inputs, probabilities, name="numpy_mlp")
    dense_names = [f"dense_{index}" for index in range(1, numpy_mlp.num_layers)]
    dense_names.append(heads.LOGITS_LAYER)
    for name, kernel, bias in zip(dense_names, numpy_mlp.weights, numpy_mlp.biases):
        model.get_layer(name).set_weights([np.asarray(kernel, np.float32),
                                           np.asarray(bias, np.float32)])
    return model
