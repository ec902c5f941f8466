"""How much memory does ``dlzoo train fashion-cnn`` take beyond TensorFlow's own?

The decoded Fashion-MNIST is 70,000 x 28 x 28 uint8 = 52.3 MiB (55 MB); the target is a peak
resident memory (RSS) of the run below 2x that on top of what TensorFlow itself needs. So two
fresh processes are measured:

1. **baseline**: imports TensorFlow and Keras, builds and compiles the recipe's model (the
   recipe's builder, so it follows the recipe), and trains it for one step on one random batch
   (so TensorFlow's traced training graph is in memory too) and predicts one batch; then trains
   an epoch's number of steps on that same batch with validation (TensorFlow's own memory grows
   over the first hundreds of steps): what any Keras script training this model holds, with no
   dataset. The run is compared with both points;
2. **run**: the real command, ``dlzoo train <recipe> --epochs 1`` (loading, fit, evaluation of
   the three splits, model.keras, the verified SavedModel, the pictures, the baselines, the
   report), with the peak RSS recorded after each step.

3. **slice**: the same command on the first fifth of the same files (12,000 training and 2,000
   test images, in a temporary ``$DLZOO_DATA/fashion_mnist/``): the same code, the same dataset
   name, a fifth of the data.

Prints the peaks, the stage that raised each, and two readings of the target:

* over the baseline: what the run added to a Keras script of the same model, the data *and*
  everything the run does beside ``fit`` (scikit-learn and matplotlib imported, the evaluation
  and export graphs, the SavedModel loaded back to verify it);
* proportional to the data: ``(peak of the run - peak of the slice) / (4/5)``, the memory that
  grows with the number of images, which is what "2x the decoded dataset" asks about (a second
  float32 copy of the images alone would be 4x: 209 MiB).

Needs the real files.

    PYTHONPATH=$PWD python benchmarks/fashion_memory.py [--recipe fashion-cnn] [--epochs 1]
"""

import argparse
import pathlib
import json
import os
import subprocess
import sys
import tempfile
import time

import run_steps

# Peak RSS (ru_maxrss, KiB on Linux) and current RSS of this process, in MiB.
RSS_HELPERS = r"""
import resource

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def current_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
"""

BASELINE_CHILD = RSS_HELPERS + r"""
import json, sys
import numpy as np
import keras
import tensorflow as tf
from dlzoo import models
from dlzoo.config import resolve
from dlzoo.tasks.supervised import build_optimizer

stages = {"import tensorflow": peak_mib()}
config = resolve.load_config(sys.argv[1])
options = {key: value for key, value in config["model"].items() if key != "name"}
model = models.build(config["model"]["name"], (28, 28, 1), 10, **options)
model.compile(optimizer=build_optimizer(config, 1000), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
stages["build + compile the model"] = peak_mib()
batch = config["data"]["batch_size"]
images = np.random.default_rng(0).integers(0, 256, (batch, 28, 28, 1)).astype("uint8")
labels = np.random.default_rng(1).integers(0, 10, batch).astype("int32")
model.fit(images, labels, batch_size=batch, epochs=1, verbose=0)
model.predict(images, verbose=0)
stages["one training step, one prediction"] = one_step = peak_mib()
# TensorFlow's own memory grows over the first few hundred steps (allocator and kernel caches,
# about 20 MiB for this CNN), and validation traces a test function: an epoch of steps with
# validation on that one random batch is what a Keras script training this model holds, data aside.
import math
batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
model.fit(batches.take(math.ceil(53_000 / batch)), validation_data=batches.take(math.ceil(7_000 / batch)),
          epochs=1, verbose=0)
stages["an epoch of steps on that batch, validation"] = peak_mib()
print("RESULT " + json.dumps({"stages": stages, "peak_mib": peak_mib(), "one_step_peak_mib": one_step,
                              "current_mib": current_mib()}))
"""

RUN_CHILD = run_steps.CHILD_PREAMBLE + RSS_HELPERS + r"""
import json, sys
import run_steps

stages = {}


def record_peak(label, state):
    stages[label] = max(stages.get(label, 0.0), peak_mib())
    stages[label + " (current)"] = current_mib()


stages["before"] = peak_mib()
run_steps.wrap_steps(lambda label, name: None, record_peak)

from dlzoo.cli import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
except SystemExit as exit:
    if exit.code:
        raise
print("RESULT " + json.dumps({"stages": stages, "peak_mib": peak_mib(), "current_mib": current_mib()}))
"""


