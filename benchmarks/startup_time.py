"""How fast do the light commands start, compared with importing TensorFlow?

``dlzoo --help``, ``dlzoo list`` and ``dlzoo show`` must not import TensorFlow. This script
times each of them as a fresh process (the median of several runs) next to
``python -c "import tensorflow"`` and prints a table.

    python benchmarks/startup_time.py [--repeats 5]
"""

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "dlzoo --help": [sys.executable, "-m", "dlzoo", "--help"],
    "dlzoo list": [sys.executable, "-m", "dlzoo", "list"],
    "dlzoo show mlp": [sys.executable, "-m", "dlzoo", "show", "mlp"],
    'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
}


def median_seconds(command, repeats):
    """Median wall time of ``command`` run ``repeats`` times as a new process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    """Time every command and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    results = {label: median_seconds(command, arguments.repeats) for label, command in COMMANDS.items()}
    baseline = results['python -c "import tensorflow"']
    print(f"{'command':32s} {'median s':>9s} {'vs TF import':>13s}")
    for label, seconds in results.items():
        print(f"{label:32s} {seconds:9.3f} {seconds / baseline:12.2f}x")


if __name__ == "__main__":
    main()
