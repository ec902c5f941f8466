"""Training steps of the generative models: a VAE and a GAN, each a ``keras.Model`` with its own ``train_step``.

Their networks are pure Keras functional models from :mod:`dlzoo.models.autoencoder` and
:mod:`dlzoo.models.gan`; what lives here is the algorithm, which needs ``tf.GradientTape``
(so this module is TensorFlow-specific and stays outside :mod:`dlzoo.models`), in the style of
the keras-io examples ``vae.py`` and ``dcgan_overriding_train_step.py``. Both train through
:func:`dlzoo.training.fit` like every other model (history, checkpoints, guards).

What a run saves as ``model.keras`` is the inference network (the VAE's autoencoder, the GAN's
generator), not these training wrappers.
"""

import math

import keras
import tensorflow as tf

GENERATOR_LOSSES = ("non-saturating", "minimax")


class VariationalAutoencoder(keras.Model):
    """A VAE trained on the negative ELBO, with its two terms logged separately.

    The decoder's likelihood is a Gaussian with fixed standard deviation ``decoder_std`` on
    inputs divided by ``scale`` (digits: 0-16 -> 0-1), so per example

        reconstruction_loss = sum over pixels of (x - x_hat)^2 / (2 decoder_std^2)
        kl_loss             = KL(N(mean, exp(log_var)) || N(0, I))
                            = -1/2 sum(1 + log_var - mean^2 - exp(log_var))
        loss = reconstruction_loss + kl_loss      (= -ELBO up to the constant D/2 log(2 pi std^2))
    """

    def __init__(self, encoder, decoder, scale, decoder_std=0.1, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.scale, self.decoder_std = float(scale), float(decoder_std)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction_loss", "kl_loss")}

    @property
    def metrics(self):
        """The trackers Keras resets at the start of each epoch."""
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        """Reconstruction from the posterior mean (what inference uses)."""
        z_mean, _ = self.encoder(inputs, training=training)
        return self.decoder(z_mean, training=training)

    def losses_of(self, inputs, training):
        """``(loss, reconstruction_loss, kl_loss)``, each the mean over the batch of a per-example sum."""
        z_mean, z_log_var = self.encoder(inputs, training=training)
        epsilon = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
        z = z_mean + tf.exp(0.5 * z_log_var) * epsilon  # the reparameterization trick
        reconstruction = self.decoder(z, training=training)
        error = tf.reshape((inputs - reconstruction) / self.scale, (tf.shape(inputs)[0], -1))
        reconstruction_loss = tf.reduce_mean(tf.reduce_sum(tf.square(error), axis=1)) / (2 * self.decoder_std ** 2)
        kl_loss = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1))
        return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss

    def record(self, values):
        """Update the trackers and return the logs."""
        for tracker, value in zip(self.trackers.values(), values):
            tracker.update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        """One gradient step on the negative ELBO of a batch of ``(inputs, _)``."""
        inputs = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            values = self.losses_of(inputs, training=True)
        gradients = tape.gradient(values[0], self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.record(values)

    def test_step(self, data):
        """The same terms on validation data (one sample of z per example)."""
        inputs = data[0] if isinstance(data, tuple) else data
        return self.record(self.losses_of(inputs, training=False))

    def log_likelihood_constant(self, input_size):
        """``D/2 log(2 pi std^2)``: add it to ``loss`` for the exact negative ELBO in nats (scaled inputs)."""
        return 0.5 * input_size * math.log(2 * math.pi * self.decoder_std ** 2)


class GenerativeAdversarialNetwork(keras.Model):
    """A (conditional) GAN: a discriminator step, then a generator step, per batch.

    Args:
        generator: ``noise -> images`` (conditional: ``[noise, labels] -> images``), raw values.
        discriminator: ``images -> logit`` (conditional: ``[images, labels] -> logit``).
        latent_dim: size of the noise vector.
        conditional: whether both networks take the class label.
        label_smoothing: one-sided label smoothing: real images get target ``1 - label_smoothing``
            (Salimans et al. 2016); fakes keep 0.
        instance_noise: standard deviation (in raw units) of Gaussian noise added to every image
            the discriminator sees (real and fake), so their distributions overlap (Sønderby et al. 2017).
        generator_loss: ``"non-saturating"`` (maximize log D(G(z))) or ``"minimax"`` (minimize
            log(1 - D(G(z))), whose gradient vanishes when the discriminator wins: the lesson of
            Goodfellow et al. 2014, section 3).
    """

    def __init__(self, generator, discriminator, latent_dim, conditional=False, num_classes=0, label_smoothing=0.0,
                 instance_noise=0.0, generator_loss="non-saturating", seed=0, **kwargs):
        super().__init__(**kwargs)
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {', '.join(GENERATOR_LOSSES)}, got {generator_loss!r}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.conditional, self.num_classes = int(latent_dim), bool(conditional), int(num_classes)
        self.label_smoothing, self.instance_noise = float(label_smoothing), float(instance_noise)
        self.generator_loss_kind = generator_loss
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "discriminator_loss", "generator_loss", "real_score", "fake_score",
                          "discriminator_gradient_norm", "generator_gradient_norm")}

    def compile(self, generator_optimizer, discriminator_optimizer):
        """Two optimizers, one per network (the platform's checkpoints save both)."""
        super().compile()
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer

    def optimizers_to_checkpoint(self):
        """Both optimizers and the weights each updates: checkpoints save, and ``--resume``
        restores, their moments and step counts (:func:`dlzoo.training.callbacks.atomic_checkpoint.checkpointed_optimizers`)."""
        return {"generator": (self.generator_optimizer, self.generator.trainable_weights),
                "discriminator": (self.discriminator_optimizer, self.discriminator.trainable_weights)}

    @property
    def metrics(self):
        """The trackers Keras resets at the start of each epoch."""
        return list(self.trackers.values())

    def generator_is_averaged(self):
        """True when the generator's optimizer keeps a moving average of its weights (``use_ema``)."""
        return bool(getattr(self.generator_optimizer, "use_ema", False))

    def use_averaged_generator(self):
        """Replace the generator's weights by the moving average its optimizer kept, if it kept one.

        An exponential moving average of the generator's weights over the last steps
        (Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training"; used by
        ProGAN, StyleGAN, BigGAN) draws better and steadier samples than the last step's weights:
        a GAN's generator keeps circling around the equilibrium (one epoch it under-draws one
        class, the next another), and the average sits nearer the middle. Keras's optimizers keep
        the average themselves (``use_ema = true``, ``ema_momentum``); ``fit`` copies it in at the
        end only for ``model.optimizer``, which a GAN does not have, so the task calls this.
        Batch-normalization statistics are not trainable weights: they stay those of the last
        steps, as StyleGAN does with its buffers. Returns whether the weights were replaced.
        """
        if not self.generator_is_averaged():
            return False
        self.generator_optimizer.finalize_variable_values(self.generator.trainable_weights)
        return True

    def call(self, inputs, training=False):
        """Images from noise (``[noise, labels]`` when conditional)."""
        return self.generator(inputs, training=training)

    def generator_inputs(self, noise, labels):
        """What the generator takes: the noise, with the labels when conditional."""
        return [noise, labels] if self.conditional else noise

    def discriminate(self, images, labels, training):
        """Discriminator logits of ``images`` (with instance noise in training)."""
        if training and self.instance_noise > 0:
            images = images + self.instance_noise * keras.random.normal(tf.shape(images), seed=self.seed_generator)
        return self.discriminator([images, labels] if self.conditional else images, training=training)

    def train_step(self, data):
        """Update the discriminator on real and fake images, then the generator through it."""
        real, labels = data if isinstance(data, tuple) else (data, None)
        batch = tf.shape(real)[0]
        if self.conditional:
            labels = tf.cast(tf.reshape(labels, (-1,)), "int32")
        # 1. Discriminator: real -> (1 - smoothing), fake -> 0.
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(self.generator_inputs(noise, labels), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminate(real, labels, training=True)
            fake_logits = self.discriminate(fake, labels, training=True)
            discriminator_loss = (self.cross_entropy(tf.ones_like(real_logits) * (1 - self.label_smoothing), real_logits)
                                  + self.cross_entropy(tf.zeros_like(fake_logits), fake_logits))
        weights = self.discriminator.trainable_weights
        discriminator_gradients = tape.gradient(discriminator_loss, weights)
        self.discriminator_optimizer.apply_gradients(zip(discriminator_gradients, weights))
        # 2. Generator: fresh noise, through the updated discriminator.
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminate(self.generator(self.generator_inputs(noise, labels), training=True),
                                            labels, training=True)
            if self.generator_loss_kind == "non-saturating":
                generator_loss = self.cross_entropy(tf.ones_like(fake_logits), fake_logits)  # -log D(G(z))
            else:
                generator_loss = -self.cross_entropy(tf.zeros_like(fake_logits), fake_logits)  # log(1 - D(G(z)))
        weights = self.generator.trainable_weights
        generator_gradients = tape.gradient(generator_loss, weights)
        self.generator_optimizer.apply_gradients(zip(generator_gradients, weights))
        # The gradient norms are the lesson of the minimax loss: when the discriminator wins,
        # log(1 - D(G(z))) is flat and the generator's gradient vanishes (history.csv shows it).
        values = (discriminator_loss + generator_loss, discriminator_loss, generator_loss,
                  tf.reduce_mean(tf.sigmoid(real_logits)), tf.reduce_mean(tf.sigmoid(fake_logits)),
                  tf.linalg.global_norm(discriminator_gradients), tf.linalg.global_norm(generator_gradients))
        for tracker, value in zip(self.trackers.values(), values):
            tracker.update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}
