"""Fully connected models: the logistic neuron, softmax regression, MLPs and deep MLPs.

Layer names (relied on by the gradient-statistics callback and by the course notebooks):

* ``flatten``: the inputs as vectors, (batch, features);
* ``dense1`` .. ``denseN``: the hidden Dense layers; without batch norm their output is the
  pre-activation ``z = W x + b`` of layer i;
* ``batch_norm{i}`` (when ``batch_norm = true``): normalizes ``dense{i}``'s output, before the
  activation as in Ioffe & Szegedy 2015;
* ``activation1`` .. ``activationN``: the activations ``a = f(z)``, separate layers;
* ``dropout{i}`` (when ``dropout_rate > 0``);
* ``logits`` and ``probabilities``: the classifier head of :mod:`dlzoo.models.heads`.
"""

import keras
from keras import layers

from dlzoo.core import validation
from dlzoo.models import heads, layers_util, register


def _flat_inputs(input_shape):
    """The model input and its flattened form, (batch, features)."""
    inputs = layers_util.inputs_for(input_shape)
    return inputs, layers.Flatten(name="flatten")(inputs)


@register("logistic")
def build_logistic(input_shape, num_classes, *, l2=0.0):
    """Logistic regression: the inputs, flattened, go straight into the classifier head.

    For two classes this is the *logistic neuron*, one unit ``sigmoid(w . x + b)`` trained with
    binary cross-entropy; its decision boundary is a hyperplane. For more classes it is softmax
    (multinomial logistic) regression: one linear score per class.

    Args:
        input_shape: shape of one input (any rank; it is flattened).
        num_classes: number of classes (2 gives one sigmoid unit).
        l2: L2 weight-decay factor of the weights (0 for none).
    """
    l2 = validation.check_number("l2", l2, minimum=0.0)
    inputs, features = _flat_inputs(input_shape)
    outputs = heads.classifier_head(features, num_classes, kernel_regularizer=layers_util.regularizer(l2))
    name = "logistic_neuron" if num_classes == 2 else "softmax_regression"
    return keras.Model(inputs, outputs, name=name)


@register("softmax_regression")
def build_softmax_regression(input_shape, num_classes, *, l2=0.0):
    """Softmax regression: the same model as :func:`build_logistic`, under its multi-class name."""
    return build_logistic(input_shape, num_classes, l2=l2)


@register("linear")
def build_linear(input_shape, num_classes, *, l2=0.0):
    """A linear model ``w . x + b``: the flattened inputs straight into the head.

    Under the ``regress`` task the head is one linear unit: the *linear neuron* trained with
    the squared error. Under ``classify`` it is the same model as :func:`build_logistic`.
    """
    model = build_logistic(input_shape, num_classes, l2=l2)
    model.name = "linear"
    return model


@register("mlp")
def build_mlp(input_shape, num_classes, *, hidden_units=(128, 64), activation="relu", dropout_rate=0.0,
              batch_norm=False, l2=0.0, initializer="default"):
    """A multi-layer perceptron with one hidden layer per entry of ``hidden_units``.

    Args:
        input_shape: shape of one input (flattened first).
        num_classes: number of classes.
        hidden_units: widths of the hidden layers, e.g. ``[128, 64]``; ``[]`` gives logistic regression.
        activation: one of ``linear sigmoid tanh relu leaky_relu elu selu gelu swish``.
        dropout_rate: dropout after every hidden activation, in [0, 1).
        batch_norm: batch normalization between each Dense and its activation.
        l2: L2 weight-decay factor of every kernel.
        initializer: ``default`` (= glorot), ``glorot``, ``he``, ``lecun``, ... (see layers_util).
    """
    hidden_units = layers_util.check_sizes("hidden_units", hidden_units, allow_empty=True)
    return _stack(
        input_shape, num_classes, hidden_units, activation, initializer, batch_norm, dropout_rate, l2,
        model_name=f"mlp_{'_'.join(map(str, hidden_units)) or 'linear'}",
    )


@register("deep_mlp")
def build_deep_mlp(input_shape, num_classes, *, depth=10, width=64, activation="relu", initializer="default",
                   batch_norm=False, dropout_rate=0.0, l2=0.0):
    """``depth`` hidden layers of ``width`` units: the test bench for training deep nets.

    Used to show vanishing gradients (``sigmoid`` with ``normal`` or ``default`` init), how
    non-saturating activations, He/LeCun initialization and batch norm fix them.

    Good pairings: ``relu``/``leaky_relu``/``elu``/``gelu``/``swish`` with ``he``; ``tanh``/
    ``sigmoid`` with ``glorot``; ``selu`` with ``lecun`` (self-normalizing networks, Klambauer
    et al. 2017: needs standardized inputs, LeCun-normal weights and no batch norm). With
    ``selu`` the dropout layers are ``AlphaDropout``, which keeps the mean and variance that
    SELU self-normalizes to.

    Args:
        depth: number of hidden layers (>= 1).
        width: units per hidden layer (>= 1).
        activation, initializer, batch_norm, dropout_rate, l2: as for :func:`build_mlp`.
    """
    depth = layers_util.check_size("depth", depth)
    width = layers_util.check_size("width", width)
    return _stack(
        input_shape, num_classes, [width] * depth, activation, initializer, batch_norm, dropout_rate, l2,
        model_name=f"deep_mlp_{depth}x{width}_{activation}",
    )


def _stack(input_shape, num_classes, hidden_units, activation, initializer, batch_norm, dropout_rate, l2,
           model_name):
    """Check the shared options, then build Flatten -> hidden layers -> classifier head."""
    activation = layers_util.check_activation(activation)
    layers_util.initializer(initializer)  # checks the name before any layer is made
    batch_norm = validation.check_boolean("batch_norm", batch_norm)
    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    l2 = validation.check_number("l2", l2, minimum=0.0)
    inputs, features = _flat_inputs(input_shape)
    for index, units in enumerate(hidden_units, start=1):
        features = layers_util.dense_unit(
            features, units, index, activation,
            kernel_initializer=layers_util.initializer(initializer),  # a fresh one per layer
            batch_norm=batch_norm,
            dropout_rate=dropout_rate,
            l2=l2,
            alpha_dropout=activation == "selu",
        )
    # The head keeps Glorot init: it is linear, whatever the hidden activation.
    outputs = heads.classifier_head(features, num_classes, kernel_regularizer=layers_util.regularizer(l2))
    return keras.Model(inputs, outputs, name=model_name)
