"""Residual networks for small images (He et al. 2016, section 4.2: the CIFAR-10 ResNets).

A ResNet of depth ``6n + 2`` is a 3x3 stem convolution, three stages of ``n`` basic blocks
with ``width``, ``2 * width`` and ``4 * width`` filters (the resolution halves at the start
of stages 2 and 3), then global average pooling and the classifier head. ResNet-20 is
``n = 3``, about 0.27M parameters for 10 classes.

A basic block computes ``relu(F(x) + shortcut(x))`` with ``F`` = conv3x3 -> BN -> ReLU ->
conv3x3 -> BN. The shortcut is the identity, or a 1x1 convolution with stride 2 and BN (a
*projection*, the paper's option B) where the block changes the shape.

Layer names: ``conv1``/``conv1_bn``/``conv1_relu`` (stem);
``stage{s}_block{b}_conv1``, ``_bn1``, ``_relu1``, ``_conv2``, ``_bn2``, ``_shortcut_conv``,
``_shortcut_bn``, ``_add``, ``_out`` (blocks); ``gap``, ``logits``, ``probabilities`` (head).
"""

import keras
from keras import layers

from dlzoo.core import validation
from dlzoo.models import heads, layers_util, register

STAGES = 3  # He et al.'s CIFAR networks have three stages


def _conv(features, filters, kernel_size, strides, name, batch_norm, l2):
    """A He-initialized convolution without bias when batch norm follows (BN's beta replaces it)."""
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=not batch_norm,
        kernel_initializer="he_normal",
        kernel_regularizer=layers_util.regularizer(l2),
        name=name,
    )(features)


def _normalize(features, name, batch_norm):
    """Batch normalization named ``name``, or the features unchanged when ``batch_norm`` is off."""
    return layers.BatchNormalization(name=name)(features) if batch_norm else features


def basic_block(features, filters, strides, prefix, batch_norm=True, l2=0.0):
    """One residual basic block: (batch, h, w, c) -> (batch, h / strides, w / strides, filters).

    Args:
        features: the block's input map.
        filters: filters of both 3x3 convolutions.
        strides: 1, or 2 to halve the resolution (first block of a stage).
        prefix: name prefix, e.g. ``"stage2_block1"``.
        batch_norm: batch normalization after each convolution.
        l2: L2 weight-decay factor of the kernels.
    """
    residual = _conv(features, filters, 3, strides, f"{prefix}_conv1", batch_norm, l2)
    residual = _normalize(residual, f"{prefix}_bn1", batch_norm)
    residual = layers.Activation("relu", name=f"{prefix}_relu1")(residual)
    residual = _conv(residual, filters, 3, 1, f"{prefix}_conv2", batch_norm, l2)
    residual = _normalize(residual, f"{prefix}_bn2", batch_norm)

    shortcut = features
    if strides != 1 or features.shape[-1] != filters:
        # Projection shortcut: a 1x1 convolution gives the identity path the new shape.
        shortcut = _conv(features, filters, 1, strides, f"{prefix}_shortcut_conv", batch_norm, l2)
        shortcut = _normalize(shortcut, f"{prefix}_shortcut_bn", batch_norm)
    merged = layers.Add(name=f"{prefix}_add")([residual, shortcut])
    return layers.Activation("relu", name=f"{prefix}_out")(merged)


def _check_depth(depth):
    """``depth`` must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...)."""
    depth = layers_util.check_size("depth", depth)
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got {depth}")
    return depth


@register("resnet")
def build_resnet(input_shape, num_classes, *, depth=20, width=16, batch_norm=True, l2=1e-4, input_size=None):
    """A CIFAR-style ResNet of ``depth`` = 6n + 2 layers (He et al. 2016).

    Args:
        input_shape: (height, width, channels) or (height, width).
        num_classes: number of classes.
        depth: 6n + 2 weighted layers: 20, 32, 44, 56, 110 in the paper (8 and 14 are fine too).
        width: filters of the first stage (16 in the paper); stages 2 and 3 have 2x and 4x.
        batch_norm: batch normalization after every convolution (switch off to see why it matters).
        l2: L2 weight-decay factor of every kernel (the paper's 1e-4).
        input_size: upsample images smaller than this side length inside the model (None: never).
            The default keeps the native size: 8x8 digits go 8 -> 4 -> 2 through the stages,
            which trains well and is 16x cheaper than upsampling to 32x32.
    """
    depth = _check_depth(depth)
    width = layers_util.check_size("width", width)
    batch_norm = validation.check_boolean("batch_norm", batch_norm)
    l2 = validation.check_number("l2", l2, minimum=0.0)
    input_size = layers_util.check_input_size(input_size)
    blocks_per_stage = (depth - 2) // 6

    input_shape = layers_util.check_input_rank(input_shape, (2, 3), "resnet")
    inputs = layers_util.inputs_for(input_shape)
    features = layers_util.upsample_to(layers_util.as_image(inputs), input_size)
    # 1. Stem: (batch, h, w, c) -> (batch, h, w, width)
    features = _conv(features, width, 3, 1, "conv1", batch_norm, l2)
    features = _normalize(features, "conv1_bn", batch_norm)
    features = layers.Activation("relu", name="conv1_relu")(features)
    # 2. Stages: (h, w, width) -> (h/2, w/2, 2 width) -> (h/4, w/4, 4 width)
    for stage in range(1, STAGES + 1):
        filters = width * 2 ** (stage - 1)
        for block in range(1, blocks_per_stage + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            features = basic_block(
                features, filters, strides, f"stage{stage}_block{block}", batch_norm=batch_norm, l2=l2
            )
    # 3. Head: global average pooling straight into the logits (a CAM head).
    features = layers.GlobalAveragePooling2D(name="gap")(features)
    outputs = heads.classifier_head(features, num_classes, kernel_regularizer=layers_util.regularizer(l2))
    return keras.Model(inputs, outputs, name=f"resnet{depth}")


@register("resnet20")
def build_resnet20(input_shape, num_classes, *, width=16, batch_norm=True, l2=1e-4, input_size=None):
    """ResNet-20 (He et al. 2016): :func:`build_resnet` with ``depth = 20``; same options otherwise."""
    return build_resnet(
        input_shape, num_classes, depth=20, width=width, batch_norm=batch_norm, l2=l2, input_size=input_size
    )
