"""Measuring generated samples with a classifier, not by eye.

A small convolutional classifier, the *judge* (dlzoo's ``cnn`` builder behind its
``standardize`` layer), is trained on the run's own training split, deterministically (fixed
seed, fixed epochs, offline). Its size, epochs, batch size and learning rate are settings of the
recipe (``scorer_model``, ``scorer_epochs``, ``scorer_batch_size``, ``scorer_learning_rate``):
the 8x8 digits' default judge trains in seconds, a 28x28 dataset of 60,000 images takes a wider
network and fewer, larger-batch epochs to stay bounded in time, and a learning rate that decays to
0 over those few epochs (a cosine schedule), so that the judge's accuracy does not depend on where
the last epoch of a large constant step left it. It scores a set of images:

* class coverage: the fraction of samples it assigns to each class; an unconditional GAN
  whose samples leave a class under 5% has (partly) *collapsed* onto fewer modes;
* mean confidence: the classifier's mean top probability (blurry or strange digits get less);
* for a conditional GAN, the fraction of samples classified as the class that was asked for;
* the Fréchet distance (Heusel et al. 2017, the FID's formula) between the classifier's
  penultimate features of the samples and of real test digits. The distance between real
  training and real test digits, and between uniform noise images and test digits, are
  reported beside it: the two ends of the scale. The real training reference is at most
  :data:`REFERENCE_LIMIT` training images (a seeded subsample of a larger split), so that its
  time stays bounded and, with as many samples, both sides have the same finite-sample bias.
"""

import dataclasses

import numpy as np

COVERAGE_THRESHOLD = 0.05  # a class below this share of unconditional samples is "missing"
REFERENCE_LIMIT = 10_000  # training images in the real-vs-real Fréchet reference, at most
# The judge of the 8x8 digits (the cnn builder's keys); a recipe's scorer_model replaces keys of it.
DEFAULT_SCORER_MODEL = {"filters": [16, 32], "batch_norm": True}
# The scores of score_samples that go into a run's metrics.json (and conditional_accuracy, when asked).
SAMPLE_METRICS = ("min_class_fraction", "classes_covered", "mean_confidence", "frechet_distance", "frechet_real_train",
                  "frechet_noise", "frechet_position", "scorer_test_accuracy")
# The recipe settings of the judge, with their defaults (the [generate] / [autoencode] keys).
SCORER_DEFAULTS = {"scorer_epochs": 15, "scorer_batch_size": 32, "scorer_model": {}, "scorer_learning_rate": 3e-3}


@dataclasses.dataclass
class Scorer:
    """The trained classifier and the model giving its penultimate features."""

    classifier: object
    features: object
    test_accuracy: float
    num_classes: int
    description: str = ""  # what the judge is and what it was trained on, for the report


def check_scorer_settings(section, settings):
    """Refuse bad judge settings of the ``section`` table (no TensorFlow here)."""
    from dlzoo.core import validation
    from dlzoo.core.errors import UsageError

    validation.check_integer(f"{section}.scorer_epochs", settings["scorer_epochs"], minimum=1)
    validation.check_integer(f"{section}.scorer_batch_size", settings["scorer_batch_size"], minimum=1)
    if not isinstance(settings["scorer_model"], dict):
        raise UsageError(f"{section}.scorer_model must be a table of cnn keys such as "
                         f"{{filters = [16, 32], dense_units = 64}}, got {settings['scorer_model']!r}")
    learning_rate = settings["scorer_learning_rate"]
    if not isinstance(learning_rate, dict):
        validation.check_number(f"{section}.scorer_learning_rate", learning_rate, minimum=0.0)
    # A schedule table's keys are checked by scorer_learning_rate, when the task prepares the judge.


def scorer_learning_rate(value, steps):
    """The judge's Adam learning rate from a recipe's ``scorer_learning_rate``: a number or a
    schedule table (:mod:`dlzoo.optimizers.schedules`) whose ``decay_steps = "auto"`` becomes the
    judge's own ``steps``; a bad table is a usage error."""
    from dlzoo.core.errors import UsageError
    from dlzoo.optimizers import schedules

    table = schedules.fill_auto_steps({"learning_rate": value}, steps)["learning_rate"]
    try:
        return schedules.build_learning_rate(table)
    except (ValueError, TypeError, KeyError) as error:
        raise UsageError(f"scorer_learning_rate {value!r}: {str(error).splitlines()[0]}") from error


