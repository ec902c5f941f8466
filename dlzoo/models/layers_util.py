"""Helpers shared by the model families: option checks, named layer stacks, input adaptation.

Every builder checks its options up front (with :mod:`dlzoo.core.validation` and the ``check_*``
functions here), so that a typo in a recipe's ``[model]`` section fails before any layer is
made, with a ``ValueError`` that names the option and the bad value. The layer helpers give every layer a readable name
(``dense1``, ``block2_conv1``) so that callbacks, Grad-CAM and students can find it.

Pure Keras 3: this module imports ``keras``, never ``tensorflow``.
"""

import keras
from keras import layers

from dlzoo.core import validation

# Activations a recipe may name. "linear" (no activation) is there for the linear-network
# demonstrations (a deep linear net is still a linear map).
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "swish")

# Short initializer names a recipe may use -> Keras initializer identifiers.
# "glorot"/"he"/"lecun" follow the choices of Glorot & Bengio 2010, He et al. 2015 and
# LeCun et al. 1998 (as used with SELU by Klambauer et al. 2017). "normal" is the naive
# N(0, 1) initialization that makes deep sigmoid/tanh nets saturate (for the demonstrations).
INITIALIZERS = {
    "default": "glorot_uniform",
    "glorot": "glorot_uniform",
    "glorot_uniform": "glorot_uniform",
    "glorot_normal": "glorot_normal",
    "he": "he_normal",
    "he_normal": "he_normal",
    "he_uniform": "he_uniform",
    "lecun": "lecun_normal",
    "lecun_normal": "lecun_normal",
    "lecun_uniform": "lecun_uniform",
    "normal": "random_normal_unit",
}


# ---------------------------------------------------------------------------------------------
# Option checks


def check_size(name, value):
    """A layer size (units, filters, kernel size, stride, depth): a whole number >= 1."""
    return validation.check_integer(name, value, minimum=1)


def check_sizes(name, values, allow_empty=False):
    """A list of layer sizes like ``[32, 64]``, returned as a list of ints."""
    return validation.check_list_of(name, values, check_size, "whole numbers like [32, 64]", allow_empty=allow_empty)


def check_input_size(input_size, minimum=2):
    """``input_size`` is None (keep the images' size) or an integer side length >= ``minimum``."""
    if input_size is None:
        return None
    return validation.check_integer("input_size", input_size, minimum=minimum)


def check_activation(value, name="activation"):
    """Return ``value`` if it names an activation in :data:`ACTIVATIONS`."""
    return validation.check_choice(name, value, ACTIVATIONS)


def check_input_rank(input_shape, ranks, model_name):
    """Raise ``ValueError`` unless ``input_shape`` (no batch axis) has one of the ``ranks``."""
    if len(input_shape) not in ranks or any(dimension is None or dimension < 1 for dimension in input_shape):
        wanted = " or ".join(f"{rank}-D" for rank in ranks)
        raise ValueError(f"input_shape of model '{model_name}' must be {wanted}, got {tuple(input_shape)}")
    return tuple(int(dimension) for dimension in input_shape)


# ---------------------------------------------------------------------------------------------
# Building blocks


def initializer(name):
    """The Keras initializer for a short name of :data:`INITIALIZERS` (checked)."""
    validation.check_choice("initializer", name, INITIALIZERS)
    identifier = INITIALIZERS[name]
    if identifier == "random_normal_unit":
        return keras.initializers.RandomNormal(mean=0.0, stddev=1.0)
    return identifier


def regularizer(l2):
    """An L2 kernel regularizer adding ``l2 * sum(w**2)`` to the loss, or None when ``l2`` is 0."""
    return keras.regularizers.L2(l2) if l2 > 0 else None


def inputs_for(input_shape, name="inputs"):
    """The model's ``keras.Input`` for one example of ``input_shape`` (no batch axis)."""
    return keras.Input(shape=tuple(input_shape), name=name)


