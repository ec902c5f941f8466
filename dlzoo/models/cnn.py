"""Convolutional networks: a small CNN, LeNet-5, VGG-style blocks and a 1-D CNN for signals.

Layer names (relied on by Grad-CAM, activation maximization and the course notebooks):

* ``resize``: upsampling of small images inside the model (only when it happens);
* ``conv{i}`` / ``block{b}_conv{i}``: convolutions; ``conv{i}_bn`` / ``block{b}_bn{i}`` (batch
  norm) and ``conv{i}_act`` / ``block{b}_act{i}`` (activation) follow them; ``pool{i}`` /
  ``block{b}_pool``: pooling;
* ``gap``: global average pooling of the last convolution's feature map, followed directly by
  ``logits`` (the class activation map (CAM) head of Zhou et al. 2016);
* ``flatten``, ``dense{i}`` (+ ``batch_norm{i}``, ``activation{i}``, ``dropout{i}``): the fully
  connected part of the non-GAP heads;
* ``logits`` and ``probabilities``: the classifier head of :mod:`dlzoo.models.heads`.

Images come as (height, width, channels) or (height, width); signals as (length,) or
(length, channels).
"""

import keras
from keras import layers

from dlzoo.core import validation
from dlzoo.models import heads, layers_util, register

GLOBAL_POOLINGS = ("avg", "flatten")
VGG_HEADS = ("gap", "dense")
LENET_VARIANTS = ("classic", "modern")


def _image_inputs(input_shape, model_name, input_size):
    """The model input and the images the convolutions see: (batch, h, w, c), upsampled if small."""
    input_shape = layers_util.check_input_rank(input_shape, (2, 3), model_name)
    inputs = layers_util.inputs_for(input_shape)
    images = layers_util.upsample_to(layers_util.as_image(inputs), input_size)
    return inputs, images


def _max_pool(features, name, rank=2):
    """Halve the resolution with 2x2 max pooling, unless the map is already too small to halve."""
    spatial = features.shape[1:-1]
    if min(spatial) < 2:
        return features
    pooling = layers.MaxPooling2D if rank == 2 else layers.MaxPooling1D
    return pooling(2, name=name)(features)


def _gap_or_flatten(features, global_pooling, rank=2):
    """(batch, ..., channels) -> (batch, channels) by global average pooling, or flattened."""
    if global_pooling == "avg":
        pooling = layers.GlobalAveragePooling2D if rank == 2 else layers.GlobalAveragePooling1D
        return pooling(name="gap")(features)
    return layers.Flatten(name="flatten")(features)


@register("cnn")
def build_cnn(input_shape, num_classes, *, filters=(32, 64), kernel_size=3, activation="relu", batch_norm=False,
              dropout_rate=0.0, global_pooling="avg", dense_units=0, l2=0.0, input_size=None):
    """A small CNN: one convolution per entry of ``filters``, each followed by 2x2 max pooling.

    With ``global_pooling = "avg"`` the last convolution is not pooled: its map goes through
    ``gap`` straight into ``logits`` (a CAM head). With ``"flatten"`` it is pooled, flattened
    and, when ``dense_units > 0``, passed through one hidden Dense layer ``dense1``.

    Args:
        filters: number of filters of each convolution, e.g. ``[32, 64]``.
        kernel_size: side of the square kernels.
        activation: one of ``linear sigmoid tanh relu leaky_relu elu selu gelu swish``.
        batch_norm: batch normalization between each convolution and its activation.
        dropout_rate: dropout after each pooled block (and after ``dense1``), in [0, 1).
        global_pooling: ``avg`` (GAP head) or ``flatten``.
        dense_units: width of the hidden Dense layer of the ``flatten`` head (0 for none).
        l2: L2 weight-decay factor of every kernel.
        input_size: upsample images smaller than this side length (None: never).
    """
    filters = layers_util.check_sizes("filters", filters)
    kernel_size = layers_util.check_size("kernel_size", kernel_size)
    activation = layers_util.check_activation(activation)
    batch_norm = validation.check_boolean("batch_norm", batch_norm)
    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    global_pooling = validation.check_choice("global_pooling", global_pooling, GLOBAL_POOLINGS)
    dense_units = validation.check_integer("dense_units", dense_units, minimum=0)
    l2 = validation.check_number("l2", l2, minimum=0.0)
    input_size = layers_util.check_input_size(input_size)

    inputs, features = _image_inputs(input_shape, "cnn", input_size)
    for index, count in enumerate(filters, start=1):
        features = layers_util.conv_unit(
            features, count, kernel_size, (f"conv{index}", f"conv{index}_bn", f"conv{index}_act"),
            activation=activation, batch_norm=batch_norm, l2=l2,
        )
        if index == len(filters) and global_pooling == "avg":
            break  # the GAP head reads the last convolution's map, unpooled
        features = _max_pool(features, f"pool{index}")
        if dropout_rate > 0:
            features = layers.Dropout(dropout_rate, name=f"pool{index}_dropout")(features)
    features = _gap_or_flatten(features, global_pooling)
    if global_pooling == "flatten" and dense_units > 0:
        features = layers_util.dense_unit(
            features, dense_units, 1, activation, kernel_initializer="he_normal", dropout_rate=dropout_rate, l2=l2
        )
    outputs = heads.classifier_head(features, num_classes, kernel_regularizer=layers_util.regularizer(l2))
    return keras.Model(inputs, outputs, name="cnn")


