"""Does training on a folder of images need memory that grows with the folder?

Writes two folders of random 96x96 RGB PNGs (10 classes; 1,000 and 8,000 images by default)
in a temporary directory, then trains a small CNN for one epoch on each, every training in a
fresh process, and prints the peak resident memory (RSS) of each training process and the
ratio. Streaming (``folder:`` read through tf.data, the default) should stay nearly flat
(target: less than 1.3x for 8x the images); ``--modes stream,memory`` also measures the
in-memory path (``data.stream = false``: every image in RAM, as its stored uint8) for comparison.

Each training is the real command, ``dlzoo train cnn --data folder:... --epochs 1`` (the cnn
recipe's model on 96x96 RGB images): loading, statistics from a bounded sample, training,
evaluation of every split (batch by batch), SavedModel export and report.

    PYTHONPATH=$PWD python benchmarks/streaming_memory.py [--sizes 1000 8000] [--modes stream,memory]
"""

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import tempfile

import numpy as np

CLASSES = 10
SIDE = 96

# The training process: `dlzoo train cnn` on the folder, one epoch, in a fresh interpreter
# (arguments in sys.argv: folder, mode, runs root). It streams, evaluates, exports and reports.
TRAIN_CHILD = r"""
import json, pathlib, sys
from dlzoo.cli import cli

folder, mode, runs_root = sys.argv[1], sys.argv[2], sys.argv[3]
arguments = ["train", "cnn", "--data", f"folder:{folder}", "--epochs", "1", "--runs", runs_root,
             "--set", f"data.stream={'true' if mode == 'stream' else 'false'}", "--set", "train.verbose=0"]
try:
    cli.main(arguments, standalone_mode=False)
except SystemExit as exit:
    if exit.code:
        raise
record = json.loads(next(pathlib.Path(runs_root, "cnn").glob("*/metrics.json")).read_text())
print(json.dumps({"status": record["status"], "sizes": record["data"]["sizes"],
                  "test_accuracy": record["metrics"]["test_accuracy"]}))
"""

# The measuring process: one per training, so that RUSAGE_CHILDREN sees that training only.
MEASURE_CHILD = r"""
import json, resource, subprocess, sys
result = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)
if result.returncode != 0:
    sys.exit(result.stderr[-3000:])
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"peak_mib": peak_kib / 1024, "child": json.loads(result.stdout.strip().splitlines()[-1])}))
"""


def write_folder(root, count, seed=0):
    """``count`` random SIDExSIDE RGB PNGs spread over CLASSES sub-folders."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index in range(count):
        folder = root / f"class{index % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, size=(SIDE, SIDE, 3), dtype=np.uint8)).save(folder / f"{index:05d}.png")
    return root


def peak_memory(folder, mode):
    """Peak RSS (MiB) of one training process on ``folder`` in ``mode`` (``stream``/``memory``)."""
    with tempfile.TemporaryDirectory(prefix="dlzoo-streaming-runs-") as runs_root:
        output = subprocess.run([sys.executable, "-c", MEASURE_CHILD, TRAIN_CHILD, str(folder), mode, runs_root],
                                check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    """Write the folders, measure each training, print peaks and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(1000, 8000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--modes", default="stream", help="comma-separated: stream, memory")
    arguments = parser.parse_args()
    modes = [mode.strip() for mode in arguments.modes.split(",") if mode.strip()]
    small, large = arguments.sizes
    with tempfile.TemporaryDirectory(prefix="dlzoo-streaming-") as temporary:
        folders = {count: write_folder(pathlib.Path(temporary) / f"images{count}", count) for count in (small, large)}
        print(f"{CLASSES} classes of random {SIDE}x{SIDE} RGB PNGs; `dlzoo train cnn --epochs 1` per run, "
              f"one fresh process per run")
        print(f"{'mode':8s} {'images':>7s} {'peak RSS MiB':>13s} {'test acc':>9s}  split sizes")
        for mode in modes:
            peaks = {}
            for count, folder in folders.items():
                result = peak_memory(folder, mode)
                peaks[count] = result["peak_mib"]
                child = result["child"]
                print(f"{mode:8s} {count:7d} {peaks[count]:13.0f} {child['test_accuracy']:9.3f}  {child['sizes']}")
            ratio = peaks[large] / peaks[small]
            verdict = "meets" if ratio < 1.3 else "misses"
            print(f"{mode:8s} ratio {large}/{small} images: {ratio:.2f}x ({verdict} the < 1.3x target for "
                  f"{large / small:.0f}x the images)")


if __name__ == "__main__":
    main()
