"""The ``autoencode`` task: learn to reconstruct the inputs through a small code (no labels used).

One task, four lessons, chosen by ``[model] name`` (builders in :mod:`dlzoo.models.autoencoder`):

* ``linear``: the linear undercomplete autoencoder. It learns PCA's principal subspace, not
  PCA's axes (Baldi & Hornik 1989). The run fits scikit-learn's ``PCA`` on the same training
  split and reports the largest principal angle between the two subspaces
  (``principal_angle_max_degrees``, SciPy's ``subspace_angles``) and the test reconstruction
  error relative to PCA's (``mse_ratio_to_pca``), for the recipe's ``latent_dim`` and for the
  extra sizes in ``autoencode.pca_latent_sizes``.
* ``dense`` / ``conv``: deep autoencoders; with ``noise = "gaussian"`` or ``"masking"`` they
  are *denoising* autoencoders (Vincent et al. 2008): corrupted inputs in, clean targets out.
  The run sweeps noise levels and reports PSNR and SSIM (``tf.image.psnr``/``tf.image.ssim``)
  of the noisy input, the denoised output and two classical baselines (a 3x3 median filter and
  a projection on the clean data's leading principal components).
* ``vae``: a variational autoencoder (:class:`dlzoo.training.steps.VariationalAutoencoder`): the
  history holds ``reconstruction_loss`` and ``kl_loss`` separately. The run reports
  ``test_elbo`` (the ELBO in nats, a bound on the log-density of the inputs scaled to [0, 1]:
  it can be positive, and 0 is the log-density of a uniform distribution on [0, 1]^D) and
  ``test_vae_loss`` (the training loss, reconstruction + KL: the negative ELBO without the
  Gaussian's constant, which does not depend on the weights). With ``autoencode.samples > 0``
  the run also judges that many samples of the prior like a GAN's (:mod:`dlzoo.metrics.samples`:
  a classifier trained in the run gives class coverage and the Fréchet distance to real test
  images, beside real-vs-real and noise-vs-real). With ``autoencode.mixture_components = K``
  as many samples of a K-component Gaussian mixture fitted to the training codes are judged
  beside them (``mixture_min_class_fraction``, ...): the same decoder, codes drawn where the
  data's codes are rather than from N(0, I).

Labels are never used for training: they only colour the pictures of the latent space.
``model.keras`` is the inference autoencoder; the SavedModel has three endpoints taking raw
values: ``serve`` (inputs -> reconstruction and latent), ``encode`` and ``decode``.
"""

import dataclasses
import time
import warnings

import numpy as np

from dlzoo.plots import figures
from dlzoo.plots import curves
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core import validation
from dlzoo.core.errors import RunFailed, UsageError
from dlzoo.metrics import samples as sample_quality
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

AUTOENCODE_DEFAULTS = {
    "pca_latent_sizes": [2, 5, 20],  # linear model: more PCA comparisons (full runs only)
    "noise_levels": [0.1, 0.2, 0.3, 0.4, 0.5],  # the denoising sweep (fractions of the value range / of pixels)
    "decoder_std": 0.1,  # the VAE's Gaussian likelihood, on inputs scaled to [0, 1]
    "pca_baseline_components": [5, 10, 15, 20, 30],  # candidates for the PCA-projection baseline
    "samples": 0,  # VAE: samples of the prior judged by a classifier (0: not judged; needs class labels)
    # VAE with judged samples: also judge as many samples of a Gaussian mixture of this many components
    # fitted to the training images' codes (ex-post density estimation; 0: the prior only)
    "mixture_components": 0,
    **sample_quality.SCORER_DEFAULTS,  # that judge: its scorer_* keys
}
# Judged beside the prior's samples, in metrics.json with a prefix: reconstruction_min_class_fraction
# (the decoder on training images' codes: what no sampling of codes can beat), mixture_... (samples
# of the mixture fitted to the codes, with autoencode.mixture_components).
BESIDE_PRIOR_METRICS = ("min_class_fraction", "classes_covered", "frechet_distance", "frechet_position")
# SSIM's Gaussian window must fit in the image: 8x8 digits take a 5x5 window (sigma 1).
SSIM_FILTER_SIZE = 5
SSIM_FILTER_SIGMA = 1.0
EVALUATION_SEED = 1234  # the noise added to validation / test images for the denoising metrics


@dataclasses.dataclass
class PreparedAutoencoder:
    """What an autoencoder run needs, checked and ready."""

    config: dict
    splits: object
    settings: dict
    trainer: object  # what fit() trains: the autoencoder, or the VAE wrapper
    autoencoder: object
    encoder: object
    decoder: object
    scale: float
    quick: bool


def settings_of(config):
    """The ``[autoencode]`` table with its defaults filled in."""
    return {**AUTOENCODE_DEFAULTS, **config.get("autoencode", {})}


def model_options(config, seed):
    """The ``[model]`` keys as builder options, checked against the builder's signature."""
    from dlzoo import models

    options = {key: value for key, value in config["model"].items() if key != "name"}
    if "seed" in models.check_options(config["model"], kind="autoencoder"):
        options.setdefault("seed", seed)  # the noise and sampling layers follow the run's seed
    return options


def raw_scale(x_train):
    """The largest absolute raw training value (16 for digits): the autoencoders' unit."""
    return float(max(np.max(np.abs(x_train)), 1e-6))


def build_autoencoder(config, splits, seed):
    """``(autoencoder, encoder, decoder, scale)`` for ``splits``; a shape that does not fit is a usage error."""
    from dlzoo.models import autoencoder

    options = model_options(config, seed)
    scale = raw_scale(splits.x_train)
    try:
        built = autoencoder.build(config["model"]["name"], splits.input_shape, splits.x_train.mean(axis=0), scale,
                                  **options)
    except (ValueError, TypeError) as error:
        raise UsageError(f"dataset {splits.name} (inputs {splits.input_shape}) does not fit autoencoder "
                         f"'{config['model']['name']}': {str(error).splitlines()[0]}") from error
    return (*built, scale)


def is_vae(config):
    """True for the variational autoencoder (trained on the ELBO, not the squared error)."""
    return config["model"]["name"] == "vae"


def judges_samples(config):
    """True for a VAE whose prior samples are scored by a judge classifier (``autoencode.samples > 0``)."""
    return is_vae(config) and settings_of(config)["samples"] > 0


def judges_mixture_samples(config):
    """True for a VAE whose samples of a mixture fitted to its codes are judged too
    (``autoencode.mixture_components > 0``)."""
    return judges_samples(config) and settings_of(config)["mixture_components"] > 0


def noise_of(config):
    """``(noise type, level)`` of a denoising autoencoder, ``("none", 0)`` otherwise."""
    return config["model"].get("noise", "none"), float(config["model"].get("noise_level", 0.0))


def predict(model, inputs):
    """Model outputs as a NumPy array, in batches (inference mode)."""
    return np.asarray(model.predict(inputs, batch_size=256, verbose=0))


