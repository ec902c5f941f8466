"""The ``generate`` task: a GAN (DCGAN, optionally class-conditional) that draws new digits.

The networks come from :mod:`dlzoo.models.gan` (``[model] name = "dcgan"``,
``conditional = true`` for the cGAN); the adversarial training step is
:class:`dlzoo.training.steps.GenerativeAdversarialNetwork`, trained through
:func:`dlzoo.training.fit` (``history.csv`` has ``discriminator_loss`` and ``generator_loss``).
Two optimizers: ``[optimizer]`` is the default of both, and the tables
``generate.generator_optimizer`` / ``generate.discriminator_optimizer`` change keys for one of
them (``{learning_rate = 1e-3}``). Stabilizers are switches of ``[generate]``:
``label_smoothing`` (one-sided), ``instance_noise``, ``generator_loss = "non-saturating" |
"minimax"``. A generator optimizer with Keras's ``use_ema = true`` keeps a moving average of
the generator's weights, and the run samples, scores and exports that average
(:meth:`~dlzoo.training.steps.GenerativeAdversarialNetwork.use_averaged_generator`).

Quality is measured (:mod:`dlzoo.metrics.samples`): a digits classifier trained in the run
scores ``samples`` generated images (class coverage, confidence, conditional accuracy,
Fréchet distance with its real and noise references). A GAN whose discriminator wins outright
(its loss near 0, the generator's loss large, for ``divergence_patience`` epochs) is stopped
and the run fails with that reason: nothing is exported.

``model.keras`` is the generator; the SavedModel's ``serve`` endpoint takes ``noise`` (and
``labels``) and gives ``samples`` in the dataset's raw range. ``dlzoo sample`` draws from it.
"""

import dataclasses
import time

import numpy as np

from dlzoo.plots import figures
from dlzoo.plots import curves
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.training import state
from dlzoo.core import validation
from dlzoo.core.errors import RunFailed, UsageError
from dlzoo.metrics import samples as sample_quality
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

GENERATE_DEFAULTS = {
    "generator_optimizer": {},
    "discriminator_optimizer": {},
    "label_smoothing": 0.0,
    "instance_noise": 0.0,  # std of the noise added to discriminator inputs, as a fraction of the value range
    "generator_loss": "non-saturating",
    "samples": 1000,  # generated images scored by the classifier
    **sample_quality.SCORER_DEFAULTS,  # the judge classifier: its scorer_* keys
    "divergence_patience": 3,  # epochs of a winning discriminator before the run is failed
}
GENERATOR_LOSSES = ("non-saturating", "minimax")
# The discriminator "wins" when its loss is below this while the generator's is above the next.
WON_DISCRIMINATOR_LOSS = 0.05
WON_GENERATOR_LOSS = 5.0
PROGRESS_SAMPLES = 40  # fixed-noise samples drawn after every epoch
# The scores of sample_quality.score_samples that go into metrics.json.
SAMPLE_METRICS = sample_quality.SAMPLE_METRICS


@dataclasses.dataclass
class PreparedGan:
    """What a GAN run needs, checked and ready."""

    config: dict
    splits: object
    settings: dict
    gan: object
    generator: object
    discriminator: object
    raw_range: tuple
    quick: bool


def settings_of(config):
    """The ``[generate]`` table with its defaults filled in."""
    return {**GENERATE_DEFAULTS, **config.get("generate", {})}


def is_conditional(config):
    """True for the class-conditional GAN (``model.conditional = true``)."""
    return bool(config["model"].get("conditional", False))


def optimizer_table(config, which):
    """The optimizer table of ``which`` network: ``[optimizer]`` updated by its own table."""
    return {**config["optimizer"], **settings_of(config)[f"{which}_optimizer"]}


def fixed_inputs(latent_dim, count, num_classes, conditional, seed=0):
    """``(noise, labels)`` drawn once: the same points every epoch, so progress is visible."""
    noise = np.random.default_rng(seed).normal(size=(count, latent_dim)).astype("float32")
    labels = (np.arange(count) % max(num_classes, 1)).astype("int32") if conditional else None
    return noise, labels


