"""DCGAN generator and discriminator for small images (the 8x8 digits), optionally class-conditional.

Radford et al. 2016 (DCGAN): strided (transposed) convolutions instead of pooling, batch
normalization in the generator, LeakyReLU in the discriminator, ``tanh`` at the generator's
end. Here the ``tanh`` output is followed by a rescaling layer (``to_raw_units``) so that the
generator produces images in the dataset's raw value range (0-16 for digits), and the
discriminator's first layer maps raw values back to [-1, 1]: both networks take and give what
the dataset stores, like every dlzoo model.

Class-conditional (Mirza & Osindero 2014): the label is embedded and concatenated to the
noise in the generator, and given to the discriminator as an extra image channel.

Builders are registered in :mod:`dlzoo.models` as kind ``gan``, with the signature
``builder(image_shape, num_classes, raw_range, **options) -> (generator, discriminator)``;
their keyword options are the keys of a recipe's ``[model]`` table. Keras only (no TensorFlow):
the adversarial training step is :class:`dlzoo.training.steps.GenerativeAdversarialNetwork`.
"""


import keras
from keras import layers, ops

from dlzoo.core import validation
from dlzoo.models import get, register



@keras.saving.register_keras_serializable(package="dlzoo")
class MinibatchStddev(layers.Layer):
    """Appends one feature map: the standard deviation of the features across the batch, averaged.

    A stabilizer against mode collapse (Karras et al. 2018, "Progressive growing of GANs",
    section 3): a batch of near-identical fakes has a much smaller spread than a batch of real
    images, and this channel lets the discriminator see it, so the generator is pushed to vary.
    """

    def call(self, features):
        """``features`` (batch, height, width, channels) -> (batch, height, width, channels + 1)."""
        spread = ops.sqrt(ops.var(features, axis=0) + 1e-8)  # (height, width, channels)
        value = ops.mean(spread)
        shape = ops.shape(features)
        plane = ops.ones((shape[0], shape[1], shape[2], 1), dtype=features.dtype) * value
        return ops.concatenate([features, plane], axis=-1)

    def compute_output_shape(self, input_shape):
        """One more channel."""
        return (*input_shape[:-1], input_shape[-1] + 1)


def _check_image(image_shape):
    """The generator doubles 2x2... twice: sides must be multiples of 4."""
    if len(image_shape) != 3 or image_shape[0] % 4 or image_shape[1] % 4:
        raise ValueError(f"a DCGAN generates images (height, width, channels) with sides divisible by 4, "
                         f"got inputs of shape {tuple(image_shape)}")


def build_generator(image_shape, num_classes, raw_range, latent_dim, filters, conditional, embedding_dim):
    """``noise [, label] -> image`` in the raw range ``raw_range = (low, high)``."""
    height, width, channels = image_shape
    noise = keras.Input((latent_dim,), name="noise")
    inputs, features = [noise], noise
    if conditional:
        label = keras.Input((), dtype="int32", name="labels")
        embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
        features = layers.Concatenate(name="noise_and_label")([noise, embedded])
        inputs.append(label)
    features = layers.Dense((height // 4) * (width // 4) * filters[0], use_bias=False, name="project")(features)
    features = layers.BatchNormalization(name="project_bn")(features)
    features = layers.ReLU(name="project_relu")(features)
    features = layers.Reshape((height // 4, width // 4, filters[0]), name="to_feature_map")(features)
    for index, count in enumerate(filters[1:] + [filters[-1]]):
        features = layers.Conv2DTranspose(count, 4, strides=2, padding="same", use_bias=False,
                                          name=f"deconv_{index}")(features)  # doubles height and width
        features = layers.BatchNormalization(name=f"deconv_{index}_bn")(features)
        features = layers.ReLU(name=f"deconv_{index}_relu")(features)
    image = layers.Conv2D(channels, 3, padding="same", activation="tanh", name="tanh_image")(features)
    low, high = (float(value) for value in raw_range)
    # tanh in [-1, 1] -> [low, high]: the dataset's own values (digits: ink counts 0-16).
    image = layers.Rescaling((high - low) / 2, offset=(high + low) / 2, name="to_raw_units")(image)
    return keras.Model(inputs if conditional else noise, image, name="generator")


def build_discriminator(image_shape, num_classes, raw_range, filters, conditional, dropout_rate, minibatch_stddev=False):
    """``image [, label] -> logit`` (real: large, fake: small); raw images in."""
    image = keras.Input(image_shape, name="images")
    low, high = (float(value) for value in raw_range)
    features = layers.Rescaling(2 / (high - low), offset=-(high + low) / (high - low), name="to_tanh_range")(image)
    inputs = [image]
    if conditional:
        label = keras.Input((), dtype="int32", name="labels")
        plane = layers.Embedding(num_classes, image_shape[0] * image_shape[1], name="label_embedding")(label)
        plane = layers.Reshape((image_shape[0], image_shape[1], 1), name="label_plane")(plane)
        features = layers.Concatenate(name="image_and_label")([features, plane])
        inputs.append(label)
    for index, count in enumerate(filters):
        features = layers.Conv2D(count, 3, strides=2, padding="same", name=f"conv_{index}")(features)
        features = layers.LeakyReLU(0.2, name=f"conv_{index}_leaky_relu")(features)
    if minibatch_stddev:
        features = MinibatchStddev(name="minibatch_stddev")(features)
    features = layers.Flatten(name="flatten")(features)
    features = layers.Dropout(dropout_rate, name="dropout")(features)
    logit = layers.Dense(1, name="logit")(features)
    return keras.Model(inputs if conditional else image, logit, name="discriminator")


@register("dcgan", kind="gan")
def build_dcgan(image_shape, num_classes, raw_range, *, latent_dim=32, generator_filters=(128, 64),
                discriminator_filters=(64, 128), conditional=False, embedding_dim=16, dropout_rate=0.3, minibatch_stddev=False):
    """A DCGAN pair ``(generator, discriminator)`` for ``image_shape``; ``conditional`` adds class labels.

    ``minibatch_stddev`` gives the discriminator the batch's spread (:class:`MinibatchStddev`),
    the switch against mode collapse.
    """
    _check_image(image_shape)
    latent_dim = validation.check_integer("latent_dim", latent_dim, minimum=1)
    generator_filters = [validation.check_integer("generator_filters", count, minimum=1) for count in generator_filters]
    discriminator_filters = [validation.check_integer("discriminator_filters", count, minimum=1)
                             for count in discriminator_filters]
    if len(generator_filters) != 2 or len(discriminator_filters) != 2:
        raise ValueError("generator_filters and discriminator_filters list 2 filter counts (two stride-2 stages)")
    if conditional and num_classes < 2:
        raise ValueError(f"a conditional GAN needs class labels; the dataset has {num_classes} classes")
    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    generator = build_generator(image_shape, num_classes, raw_range, latent_dim, generator_filters, conditional,
                                embedding_dim)
    discriminator = build_discriminator(image_shape, num_classes, raw_range, discriminator_filters, conditional,
                                        dropout_rate, bool(minibatch_stddev))
    return generator, discriminator




def build(name, image_shape, num_classes, raw_range, **options):
    """``(generator, discriminator)`` of builder ``name``."""
    return get(name, kind="gan")(tuple(image_shape), int(num_classes), raw_range, **options)
