"""Is dlzoo's ``fit`` as fast as plain Keras? The ``fashion-cnn`` model on the real Fashion-MNIST.

Times ``fit`` of the ``fashion-cnn`` recipe two ways, each in a fresh process, alternating
(dlzoo, Keras, dlzoo, Keras, ...) so that a busy moment of the shared machine hits both alike:

* **dlzoo**: the recipe prepared as ``dlzoo train`` prepares it (``dlzoo.commands.lifecycle.prepare``: the
  uint8 splits, the model with its ``standardize`` layer, the optimizer, the tf.data pipeline of
  shuffled indices) and trained by ``dlzoo.training.fit.fit``, with every platform callback (history,
  TensorBoard, checkpoints, divergence guard, signal stop) and the task's own (gradient
  statistics when the recipe asks for them), into a temporary run folder;
* **plain Keras**: the same model (built by the recipe's builder, so it follows the recipe when
  its architecture changes), compiled with the same optimizer, loss and metric, and trained by
  ``model.fit(x_train, y_train, batch_size, epochs, validation_data=(x_val, y_val))`` on the
  same uint8 NumPy arrays, with no callbacks.

Both fit the same 53,000 training images and validate on the same 7,000, with the recipe's
batch size, for ``--epochs`` epochs. Prints every time (wall and process CPU), the medians and
the ratio dlzoo / Keras (target: <= 1.05), with the load average around each measurement.

Needs the real files (``dlzoo doctor``; Debian: ``apt-get install dataset-fashion-mnist``).

    PYTHONPATH=$PWD python benchmarks/fashion_cnn_throughput.py [--epochs 2] [--repeats 3] [--recipe fashion-cnn]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

# One measurement in a fresh process: argv = mode ("dlzoo" or "keras"), recipe, epochs.
CHILD = r"""
import json, os, resource, sys, tempfile, time, pathlib

mode, recipe, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])

from dlzoo import tasks
from dlzoo.config import resolve as config_module
from dlzoo.commands import lifecycle
from dlzoo.core import quiet
from dlzoo.training import devices, fit

config = config_module.load_config(recipe)
config["train"]["epochs"] = epochs  # the optimizer's "auto" schedule spans these epochs, in both
quiet.import_tensorflow()
devices.configure_device("auto", config["train"])
task = tasks.create(config["task"])
prepared = lifecycle.prepare(task, config, quick=False)
model, splits = prepared.model, prepared.splits


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


load_before = os.getloadavg()[0]
if mode == "dlzoo":
    folder = pathlib.Path(tempfile.mkdtemp(prefix="dlzoo-throughput-"))
    cpu, start = cpu_seconds(), time.perf_counter()
    fit.fit(model, prepared.datasets["train"], prepared.datasets["val"], folder, config["train"], epochs,
                 extra_callbacks=prepared.callbacks)
else:
    x_train, y_train = splits.arrays("train")
    x_val, y_val = splits.arrays("val")
    cpu, start = cpu_seconds(), time.perf_counter()
    model.fit(x_train, y_train, batch_size=config["data"]["batch_size"], epochs=epochs,
              validation_data=(x_val, y_val), verbose=2)
seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
print("RESULT " + json.dumps({"fit_seconds": seconds, "fit_cpu_seconds": cpu, "load_before": load_before,
                              "load_after": os.getloadavg()[0], "train": len(splits.arrays("train")[1]),
                              "dtype": str(splits.arrays("train", limit=1)[0].dtype),
                              "parameters": int(model.count_params()),
                              "batch_size": config["data"]["batch_size"]}))
"""


def measure(mode, recipe, epochs):
    """One ``fit`` in a fresh process: ``{"fit_seconds", "fit_cpu_seconds", "load_before", ...}``."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run([sys.executable, "-c", CHILD, mode, recipe, str(epochs)], capture_output=True,
                               text=True, env=environment)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        sys.exit(f"the {mode} measurement failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main():
    """Measure both ``--repeats`` times, alternating; print every run, the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion-cnn")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    results = {"dlzoo": [], "keras": []}
    for repeat in range(arguments.repeats):
        for mode in ("dlzoo", "keras") if repeat % 2 == 0 else ("keras", "dlzoo"):
            result = measure(mode, arguments.recipe, arguments.epochs)
            results[mode].append(result)
            print(f"  run {repeat + 1} {mode:5s}: fit {result['fit_seconds']:6.1f} s wall, "
                  f"{result['fit_cpu_seconds']:6.1f} s CPU (load average {result['load_before']:.1f} -> "
                  f"{result['load_after']:.1f})", flush=True)
    first = results["dlzoo"][0]
    print(f"{arguments.recipe}: {first['parameters']:,} parameters, {first['train']} {first['dtype']} training "
          f"images, batch {first['batch_size']}, {arguments.epochs} epochs, median of {arguments.repeats}")
    medians, cpu_medians = {}, {}
    for mode, label in (("dlzoo", "dlzoo training.fit"), ("keras", "plain Keras model.fit")):
        medians[mode] = statistics.median(result["fit_seconds"] for result in results[mode])
        cpu_medians[mode] = statistics.median(result["fit_cpu_seconds"] for result in results[mode])
        print(f"  {label:24s} {medians[mode]:7.1f} s wall, {cpu_medians[mode]:7.1f} s CPU")
    ratio = medians["dlzoo"] / medians["keras"]
    print(f"  ratio dlzoo / Keras: {ratio:.3f} wall ({'meets' if ratio <= 1.05 else 'misses'} the <= 1.05 target), "
          f"{cpu_medians['dlzoo'] / cpu_medians['keras']:.3f} CPU (on a machine shared with other jobs the CPU "
          "ratio is the steadier one: wall time also counts the waits for a core)")


if __name__ == "__main__":
    main()
