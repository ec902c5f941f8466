"""Datasets that ship with the installed packages or are generated locally: they work offline.

Each loader takes ``(argument, seed, options)`` and returns raw (not yet normalized)
:class:`~dlzoo.data.splits.Splits`.
"""

import numpy as np

from dlzoo.core import validation
from dlzoo.data import FEATURES, IMAGE, SIGNAL, VALUES, make_splits, register


def _fractions(options):
    """The test and validation fractions a recipe asked for (20% and 10% by default)."""
    return {
        "test_fraction": float(options.get("test_fraction", 0.2)),
        "val_fraction": float(options.get("val_fraction", 0.1)),
    }


def sample_options(options, noise):
    """``data.num_samples`` (default 1000, at least 10) and ``data.noise`` (>= 0) of a toy problem."""
    count = validation.check_integer("data.num_samples", options.get("num_samples", 1000), minimum=10)
    return count, validation.check_number("data.noise", options.get("noise", noise), minimum=0)


@register("digits")
def load_digits(argument, seed, options):
    """scikit-learn's 1797 handwritten digits, 8x8 grey images of ink counts 0-16, shape (8, 8, 1).

    The values are kept as scikit-learn stores them (``load_digits().images``), so a model
    exported from a digits run takes exactly those images.
    """
    from sklearn import datasets

    digits = datasets.load_digits()
    images = digits.images.astype("float32")[..., np.newaxis]  # (1797, 8, 8, 1), values 0-16
    class_names = [str(label) for label in range(10)]
    return make_splits("digits", IMAGE, class_names, images, digits.target, seed=seed, **_fractions(options))


@register("mnist1d", options={"num_samples": (int,)})
def load_mnist1d(argument, seed, options):
    """MNIST-1D (Greydanus 2020): 40-sample 1-D signals of 10 digit templates, generated locally.

    The paper's dataset (4000 train / 1000 test) is made with the package's default arguments;
    ``num_samples`` in ``[data]`` makes a larger or smaller one. We call ``make_dataset`` and
    never the package's download path, so no network is needed.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    arguments = get_dataset_args()
    arguments.num_samples = validation.check_integer("data.num_samples", options.get("num_samples", arguments.num_samples),
                                                     minimum=100)
    generated = make_dataset(arguments)  # seeded by the package's own fixed seed (42)
    class_names = [str(label) for label in range(10)]
    return make_splits(
        "mnist1d", SIGNAL, class_names,
        generated["x"], generated["y"], generated["x_test"], generated["y_test"],
        seed=seed, val_fraction=float(options.get("val_fraction", 0.1)),
    )


@register("moons", options={"num_samples": (int,), "noise": (int, float)})
def load_moons(argument, seed, options):
    """Two interleaving half circles in 2-D (1000 points, noise 0.2): a non-linear boundary."""
    from sklearn import datasets

    count, noise = sample_options(options, noise=0.2)
    x, y = datasets.make_moons(n_samples=count, noise=noise, random_state=seed)
    return make_splits("moons", FEATURES, ["upper", "lower"], x, y, seed=seed, **_fractions(options))


@register("circles", options={"num_samples": (int,), "noise": (int, float)})
def load_circles(argument, seed, options):
    """A small circle inside a large one in 2-D (1000 points): not linearly separable."""
    from sklearn import datasets

    count, noise = sample_options(options, noise=0.1)
    x, y = datasets.make_circles(n_samples=count, noise=noise, factor=0.5, random_state=seed)
    return make_splits("circles", FEATURES, ["outer", "inner"], x, y, seed=seed, **_fractions(options))


@register("breast_cancer")
def load_breast_cancer(argument, seed, options):
    """Wisconsin diagnostic breast cancer: 569 tumours, 30 features, malignant vs benign."""
    from sklearn import datasets

    data = datasets.load_breast_cancer()
    return make_splits(
        "breast_cancer", FEATURES, list(data.target_names), data.data, data.target,
        seed=seed, **_fractions(options),
    )


@register("diabetes")
def load_diabetes(argument, seed, options):
    """Diabetes progression (Efron et al. 2004): 442 patients, 10 features, a real-valued target.

    The target is a measure of disease progression one year after baseline (25-346). The
    features are scikit-learn's scaled version (each column centred, unit norm), as stored in
    ``sklearn.datasets.load_diabetes()``. A regression dataset: splits are random, not stratified.
    """
    from sklearn import datasets

    data = datasets.load_diabetes()
    return make_splits("diabetes", FEATURES, [], data.data, data.target, seed=seed, targets=VALUES,
                       **_fractions(options))
