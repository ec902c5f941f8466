"""What a run costs after training on the real Fashion-MNIST (70,000 images): is it a small fraction?

Trains a recipe (default ``fashion-mlp``) on the real data through the real entry point, in a
fresh process, and times every step after ``fit``: evaluation of the three splits, saving
``model.keras``, the verified SavedModel export, the pictures (confusion matrix, ROC / PR,
reliability, confident mistakes), the classical baselines. It prints them next to the ``fit``
time, the ratio ``wall time / fit time`` (the target: at most 1.25 for ``fashion-mlp``), and the
peak resident memory (RSS) of the process against the size of the decoded dataset (target:
below 2x the dataset on top of what the process holds before loading it).

Needs the real files (``dlzoo doctor`` says whether they are there; Debian:
``apt-get install dataset-fashion-mnist``). Timings on a shared machine vary a lot: say how
busy it was next to every number.

    PYTHONPATH=$PWD python benchmarks/real_data_scale.py [--recipe fashion-mlp] [--epochs 20] [--set KEY=VALUE ...]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import run_steps

# The child: time the steps of SupervisedTask.finish by wrapping them, then train as the CLI does.
CHILD = run_steps.CHILD_PREAMBLE + r"""
import json, resource, sys, time
import run_steps

timings = {}

def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

def start_clocks(label, name):
    timings.setdefault("peak_rss_mb_before_" + name, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return time.perf_counter(), cpu_seconds()

def add_time(label, started):
    start, cpu = started
    timings[label] = timings.get(label, 0.0) + time.perf_counter() - start
    timings["cpu " + label] = timings.get("cpu " + label, 0.0) + cpu_seconds() - cpu

run_steps.wrap_steps(start_clocks, add_time)

from dlzoo.cli import cli
start = time.perf_counter()
try:
    cli.main(sys.argv[2:], standalone_mode=False)
except SystemExit:
    pass
timings["process after import"] = time.perf_counter() - start
timings["cpu process"] = cpu_seconds()
timings["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("TIMINGS " + json.dumps(timings))
"""


def main():
    """Run the child, read its timings and the run's metrics.json, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion-mlp")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's own")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    arguments = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as runs_root:
        command = ["train", arguments.recipe, "--runs", runs_root, "--set", "train.verbose=0"]
        command += [item for override in arguments.overrides for item in ("--set", override)]
        if arguments.epochs:
            command += ["--epochs", str(arguments.epochs)]
        completed = subprocess.run([sys.executable, "-c", CHILD, "-", *command], capture_output=True, text=True)
        lines = [line for line in completed.stdout.splitlines() if line.startswith("TIMINGS ")]
        if not lines:
            sys.exit(f"the training failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
        timings = json.loads(lines[-1].removeprefix("TIMINGS "))
        import pathlib

        (metrics_path,) = pathlib.Path(runs_root).glob(f"{arguments.recipe}/*/metrics.json")
        record = json.loads(metrics_path.read_text())
    fit = timings["fit"]
    load_after = os.getloadavg()[0]
    print(f"{arguments.recipe} on {record['data']['dataset']} {record['data']['sizes']}, "
          f"{record['epochs_run']} epochs, test accuracy {record['metrics'].get('test_accuracy', float('nan')):.4f}")
    print(f"  load average {load_before:.1f} -> {load_after:.1f} (wall times stretch with it; CPU times much less)")
    for label, seconds in timings.items():
        if not label.startswith(("peak_rss_mb", "cpu ")):
            cpu = timings.get("cpu " + label)
            cpu_text = f"; CPU {cpu:7.1f} s ({cpu / timings['cpu fit']:5.2f} x fit)" if cpu is not None else ""
            print(f"  {label:36s} {seconds:8.1f} s  ({seconds / fit:5.2f} x fit){cpu_text}")
    print(f"  {'CPU of the whole process':36s} {timings['cpu process']:8.1f} s  "
          f"({timings['cpu process'] / timings['cpu fit']:5.2f} x the CPU of fit)")
    for model in record.get("baselines", {}).get("models", []):
        print(f"    baseline {model['name']:27s} fit {model['fit_seconds']:6.1f} s, test accuracy "
              f"{model.get('test_accuracy', float('nan')):.4f}")
    if "sample" in record.get("baselines", {}):
        print(f"    (baselines on subsamples: {record['baselines']['sample']})")
    print(f"  wall_seconds (metrics.json)          {record['wall_seconds']:8.1f} s  "
          f"({record['wall_seconds'] / record['train_seconds']:5.2f} x train_seconds {record['train_seconds']:.1f} s; "
          "target <= 1.25)")
    sizes = record["data"]["sizes"]
    shape = record["data"]["input_shape"]
    pixels = 1
    for side in shape:
        pixels *= side
    decoded_mb = sum(sizes.values()) * pixels / 2**20  # uint8
    before = timings["peak_rss_mb_before_load_splits"]
    print(f"  peak RSS {timings['peak_rss_mb']:.0f} MB, {before:.0f} MB before loading the data (TensorFlow, Keras): "
          f"the run added {timings['peak_rss_mb'] - before:.0f} MB; decoded dataset {decoded_mb:.0f} MB as uint8 "
          f"({4 * decoded_mb:.0f} MB as float32)")


if __name__ == "__main__":
    main()