@register("lenet")
def build_lenet(input_shape, num_classes, *, variant="classic", batch_norm=False, dropout_rate=0.0, input_size=32):
    """LeNet-5 (LeCun et al. 1998) on 32x32 images: two 5x5 convolutions (6 and 16 filters),
    each followed by 2x2 pooling, then Dense 120 and Dense 84 and the classifier head.

    Shapes for a 32x32 input: 32 -conv1-> 28 -pool1-> 14 -conv2-> 10 -pool2-> 5, then
    5*5*16 = 400 features. Smaller images (8x8 digits, 28x28 MNIST) are upsampled to
    ``input_size`` by a ``resize`` layer inside the model.

    Args:
        variant: ``classic`` (tanh and average pooling, as in the paper) or ``modern`` (ReLU,
            He initialization and max pooling).
        batch_norm: batch normalization after each convolution and hidden Dense, before the activation.
        dropout_rate: dropout after ``dense1`` and ``dense2``, in [0, 1).
        input_size: side length the images are upsampled to when smaller (>= 14 so that both
            'valid' 5x5 convolutions fit).
    """
    variant = validation.check_choice("variant", variant, LENET_VARIANTS)
    batch_norm = validation.check_boolean("batch_norm", batch_norm)
    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    input_size = layers_util.check_input_size(input_size, minimum=14)
    classic = variant == "classic"
    activation = "tanh" if classic else "relu"
    kernel_initializer = "glorot_uniform" if classic else "he_normal"
    pooling = layers.AveragePooling2D if classic else layers.MaxPooling2D

    inputs, features = _image_inputs(input_shape, "lenet", input_size)
    for index, count in enumerate((6, 16), start=1):
        features = layers_util.conv_unit(
            features, count, 5, (f"conv{index}", f"conv{index}_bn", f"conv{index}_act"),
            activation=activation, padding="valid", batch_norm=batch_norm, kernel_initializer=kernel_initializer,
        )
        features = pooling(2, name=f"pool{index}")(features)
    features = layers.Flatten(name="flatten")(features)  # (batch, 400) for 32x32 inputs
    for index, units in enumerate((120, 84), start=3):
        features = layers_util.dense_unit(
            features, units, index - 2, activation, kernel_initializer=kernel_initializer,
            batch_norm=batch_norm, dropout_rate=dropout_rate,
        )
    outputs = heads.classifier_head(features, num_classes)
    return keras.Model(inputs, outputs, name=f"lenet5_{variant}")


