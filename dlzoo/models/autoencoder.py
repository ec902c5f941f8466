"""Autoencoders: linear (PCA), dense, convolutional, denoising and variational, in pure Keras 3.

Every autoencoder here is three functional models that share layers::

    encoder:      raw inputs (e.g. digits pixels 0-16) -> latent vector z          (named "encoder")
    decoder:      z -> reconstruction in the raw value range                        (named "decoder")
    autoencoder:  raw inputs -> [noise, training only] -> encoder -> decoder        (the run's model)

The raw values are *centred* inside the encoder (the training split's mean image is
subtracted) and divided by one number (the largest raw value, 16 for digits); the decoder
undoes both. One scale for every pixel keeps the geometry of pixel space, so the subspace a
linear autoencoder learns can be compared with scikit-learn's PCA fitted on the raw pixels
(Baldi & Hornik 1989: same subspace, not the same axes). Per-pixel standardization would
change that geometry, so it is not used here.

Builders are registered in :mod:`dlzoo.models` as kind ``autoencoder`` (an autoencoder has no
classifier head) with the signature
``builder(input_shape, mean_image, scale, **options) -> (autoencoder, encoder, decoder)``;
their keyword options are the keys of a recipe's ``[model]`` table.

This module imports ``keras`` only (no TensorFlow): the VAE's training step, which needs
``tf.GradientTape``, lives in :mod:`dlzoo.training.steps`.
"""


import keras
import numpy as np
from keras import layers, ops

from dlzoo.core import validation
from dlzoo.models import get, register
from dlzoo.models.layers_util import check_sizes

NOISE_TYPES = ("none", "gaussian", "masking")


@keras.saving.register_keras_serializable(package="dlzoo")
class RandomMasking(layers.Layer):
    """Masking noise: each input value is set to 0 with probability ``rate``, in training only.

    Zero is the background of the raw digits (no ink), so a masked pixel looks like missing ink,
    the corruption of Vincent et al. 2008. At inference the layer passes inputs through.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = validation.check_fraction("rate", rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        """``inputs`` with a random ``rate`` of its values set to 0 when ``training``."""
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def get_config(self):
        """The layer's arguments, for ``model.keras``."""
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="dlzoo")
class RandomGaussianNoise(layers.Layer):
    """Additive Gaussian noise of standard deviation ``stddev`` in the inputs' own units, in training only.

    Keras's ``GaussianNoise`` accepts only ``stddev <= 1``; raw digits pixels run from 0 to 16,
    so their noise is several ink levels wide.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = validation.check_number("stddev", stddev, minimum=0.0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        """``inputs`` plus N(0, stddev^2) noise when ``training``."""
        if not training or self.stddev == 0:
            return inputs
        return inputs + self.stddev * keras.random.normal(ops.shape(inputs), seed=self.seed_generator)

    def get_config(self):
        """The layer's arguments, for ``model.keras``."""
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="dlzoo")
class Sampling(layers.Layer):
    """The VAE's reparameterization ``z = mean + exp(log_var / 2) * epsilon``, epsilon ~ N(0, I).

    Sampling this way keeps ``z`` differentiable in ``mean`` and ``log_var`` (Kingma & Welling 2014).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        """``inputs = [mean, log_var]`` (batch, latent) -> a sample z of the same shape."""
        mean, log_variance = inputs
        epsilon = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_variance) * epsilon

    def get_config(self):
        """The layer's arguments, for ``model.keras``."""
        return {**super().get_config(), "seed": self.seed}


def centring_layers(input_shape, mean_image, scale):
    """``(to_model_units, to_raw_units)``: ``(x - mean) / scale`` and its inverse, as Normalization layers."""
    mean_image = np.asarray(mean_image, dtype="float32").reshape(input_shape)
    variance = np.full(input_shape, float(scale) ** 2, dtype="float32")
    axes = tuple(range(1, len(input_shape) + 1))  # one statistic per input value (pixel)
    to_model = layers.Normalization(axis=axes, mean=mean_image, variance=variance, name="centre_and_scale")
    to_raw = layers.Normalization(axis=axes, mean=mean_image, variance=variance, invert=True, name="to_raw_units")
    return to_model, to_raw