def generate(generator, noise, labels=None):
    """Images from ``noise`` (and ``labels``), raw range, as a NumPy array."""
    inputs = [noise, labels] if labels is not None else noise
    return np.asarray(generator.predict(inputs, batch_size=256, verbose=0))


def latent_size(generator):
    """Length of the generator's noise vector."""
    return int(generator.inputs[0].shape[-1])


def discriminator_won(history, patience):
    """The reason the GAN diverged (its discriminator won for ``patience`` epochs), or None."""
    discriminator, generator = history.get("discriminator_loss", []), history.get("generator_loss", [])
    recent = list(zip(discriminator, generator))[-int(patience):]
    if len(recent) == int(patience) and all(d < WON_DISCRIMINATOR_LOSS and g > WON_GENERATOR_LOSS for d, g in recent):
        return (f"the discriminator won: its loss fell to {discriminator[-1]:.3g} while the generator's rose to "
                f"{generator[-1]:.3g} for {patience} epochs (the generator gets no useful gradient); lower the "
                "discriminator's learning rate, or use label_smoothing / instance_noise")
    return None


def frames_path(folder):
    """Where the fixed-noise samples of every epoch so far are kept, so that ``--resume`` has them."""
    return folder / "checkpoints" / "progress_frames.npy"


def resumed_frames(folder):
    """The per-epoch samples and the history of the part of the run ``--resume`` continues
    (``([], {})`` for a new run)."""
    epochs_done, history = state.resumed_progress(folder)
    if not epochs_done:
        return [], {}
    path = frames_path(folder)
    frames = list(np.load(path, allow_pickle=False))[:epochs_done] if path.is_file() else []
    return frames, {key: list(values) for key, values in history.items()}


def progress_callback(generator, noise, labels, frames, history, patience, folder=None):
    """A Keras callback: samples of the fixed noise after every epoch, and the divergence stop.

    With ``folder`` the samples so far are also written to :func:`frames_path` after every epoch.
    """
    import io

    import keras

    class Progress(keras.callbacks.Callback):
        """Draw the fixed-noise samples after each epoch; stop when the discriminator has won."""

        reason = None

        def on_epoch_end(self, epoch, logs=None):
            frames.append(generate(generator, noise, labels))
            if folder is not None:
                buffer = io.BytesIO()
                np.save(buffer, np.stack(frames))
                folders.atomic_write_bytes(frames_path(folder), buffer.getvalue())
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            reason = discriminator_won(history, patience)
            if reason:
                self.reason = reason
                self.model.stop_training = True

    return Progress()


