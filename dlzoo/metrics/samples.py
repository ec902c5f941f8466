"""Measuring generated samples with a classifier, not by eye.

A small convolutional digits classifier (dlzoo's ``cnn`` builder behind its ``standardize``
layer) is trained on the run's own training split, deterministically (fixed seed, fixed
epochs, offline). It scores a set of images:

* class coverage: the fraction of samples it assigns to each class; an unconditional GAN
  whose samples leave a class under 5% has (partly) *collapsed* onto fewer modes;
* mean confidence: the classifier's mean top probability (blurry or strange digits get less);
* for a conditional GAN, the fraction of samples classified as the class that was asked for;
* the Fréchet distance (Heusel et al. 2017, the FID's formula) between the classifier's
  penultimate features of the samples and of real test digits. The distance between real
  training and real test digits, and between uniform noise images and test digits, are
  reported beside it: the two ends of the scale.
"""

import dataclasses

import numpy as np

COVERAGE_THRESHOLD = 0.05  # a class below this share of unconditional samples is "missing"


@dataclasses.dataclass
class Scorer:
    """The trained classifier and the model giving its penultimate features."""

    classifier: object
    features: object
    test_accuracy: float
    num_classes: int


def train_scorer(splits, seed=0, epochs=15, batch_size=32):
    """A digits classifier trained on ``splits`` (``cnn`` with 16/32 filters), and its test accuracy."""
    import keras

    from dlzoo import models
    from dlzoo.training import devices
    from dlzoo.data.pipeline import make_dataset
    from dlzoo.models import heads, preprocessing

    devices.seed_everything(seed)
    network = models.build("cnn", splits.input_shape, splits.num_classes, filters=[16, 32], batch_norm=True)
    statistics = splits.normalization or {}
    if statistics:
        network = preprocessing.with_preprocessing(network, [preprocessing.standardization(
            statistics["mean"], statistics["variance"], splits.input_shape)])
    network.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
    x_train, y_train = splits.arrays("train")
    network.fit(make_dataset(x_train, y_train, batch_size, training=True, seed=seed), epochs=int(epochs), verbose=0,
                shuffle=False)  # the pipeline shuffles, seeded
    x_test, y_test = splits.arrays("test")
    accuracy = float(np.mean(np.argmax(network.predict(x_test, verbose=0), axis=1) == y_test))
    features = keras.Model(network.inputs, network.get_layer(heads.LOGITS_LAYER).input)
    return Scorer(classifier=network, features=features, test_accuracy=accuracy, num_classes=splits.num_classes)


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
    probabilities = scorer.classifier.predict(np.asarray(samples, "float32"), batch_size=256, verbose=0)
    result = class_scores(probabilities, requested)
    test_features = features_of(scorer, x_test)
    low, high = float(np.min(x_train)), float(np.max(x_train))
    result["frechet_distance"] = frechet_distance(features_of(scorer, samples), test_features)
    result["frechet_real_train"] = frechet_distance(features_of(scorer, x_train), test_features)
    result["frechet_noise"] = frechet_distance(
        features_of(scorer, noise_images(splits.input_shape, len(samples), low, high, seed)), test_features)
    span = max(result["frechet_noise"] - result["frechet_real_train"], 1e-12)
    result["frechet_position"] = (result["frechet_distance"] - result["frechet_real_train"]) / span
    result["scorer_test_accuracy"] = scorer.test_accuracy
    return result