def latents(encoder, inputs):
    """The code of ``inputs``: the encoder's output (a VAE's posterior mean)."""
    output = encoder.predict(inputs, batch_size=256, verbose=0)
    return np.asarray(output[0] if isinstance(output, (list, tuple)) else output)


# Image-quality measures ----------------------------------------------------------------------

def corrupt(images, noise, level, scale, seed=EVALUATION_SEED):
    """``images`` with seeded noise: Gaussian (std ``level * scale``) or masking (``level`` of pixels set to 0)."""
    rng = np.random.default_rng(seed)
    if noise == "gaussian":
        return (images + rng.normal(0.0, level * scale, size=images.shape)).astype("float32")
    if noise == "masking":
        return np.where(rng.uniform(size=images.shape) >= level, images, 0.0).astype("float32")
    raise ValueError(f"noise must be gaussian or masking, got {noise!r}")


def psnr_and_ssim(images, references, scale):
    """Mean PSNR (dB) and SSIM of ``images`` against ``references``, with TensorFlow's own functions.

    Both are clipped to the valid range ``[0, scale]`` first (pixel values outside it do not exist).
    """
    import tensorflow as tf

    images = tf.clip_by_value(tf.constant(images, tf.float32), 0.0, scale)
    references = tf.clip_by_value(tf.constant(references, tf.float32), 0.0, scale)
    psnr = tf.image.psnr(images, references, max_val=scale)
    ssim = tf.image.ssim(images, references, max_val=scale, filter_size=SSIM_FILTER_SIZE,
                         filter_sigma=SSIM_FILTER_SIGMA)
    # A perfect copy has infinite PSNR; cap it so that means stay finite.
    return float(np.mean(np.minimum(psnr.numpy(), 100.0))), float(np.mean(ssim.numpy()))


def median_filter(images):
    """The classical denoiser: a 3x3 median filter on each image (channels separately)."""
    from scipy import ndimage

    return ndimage.median_filter(images, size=(1, 3, 3, 1), mode="nearest").astype("float32")


def pca_projection(x_train, components):
    """``denoise(images)``: projection on the first ``components`` principal components of clean training images."""
    from sklearn.decomposition import PCA

    flat = x_train.reshape(len(x_train), -1)
    pca = PCA(min(components, flat.shape[1], len(flat))).fit(flat)

    def denoise(images):
        projected = pca.inverse_transform(pca.transform(images.reshape(len(images), -1)))
        return projected.reshape(images.shape).astype("float32")

    return denoise


def pca_baseline(splits, noise, level, scale, candidates):
    """The PCA-projection denoiser whose component count gives the best validation PSNR, and that count."""
    x_val, _ = splits.arrays("val")
    noisy = corrupt(x_val, noise, level, scale)
    best = None
    for components in candidates:
        denoise = pca_projection(splits.x_train, components)
        psnr, _ = psnr_and_ssim(denoise(noisy), x_val, scale)
        if best is None or psnr > best[0]:
            best = (psnr, components, denoise)
    return best[2], best[1]


def denoising_table(autoencoder, splits, noise, levels, scale, candidates):
    """Per noise level: PSNR and SSIM of noisy / denoised / median / PCA-projection images on the test split."""
    x_test, _ = splits.arrays("test")
    rows = []
    for level in levels:
        noisy = corrupt(x_test, noise, level, scale)
        pca_denoise, components = pca_baseline(splits, noise, level, scale, candidates)
        row = {"noise": noise, "level": float(level), "pca_components": int(components)}
        for name, images in (("noisy", noisy), ("denoised", predict(autoencoder, noisy)),
                             ("median", median_filter(noisy)), ("pca", pca_denoise(noisy))):
            row[f"{name}_psnr"], row[f"{name}_ssim"] = psnr_and_ssim(images, x_test, scale)
        rows.append(row)
    return rows


# PCA comparison -----------------------------------------------------------------------------

def pca_comparison(decoder, autoencoder, splits, latent_dim):
    """Linear autoencoder vs scikit-learn PCA at the same k, on the same training split.

    Returns ``{"latent_dim", "principal_angles_degrees", "principal_angle_max_degrees",
    "autoencoder_test_mse", "pca_test_mse", "mse_ratio_to_pca"}``. The autoencoder's subspace is
    spanned by the rows of its decoder's weight matrix (its basis images); principal angles
    are 0 for identical subspaces, 90 degrees for orthogonal directions.
    """
    from scipy import linalg
    from sklearn.decomposition import PCA

    flat_train = splits.x_train.reshape(len(splits.x_train), -1)
    x_test, _ = splits.arrays("test")
    flat_test = x_test.reshape(len(x_test), -1)
    pca = PCA(latent_dim).fit(flat_train)
    basis = decoder_basis(decoder)  # (k, D)
    angles = np.degrees(linalg.subspace_angles(basis.T.astype("float64"), pca.components_.T))
    variances = PCA(min(latent_dim + 1, flat_train.shape[1])).fit(flat_train).explained_variance_
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2))
    autoencoder_mse = float(np.mean((predict(autoencoder, x_test).reshape(len(x_test), -1) - flat_test) ** 2))
    return {"latent_dim": int(latent_dim), "principal_angles_degrees": [float(angle) for angle in sorted(angles)],
            "principal_angle_max_degrees": float(np.max(angles)), "autoencoder_test_mse": autoencoder_mse,
            "pca_test_mse": pca_mse,
            "eigenvalue_gap": float(variances[latent_dim - 1] / variances[latent_dim]) if len(variances) > latent_dim else float("inf"),
            "mse_ratio_to_pca": autoencoder_mse / max(pca_mse, 1e-12), "pca": pca}


def decoder_basis(decoder):
    """The linear decoder's basis images as rows, ``(k, D)`` (its ``decoder_basis`` kernel)."""
    return np.asarray(decoder.get_layer("decoder_basis").kernel)


# The task ---------------------------------------------------------------------------------

