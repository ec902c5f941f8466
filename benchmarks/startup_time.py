"""How fast do the light commands start, compared with importing TensorFlow?

``dlzoo --help``, ``dlzoo list`` and ``dlzoo show`` must not import TensorFlow, and neither
must a command that fails on bad input (a misspelt recipe, an export destination that is not
empty, a run folder that does not exist): such an error should come back in well under half a
second. This script times each of them as a fresh process (the median of several runs, in a
scratch folder) next to ``python -c "import tensorflow"`` and prints a table.

    python benchmarks/startup_time.py [--repeats 5]
"""

import argparse
import os
import statistics
import pathlib
import subprocess
import sys
import tempfile
import time

TARGET_SECONDS = 0.5  # what a usage error may cost

COMMANDS = {
    "dlzoo --help": [sys.executable, "-m", "dlzoo", "--help"],
    "dlzoo list": [sys.executable, "-m", "dlzoo", "list"],
    "dlzoo show mlp": [sys.executable, "-m", "dlzoo", "show", "mlp"],
    "dlzoo train lenett": [sys.executable, "-m", "dlzoo", "train", "lenett"],
    "dlzoo export cnn --out full/": [sys.executable, "-m", "dlzoo", "export", "cnn", "--out", "full"],
    "dlzoo evaluate runs/nowhere": [sys.executable, "-m", "dlzoo", "evaluate", "runs/nowhere"],
    'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
}
# Commands that must fail (exit code 2) and be fast.
USAGE_ERRORS = ("dlzoo train lenett", "dlzoo export cnn --out full/", "dlzoo evaluate runs/nowhere")


def median_seconds(command, repeats, folder, expected_code=0):
    """Median wall time of ``command`` run ``repeats`` times as a new process in ``folder``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, cwd=folder)
        times.append(time.perf_counter() - start)
        if completed.returncode != expected_code:
            raise SystemExit(f"{' '.join(map(str, command))} exited with {completed.returncode}, not {expected_code}: "
                             f"{completed.stderr.decode(errors='replace').strip()}")
    return statistics.median(times)


def main():
    """Time every command and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    source = str(pathlib.Path(__file__).resolve().parents[1])  # this checkout first, from any folder
    with tempfile.TemporaryDirectory() as folder:
        (pathlib.Path(folder) / "full").mkdir()
        (pathlib.Path(folder) / "full" / "keep.txt").write_text("an export never overwrites this")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
        results = {label: median_seconds(command, arguments.repeats, folder, 2 if label in USAGE_ERRORS else 0)
                   for label, command in COMMANDS.items()}
    baseline = results['python -c "import tensorflow"']
    print(f"{'command':32s} {'median s':>9s} {'vs TF import':>13s}")
    for label, seconds in results.items():
        verdict = ""
        if label in USAGE_ERRORS:
            verdict = f"  {'ok' if seconds < TARGET_SECONDS else 'SLOW'} (target < {TARGET_SECONDS} s)"
        print(f"{label:32s} {seconds:9.3f} {seconds / baseline:12.2f}x{verdict}")


if __name__ == "__main__":
    main()