def noise_layer(noise, noise_level, scale, seed):
    """The corruption of a denoising autoencoder (active in training only), or None.

    ``noise_level`` is a standard deviation in units of ``scale`` for Gaussian noise (0.25 on
    digits: 4 ink levels of 16) and the fraction of values set to 0 for masking noise.
    """
    if noise not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {', '.join(NOISE_TYPES)}, got {noise!r}")
    if noise == "none" or noise_level == 0:
        return None
    if noise == "gaussian":
        return RandomGaussianNoise(float(noise_level) * float(scale), seed=seed, name="gaussian_noise")
    return RandomMasking(float(noise_level), seed=seed, name="masking_noise")


def assemble(input_shape, encoder, decoder, noise="none", noise_level=0.0, scale=1.0, seed=0, name="autoencoder"):
    """The autoencoder ``raw -> [noise] -> encoder -> decoder`` (a VAE's encoder gives its mean first)."""
    inputs = keras.Input(input_shape, name="inputs")
    features = inputs
    corruption = noise_layer(noise, noise_level, scale, seed)
    if corruption is not None:
        features = corruption(features)
    latent = encoder(features)
    if isinstance(latent, (list, tuple)):
        latent = latent[0]  # a VAE reconstructs from the posterior mean at inference
    return keras.Model(inputs, decoder(latent), name=name)


def _check_latent(latent_dim):
    return validation.check_integer("latent_dim", latent_dim, minimum=1)


@register("linear", kind="autoencoder")
def build_linear(input_shape, mean_image, scale, *, latent_dim=10, noise="none", noise_level=0.0, seed=0):
    """The linear undercomplete autoencoder: ``z = W_e x + b_e``, ``x_hat = W_d z + b_d``, no activation.

    Trained with the squared error it learns PCA's principal subspace (Baldi & Hornik 1989):
    the rows of ``W_d`` (the decoder's basis images, layer ``decoder_basis``) span the same
    subspace as the first ``latent_dim`` principal components, but are not those components.
    """
    latent_dim = _check_latent(latent_dim)
    size = int(np.prod(input_shape))
    to_model, to_raw = centring_layers(input_shape, mean_image, scale)
    raw = keras.Input(input_shape, name="inputs")
    flat = layers.Flatten(name="flatten")(to_model(raw))
    encoder = keras.Model(raw, layers.Dense(latent_dim, name="latent")(flat), name="encoder")
    latent = keras.Input((latent_dim,), name="latent")
    image = layers.Reshape(input_shape, name="to_image")(layers.Dense(size, name="decoder_basis")(latent))
    decoder = keras.Model(latent, to_raw(image), name="decoder")
    return assemble(input_shape, encoder, decoder, noise, noise_level, scale, seed), encoder, decoder


@register("dense", kind="autoencoder")
def build_dense(input_shape, mean_image, scale, *, latent_dim=2, hidden_units=(128, 64), activation="relu",
                noise="none", noise_level=0.0, seed=0):
    """A deep fully-connected autoencoder: mirrored hidden layers around a small code."""
    latent_dim = _check_latent(latent_dim)
    hidden_units = [validation.check_integer("hidden_units", units, minimum=1) for units in hidden_units]
    size = int(np.prod(input_shape))
    to_model, to_raw = centring_layers(input_shape, mean_image, scale)
    raw = keras.Input(input_shape, name="inputs")
    features = layers.Flatten(name="flatten")(to_model(raw))
    for index, units in enumerate(hidden_units):
        features = layers.Dense(units, activation=activation, name=f"encoder_dense_{index}")(features)
    encoder = keras.Model(raw, layers.Dense(latent_dim, name="latent")(features), name="encoder")
    latent = keras.Input((latent_dim,), name="latent")
    features = latent
    for index, units in enumerate(reversed(hidden_units)):
        features = layers.Dense(units, activation=activation, name=f"decoder_dense_{index}")(features)
    image = layers.Reshape(input_shape, name="to_image")(layers.Dense(size, name="reconstruction")(features))
    decoder = keras.Model(latent, to_raw(image), name="decoder")
    return assemble(input_shape, encoder, decoder, noise, noise_level, scale, seed), encoder, decoder


