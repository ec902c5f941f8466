"""A small U-Net: the fully convolutional encoder-decoder of semantic segmentation, in pure Keras 3.

U-Net (Ronneberger, Fischer & Brox 2015) answers with a class for every pixel. The *encoder*
is a classification CNN without its head: at each level two 3x3 convolutions, then 2x2 max
pooling halves the resolution and the next level doubles the filters. The *decoder* climbs
back: a 2x2 transposed convolution doubles the resolution, the *skip connection* concatenates
the encoder's feature map of the same resolution (the fine "where" that pooling threw away),
and two 3x3 convolutions mix both. A 1x1 convolution gives per-pixel ``logits`` and a softmax
the per-pixel ``probabilities``::

    (32, 32, 3) -> encoder_1 (32, 32, 16) ─────────────────────── skip_1 -> decoder_1 (32, 32, 16)
                     down_1 -> encoder_2 (16, 16, 32) ── skip_2 -> decoder_2 (16, 16, 32) ──┘ up_1
                                 down_2 -> bottleneck (8, 8, 64) ──┘ up_2

Having no dense layer, the network is *fully convolutional*: every output pixel is computed
from a neighbourhood of the input (its receptive field), with the same weights everywhere.

Builders are registered in :mod:`dlzoo.models` as kind ``segmentation`` (a segmenter has no
classifier head) with the signature
``builder(input_shape, num_classes, **options) -> keras.Model`` mapping ``(batch, height,
width, channels)`` to ``(batch, height, width, num_classes)`` probabilities; their keyword
options are the keys of a recipe's ``[model]`` table. This module imports ``keras`` only.
"""

import keras
from keras import layers

from dlzoo.core import validation
from dlzoo.models import get, register

LOGITS_LAYER = "logits"
PROBABILITIES_LAYER = "probabilities"


def convolution_block(features, filters, batch_norm, name):
    """Two 3x3 convolutions (same padding), each followed by batch normalization (optional) and ReLU."""
    for index in (1, 2):
        # A bias before batch normalization is cancelled by its centring: leave it out.
        features = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm,
                                 name=f"{name}_conv{index}")(features)
        if batch_norm:
            features = layers.BatchNormalization(name=f"{name}_bn{index}")(features)
        features = layers.Activation("relu", name=f"{name}_relu{index}")(features)
    return features


def check_input_shape(input_shape, levels):
    """Images ``(height, width, channels)`` whose sides can be halved ``levels - 1`` times."""
    if len(input_shape) != 3:
        raise ValueError(f"a U-Net takes images (height, width, channels), got inputs of shape {tuple(input_shape)}")
    factor = 2 ** (levels - 1)
    height, width = input_shape[:2]
    if height % factor or width % factor:
        raise ValueError(f"filters has {levels} levels, so the image sides must be multiples of {factor}; "
                         f"got {height}x{width}")


@register("unet", kind="segmentation")
def build_unet(input_shape, num_classes, *, filters=(16, 32, 64), batch_norm=True, dropout_rate=0.0,
               skip_connections=True):
    """A U-Net with ``len(filters)`` resolution levels: ``filters[-1]`` is the bottleneck.

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: pixel classes (2: background and object).
        filters: filters of each level's convolutions, from full resolution down to the bottleneck.
        batch_norm: batch normalization after every 3x3 convolution.
        dropout_rate: dropout on the bottleneck's features (0: none).
        skip_connections: concatenate the encoder's maps into the decoder (false: a plain
            encoder-decoder, which must rebuild the object's outline from the bottleneck alone).
    """
    filters = [validation.check_integer("filters", value, minimum=1) for value in filters]
    if len(filters) < 2:
        raise ValueError(f"filters needs at least two levels (one pooling step), got {filters}")
    validation.check_integer("num_classes", num_classes, minimum=2)
    validation.check_fraction("dropout_rate", dropout_rate)
    validation.check_boolean("batch_norm", batch_norm)
    validation.check_boolean("skip_connections", skip_connections)
    check_input_shape(input_shape, len(filters))

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    features, skips = inputs, []
    for level, width in enumerate(filters[:-1], start=1):  # the encoder
        features = convolution_block(features, width, batch_norm, f"encoder_{level}")
        skips.append(features)  # (batch, height / 2**(level-1), width / 2**(level-1), width)
        features = layers.MaxPooling2D(2, name=f"down_{level}")(features)
    features = convolution_block(features, filters[-1], batch_norm, "bottleneck")
    if dropout_rate:
        features = layers.Dropout(dropout_rate, name="bottleneck_dropout")(features)
    for level in range(len(filters) - 1, 0, -1):  # the decoder, back up to full resolution
        features = layers.Conv2DTranspose(filters[level - 1], 2, strides=2, name=f"up_{level}")(features)
        if skip_connections:
            features = layers.Concatenate(name=f"skip_{level}")([features, skips[level - 1]])
        features = convolution_block(features, filters[level - 1], batch_norm, f"decoder_{level}")
    logits = layers.Conv2D(num_classes, 1, name=LOGITS_LAYER)(features)  # (batch, height, width, classes)
    # float32 even under mixed precision, as the classifier head: probabilities for every client.
    probabilities = layers.Activation("softmax", dtype="float32", name=PROBABILITIES_LAYER)(logits)
    return keras.Model(inputs, probabilities, name="unet")




def build(name, input_shape, num_classes, **options):
    """Build segmentation model ``name`` for images of ``input_shape`` and ``num_classes`` pixel classes."""
    return get(name, kind="segmentation")(tuple(input_shape), int(num_classes), **options)