@register("vgg")
def build_vgg(input_shape, num_classes, *, blocks=(32, 64), convs_per_block=2, kernel_size=3, activation="relu",
              batch_norm=True, dropout_rate=0.0, head="gap", dense_units=128, l2=0.0, input_size=None):
    """VGG-style network (Simonyan & Zisserman 2015): blocks of 3x3 convolutions, then pooling.

    Block ``b`` has ``convs_per_block`` convolutions of ``blocks[b-1]`` filters named
    ``block{b}_conv{i}``, then 2x2 max pooling ``block{b}_pool``. With ``head = "gap"`` the
    last block is not pooled and its map goes through ``gap`` straight into ``logits`` (a
    CAM head); with ``head = "dense"`` every block is pooled, then ``flatten`` -> ``dense1``
    (``dense_units``) -> ``logits``, the original VGG head in small.

    Args:
        blocks: filters of each block, e.g. ``[32, 64]`` (the resolution halves per block).
        convs_per_block: convolutions per block (>= 1).
        kernel_size: side of the square kernels.
        activation: one of ``linear sigmoid tanh relu leaky_relu elu selu gelu swish``.
        batch_norm: batch normalization after each convolution (a later addition to VGG).
        dropout_rate: dropout after each pooled block and after ``dense1``, in [0, 1).
        head: ``gap`` or ``dense``.
        dense_units: width of ``dense1`` in the ``dense`` head.
        l2: L2 weight-decay factor of every kernel.
        input_size: upsample images smaller than this side length (None: never).
    """
    blocks = layers_util.check_sizes("blocks", blocks)
    convs_per_block = layers_util.check_size("convs_per_block", convs_per_block)
    kernel_size = layers_util.check_size("kernel_size", kernel_size)
    activation = layers_util.check_activation(activation)
    batch_norm = validation.check_boolean("batch_norm", batch_norm)
    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    head = validation.check_choice("head", head, VGG_HEADS)
    dense_units = layers_util.check_size("dense_units", dense_units)
    l2 = validation.check_number("l2", l2, minimum=0.0)
    input_size = layers_util.check_input_size(input_size)

    inputs, features = _image_inputs(input_shape, "vgg", input_size)
    for block, count in enumerate(blocks, start=1):
        for index in range(1, convs_per_block + 1):
            names = (f"block{block}_conv{index}", f"block{block}_bn{index}", f"block{block}_act{index}")
            features = layers_util.conv_unit(
                features, count, kernel_size, names, activation=activation, batch_norm=batch_norm, l2=l2
            )
        if block == len(blocks) and head == "gap":
            break  # the GAP head reads the last convolution's map, unpooled
        features = _max_pool(features, f"block{block}_pool")
        if dropout_rate > 0:
            features = layers.Dropout(dropout_rate, name=f"block{block}_dropout")(features)
    if head == "gap":
        features = _gap_or_flatten(features, "avg")
    else:
        features = layers.Flatten(name="flatten")(features)
        features = layers_util.dense_unit(
            features, dense_units, 1, activation, kernel_initializer="he_normal",
            batch_norm=batch_norm, dropout_rate=dropout_rate, l2=l2,
        )
    outputs = heads.classifier_head(features, num_classes, kernel_regularizer=layers_util.regularizer(l2))
    return keras.Model(inputs, outputs, name=f"vgg_{'_'.join(map(str, blocks))}")


@register("cnn1d")
def build_cnn1d(input_shape, num_classes, *, channels=(25, 25, 25), kernel_sizes=(5, 3, 3), strides=(2, 2, 2),
                activation="relu", batch_norm=False, dropout_rate=0.0, global_pooling="flatten", l2=0.0):
    """A 1-D CNN for signals such as MNIST-1D: strided convolutions, then the classifier head.

    The defaults follow the ConvBase of the MNIST-1D paper (Greydanus 2020): three
    convolutions of 25 channels with stride 2, so a 40-sample signal goes 40 -> 20 -> 10 -> 5
    and 5 * 25 = 125 features reach the linear classifier.

    Args:
        input_shape: ``(length,)`` (a channel axis is added) or ``(length, channels)``.
        channels: channels of each convolution ``conv{i}``.
        kernel_sizes: kernel length of each convolution (same length as ``channels``).
        strides: stride of each convolution (same length as ``channels``).
        activation: one of ``linear sigmoid tanh relu leaky_relu elu selu gelu swish``.
        batch_norm: batch normalization between each convolution and its activation.
        dropout_rate: dropout on the last feature map, in [0, 1).
        global_pooling: ``flatten`` (keeps where along the signal a feature is) or ``avg`` (``gap``).
        l2: L2 weight-decay factor of every kernel.
    """
    channels = layers_util.check_sizes("channels", channels)
    kernel_sizes = layers_util.check_sizes("kernel_sizes", kernel_sizes)
    strides = layers_util.check_sizes("strides", strides)
    if not len(channels) == len(kernel_sizes) == len(strides):
        raise ValueError(
            f"channels, kernel_sizes and strides must have the same length, got {channels}, {kernel_sizes}, {strides}"
        )
    activation = layers_util.check_activation(activation)
    batch_norm = validation.check_boolean("batch_norm", batch_norm)
    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    global_pooling = validation.check_choice("global_pooling", global_pooling, GLOBAL_POOLINGS)
    l2 = validation.check_number("l2", l2, minimum=0.0)

    input_shape = layers_util.check_input_rank(input_shape, (1, 2), "cnn1d")
    inputs = layers_util.inputs_for(input_shape)
    features = layers_util.as_signal(inputs)  # (batch, length, channels)
    for index, (count, kernel_size, stride) in enumerate(zip(channels, kernel_sizes, strides), start=1):
        features = layers_util.conv_unit(
            features, count, kernel_size, (f"conv{index}", f"conv{index}_bn", f"conv{index}_act"),
            activation=activation, strides=stride, batch_norm=batch_norm, l2=l2, rank=1,
        )
    if dropout_rate > 0:
        # Before the pooling, so that a GAP head still feeds "logits" directly.
        features = layers.Dropout(dropout_rate, name="dropout")(features)
    features = _gap_or_flatten(features, global_pooling, rank=1)
    outputs = heads.classifier_head(features, num_classes, kernel_regularizer=layers_util.regularizer(l2))
    return keras.Model(inputs, outputs, name="cnn1d")
