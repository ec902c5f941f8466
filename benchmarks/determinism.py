"""Same seed twice, same numbers? Every recipe trained twice with ``--quick --deterministic``.

``--deterministic`` seeds Python, NumPy and Keras, turns on TensorFlow's deterministic ops and
makes ``tf.data`` deterministic. For each recipe (default: all of them, or the names given),
this script trains it twice as fresh processes in a scratch folder and compares the two
``metrics.json`` files: every metric must be equal to the last bit. Timing fields (seconds,
samples per second) are not metrics and are not compared. Prints one line per recipe and a
summary; exits 1 if any recipe differs or fails.

    PYTHONPATH=$PWD python benchmarks/determinism.py [RECIPE ...]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time


def recipe_names():
    """Every recipe of the zoo."""
    from dlzoo.config import recipes

    return recipes.recipe_names()


def train_twice(recipe, folder):
    """Train ``recipe`` twice (``--quick --deterministic``); returns both metrics tables and the seconds taken."""
    tables = []
    start = time.perf_counter()
    for attempt in ("first", "second"):
        command = [sys.executable, "-m", "dlzoo", "train", recipe, "--quick", "--deterministic",
                   "--set", "train.verbose=0", "--runs", str(folder / attempt)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output")
        (metrics_file,) = (folder / attempt).glob("*/*/metrics.json")
        tables.append(json.loads(metrics_file.read_text())["metrics"])
    return tables, time.perf_counter() - start


def differences(first, second):
    """Names of the metrics whose values differ between two runs (or exist in only one)."""
    return sorted(name for name in set(first) | set(second) if first.get(name) != second.get(name))


def main():
    """Check every recipe (or the ones named) and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help="recipe names (default: every recipe)")
    arguments = parser.parse_args()
    names = arguments.recipes or recipe_names()
    failures = 0
    print(f"{'recipe':26s} {'metrics':>7s} {'seconds':>8s}  result")
    with tempfile.TemporaryDirectory(prefix="dlzoo-determinism-") as temporary:
        for name in names:
            folder = pathlib.Path(temporary) / name
            try:
                (first, second), seconds = train_twice(name, folder)
            except RuntimeError as error:
                failures += 1
                print(f"{name:26s} {'':>7s} {'':>8s}  run failed: {error}", flush=True)
                continue
            differing = differences(first, second)
            failures += bool(differing)
            verdict = "identical" if not differing else f"DIFFERENT: {', '.join(differing[:5])}"
            print(f"{name:26s} {len(first):7d} {seconds:8.1f}  {verdict}", flush=True)
    print(f"{len(names) - failures} of {len(names)} recipes gave identical metrics twice")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