@register("generate")
class GenerateTask(Task):
    """Generative adversarial networks: a generator and a discriminator, two optimizers."""

    section = "generate"
    model_kind = "gan"
    section_defaults = GENERATE_DEFAULTS
    description = "generative adversarial network (draws new inputs; dlzoo sample)"
    supports = frozenset({"sample"})
    unsupported_reasons = dict.fromkeys(("check", "lr-find", "tune"), (
        "a GAN trains two networks against each other with two optimizers, so it has no single loss that should "
        "fall and no single learning rate"))

    def metric_names(self, config):
        """The sample-quality scores (:mod:`dlzoo.metrics.samples`) and the final losses; the
        conditional accuracy of a cGAN."""
        names = set(SAMPLE_METRICS) | {"final_discriminator_loss", "final_generator_loss"}
        return names | {"conditional_accuracy"} if is_conditional(config) else names

    def headline_metrics(self, config):
        """The target and the sample-quality scores of the judge classifier, for ``dlzoo compare``."""
        names = [config["expect"]["metric"], "conditional_accuracy", "min_class_fraction", "classes_covered",
                 "frechet_distance", "frechet_position"]
        return list(dict.fromkeys(names))

    def check_config(self, config):
        """The ``[generate]`` keys and values (no TensorFlow here)."""
        super().check_config(config)
        settings = settings_of(config)
        validation.check_fraction("generate.label_smoothing", settings["label_smoothing"])
        validation.check_number("generate.instance_noise", settings["instance_noise"], minimum=0.0)
        validation.check_choice("generate.generator_loss", settings["generator_loss"], GENERATOR_LOSSES)
        validation.check_integer("generate.samples", settings["samples"], minimum=10)
        sample_quality.check_scorer_settings("generate", settings)
        validation.check_integer("generate.divergence_patience", settings["divergence_patience"], minimum=1)
        for which in ("generator_optimizer", "discriminator_optimizer"):
            if not isinstance(settings[which], dict):
                raise UsageError(f"generate.{which} must be a table such as {{learning_rate = 0.0002}}, "
                                 f"got {settings[which]!r}")

    def check_resume(self, prepared, folder):
        """Refuse a checkpoint that is not this GAN's (both networks) or lacks an optimizer's state."""
        state.check_state_fits(prepared.gan, folder)
        saved = state.read_state(folder)
        for name in prepared.gan.optimizers_to_checkpoint():
            if not any(key.startswith(f"optimizer-{name}/") for key in saved):
                raise UsageError(f"the checkpoint in {folder} has no state for the {name} optimizer (written by an "
                                 "older dlzoo): it cannot be resumed")

    def load_data(self, config, dataset=None, quick=False):
        """The run's images (raw values) and labels (used by the conditional GAN and the scorer)."""
        from dlzoo.tasks.supervised import load_splits

        return load_splits(config, quick, dataset)

    def prepare(self, config, quick=False):
        """Load the images, build generator and discriminator and their two optimizers."""
        from dlzoo import optimizers
        from dlzoo.training.steps import GenerativeAdversarialNetwork
        from dlzoo import models
        from dlzoo.models import gan
        from dlzoo.optimizers.schedules import fill_auto_steps
        from dlzoo.tasks.supervised import training_steps

        seed = config["train"]["seed"]
        devices.seed_everything(seed)
        splits = self.load_data(config, quick=quick)
        settings = settings_of(config)
        name = config["model"]["name"]
        models.check_options(config["model"], kind="gan")
        options = {key: value for key, value in config["model"].items() if key != "name"}
        if getattr(splits, "targets", "classes") != "classes" and options.get("conditional"):
            raise UsageError(f"dataset {splits.name} has no class labels: a conditional GAN needs them")
        raw_range = (float(np.min(splits.x_train)), float(np.max(splits.x_train)))
        steps = training_steps(config, splits, quick)
        with devices.distribution_scope(config["train"]):
            try:
                generator, discriminator = gan.build(name, splits.input_shape, splits.num_classes, raw_range, **options)
            except (ValueError, TypeError) as error:
                raise UsageError(f"dataset {splits.name} (inputs {splits.input_shape}) does not fit GAN '{name}': "
                                 f"{str(error).splitlines()[0]}") from error
            model = GenerativeAdversarialNetwork(
                generator, discriminator, latent_size(generator), conditional=is_conditional(config),
                num_classes=splits.num_classes, label_smoothing=settings["label_smoothing"],
                instance_noise=settings["instance_noise"] * (raw_range[1] - raw_range[0]),
                generator_loss=settings["generator_loss"], seed=seed, name="gan")
            noise, labels = fixed_inputs(latent_size(generator), 2, splits.num_classes, is_conditional(config))
            model(model.generator_inputs(noise, labels))  # build, so that checkpoints can be written
            model.compile(
                generator_optimizer=optimizers.build_optimizer(fill_auto_steps(optimizer_table(config, "generator"), steps)),
                discriminator_optimizer=optimizers.build_optimizer(
                    fill_auto_steps(optimizer_table(config, "discriminator"), steps)))
        # A judge the cnn builder refuses fails now, not after training (built after the GAN: its
        # initial weights do not depend on the judge).
        sample_quality.build_scorer_network(splits, settings["scorer_model"])
        sample_quality.scorer_learning_rate(settings["scorer_learning_rate"], steps=1)
        return PreparedGan(config=config, splits=splits, settings=settings, gan=model, generator=generator,
                           discriminator=discriminator, raw_range=raw_range, quick=quick)

    def describe(self, prepared):
        """What is about to be trained."""
        sizes = prepared.splits.sizes()
        kind = "conditional GAN" if is_conditional(prepared.config) else "GAN"
        return (f"data {prepared.splits.name}: images {prepared.splits.input_shape}, {sizes['train']} train; {kind} "
                f"{prepared.config['model']['name']}: generator {prepared.generator.count_params():,} + discriminator "
                f"{prepared.discriminator.count_params():,} parameters, {prepared.settings['generator_loss']} loss")

    def run(self, prepared, folder):
        """Train (with per-epoch samples), fail on divergence, score the samples, export and draw."""
        from dlzoo.runs import export
        from dlzoo.data.pipeline import make_dataset

        config, splits, settings = prepared.config, prepared.splits, prepared.settings
        conditional = is_conditional(config)
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        x_train, y_train = splits.arrays("train")
        train_data = make_dataset(x_train, y_train.astype("int32"), config["data"]["batch_size"], training=True,
                                  seed=config["data"]["seed"])
        noise, labels = fixed_inputs(latent_size(prepared.generator), PROGRESS_SAMPLES, splits.num_classes, conditional)
        # A resumed run starts with the samples and losses of the epochs it already trained.
        frames, seen = resumed_frames(folder)
        progress = progress_callback(prepared.generator, noise, labels, frames, seen, settings["divergence_patience"],
                                     folder)
        # No validation data, and "best" GAN weights by loss mean nothing: keep the last weights.
        train_settings = {**config["train"], "restore_best": False, "early_stopping_patience": 0}
        start = time.perf_counter()
        history = fit.fit(prepared.gan, train_data, None, folder, train_settings, epochs,
                               extra_callbacks=[progress], monitor="loss")
        train_seconds = time.perf_counter() - start
        if history.get("loss"):
            curves.learning_curves({config["name"]: history}, folder / "plots" / "learning_curves.png", title=config["name"])
        draw_progress(frames, labels, prepared.raw_range, folder)
        if progress.reason:
            raise RunFailed(f"the GAN diverged: {progress.reason}")
        # From here on (scores, samples, export) the generator is its weights' moving average,
        # when the generator optimizer kept one (use_ema); the progress frames above are not.
        averaged = prepared.gan.use_averaged_generator()

        # Quality, measured by a classifier trained here on the same training split.
        scorer = sample_quality.train_judge(splits, settings, seed=config["train"]["seed"], quick=prepared.quick)
        count = min(settings["samples"], 200) if prepared.quick else settings["samples"]
        sample_noise, requested = fixed_inputs(latent_size(prepared.generator), count, splits.num_classes, conditional,
                                               seed=1)
        samples = generate(prepared.generator, sample_noise, requested)
        scores = sample_quality.score_samples(scorer, samples, splits, requested=requested)
        folders.atomic_write_json(folder / "sample_quality.json", scores)
        metrics = {key: float(scores[key]) for key in SAMPLE_METRICS}
        if conditional:
            metrics["conditional_accuracy"] = scores["conditional_accuracy"]
        metrics["final_discriminator_loss"] = history["discriminator_loss"][-1]
        metrics["final_generator_loss"] = history["generator_loss"][-1]
        draw_samples(samples, requested, prepared.raw_range, splits.num_classes, folder)
        draw_class_fractions(scores, folder)

        export.save_keras_model(prepared.generator, folder / "model.keras")
        exported = None
        if config["train"]["export"]:
            exported = self.export(prepared.generator, splits, folder / "saved_model")
        average = float(prepared.gan.generator_optimizer.ema_momentum) if averaged else None
        report.write_section(folder, "10-samples", samples_section(scores, conditional, len(frames), average))
        trained = splits.sizes()["train"] * len(history.get("loss", []))
        return {"metrics": metrics, "parameters": int(prepared.generator.count_params()
                                                      + prepared.discriminator.count_params()),
                "generator_parameters": int(prepared.generator.count_params()),
                "generator_weights": "moving average" if averaged else "last step",
                "epochs_run": len(history.get("loss", [])), "export": exported,
                "train_seconds": train_seconds, "samples_per_second": trained / max(train_seconds, 1e-9),
                "data": {"dataset": splits.name, "input_shape": list(splits.input_shape), "sizes": splits.sizes(),
                         "classes": list(splits.class_names), "raw_value_range": list(prepared.raw_range)}}

    # Evaluation ------------------------------------------------------------------------------

    def check_fits(self, model, splits):
        """The generator's samples must have the dataset's input shape (it takes noise, not images)."""
        drawn = tuple(model.output_shape[1:])
        if drawn != splits.input_shape:
            raise UsageError(f"dataset {splits.name} has inputs {splits.input_shape}; the generator draws {drawn}")

    def evaluate_run(self, run, splits, split):
        """Fresh samples scored as training scored them: a judge classifier trained on the train
        split, class coverage and Fréchet distance to ``split``'s real images (a GAN has no
        per-example loss on held-out data to measure)."""
        settings, conditional = settings_of(run.config), is_conditional(run.config)
        scorer = sample_quality.train_judge(splits, settings, seed=run.config["train"]["seed"])
        noise, requested = fixed_inputs(latent_size(run.model), settings["samples"], splits.num_classes, conditional,
                                        seed=1)
        scores = sample_quality.score_samples(scorer, generate(run.model, noise, requested), splits,
                                              requested=requested, reference=split)
        return {"split": split, "dataset": splits.name, "examples": int(len(noise)),
                **{key: float(scores[key]) for key in (*SAMPLE_METRICS, *(["conditional_accuracy"] if conditional else []))},
                "class_fractions": [float(value) for value in scores["class_fractions"]]}

    def evaluation_line(self, result):
        """Coverage and Fréchet position of the fresh samples."""
        line = (f"{result['examples']} fresh samples: smallest class fraction {result['min_class_fraction']:.3f}, "
                f"{result['classes_covered']:.0f} classes covered, Fréchet distance {result['frechet_distance']:.4g} to the "
                f"{result['split']} split (position {result['frechet_position']:.3f}: 0 = real digits, 1 = noise)")
        if "conditional_accuracy" in result:
            line += f", conditional accuracy {result['conditional_accuracy']:.3f}"
        return line

    # Export and sampling --------------------------------------------------------------------

    def serving_endpoints(self, model, splits):
        """``serve``: ``noise`` (and ``labels``) -> ``samples`` in the raw range (model: the generator)."""
        import tensorflow as tf

        noise_spec = tf.TensorSpec((None, latent_size(model)), tf.float32, name="noise")
        if len(model.inputs) == 2:
            labels_spec = tf.TensorSpec((None,), tf.int32, name="labels")

            def serve_conditional(noise, labels):
                """Noise and class labels -> images of those classes."""
                return {"samples": model([noise, labels], training=False)}

            return {"serve": (serve_conditional, [noise_spec, labels_spec])}

        def serve(noise):
            """Noise -> images."""
            return {"samples": model(noise, training=False)}

        return {"serve": (serve, [noise_spec])}

    def export(self, generator, splits, destination):
        """The generator as a verified SavedModel (noise [and labels] -> samples)."""
        from dlzoo.runs import export

        conditional = len(generator.inputs) == 2
        noise, labels = fixed_inputs(latent_size(generator), 32, splits.num_classes, conditional, seed=2)
        sample_inputs = (noise, labels) if conditional else noise
        exported = export.export_saved_model(generator, destination, self.serving_endpoints(generator, splits),
                                             sample_inputs)
        exported["example"] = self.serving_example(splits, latent_size(generator), conditional)
        # The report's "Use it without dlzoo" says what the endpoint takes: noise, not data.
        exported["takes"] = (f"noise drawn from N(0, I), {latent_size(generator)} numbers per sample"
                             + (", and class labels" if conditional else "")
                             + ", and returns samples in the dataset's raw range")
        return exported

    def serving_example(self, splits, latent_dim=32, conditional=False):
        """The plain TensorFlow lines that call the exported generator."""
        call = "model.serve(noise, tf.constant([0, 1, 2, 3]))" if conditional else "model.serve(noise)"
        return ("```python\n"
                "import tensorflow as tf\n"
                "model = tf.saved_model.load(\"saved_model\")\n"
                f"noise = tf.random.normal((4, {latent_dim}))\n"
                f"images = {call}[\"samples\"]  # (4, {', '.join(map(str, splits.input_shape))}), raw range\n"
                "```\n")

    def check_sample_request(self, config, record, count, class_index):
        """Refuse a bad ``dlzoo sample`` request before TensorFlow loads."""
        if class_index is None:
            return
        if not is_conditional(config):
            raise UsageError(f"--class: {config['name']} is an unconditional GAN, it cannot be asked for a class "
                             "(train a conditional GAN such as cgan)")
        classes = len((record.get("data") or {}).get("classes") or []) or 10
        if not 0 <= class_index < classes:
            raise UsageError(f"--class must be between 0 and {classes - 1} for this run, got {class_index}")

    def sample(self, model, config, record, count, class_index, seed):
        """``(images, labels)``: ``count`` samples of the generator (raw range); labels for a cGAN."""
        conditional = len(model.inputs) == 2
        classes = len((record.get("data") or {}).get("classes") or []) or 10
        noise, labels = fixed_inputs(latent_size(model), count, classes, conditional, seed=seed)
        if conditional and class_index is not None:
            labels = np.full(count, class_index, dtype="int32")
        return generate(model, noise, labels), labels