# The slice: a fifth of the files, above the 10,000 training images where the baselines subsample,
# so that both runs take the same steps.
SLICE = 0.2
IDX_FILES = (("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


def run_child(code, arguments):
    """Run ``code`` in a fresh interpreter; its RESULT line as a dict, with wall and CPU seconds."""
    start, before = time.perf_counter(), os.times()
    completed = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    after = os.times()
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        sys.exit(f"the child failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    result["wall_seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return result


def main():
    """Measure the baseline process and the run; print peaks, stages and the ratio to the dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion-cnn")
    parser.add_argument("--epochs", type=int, default=1)
    arguments = parser.parse_args()
    decoded_mib = 70_000 * 28 * 28 / 2**20
    load = os.getloadavg()[0]
    baseline = run_child(BASELINE_CHILD, [arguments.recipe])
    command = ["train", arguments.recipe, "--epochs", str(arguments.epochs), "--runs"]
    with tempfile.TemporaryDirectory() as runs_root:
        run = run_child(RUN_CHILD, [*command, runs_root])
    with tempfile.TemporaryDirectory() as scratch:
        # In a child of its own: the arrays read here would otherwise count in the next child's peak
        # (Linux carries the parent's peak RSS over into a forked child).
        subprocess.run([sys.executable, "-c", f"import fashion_memory; fashion_memory.write_slice({scratch!r}, {SLICE})"],
                       check=True, cwd=pathlib.Path(__file__).parent)
        os.environ["DLZOO_DATA"] = scratch
        try:
            sliced = run_child(RUN_CHILD, [*command, str(pathlib.Path(scratch) / "runs")])
        finally:
            del os.environ["DLZOO_DATA"]
    print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"baseline (TensorFlow + the {arguments.recipe} model trained on one random batch, no data): peak RSS "
          f"{baseline['peak_mib']:.0f} MiB ({baseline['wall_seconds']:.0f} s wall, {baseline['cpu_seconds']:.0f} s CPU)")
    for label, mib in baseline["stages"].items():
        print(f"    after {label:40s} {mib:7.0f} MiB")
    print(f"dlzoo train {arguments.recipe} --epochs {arguments.epochs}: peak RSS {run['peak_mib']:.0f} MiB "
          f"({run['wall_seconds']:.0f} s wall, {run['cpu_seconds']:.0f} s CPU)")
    print_stages(run)
    print(f"the same command on the first {SLICE:.0%} of the files: peak RSS {sliced['peak_mib']:.0f} MiB "
          f"({sliced['wall_seconds']:.0f} s wall, {sliced['cpu_seconds']:.0f} s CPU)")
    print_stages(sliced)
    for name, reference in (("one training step", baseline["one_step_peak_mib"]),
                            ("an epoch of steps with validation", baseline["peak_mib"])):
        added = run["peak_mib"] - reference
        print(f"added by the run over the baseline after {name}: {added:.0f} MiB = {added / decoded_mib:.2f}x the "
              f"decoded dataset ({decoded_mib:.1f} MiB as uint8; target < 2x)")
    proportional = (run["peak_mib"] - sliced["peak_mib"]) / (1 - SLICE)
    print(f"proportional to the data: ({run['peak_mib']:.0f} - {sliced['peak_mib']:.0f} MiB) / {1 - SLICE:.0%} = "
          f"{proportional:.0f} MiB = {proportional / decoded_mib:.2f}x the decoded dataset (target < 2x)")


def print_stages(run):
    """The peak (and current) resident memory of ``run`` after each of its steps."""
    for label, mib in run["stages"].items():
        if not label.endswith("(current)"):
            current = run["stages"].get(label + " (current)")
            print(f"    peak after {label:35s} {mib:7.0f} MiB" + (f"  (current {current:.0f} MiB)" if current else ""))


def write_slice(data_root, fraction):
    """The first ``fraction`` of the real Fashion-MNIST's training and test images (and labels), as the
    four gzipped IDX files of the format, in ``data_root/fashion_mnist``: the data of the slice."""
    from dlzoo.data import idx, real

    x_train, y_train, x_test, y_test = real.read_mnist_format(real.locate("fashion_mnist"))
    folder = pathlib.Path(data_root) / "fashion_mnist"
    folder.mkdir(parents=True)
    for (images, labels), names in zip(((x_train, y_train), (x_test, y_test)), IDX_FILES):
        count = int(len(images) * fraction)
        idx.write_idx(folder / names[0], images[:count])
        idx.write_idx(folder / names[1], labels[:count])


if __name__ == "__main__":
    main()