def _check_image(input_shape, name):
    """Convolutional autoencoders halve the image twice: height and width must be multiples of 4."""
    if len(input_shape) != 3 or input_shape[0] % 4 or input_shape[1] % 4:
        raise ValueError(f"model '{name}' takes images (height, width, channels) with sides divisible by 4, "
                         f"got inputs of shape {tuple(input_shape)}")


def _check_conv_filters(filters):
    """The two stages' filter counts: the decoder mirrors exactly two stride-2 stages (h/4 back to h)."""
    filters = check_sizes("filters", filters)
    if len(filters) != 2:
        raise ValueError(f"filters must list 2 filter counts (one per stride-2 stage), got {filters}")
    return filters


def _conv_encoder_body(features, filters, activation):
    """Two stride-2 convolutions: (h, w, c) -> (h/4, w/4, filters[1]), flattened."""
    for index, count in enumerate(filters):
        features = layers.Conv2D(count, 3, strides=2, padding="same", activation=activation,
                                 name=f"encoder_conv_{index}")(features)
    return layers.Flatten(name="encoder_flatten")(features)


def _conv_decoder_body(latent, input_shape, filters, activation):
    """Mirror of :func:`_conv_encoder_body`: z -> (h/4, w/4, filters[1]) -> two transposed convolutions."""
    height, width, channels = input_shape
    features = layers.Dense((height // 4) * (width // 4) * filters[-1], activation=activation,
                            name="decoder_dense")(latent)
    features = layers.Reshape((height // 4, width // 4, filters[-1]), name="decoder_reshape")(features)
    for index, count in enumerate(reversed(filters)):
        features = layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation=activation,
                                          name=f"decoder_deconv_{index}")(features)
    return layers.Conv2D(channels, 3, padding="same", name="reconstruction")(features)


@register("conv", kind="autoencoder")
def build_conv(input_shape, mean_image, scale, *, latent_dim=2, filters=(32, 64), activation="relu",
               noise="none", noise_level=0.0, seed=0):
    """A convolutional autoencoder: two stride-2 convolutions, a dense code, two transposed convolutions."""
    _check_image(input_shape, "conv")
    latent_dim = _check_latent(latent_dim)
    filters = _check_conv_filters(filters)
    to_model, to_raw = centring_layers(input_shape, mean_image, scale)
    raw = keras.Input(input_shape, name="inputs")
    features = _conv_encoder_body(to_model(raw), filters, activation)
    encoder = keras.Model(raw, layers.Dense(latent_dim, name="latent")(features), name="encoder")
    latent = keras.Input((latent_dim,), name="latent")
    decoder = keras.Model(latent, to_raw(_conv_decoder_body(latent, input_shape, filters, activation)), name="decoder")
    return assemble(input_shape, encoder, decoder, noise, noise_level, scale, seed), encoder, decoder


@register("vae", kind="autoencoder")
def build_vae(input_shape, mean_image, scale, *, latent_dim=2, filters=(32, 64), activation="relu", seed=0):
    """A convolutional variational autoencoder: the encoder gives ``[z_mean, z_log_var]``.

    The model returned first reconstructs from ``z_mean`` (inference); training samples z with
    :class:`Sampling` and adds the KL term (:class:`dlzoo.training.steps.VariationalAutoencoder`).
    """
    _check_image(input_shape, "vae")
    latent_dim = _check_latent(latent_dim)
    filters = _check_conv_filters(filters)
    to_model, to_raw = centring_layers(input_shape, mean_image, scale)
    raw = keras.Input(input_shape, name="inputs")
    features = _conv_encoder_body(to_model(raw), filters, activation)
    z_mean = layers.Dense(latent_dim, name="z_mean")(features)
    z_log_var = layers.Dense(latent_dim, name="z_log_var", kernel_initializer="zeros")(features)
    encoder = keras.Model(raw, [z_mean, z_log_var], name="encoder")
    latent = keras.Input((latent_dim,), name="latent")
    decoder = keras.Model(latent, to_raw(_conv_decoder_body(latent, input_shape, filters, activation)), name="decoder")
    return assemble(input_shape, encoder, decoder, scale=scale, seed=seed, name="vae"), encoder, decoder


def build(name, input_shape, mean_image, scale, **options):
    """``(autoencoder, encoder, decoder)`` of builder ``name`` for inputs of ``input_shape``."""
    return get(name, kind="autoencoder")(tuple(input_shape), mean_image, scale, **options)
