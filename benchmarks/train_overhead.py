"""What does the platform cost? ``dlzoo train cnn`` against the same training in plain Keras.

Times, as whole processes (imports included), ``python -m dlzoo train cnn`` with the recipe's
default settings (digits, batch 32, 30 epochs, Adam with cosine decay; the run also writes its
checkpoints, history, TensorBoard logs, SavedModel export, pictures and report) and a plain
Keras script written below, which does not import dlzoo: the same model architecture
(``dlzoo/models/cnn.py`` with ``filters = [32, 64]``, ``batch_norm = true``: conv-BN-ReLU,
max pooling, conv-BN-ReLU, global average pooling, softmax), the same digits splits and
standardization, batch size, epochs and optimizer, fit with validation and a test evaluation.
Prints the median of ``--repeats`` runs of each and the ratio (target: <= 1.1), and, to show
where a difference comes from, the median time spent in ``fit`` (dlzoo's ``train_seconds``).

    PYTHONPATH=$PWD python benchmarks/train_overhead.py [--repeats 3]
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PLAIN_KERAS = r'''
"""digits + the small CNN of the cnn recipe, in plain Keras (no dlzoo)."""
import math
import time

import keras
import numpy as np
from keras import layers
from sklearn import datasets
from sklearn.model_selection import train_test_split

EPOCHS, BATCH_SIZE, SEED = 30, 32, 0
keras.utils.set_random_seed(SEED)

# Data: the same stratified splits as dlzoo (20% test, then 10% of all for validation).
digits = datasets.load_digits()
x = (digits.images / 16.0).astype("float32")[..., np.newaxis]  # (1797, 8, 8, 1)
y = digits.target.astype("int32")
x, x_test, y, y_test = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.1 * 1797 / len(y), random_state=SEED + 1,
                                                  stratify=y)
mean, std = x_train.mean(), x_train.std()
x_train, x_val, x_test = [(images - mean) / std for images in (x_train, x_val, x_test)]

# Model: conv(32)-BN-ReLU, 2x2 max pooling, conv(64)-BN-ReLU, global average pooling, softmax.
inputs = keras.Input((8, 8, 1))
features = inputs
for index, filters in enumerate((32, 64)):
    features = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(features)
    features = layers.BatchNormalization()(features)
    features = layers.Activation("relu")(features)
    if index == 0:
        features = layers.MaxPooling2D(2)(features)
features = layers.GlobalAveragePooling2D()(features)
outputs = layers.Activation("softmax")(layers.Dense(10)(features))
model = keras.Model(inputs, outputs)

steps = EPOCHS * math.ceil(len(y_train) / BATCH_SIZE)
optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.003, decay_steps=steps))
model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, validation_data=(x_val, y_val), verbose=2)
print(f"fit_seconds {time.perf_counter() - start:.3f}")
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test_accuracy {accuracy:.4f}")
'''


def seconds(command, cwd):
    """Wall time of ``command`` run once as a new process in ``cwd``, and its standard output."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return elapsed, result.stdout


def dlzoo_fit_seconds(runs_root):
    """``train_seconds`` (the time in ``fit``) from the metrics.json of the one run under ``runs_root``."""
    (path,) = glob.glob(os.path.join(runs_root, "cnn", "*", "metrics.json"))
    with open(path) as file:
        return json.load(file)["train_seconds"]


def plain_fit_seconds(output):
    """The ``fit_seconds`` line printed by the plain Keras script."""
    return float(next(line.split()[1] for line in output.splitlines() if line.startswith("fit_seconds")))


def main():
    """Time both trainings ``--repeats`` times, alternating, and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    environment_path = os.environ.get("PYTHONPATH", "")
    times = {"dlzoo train cnn": [], "plain Keras script": []}
    fit_times = {label: [] for label in times}
    with tempfile.TemporaryDirectory(prefix="dlzoo-overhead-") as temporary:
        script = os.path.join(temporary, "plain_keras_cnn.py")
        with open(script, "w") as file:
            file.write(PLAIN_KERAS)
        for repeat in range(arguments.repeats):
            # Alternate the two, so that a busy moment of a shared machine hits both alike.
            runs_root = os.path.join(temporary, f"runs{repeat}")
            elapsed, _ = seconds([sys.executable, "-m", "dlzoo", "train", "cnn", "--runs", runs_root], os.getcwd())
            times["dlzoo train cnn"].append(elapsed)
            fit_times["dlzoo train cnn"].append(dlzoo_fit_seconds(runs_root))
            elapsed, output = seconds([sys.executable, script], temporary)
            times["plain Keras script"].append(elapsed)
            fit_times["plain Keras script"].append(plain_fit_seconds(output))
    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"PYTHONPATH={environment_path or '(unset)'}; {arguments.repeats} runs each, whole processes")
    print(f"{'command':22s} {'median s':>9s} {'of it fit':>10s}  all runs")
    for label, values in times.items():
        fit_median = statistics.median(fit_times[label])
        print(f"{label:22s} {medians[label]:9.1f} {fit_median:10.1f}  {', '.join(f'{value:.1f}' for value in values)}")
    ratio = medians["dlzoo train cnn"] / medians["plain Keras script"]
    print(f"ratio dlzoo / plain Keras: {ratio:.2f}x ({'meets' if ratio <= 1.1 else 'misses'} the <= 1.1x target)")


if __name__ == "__main__":
    main()