@register("autoencode")
class AutoencodeTask(Task):
    """Autoencoders (linear/PCA, deep, denoising, variational) on unlabelled inputs."""

    section = "autoencode"
    model_kind = "autoencoder"
    section_defaults = AUTOENCODE_DEFAULTS
    description = "autoencoder (reconstruct the inputs through a small code; labels unused)"
    supports = frozenset({"sample", "check", "lr-find", "tune"})

    def metric_names(self, config):
        """Reconstruction per split; the ELBO terms (VAE), the PCA comparison (linear), the
        denoising table (with noise), as :meth:`run` adds them."""
        names = {f"{split}_{key}" for split in ("train", "val", "test") for key in ("mse", "psnr", "ssim")}
        if is_vae(config):
            names |= {f"{split}_{key}" for split in ("val", "test")
                      for key in ("reconstruction_loss", "kl_loss", "vae_loss", "elbo")}
        if judges_samples(config):
            names |= set(sample_quality.SAMPLE_METRICS) | {"reconstruction_" + key for key in BESIDE_PRIOR_METRICS}
        if judges_mixture_samples(config):
            names |= {"mixture_" + key for key in BESIDE_PRIOR_METRICS}
        if config["model"]["name"] == "linear":
            names |= {"principal_angle_max_degrees", "mse_ratio_to_pca", "pca_test_mse"}
            for k in settings_of(config)["pca_latent_sizes"]:
                names |= {f"k{k}/principal_angle_max_degrees", f"k{k}/mse_ratio_to_pca"}
        if noise_of(config)[0] != "none":
            names |= {f"{kind}_{measure}" for kind in ("noisy", "denoised", "median", "pca") for measure in ("psnr", "ssim")}
            names |= {"psnr_gain_db", "psnr_margin_over_baseline_db"}
        return names

    def headline_metrics(self, config):
        """The target, the reconstruction on test and validation (and a VAE's ELBO) for ``dlzoo compare``."""
        names = [config["expect"]["metric"], "test_mse", "val_mse", "test_psnr", "test_ssim"]
        names += ["test_elbo"] if is_vae(config) else []
        names += ["min_class_fraction", "frechet_distance", "frechet_position"] if judges_samples(config) else []
        names += ["mixture_" + key for key in BESIDE_PRIOR_METRICS] if judges_mixture_samples(config) else []
        return list(dict.fromkeys(names))

    def tune_objective(self, config):
        """``dlzoo tune`` chooses by the validation ELBO (a VAE), or the target's validation counterpart,
        or the validation reconstruction error (targets measured on test only: PCA angles, PSNR gain)."""
        if is_vae(config):
            return "val_elbo", "max"
        metric = config["expect"]["metric"]
        if metric.startswith("test_") and "val_" + metric[len("test_"):] in self.metric_names(config):
            return super().tune_objective(config)
        return "val_mse", "min"

    def check_config(self, config):
        """The ``[autoencode]`` keys and values (no TensorFlow here)."""
        super().check_config(config)
        settings = settings_of(config)
        validation.check_list_of("autoencode.pca_latent_sizes", settings["pca_latent_sizes"],
                                 lambda name, value: validation.check_integer(name, value, minimum=1),
                                 "whole numbers", allow_empty=True)
        validation.check_list_of("autoencode.noise_levels", settings["noise_levels"],
                                 lambda name, value: validation.check_number(name, value, minimum=0.0),
                                 "numbers", allow_empty=True)
        validation.check_number("autoencode.decoder_std", settings["decoder_std"], minimum=0.0, exclusive_minimum=True)
        validation.check_list_of("autoencode.pca_baseline_components", settings["pca_baseline_components"],
                                 lambda name, value: validation.check_integer(name, value, minimum=1), "whole numbers")
        samples = validation.check_integer("autoencode.samples", settings["samples"], minimum=0)
        if samples and not is_vae(config):
            raise UsageError(f"autoencode.samples: only a VAE has a prior to sample from; '{config['model']['name']}' "
                             "is not variational (set autoencode.samples = 0)")
        if 0 < samples < 10:
            raise UsageError(f"autoencode.samples must be 0 (no judged samples) or at least 10, got {samples}")
        components = validation.check_integer("autoencode.mixture_components", settings["mixture_components"], minimum=0)
        if components and not samples:
            raise UsageError("autoencode.mixture_components: the mixture's samples are judged beside the prior's; "
                             "set autoencode.samples too (10,000 for example)")
        sample_quality.check_scorer_settings("autoencode", settings)

    def load_data(self, config, dataset=None, quick=False):
        """The run's inputs (raw values; labels kept only to colour pictures)."""
        from dlzoo.tasks.supervised import load_splits

        return load_splits(config, quick, dataset)

    def prepare(self, config, quick=False):
        """Load the inputs, build the autoencoder for them and compile it."""
        from dlzoo.training.steps import VariationalAutoencoder
        from dlzoo.tasks.supervised import build_optimizer, training_steps

        seed = config["train"]["seed"]
        devices.seed_everything(seed)
        splits = self.load_data(config, quick=quick)
        settings = settings_of(config)
        with devices.distribution_scope(config["train"]):
            autoencoder, encoder, decoder, scale = build_autoencoder(config, splits, seed)
            optimizer = build_optimizer(config, training_steps(config, splits, quick))
            if is_vae(config):
                trainer = VariationalAutoencoder(encoder, decoder, scale, settings["decoder_std"], seed=seed,
                                                 name="vae_trainer")
                trainer.compile(optimizer=optimizer)
                trainer(splits.x_train[:1])  # build
            else:
                trainer = autoencoder
                trainer.compile(optimizer=optimizer, loss="mse")
        if judges_samples(config):
            self.check_judge(splits, settings)
        return PreparedAutoencoder(config=config, splits=splits, settings=settings, trainer=trainer,
                                   autoencoder=autoencoder, encoder=encoder, decoder=decoder, scale=scale, quick=quick)

    def check_judge(self, splits, settings):
        """The judge of the samples needs class labels and a model the cnn builder takes: fail now,
        not after training (built after the VAE: its initial weights do not depend on the judge)."""
        if getattr(splits, "targets", "classes") != "classes" or splits.num_classes < 2:
            raise UsageError(f"autoencode.samples: dataset {splits.name} has no class labels for the judge classifier "
                             "(set autoencode.samples = 0)")
        sample_quality.build_scorer_network(splits, settings["scorer_model"])
        sample_quality.scorer_learning_rate(settings["scorer_learning_rate"], steps=1)

    def describe(self, prepared):
        """What is about to be trained."""
        sizes = prepared.splits.sizes()
        noise, level = noise_of(prepared.config)
        corrupted = f", {noise} noise {level:g}" if noise != "none" else ""
        return (f"data {prepared.splits.name}: inputs {prepared.splits.input_shape} (labels unused), {sizes['train']} "
                f"train / {sizes['val']} val / {sizes['test']} test; autoencoder {prepared.config['model']['name']} "
                f"latent {prepared.encoder.outputs[0].shape[-1]}{corrupted}: "
                f"{prepared.autoencoder.count_params():,} parameters")

    def datasets(self, splits, config):
        """``(train, val)`` pipelines of ``(inputs, inputs)``: the target is the input itself."""
        from dlzoo.data.pipeline import make_dataset

        batch, seed = config["data"]["batch_size"], config["data"]["seed"]
        x_train, _ = splits.arrays("train")
        x_val, _ = splits.arrays("val")
        return (make_dataset(x_train, x_train, batch, training=True, seed=seed),
                make_dataset(x_val, x_val, batch))

    def training_parts(self, prepared):
        """For check / lr-find: the autoencoder (or the VAE's trainer), its loss on ``(inputs, inputs)``,
        and the loss of an untrained model that outputs about the mean image."""
        import keras

        from dlzoo.tasks.base import TrainingParts

        splits, trainer = prepared.splits, prepared.trainer
        x_train, _ = splits.arrays("train")
        # Predicting the mean image: its squared error is the pixels' variance around that image.
        variance = float(np.mean((x_train - x_train.mean(axis=0)) ** 2))
        if is_vae(prepared.config):
            def loss(inputs, targets, training):
                """The negative ELBO (up to its constant) that the VAE's train_step minimizes."""
                return trainer.losses_of(inputs, training=training)[0]

            size, std = int(np.prod(splits.input_shape)), prepared.settings["decoder_std"]
            expected = (size * variance / prepared.scale ** 2 / (2 * std ** 2),
                        f"reconstruction term D·var/(2σ²) of a decoder that outputs the mean image (D = {size}, "
                        f"σ = {std:g}, inputs scaled to [0, 1]), KL about 0 for an encoder near the prior", 4.0)
        else:
            def loss(inputs, targets, training):
                """The mean squared reconstruction error the autoencoder is compiled with."""
                return keras.ops.mean(keras.ops.square(targets - trainer(inputs, training=training)))

            # The random decoder adds its own outputs' variance to the mean image's error, hence the slack.
            expected = (variance, "MSE of reconstructing every input as the mean image (the pixels' variance)", 4.0)
        batches = iter(self.datasets(splits, prepared.config)[0].repeat())
        # A VAE cannot memorise a batch down to zero loss: the KL term pulls every code towards the
        # prior and the sampled codes blur the reconstructions. Falling below a third of its first
        # loss shows that the loss reaches the weights (a learning rate of 0 stays at 100%).
        return TrainingParts(model=trainer, loss=loss, batch=lambda size: (x_train[:size], x_train[:size]),
                             next_batch=lambda: next(batches), expected_loss=expected, splits=splits,
                             overfit_fraction=1 / 3 if is_vae(prepared.config) else 0.05)

    def run(self, prepared, folder):
        """Train, compare (PCA / baselines), export the three endpoints and draw."""
        from dlzoo.runs import export

        config, splits = prepared.config, prepared.splits
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        train_data, val_data = self.datasets(splits, config)
        start = time.perf_counter()
        history = fit.fit(prepared.trainer, train_data, val_data, folder, config["train"], epochs)
        train_seconds = time.perf_counter() - start

        metrics = {}
        for split in ("train", "val", "test"):
            metrics.update({f"{split}_{key}": value for key, value in self.evaluate(prepared.autoencoder, splits, split).items()
                            if isinstance(value, float)})
        notes = {}
        sections = []
        if is_vae(config):
            metrics.update(self.vae_metrics(prepared))
            notes = vae_metric_notes(prepared.trainer, prepared.splits.input_shape)
        if judges_samples(config):
            judged = self.judge_samples(prepared, folder)
            metrics.update({key: float(judged["prior"][key]) for key in sample_quality.SAMPLE_METRICS})
            for name in ("reconstruction", "mixture"):
                if name in judged:
                    metrics.update({f"{name}_{key}": float(judged[name][key]) for key in BESIDE_PRIOR_METRICS})
            sections.append(("16-samples", judged_samples_section(judged)))
        if config["model"]["name"] == "linear":
            metrics_pca, section = self.compare_with_pca(prepared, folder, epochs)
            metrics.update(metrics_pca)
            sections.append(("10-pca", section))
        noise, level = noise_of(config)
        if noise != "none":
            metrics_noise, section = self.denoising(prepared, folder, noise, level)
            metrics.update(metrics_noise)
            sections.append(("10-denoising", section))
        sections.append(("20-pictures", self.draw(prepared, folder)))
        if is_vae(config):
            sections.append(("15-vae", vae_section(metrics, notes)))

        folders.atomic_write_json(folder / "evaluation.json", self.evaluate(prepared.autoencoder, splits, "test"))
        export.save_keras_model(prepared.autoencoder, folder / "model.keras")
        exported = None
        if config["train"]["export"]:
            exported = self.export(prepared.autoencoder, splits, folder / "saved_model")
        if history.get("loss"):
            curves.learning_curves({config["name"]: history}, folder / "plots" / "learning_curves.png",
                                  title=config["name"])
        for key, markdown in sections:
            report.write_section(folder, key, markdown)
        trained = splits.sizes()["train"] * len(history.get("loss", []))
        return {"metrics": metrics, "metric_notes": notes, "parameters": int(prepared.autoencoder.count_params()),
                "epochs_run": len(history.get("loss", [])), "export": exported,
                "train_seconds": train_seconds, "samples_per_second": trained / max(train_seconds, 1e-9),
                "data": {"dataset": splits.name, "input_shape": list(splits.input_shape), "sizes": splits.sizes(),
                         "raw_value_range": [float(np.min(splits.x_train)), float(np.max(splits.x_train))]}}

    # Evaluation -------------------------------------------------------------------------------

    def evaluate(self, model, splits, split):
        """Reconstruction error of one split: MSE in raw units, PSNR and SSIM (clean inputs)."""
        x, _ = splits.arrays(split)
        reconstructions = predict(model, x)
        scale = raw_scale(splits.x_train)
        psnr, ssim = psnr_and_ssim(reconstructions, x, scale)
        return {"split": split, "dataset": splits.name, "examples": int(len(x)),
                "mse": float(np.mean((reconstructions - x) ** 2)), "psnr": psnr, "ssim": ssim}

    def vae_metrics(self, prepared):
        """The ELBO, the training loss and its two terms on validation (what ``dlzoo tune`` chooses by)
        and test (per example, nats, inputs scaled to [0, 1])."""
        return {f"{split}_{key}": value for split in ("val", "test")
                for key, value in vae_scores(prepared.trainer, prepared.splits.arrays(split)[0],
                                             prepared.splits.input_shape).items()}

    def judge_samples(self, prepared, folder):
        """Samples of the prior scored by a judge classifier trained here (``sample_quality.json``,
        ``plots/class_fractions.png``); beside them, as many reconstructions of training images
        (``reconstruction_sample_quality.json``) and, with ``autoencode.mixture_components``,
        samples of a mixture fitted to the training codes (``mixture_sample_quality.json``,
        ``plots/mixture_class_fractions.png``, ``plots/mixture_samples.png``).

        Returns:
            ``{"prior": scores, "reconstruction": scores[, "mixture": scores]}``.
        """
        from dlzoo.tasks.generate import draw_class_fractions

        splits, settings, seed = prepared.splits, prepared.settings, prepared.config["train"]["seed"]
        scorer = sample_quality.train_judge(splits, settings, seed=seed, quick=prepared.quick)
        count = min(settings["samples"], 200) if prepared.quick else settings["samples"]
        # Pixels are stored in the training range: a sample is judged as the image it would be saved as.
        low, high = float(np.min(splits.x_train)), float(np.max(splits.x_train))
        samples = np.clip(prior_samples(prepared.decoder, count, seed=1), low, high)
        judged = {"prior": sample_quality.score_samples(scorer, samples, splits)}
        folders.atomic_write_json(folder / "sample_quality.json", judged["prior"])
        draw_class_fractions(judged["prior"], folder)
        # The decoder's ceiling: codes of real images decoded. Samples, from any density of codes,
        # are at best as sharp and as evenly spread over the classes as these.
        chosen = np.random.default_rng(seed).permutation(len(splits.x_train))[:count]
        reconstructions = np.clip(predict(prepared.autoencoder, splits.x_train[chosen]), low, high)
        judged["reconstruction"] = sample_quality.score_samples(scorer, reconstructions, splits)
        folders.atomic_write_json(folder / "reconstruction_sample_quality.json", judged["reconstruction"])
        if not settings["mixture_components"]:
            return judged
        codes = latents(prepared.encoder, splits.x_train)
        mixture = fit_code_mixture(codes, settings["mixture_components"], seed)
        samples = np.clip(mixture_samples(prepared.decoder, mixture, count, seed=1), low, high)
        judged["mixture"] = {**sample_quality.score_samples(scorer, samples, splits),
                             "mixture": mixture_description(mixture, len(codes))}
        folders.atomic_write_json(folder / "mixture_sample_quality.json", judged["mixture"])
        draw_class_fractions(judged["mixture"], folder, "mixture_class_fractions.png")
        image_rows(folder / "plots" / "mixture_samples.png", [samples[:16], samples[16:32]], ["z ~ mixture", ""],
                   prepared.scale, "Decoded samples of the mixture fitted to the training codes")
        return judged

    def check_fits(self, model, splits):
        """An autoencoder reads inputs only: their shape must be the model's (the labels are unused)."""
        expected = tuple(model.input_shape[1:])
        if expected != splits.input_shape:
            raise UsageError(f"dataset {splits.name} has inputs {splits.input_shape}; the autoencoder expects {expected}")

    def evaluate_run(self, run, splits, split):
        """:meth:`evaluate`'s reconstruction scores, and for a VAE the ELBO and its two terms on the split."""
        from dlzoo.training.steps import VariationalAutoencoder

        result = self.evaluate(run.model, splits, split)
        if is_vae(run.config):
            trainer = VariationalAutoencoder(run.model.get_layer("encoder"), run.model.get_layer("decoder"),
                                             raw_scale(splits.x_train), settings_of(run.config)["decoder_std"],
                                             seed=EVALUATION_SEED)
            result.update(vae_scores(trainer, splits.arrays(split)[0], splits.input_shape))
        return result

    def evaluation_line(self, result):
        """The reconstruction line, and the ELBO of a VAE."""
        line = (f"{result['split']} reconstruction MSE {result['mse']:.4g} · PSNR {result['psnr']:.2f} dB · "
                f"SSIM {result['ssim']:.3f} on {result['examples']} examples")
        if "elbo" in result:
            line += f" · ELBO {result['elbo']:.4g} nats (reconstruction {result['reconstruction_loss']:.4g} + KL {result['kl_loss']:.4g})"
        return line

    def compare_with_pca(self, prepared, folder, epochs):
        """PCA oracle at the recipe's k (and, in full runs, at ``pca_latent_sizes``); metrics and report section."""
        config, splits = prepared.config, prepared.splits
        latent_dim = int(prepared.encoder.outputs[0].shape[-1])
        main = pca_comparison(prepared.decoder, prepared.autoencoder, splits, latent_dim)
        rows = [main]
        sizes = [] if prepared.quick else [k for k in prepared.settings["pca_latent_sizes"] if k != latent_dim]
        for k in sizes:
            other = {**config, "model": {**config["model"], "latent_dim": int(k)}}
            model, _, decoder, _ = build_autoencoder(other, splits, config["train"]["seed"])
            from dlzoo.tasks.supervised import build_optimizer, training_steps

            model.compile(optimizer=build_optimizer(config, training_steps(config, splits, prepared.quick)), loss="mse")
            train_data, val_data = self.datasets(splits, config)
            fit.fit(model, train_data, val_data, folder, {**config["train"], "verbose": 0}, epochs, stage=f"k{k}")
            rows.append(pca_comparison(decoder, model, splits, int(k)))
        rows.sort(key=lambda row: row["latent_dim"])
        draw_pca_pictures(prepared, main, folder)
        metrics = {"principal_angle_max_degrees": main["principal_angle_max_degrees"],
                   "mse_ratio_to_pca": main["mse_ratio_to_pca"], "pca_test_mse": main["pca_test_mse"]}
        for row in rows:
            if row["latent_dim"] != latent_dim:
                metrics[f"k{row['latent_dim']}/principal_angle_max_degrees"] = row["principal_angle_max_degrees"]
                metrics[f"k{row['latent_dim']}/mse_ratio_to_pca"] = row["mse_ratio_to_pca"]
        table = report.markdown_table(
            ["k", "largest principal angle (deg)", "all angles (deg)", "AE test MSE", "PCA test MSE", "MSE ratio",
             "eigenvalue ratio k / k+1"],
            [[row["latent_dim"], row["principal_angle_max_degrees"],
              " ".join(f"{angle:.2g}" for angle in row["principal_angles_degrees"]),
              row["autoencoder_test_mse"], row["pca_test_mse"], row["mse_ratio_to_pca"], row["eigenvalue_gap"]]
             for row in rows])
        section = (
            "## Linear autoencoder vs PCA\n\n"
            "scikit-learn's `PCA` fitted on the same training split at the same k. Baldi & Hornik (1989): "
            "a linear autoencoder trained with the squared error learns the *subspace* of the first k principal "
            "components, so the principal angles between the two subspaces (SciPy `subspace_angles`) go to 0 "
            "and its reconstruction error to PCA's; its basis images are *not* the principal components "
            "(any invertible mix of them spans the same subspace). Where the k-th and (k+1)-th eigenvalues of the "
            "covariance are close (ratio near 1) the error hardly changes when the subspace turns between them, so "
            "gradient descent approaches that last direction slowly: a larger angle with the same MSE.\n\n" + table + "\n\n"
            + report.picture("pca_basis.png", "Decoder basis images (top) vs PCA components (bottom): same subspace, "
                             "different basis")
            + "\n" + report.picture("pca_reconstructions.png", "Test digits (top), linear autoencoder (middle), "
                                    "PCA (bottom)"))
        return metrics, section

    def denoising(self, prepared, folder, noise, level):
        """The noise-level sweep (PSNR, SSIM) against the classical baselines; metrics at the recipe's level."""
        settings = prepared.settings
        levels = sorted({float(value) for value in settings["noise_levels"]} | {level})
        if prepared.quick:
            levels = [level]
        rows = denoising_table(prepared.autoencoder, prepared.splits, noise, levels, prepared.scale,
                               settings["pca_baseline_components"])
        at_level = next(row for row in rows if row["level"] == level)
        baseline = max(at_level["median_psnr"], at_level["pca_psnr"])
        metrics = {"noisy_psnr": at_level["noisy_psnr"], "denoised_psnr": at_level["denoised_psnr"],
                   "median_psnr": at_level["median_psnr"], "pca_psnr": at_level["pca_psnr"],
                   "noisy_ssim": at_level["noisy_ssim"], "denoised_ssim": at_level["denoised_ssim"],
                   "median_ssim": at_level["median_ssim"], "pca_ssim": at_level["pca_ssim"],
                   "psnr_gain_db": at_level["denoised_psnr"] - at_level["noisy_psnr"],
                   "psnr_margin_over_baseline_db": at_level["denoised_psnr"] - baseline}
        folders.atomic_write_json(folder / "denoising.json", rows)
        draw_denoising(prepared, folder, noise, level, rows)
        table = report.markdown_table(
            ["level", "noisy PSNR", "denoised PSNR", "median PSNR", "PCA PSNR (k)", "noisy SSIM", "denoised SSIM",
             "median SSIM", "PCA SSIM"],
            [[row["level"], row["noisy_psnr"], row["denoised_psnr"], row["median_psnr"],
              f"{row['pca_psnr']:.4g} ({row['pca_components']})", row["noisy_ssim"], row["denoised_ssim"],
              row["median_ssim"], row["pca_ssim"]] for row in rows])
        verdict = ("above" if metrics["psnr_margin_over_baseline_db"] > 0 else "**below**")
        section = (
            f"## Denoising ({noise} noise)\n\n"
            f"Trained at level {level:g} ({'std as a fraction of the value range' if noise == 'gaussian' else 'fraction of pixels set to 0'}). "
            "Test split, seeded noise; PSNR in dB and SSIM (window 5, sigma 1) from `tf.image.psnr` / `tf.image.ssim`, "
            "all images clipped to the valid range. Baselines: 3x3 median filter; projection on the leading principal "
            "components of clean training digits (k chosen on the validation split).\n\n" + table + "\n\n"
            f"At the training level the autoencoder gains {metrics['psnr_gain_db']:.2f} dB over the noisy input and is "
            f"{verdict} the best classical baseline by {abs(metrics['psnr_margin_over_baseline_db']):.2f} dB.\n\n"
            + report.picture("denoising.png", "Noisy (top), denoised (middle), clean (bottom) test digits")
            + "\n" + report.picture("denoising_sweep.png", "PSNR and SSIM against the noise level"))
        return metrics, section

    # Pictures --------------------------------------------------------------------------------

    def draw(self, prepared, folder):
        """Reconstructions, the latent space by class, an interpolation, VAE samples; returns the section."""
        splits, scale = prepared.splits, prepared.scale
        x_test, y_test = splits.arrays("test")
        reconstructions = predict(prepared.autoencoder, x_test[:16])
        image_rows(folder / "plots" / "reconstructions.png", [x_test[:16], reconstructions], ["input", "reconstruction"],
                   scale, "Test digits and their reconstructions")
        parts = ["## Pictures\n", report.picture("reconstructions.png", "Test inputs (top) and reconstructions (bottom)")]
        codes = latents(prepared.encoder, x_test)
        latent_scatter(codes, y_test, splits, folder / "plots" / "latent_space.png")
        parts.append(report.picture("latent_space.png", "Test codes coloured by class (labels never used in training)"))
        first, second = 0, int(np.argmax(y_test != y_test[0])) if len(set(np.asarray(y_test).tolist())) > 1 else 1
        steps = np.linspace(0.0, 1.0, 10)[:, None]
        path = (1 - steps) * codes[first] + steps * codes[min(second, len(codes) - 1)]
        image_rows(folder / "plots" / "interpolation.png", [predict(prepared.decoder, path.astype("float32"))],
                   ["decoded"], scale, "Interpolation between two test digits in the latent space")
        parts.append(report.picture("interpolation.png", "Decoded points on the line between two test digits' codes"))
        if is_vae(prepared.config):
            samples = prior_samples(prepared.decoder, 32, seed=0)
            image_rows(folder / "plots" / "vae_samples.png", [samples[:16], samples[16:]], ["z ~ N(0, I)", ""], scale,
                       "Decoded samples from the prior")
            parts.append(report.picture("vae_samples.png", "Samples: the decoder on z drawn from the prior N(0, I)"))
        return "\n".join(parts)

    # Export -----------------------------------------------------------------------------------

    def serving_endpoints(self, model, splits):
        """``serve`` (raw inputs -> reconstruction, latent), ``encode`` (-> latent) and ``decode`` (latent -> raw)."""
        import tensorflow as tf

        encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
        latent_dim = int(decoder.inputs[0].shape[-1])
        # The dataset's own dtype in (Fashion-MNIST's uint8 pixels, as stored), floats inside.
        inputs_spec = tf.TensorSpec((None, *splits.input_shape), getattr(splits, "input_dtype", "float32"), name="inputs")
        latent_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="latent")

        def encode_outputs(inputs):
            outputs = encoder(tf.cast(inputs, tf.float32), training=False)
            if isinstance(outputs, (list, tuple)):
                return {"latent": outputs[0], "latent_log_variance": outputs[1]}
            return {"latent": outputs}

        def serve(inputs):
            """Raw inputs -> their reconstruction (raw units) and their code."""
            encoded = encode_outputs(inputs)
            return {"reconstruction": decoder(encoded["latent"], training=False), "latent": encoded["latent"]}

        def encode(inputs):
            """Raw inputs -> code (a VAE also gives the log-variance of its posterior)."""
            return encode_outputs(inputs)

        def decode(latent):
            """Codes -> images in raw units."""
            return {"reconstruction": decoder(latent, training=False)}

        return {"serve": (serve, [inputs_spec]), "encode": (encode, [inputs_spec]), "decode": (decode, [latent_spec])}

    def export(self, model, splits, destination):
        """Write the SavedModel (serve verified by the platform), then verify ``encode`` and ``decode`` too."""
        from dlzoo.runs import export

        endpoints = self.serving_endpoints(model, splits)
        x_test, _ = splits.arrays("test", limit=64)
        exported = export.export_saved_model(model, destination, endpoints, x_test)
        codes = latents(model.get_layer("encoder"), x_test)
        exported["endpoint_differences"] = {
            "encode": verify_endpoint(destination, "encode", endpoints["encode"][0], x_test),
            "decode": verify_endpoint(destination, "decode", endpoints["decode"][0], codes),
        }
        exported["example"] = self.serving_example(splits, int(codes.shape[-1]))
        return exported

    def check_sample_request(self, config, record, count, class_index):
        """``dlzoo sample``: only a VAE has a prior to sample from, and no classes."""
        if not is_vae(config):
            raise UsageError(f"{config['name']} is a '{config['model']['name']}' autoencoder, not variational: it has no "
                             "prior to sample from (dlzoo sample takes a vae, dcgan or cgan run)")
        if class_index is not None:
            raise UsageError(f"--class: {config['name']} is a VAE without classes; train a conditional GAN (cgan)")

    def sample(self, model, config, record, count, class_index, seed):
        """``(images, None)``: the decoder on ``count`` codes drawn from N(0, I), in raw units."""
        return prior_samples(model.get_layer("decoder"), count, seed=seed), None

    def serving_example(self, splits, latent_dim=2):
        """The plain TensorFlow lines calling the three endpoints."""
        shape = ", ".join(str(side) for side in splits.input_shape)
        return ("```python\n"
                "import numpy as np, tensorflow as tf\n"
                "model = tf.saved_model.load(\"saved_model\")\n"
                f"images = tf.zeros((1, {shape}), tf.{getattr(splits, 'input_dtype', 'float32')})  # raw {splits.name} "
                "values, as stored\n"
                "codes = model.encode(images)[\"latent\"]\n"
                "print(model.decode(codes)[\"reconstruction\"].numpy())  # back in raw units\n"
                f"print(model.decode(tf.random.normal((4, {latent_dim})))[\"reconstruction\"].shape)\n"
                "```\n")


