"""Epoch time of the from-scratch NumPy MLP against the same MLP trained by Keras ``fit``.

Both train the same 64-128-10 ReLU network (the Keras one is built by ``to_keras_model`` from
the NumPy one, so even the initial weights match) on the same standardized digits training
split, with the same batch size and the same optimizer (momentum SGD or Adam, NumPy versions
from ``dlzoo.optimizers.numpy_optimizers``, Keras built-ins). The first epoch of each is a
warm-up (Keras traces its train step then); the median of the following epochs is reported.

    python benchmarks/numpy_vs_keras_mlp.py [--epochs 6] [--batch-size 32] [--optimizer adam]
                                            [--blas-threads 1]

Prints both epoch times, their ratio, and the test accuracy each reached.

``--blas-threads N`` caps the threads of NumPy's BLAS (it sets ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS`` and ``OMP_NUM_THREADS`` before NumPy is imported). For matrices this small,
BLAS threads cost more than they save as soon as the cores are busy with anything else:
one thread is then several times faster at batch 256.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _cap_blas_threads(argv):
    """Apply ``--blas-threads N`` now: BLAS reads its thread count when NumPy is imported."""
    for index, argument in enumerate(argv):
        if argument == "--blas-threads" and index + 1 < len(argv):
            threads = argv[index + 1]
        elif argument.startswith("--blas-threads="):
            threads = argument.split("=", 1)[1]
        else:
            continue
        for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[variable] = threads


_cap_blas_threads(sys.argv)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from sklearn import datasets, model_selection  # noqa: E402


OPTIMIZER_SETTINGS = {
    "momentum": {"learning_rate": 0.05, "momentum": 0.9},
    "adam": {"learning_rate": 0.003},
}


def load_standardized_digits(seed=0):
    """Digits as 64 features, standardized with the training mean and std (80/20 split)."""
    digits = datasets.load_digits()
    features = (digits.data / 16.0).astype("float32")  # (1797, 64)
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        features, digits.target, test_size=0.2, stratify=digits.target, random_state=seed)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0  # pixels that are always blank stay 0
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def keras_optimizer(name):
    """The Keras built-in with the same update rule and settings as the NumPy optimizer."""
    import keras

    settings = OPTIMIZER_SETTINGS[name]
    if name == "momentum":
        return keras.optimizers.SGD(**settings)
    return keras.optimizers.Adam(**settings)


def epoch_timer(epoch_seconds):
    """A Keras callback appending the wall time of every epoch of ``fit`` to ``epoch_seconds``."""
    import keras

    starts = []
    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_seconds.append(time.perf_counter() - starts[-1]))


def time_numpy(model, data, optimizer_name, epochs, batch_size, seed):
    """Seconds per epoch of ``NumpyMLP.train_epoch`` (one per epoch) and the test accuracy."""
    from dlzoo.optimizers.numpy_optimizers import get_numpy_optimizer

    x_train, y_train, x_test, y_test = data
    optimizer = get_numpy_optimizer(optimizer_name, **OPTIMIZER_SETTINGS[optimizer_name])
    rng = np.random.default_rng(seed)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train_epoch(x_train, y_train, optimizer, batch_size, rng)
        seconds.append(time.perf_counter() - start)
    return seconds, model.evaluate(x_test, y_test)[1]


def time_keras(model, data, optimizer_name, epochs, batch_size):
    """Seconds per epoch of ``model.fit`` (one per epoch) and the test accuracy."""
    x_train, y_train, x_test, y_test = data
    model.compile(optimizer=keras_optimizer(optimizer_name),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    epoch_seconds = []
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
              callbacks=[epoch_timer(epoch_seconds)])
    return epoch_seconds, model.evaluate(x_test, y_test, verbose=0)[1]


def main():
    """Parse the options, time both trainings, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="timed epochs after the warm-up")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZER_SETTINGS), default="momentum")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="threads of NumPy's BLAS (default: the library's own choice)")
    arguments = parser.parse_args()
    if arguments.epochs < 1 or arguments.batch_size < 1:
        parser.error("--epochs and --batch-size must be positive")

    # Keras (and TensorFlow behind it; dlzoo.optimizers imports Keras) once the options are read:
    # --help stays instant.
    import keras

    from dlzoo.scratch.mlp import NumpyMLP
    from dlzoo.scratch.to_keras import to_keras_model

    data = load_standardized_digits(arguments.seed)
    keras.utils.set_random_seed(arguments.seed)
    numpy_model = NumpyMLP([64, 128, 10], activation="relu", seed=arguments.seed)
    keras_model = to_keras_model(numpy_model, (64,))  # built before training: same initial weights
    total_epochs = arguments.epochs + 1  # + the warm-up epoch
    numpy_seconds, numpy_accuracy = time_numpy(numpy_model, data, arguments.optimizer,
                                               total_epochs, arguments.batch_size, arguments.seed)
    keras_seconds, keras_accuracy = time_keras(keras_model, data, arguments.optimizer,
                                               total_epochs, arguments.batch_size)
    numpy_epoch = statistics.median(numpy_seconds[1:])
    keras_epoch = statistics.median(keras_seconds[1:])
    steps = -(-len(data[0]) // arguments.batch_size)
    print(f"digits: {len(data[0])} training samples, batch {arguments.batch_size} "
          f"({steps} steps/epoch), {arguments.optimizer}, 64-128-10 ReLU, "
          f"median of {arguments.epochs} epochs after 1 warm-up")
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"numpy  epoch: {numpy_epoch * 1000:8.2f} ms   test accuracy {numpy_accuracy:.4f}   "
          f"(BLAS threads: {blas_threads})")
    print(f"keras  epoch: {keras_epoch * 1000:8.2f} ms   test accuracy {keras_accuracy:.4f}   "
          f"(backend {keras.backend.backend()}, warm-up epoch {keras_seconds[0] * 1000:.0f} ms)")
    print(f"ratio numpy / keras: {numpy_epoch / keras_epoch:.2f} (target: <= 2)")


if __name__ == "__main__":
    main()