# Pictures and report -------------------------------------------------------------------------

def sample_grid(images, raw_range, path, title="", columns=10, labels=None):
    """A grid of samples on the fixed raw grey scale."""
    pyplot = figures.pyplot_module()
    rows = int(np.ceil(len(images) / columns))
    figure, axes = pyplot.subplots(rows, columns, figsize=(0.8 * columns, 0.85 * rows + 0.4), squeeze=False,
                                   layout="constrained")  # room for the suptitle above the class labels
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(np.asarray(images[index])[..., 0], cmap="gray_r", vmin=raw_range[0], vmax=raw_range[1])
            if labels is not None and index < columns:
                axis.set_title(str(labels[index]), fontsize=7)
    figure.suptitle(title, fontsize=9)
    return figures.save_figure(figure, path)


def draw_samples(samples, requested, raw_range, num_classes, folder):
    """``samples.png``: 100 samples (a cGAN's columns are classes 0..9)."""
    shown = samples[:100]
    sample_grid(shown, raw_range, folder / "plots" / "samples.png",
                "samples (column = requested class)" if requested is not None else "samples",
                columns=10, labels=None if requested is None else requested[:100])


def draw_progress(frames, labels, raw_range, folder):
    """The fixed-noise samples per epoch: a PNG strip (some epochs) and an animated GIF (every epoch)."""
    if not frames:
        return
    import io

    from PIL import Image

    picks = sorted(set(np.linspace(0, len(frames) - 1, min(len(frames), 8)).round().astype(int).tolist()))
    pyplot = figures.pyplot_module()
    columns = 10
    figure, axes = pyplot.subplots(len(picks), columns, figsize=(0.8 * columns, 0.85 * len(picks) + 0.4), squeeze=False,
                                   layout="constrained")
    for row, epoch in enumerate(picks):
        for column in range(columns):
            axes[row, column].axis("off")
            axes[row, column].imshow(frames[epoch][column][..., 0], cmap="gray_r", vmin=raw_range[0], vmax=raw_range[1])
        axes[row, 0].text(-2, 4, f"{epoch + 1}", fontsize=7, ha="right", va="center")
    figure.suptitle("the same noise after epochs (rows, numbered)", fontsize=9)
    figures.save_figure(figure, folder / "plots" / "progress.png")
    images = []
    for epoch, frame in enumerate(frames):
        tiles = np.clip((frame[..., 0] - raw_range[0]) / max(raw_range[1] - raw_range[0], 1e-9), 0, 1)
        count, height, width = tiles.shape
        rows = int(np.ceil(count / columns))
        canvas = np.ones((rows * (height + 1), columns * (width + 1)))
        for index in range(count):
            top, left = (index // columns) * (height + 1), (index % columns) * (width + 1)
            canvas[top:top + height, left:left + width] = 1 - tiles[index]
        images.append(Image.fromarray((canvas * 255).astype("uint8")).resize(
            (canvas.shape[1] * 6, canvas.shape[0] * 6), Image.NEAREST))
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=250, loop=0)
    folders.atomic_write_bytes(folder / "plots" / "progress.gif", buffer.getvalue())