def scorer_model_options(scorer_model=None):
    """The judge's ``cnn`` keys: :data:`DEFAULT_SCORER_MODEL` with the recipe's ``scorer_model`` keys replaced."""
    return {**DEFAULT_SCORER_MODEL, **(scorer_model or {})}


def build_scorer_network(splits, scorer_model=None):
    """The untrained judge for ``splits``; keys that the ``cnn`` builder refuses are a usage error
    (tasks call this before training, so a typo fails in seconds, not after the run)."""
    from dlzoo import models
    from dlzoo.core.errors import UsageError

    options = scorer_model_options(scorer_model)
    try:
        return models.build("cnn", splits.input_shape, splits.num_classes, **options)
    except (ValueError, TypeError) as error:
        raise UsageError(f"scorer_model {options}: {str(error).splitlines()[0]}") from error


def describe_scorer(scorer_model, epochs, batch_size, train_size, learning_rate=3e-3):
    """One line: what the judge is and what it was trained on (for the report)."""
    options = ", ".join(f"{key} {value}" for key, value in scorer_model_options(scorer_model).items())
    if isinstance(learning_rate, dict):
        rate = f"a {learning_rate.get('schedule')} learning rate from {learning_rate.get('initial')}"
    else:
        rate = f"learning rate {learning_rate:g}"
    return (f"cnn ({options}), {epochs} epochs of Adam ({rate}) at batch {batch_size} on the {train_size:,} "
            "training images")


def train_judge(splits, settings, seed=0, quick=False):
    """The judge of a run from its task's ``settings`` (the :data:`SCORER_DEFAULTS` keys); 2 epochs when ``quick``."""
    epochs = 2 if quick else int(settings["scorer_epochs"])
    return train_scorer(splits, seed=seed, epochs=epochs, batch_size=int(settings["scorer_batch_size"]),
                        scorer_model=settings["scorer_model"], learning_rate=settings["scorer_learning_rate"])