def verify_endpoint(path, name, function, inputs):
    """Max |difference| between endpoint ``name`` of the SavedModel at ``path`` and ``function`` run eagerly."""
    import tensorflow as tf

    from dlzoo.runs import export

    expected = export.as_output_dict(function(tf.constant(inputs)))
    actual = export.load_saved_model(path, endpoint=name)(inputs)
    difference = max(float(np.max(np.abs(expected[key] - actual[key]))) for key in expected)
    if not difference <= export.TOLERANCE:
        raise RunFailed(f"the SavedModel's '{name}' endpoint disagrees with the Keras model: {difference:.3g}")
    return difference


def prior_samples(decoder, count, seed=0):
    """The decoder on ``count`` codes drawn from N(0, I) (a VAE's generative model)."""
    latent_dim = int(decoder.inputs[0].shape[-1])
    codes = np.random.default_rng(seed).normal(size=(count, latent_dim)).astype("float32")
    return predict(decoder, codes)


def fit_code_mixture(codes, components, seed):
    """A Gaussian mixture (full covariances) fitted to the training images' codes.

    The prior N(0, I) is what the KL term pulls the codes toward, not where they are: their
    aggregate distribution has holes between the classes and classes of unequal mass, so the
    prior's samples land in the holes (decoded as blends of classes) and miss some classes.
    Sampling a density fitted to the codes after training fixes that (ex-post density
    estimation: Ghosh et al. 2020, From variational to deterministic autoencoders; Dai & Wipf
    2019 fit a second VAE instead). The decoder is unchanged. A dataset of fewer than
    10 codes a component gets ``len(codes) // 10`` components.
    """
    from sklearn.mixture import GaussianMixture

    # At least 10 codes a component: a small dataset (a quick run) gets fewer components, not an error.
    components = max(1, min(int(components), len(codes) // 10))
    mixture = GaussianMixture(n_components=components, covariance_type="full", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning is reported as "converged: false" instead
        mixture.fit(codes)
    return mixture


def mixture_samples(decoder, mixture, count, seed=0):
    """The decoder on ``count`` codes drawn from ``mixture`` (shuffled: sklearn returns them by component)."""
    mixture.random_state = seed
    codes, _ = mixture.sample(count)
    codes = codes[np.random.default_rng(seed).permutation(count)].astype("float32")
    return predict(decoder, codes)


def mixture_description(mixture, code_count):
    """What the report says of the fitted mixture."""
    return {"components": int(mixture.n_components), "covariance": "full", "fitted_codes": int(code_count),
            "converged": bool(mixture.converged_), "iterations": int(mixture.n_iter_),
            "smallest_weight": float(np.min(mixture.weights_))}


def vae_scores(trainer, inputs, input_shape, repeats=5, batch_size=1000):
    """``{"reconstruction_loss", "kl_loss", "vae_loss", "elbo"}`` of ``inputs`` (per example, nats,
    inputs scaled to [0, 1]), averaged over ``repeats`` draws of the posterior's noise.

    In batches of ``batch_size``, so that 10,000 test images do not need their activations at once."""
    losses, sizes = [], []
    for _ in range(repeats):
        for start in range(0, len(inputs), batch_size):
            batch = inputs[start:start + batch_size]
            losses.append([float(value) for value in trainer.losses_of(batch, training=False)])
            sizes.append(len(batch))
    loss, reconstruction, kl = np.average(losses, axis=0, weights=sizes)  # batch means -> the mean per example
    constant = trainer.log_likelihood_constant(int(np.prod(input_shape)))
    return {"reconstruction_loss": float(reconstruction), "kl_loss": float(kl), "vae_loss": float(loss),
            "elbo": float(-(loss + constant))}


def vae_metric_notes(trainer, input_shape):
    """What each VAE number means (printed next to them in the summary and the report)."""
    size = int(np.prod(input_shape))
    constant = trainer.log_likelihood_constant(size)
    return {
        "test_elbo": (f"ELBO per test example in nats, higher is better: a lower bound on log p(x), a log-density "
                      f"of the {size} inputs scaled to [0, 1], so it can be positive; 0 is the log-density of a "
                      f"uniform distribution on [0, 1]^{size}"),
        "test_vae_loss": (f"the training loss on the test split, lower is better: reconstruction + KL = -ELBO - C, "
                          f"C = D/2 log(2 pi std^2) = {constant:.4g} here (the Gaussian's constant, the same for every "
                          "model, left out of the loss)"),
        "test_reconstruction_loss": "sum of squared errors / (2 std^2) per example, inputs scaled to [0, 1]",
        "test_kl_loss": "KL(q(z|x) || N(0, I)) per example, in nats",
    }


def coverage_line(scores, whose):
    """Which classes get under 5% of ``whose`` samples, in words."""
    missing = scores["missing_classes"]
    if not missing:
        return f"Every class gets at least 5% of {whose} samples."
    return f"Classes {', '.join(map(str, missing))} get under 5% of {whose} samples: they miss part of the data."


def judged_samples_section(judged):
    """Report: how a judge classifier sees the samples of the prior (coverage, Fréchet distances),
    beside reconstructions of training images and the samples of the mixture fitted to the codes."""
    scores, mixture_scores = judged["prior"], judged.get("mixture")
    columns = [("prior N(0, I)", scores)]
    columns += [("mixture fitted to the codes", mixture_scores)] if mixture_scores else []
    columns += [("reconstructions of training images", judged["reconstruction"])]
    table = [sample_quality.score_rows(column) for _, column in columns]
    rows = [[first[0]] + [rows[index][1] for rows in table] for index, first in enumerate(table[0])]
    text = ("## Samples of the prior, judged\n\n"
            "The decoder on z ~ N(0, I), clipped to the pixels' range, scored "
            "by a classifier trained in this run on the same training split (dlzoo.metrics.samples); Fréchet distances "
            f"are computed in its penultimate feature space. The judge: {scores['scorer']}. The real-vs-real "
            f"reference uses {scores['frechet_real_train_images']:,} training images.\n\n")
    if mixture_scores:
        mixture = mixture_scores["mixture"]
        text += (f"Beside them, as many samples of a Gaussian mixture of {mixture['components']} components (full "
                 f"covariances) fitted to the posterior means of the {mixture['fitted_codes']:,} training images after "
                 "training: the same decoder, codes drawn where the data's codes are instead of from the prior "
                 "(ex-post density estimation, Ghosh et al. 2020). Smallest component weight "
                 f"{mixture['smallest_weight']:.3f}; EM {'converged' if mixture['converged'] else 'did not converge'} "
                 f"in {mixture['iterations']} iterations.\n\n")
    text += ("The last column decodes the codes of as many real training images: samples drawn from any density of "
             "codes are at best as sharp, and as evenly spread over the classes, as these reconstructions.\n\n")
    text += report.markdown_table(["measure"] + [name for name, _ in columns], rows) + "\n\n"
    text += coverage_line(scores, "the prior's")
    if mixture_scores:
        text += " " + coverage_line(mixture_scores, "the mixture's")
    text += "\n\n" + report.picture("class_fractions.png", "Share of the prior's samples per class (judge classifier)") + "\n"
    if mixture_scores:
        text += (report.picture("mixture_class_fractions.png", "Share of the mixture's samples per class") + "\n"
                 + report.picture("mixture_samples.png", "Samples of the mixture fitted to the training codes") + "\n")
    return text


def vae_section(metrics, notes):
    """Report: the test ELBO, the training loss and its two terms, each with what it is."""
    rows = [[name, key, metrics[key], notes[key]] for name, key in (
        ("reconstruction", "test_reconstruction_loss"), ("KL(q(z|x) || N(0, I))", "test_kl_loss"),
        ("training loss (reconstruction + KL)", "test_vae_loss"), ("**ELBO**", "test_elbo"))]
    return ("## Variational autoencoder: test ELBO\n\n"
            "Per test example, in nats, inputs divided by their range (Gaussian decoder with fixed standard deviation "
            "`autoencode.decoder_std`). The training loss and the ELBO differ by a constant that no weight changes: "
            "the loss leaves it out, the ELBO keeps it, so that the ELBO is a true bound on the log-density of the "
            "data (a density, not a probability: it can exceed 1, and the ELBO can be positive).\n\n"
            + report.markdown_table(["term", "metric", "value", "what it is"], rows) + "\n")


# Pictures (arrays in, PNG out) ------------------------------------------------------------------

def image_rows(path, rows, labels, scale, title=""):
    """Rows of images on one fixed grey scale ``[0, scale]`` (so that brightness is comparable)."""
    pyplot = figures.pyplot_module()
    columns = max(len(row) for row in rows)
    figure, axes = pyplot.subplots(len(rows), columns, figsize=(0.9 * columns, 1.0 * len(rows) + 0.4), squeeze=False,
                                   layout="constrained")
    for row_index, (row, label) in enumerate(zip(rows, labels)):
        for column in range(columns):
            axis = axes[row_index, column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column < len(row):
                image = np.asarray(row[column])
                axis.imshow(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image.reshape(image.shape[0], -1)
                            if image.ndim > 1 else image[None], cmap="gray_r", vmin=0, vmax=scale)
            else:
                axis.axis("off")
        axes[row_index, 0].set_ylabel(label, fontsize=7)
    figure.suptitle(title, fontsize=9)
    return figures.save_figure(figure, path)


def latent_scatter(codes, labels, splits, path):
    """The codes in 2-D (their first two principal axes when the code is larger), coloured by class."""
    pyplot = figures.pyplot_module()
    points = codes
    axis_names = ("z1", "z2")
    if codes.shape[1] > 2:
        centred = codes - codes.mean(axis=0)
        _, _, directions = np.linalg.svd(centred, full_matrices=False)
        points, axis_names = centred @ directions[:2].T, ("principal axis 1 of z", "principal axis 2 of z")
    elif codes.shape[1] == 1:
        points = np.concatenate([codes, np.zeros_like(codes)], axis=1)
    figure, axis = pyplot.subplots(figsize=(5, 4.3))
    scatter = axis.scatter(points[:, 0], points[:, 1], c=np.asarray(labels), cmap="tab10", s=9)
    if getattr(splits, "class_names", None):
        figure.colorbar(scatter, ax=axis, ticks=range(len(splits.class_names)), label="class")
    axis.set_xlabel(axis_names[0])
    axis.set_ylabel(axis_names[1])
    axis.set_title("latent space of the test split")
    return figures.save_figure(figure, path)


def draw_pca_pictures(prepared, comparison, folder):
    """Decoder basis images next to PCA's components; reconstructions of both."""
    shape = prepared.splits.input_shape
    basis = decoder_basis(prepared.decoder).reshape((-1, *shape))
    components = comparison["pca"].components_.reshape((-1, *shape))
    pyplot = figures.pyplot_module()
    count = len(basis)
    figure, axes = pyplot.subplots(2, count, figsize=(0.9 * count, 2.3), squeeze=False, layout="constrained")
    for row, (images, label) in enumerate(((basis, "AE basis"), (components, "PCA"))):
        for column in range(count):
            image = images[column].reshape(shape[0], -1)
            limit = max(np.abs(image).max(), 1e-12)
            axes[row, column].imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=7)
    figure.suptitle("decoder basis images vs principal components (red +, blue -)", fontsize=9)
    figures.save_figure(figure, folder / "plots" / "pca_basis.png")
    x_test, _ = prepared.splits.arrays("test", limit=12)
    pca = comparison["pca"]
    pca_images = pca.inverse_transform(pca.transform(x_test.reshape(len(x_test), -1))).reshape(x_test.shape)
    image_rows(folder / "plots" / "pca_reconstructions.png", [x_test, predict(prepared.autoencoder, x_test), pca_images],
               ["input", "linear AE", "PCA"], prepared.scale, f"k = {comparison['latent_dim']}")


def draw_denoising(prepared, folder, noise, level, rows):
    """The noisy / denoised / clean grid at the training level, and PSNR/SSIM against the level."""
    x_test, _ = prepared.splits.arrays("test", limit=12)
    noisy = corrupt(x_test, noise, level, prepared.scale)
    image_rows(folder / "plots" / "denoising.png",
               [np.clip(noisy, 0, prepared.scale), predict(prepared.autoencoder, noisy), median_filter(noisy), x_test],
               ["noisy", "denoised", "median 3x3", "clean"], prepared.scale, f"{noise} noise, level {level:g}")
    pyplot = figures.pyplot_module()
    figure, axes = pyplot.subplots(1, 2, figsize=(9, 3.4))
    levels = [row["level"] for row in rows]
    for name in ("noisy", "denoised", "median", "pca"):
        axes[0].plot(levels, [row[f"{name}_psnr"] for row in rows], marker="o", label=name)
        axes[1].plot(levels, [row[f"{name}_ssim"] for row in rows], marker="o", label=name)
    for axis, label in zip(axes, ("PSNR (dB)", "SSIM")):
        axis.set_xlabel("noise level")
        axis.set_ylabel(label)
        axis.axvline(level, color="grey", linestyle=":")
        axis.legend(fontsize=7)
    figure.suptitle(f"test split, {noise} noise (dotted: training level)")
    figures.save_figure(figure, folder / "plots" / "denoising_sweep.png")