def draw_class_fractions(scores, folder, file_name="class_fractions.png"):
    """Bar chart: share of samples the classifier puts in each class, with the 5% line."""
    pyplot = figures.pyplot_module()
    fractions = scores["class_fractions"]
    figure, axis = pyplot.subplots(figsize=(5, 3))
    axis.bar(range(len(fractions)), fractions, color="tab:blue")
    axis.axhline(sample_quality.COVERAGE_THRESHOLD, color="red", linestyle=":", label="5%")
    axis.set_xticks(range(len(fractions)))
    axis.set_xlabel("class (by the scoring classifier)")
    axis.set_ylabel("share of samples")
    axis.legend(fontsize=7)
    figures.save_figure(figure, folder / "plots" / file_name)


def judge_line(scores):
    """Report: what the judge classifier is, and how many real training images the real-vs-real
    reference uses."""
    if not scores.get("scorer"):
        return ""
    return (f"The judge: {scores['scorer']}; test accuracy {scores['scorer_test_accuracy']:.4f}. The real-vs-real "
            f"reference uses {scores['frechet_real_train_images']:,} training images.\n\n")


def samples_section(scores, conditional, epochs, average_momentum=None):
    """Report: the measured quality of the samples, mode collapse, the pictures.

    ``average_momentum``: the momentum of the generator's weight average when the samples come
    from it (None: the last step's weights).
    """
    rows = sample_quality.score_rows(scores, conditional)
    if scores["missing_classes"] and not conditional:
        collapse = (f"**Mode collapse:** classes {', '.join(map(str, scores['missing_classes']))} get under 5% of the "
                    "samples: the generator covers only part of the data distribution.\n\n")
    else:
        collapse = "No mode collapse detected: every class gets at least 5% of the samples.\n\n" if not conditional else ""
    closer = "closer to real digits than to noise" if scores["frechet_position"] < 0.5 else "**closer to noise than to real digits**"
    if average_momentum is None:
        weights = "The samples come from the generator's weights after the last training step.\n\n"
    else:
        # An exponential average with momentum m weighs about the last 1 / (1 - m) steps.
        span = f": about the last {1 / (1 - average_momentum):,.0f} steps" if average_momentum < 1 else ""
        weights = (f"The samples (and the exported generator) use the **moving average** of the generator's weights "
                   f"(momentum {average_momentum:g}{span}), which "
                   "draws steadier samples than the last step's weights; the progress pictures show the last step's "
                   "weights after each epoch.\n\n")
    return ("## Samples, measured\n\n"
            "A small CNN trained in this run on the same training split scores the samples (dlzoo.metrics.samples); "
            "Fréchet distances are computed in its penultimate feature space.\n\n"
            + judge_line(scores) + weights
            + report.markdown_table(["measure", "value"], rows) + "\n\n" + collapse
            + f"The samples are {closer}.\n\n"
            + report.picture("samples.png", "Generated samples")
            + "\n" + report.picture("class_fractions.png", "Share of samples per class (scoring classifier)")
            + "\n" + report.picture("progress.png", f"The same noise after each of {epochs} epochs")
            + "\n**Training, animated** (one frame per epoch)\n\n![progress](plots/progress.gif)\n")