def train_scorer(splits, seed=0, epochs=15, batch_size=32, scorer_model=None, learning_rate=3e-3):
    """The judge, a classifier trained on ``splits`` (``cnn``: :func:`scorer_model_options`), and its test accuracy.

    ``learning_rate``: Adam's, a number or a schedule table (see :func:`scorer_learning_rate`)."""
    import keras

    from dlzoo.training import devices
    from dlzoo.data.pipeline import make_dataset
    from dlzoo.models import heads, preprocessing

    devices.seed_everything(seed)
    network = build_scorer_network(splits, scorer_model)
    statistics = splits.normalization or {}
    if statistics:
        network = preprocessing.with_preprocessing(network, [preprocessing.standardization(
            statistics["mean"], statistics["variance"], splits.input_shape)])
    x_train, y_train = splits.arrays("train")
    steps = int(epochs) * -(-len(x_train) // int(batch_size))  # batches of the judge's whole training
    network.compile(optimizer=keras.optimizers.Adam(scorer_learning_rate(learning_rate, steps)),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    network.fit(make_dataset(x_train, y_train, batch_size, training=True, seed=seed), epochs=int(epochs), verbose=0,
                shuffle=False)  # the pipeline shuffles, seeded
    x_test, y_test = splits.arrays("test")
    accuracy = float(np.mean(np.argmax(network.predict(x_test, batch_size=256, verbose=0), axis=1) == y_test))
    features = keras.Model(network.inputs, network.get_layer(heads.LOGITS_LAYER).input)
    description = describe_scorer(scorer_model, int(epochs), int(batch_size), len(x_train), learning_rate)
    return Scorer(classifier=network, features=features, test_accuracy=accuracy, num_classes=splits.num_classes,
                  description=description)


def class_scores(probabilities, requested=None, threshold=COVERAGE_THRESHOLD):
    """Coverage and confidence of samples from the classifier's ``probabilities`` (n, classes).

    Returns ``{"class_fractions", "min_class_fraction", "classes_covered", "missing_classes",
    "mean_confidence"}`` and, when ``requested`` labels are given, ``"conditional_accuracy"``.
    """
    probabilities = np.asarray(probabilities)
    predicted = np.argmax(probabilities, axis=1)
    fractions = np.bincount(predicted, minlength=probabilities.shape[1]) / max(len(predicted), 1)
    result = {"class_fractions": [float(value) for value in fractions],
              "min_class_fraction": float(fractions.min()),
              "classes_covered": int(np.sum(fractions >= threshold)),
              "missing_classes": [int(index) for index in np.flatnonzero(fractions < threshold)],
              "mean_confidence": float(np.mean(np.max(probabilities, axis=1)))}
    if requested is not None:
        result["conditional_accuracy"] = float(np.mean(predicted == np.asarray(requested)))
    return result


def frechet_distance(features_a, features_b):
    """``|mu_a - mu_b|^2 + trace(C_a + C_b - 2 (C_a C_b)^(1/2))`` between two feature sets (rows)."""
    from scipy import linalg

    features_a, features_b = np.asarray(features_a, "float64"), np.asarray(features_b, "float64")
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    # A small ridge keeps the square root defined when features are degenerate (dead ReLU units).
    ridge = 1e-6 * np.eye(features_a.shape[1])
    covariance_a = np.cov(features_a, rowvar=False) + ridge
    covariance_b = np.cov(features_b, rowvar=False) + ridge
    root = linalg.sqrtm(covariance_a @ covariance_b)
    root = np.real(root)  # rounding can leave a tiny imaginary part
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(covariance_a + covariance_b - 2 * root))


def features_of(scorer, images):
    """Penultimate features of ``images`` (raw values)."""
    return np.asarray(scorer.features.predict(np.asarray(images, "float32"), batch_size=256, verbose=0))


def noise_images(shape, count, low, high, seed=0):
    """Uniform noise images in the raw range: the far end of the Fréchet scale."""
    return np.random.default_rng(seed).uniform(low, high, size=(count, *shape)).astype("float32")


def score_samples(scorer, samples, splits, requested=None, seed=0, reference="test"):
    """Everything about ``samples``: class scores, Fréchet distance to the ``reference`` split's
    digits (test by default) and its two references.

    ``frechet_position`` places the samples' distance on the scale from real training digits (0)
    to noise (1); below 0.5 the samples are closer to real digits than to noise.
    """
    x_train, _ = splits.arrays("train")
    x_test, _ = splits.arrays(reference)
    real_reference = x_train
    if len(x_train) > REFERENCE_LIMIT:
        real_reference = x_train[np.random.default_rng(seed).choice(len(x_train), REFERENCE_LIMIT, replace=False)]
    probabilities = scorer.classifier.predict(np.asarray(samples, "float32"), batch_size=256, verbose=0)
    result = class_scores(probabilities, requested)
    test_features = features_of(scorer, x_test)
    low, high = float(np.min(x_train)), float(np.max(x_train))
    result["frechet_distance"] = frechet_distance(features_of(scorer, samples), test_features)
    result["frechet_real_train"] = frechet_distance(features_of(scorer, real_reference), test_features)
    result["frechet_noise"] = frechet_distance(
        features_of(scorer, noise_images(splits.input_shape, len(samples), low, high, seed)), test_features)
    span = max(result["frechet_noise"] - result["frechet_real_train"], 1e-12)
    result["frechet_position"] = (result["frechet_distance"] - result["frechet_real_train"]) / span
    result["scorer_test_accuracy"] = scorer.test_accuracy
    result["scorer"] = scorer.description
    result["frechet_real_train_images"] = int(len(real_reference))
    return result


def score_rows(scores, conditional=False):
    """The ``[measure, value]`` rows of a report's table of judged samples: class coverage, the
    judge's confidence (and, for a conditional model, how often it sees the requested class), the
    Fréchet distances with their two ends, the judge's own test accuracy."""
    rows = [["classes with >= 5% of samples", scores["classes_covered"]],
            ["smallest class share", scores["min_class_fraction"]],
            ["mean judge confidence", scores["mean_confidence"]]]
    if conditional:
        rows.append(["classified as the requested class", scores["conditional_accuracy"]])
    return rows + [["Fréchet distance: samples vs test images", scores["frechet_distance"]],
                   ["Fréchet distance: real training vs test images (best possible)", scores["frechet_real_train"]],
                   ["Fréchet distance: uniform noise vs test images", scores["frechet_noise"]],
                   ["position on that scale (0 real, 1 noise)", scores["frechet_position"]],
                   ["judge's test accuracy", scores["scorer_test_accuracy"]]]