def as_image(inputs):
    """Give a (height, width) grey image a channel axis: (batch, h, w) -> (batch, h, w, 1)."""
    if len(inputs.shape) == 3:
        height, width = inputs.shape[1], inputs.shape[2]
        return layers.Reshape((height, width, 1), name="add_channel")(inputs)
    return inputs


def as_signal(inputs):
    """Give a (length,) signal a channel axis: (batch, length) -> (batch, length, 1)."""
    if len(inputs.shape) == 2:
        return layers.Reshape((inputs.shape[1], 1), name="add_channel")(inputs)
    return inputs


def upsample_to(images, minimum_size):
    """Resize (batch, h, w, c) images to (minimum_size, minimum_size) if either side is smaller.

    Small images (the 8x8 digits) are upsampled inside the model with bilinear interpolation,
    so that architectures made for 32x32 inputs (LeNet-5, ResNet on CIFAR) keep their shapes
    and the exported model still takes the dataset's own images. Larger images are left alone.
    """
    height, width = images.shape[1], images.shape[2]
    if minimum_size is None or (height >= minimum_size and width >= minimum_size):
        return images
    from dlzoo.models.preprocessing import Resize  # Resizing that keeps inference mode the default

    return Resize(minimum_size, minimum_size, interpolation="bilinear", name="resize")(images)


def dense_unit(features, units, index, activation, kernel_initializer="glorot_uniform",
               batch_norm=False, dropout_rate=0.0, l2=0.0, alpha_dropout=False):
    """One hidden layer: ``dense{i}`` -> [``batch_norm{i}``] -> ``activation{i}`` -> [``dropout{i}``].

    The activation is its own layer so that a callback can read pre-activations (the output of
    ``dense{i}``, or of ``batch_norm{i}`` when there is one) and activations separately. With
    batch norm the Dense has no bias: BN's own shift (beta) replaces it, and a bias before BN
    would be subtracted away and get a zero gradient.
    """
    features = layers.Dense(
        units,
        use_bias=not batch_norm,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=regularizer(l2),
        name=f"dense{index}",
    )(features)
    if batch_norm:
        features = layers.BatchNormalization(name=f"batch_norm{index}")(features)
    features = layers.Activation(activation, name=f"activation{index}")(features)
    if dropout_rate > 0:
        # AlphaDropout keeps the self-normalizing mean/variance of SELU networks.
        dropout = layers.AlphaDropout if alpha_dropout else layers.Dropout
        features = dropout(dropout_rate, name=f"dropout{index}")(features)
    return features


def conv_unit(features, filters, kernel_size, names, activation="relu", strides=1, padding="same",
              batch_norm=False, l2=0.0, kernel_initializer="he_normal", rank=2):
    """Convolution -> [batch norm] -> activation on 2-D (``rank=2``) or 1-D (``rank=1``) maps.

    Args:
        features: (batch, height, width, channels) for rank 2, (batch, length, channels) for 1.
        filters, kernel_size, strides, padding: as for ``keras.layers.Conv2D``.
        names: the three layer names ``(convolution, batch_norm, activation)``, e.g.
            ``("block2_conv1", "block2_bn1", "block2_act1")``.
        activation: an activation name of :data:`ACTIVATIONS`.
        batch_norm: put a BatchNormalization between the convolution and the activation.
        l2: L2 weight-decay factor of the kernel (0 for none).
        kernel_initializer: a Keras initializer or identifier.
        rank: 2 for images, 1 for signals.
    """
    convolution_name, batch_norm_name, activation_name = names
    convolution = layers.Conv2D if rank == 2 else layers.Conv1D
    features = convolution(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=not batch_norm,  # BN's beta replaces the bias (see dense_unit)
        kernel_initializer=kernel_initializer,
        kernel_regularizer=regularizer(l2),
        name=convolution_name,
    )(features)
    if batch_norm:
        features = layers.BatchNormalization(name=batch_norm_name)(features)
    return layers.Activation(activation, name=activation_name)(features)
