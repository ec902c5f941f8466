"""Does transfer learning help? Frozen / fine-tuned / scratch test accuracy of a transfer recipe over seeds.

Trains the recipe (default ``transfer-shapes``: a CNN pretrained on circles, squares and
triangles, then stars vs crosses from 10 labels per class) once per seed, each as a whole
``python -m dlzoo train RECIPE --set train.seed=S`` process into a temporary runs folder, and
prints the three test accuracies of every seed, their means, and the fine-tuned minus scratch
gap (the transfer gain). The data (data.seed) is the same for every seed: the seeds change the
initial weights and the order of the batches, of the pretraining as well as of the target
stages. Pass ``--set section.key=value`` to try another design (fewer labels, other classes).

    PYTHONPATH=$PWD python benchmarks/transfer_seeds.py [--recipe transfer-shapes] [--seeds 0 1 2]
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

COLUMNS = ("frozen_test_accuracy", "fine_tuned_test_accuracy", "scratch_test_accuracy")


def train_once(recipe, seed, overrides, runs_root):
    """Train ``recipe`` with ``train.seed = seed`` into ``runs_root``; return its metrics.json record."""
    command = [sys.executable, "-m", "dlzoo", "train", recipe, "--set", f"train.seed={seed}",
               "--set", "train.verbose=0", "--runs", runs_root]
    for assignment in overrides:
        command += ["--set", assignment]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    (path,) = glob.glob(os.path.join(runs_root, "*", "*", "metrics.json"))
    with open(path) as file:
        return json.load(file)


def table(rows):
    """The printed table: one line per seed, then the mean line."""
    header = f"{'seed':>6s} {'frozen':>8s} {'fine-tuned':>11s} {'scratch':>8s} {'gap (ft - scratch)':>19s} {'source':>7s} {'seconds':>8s}"
    lines = [header]
    for seed, metrics, seconds in rows:
        gap = metrics["fine_tuned_test_accuracy"] - metrics["scratch_test_accuracy"]
        source = metrics.get("source_test_accuracy", float("nan"))
        lines.append(f"{seed:>6} {metrics['frozen_test_accuracy']:8.3f} {metrics['fine_tuned_test_accuracy']:11.3f} "
                     f"{metrics['scratch_test_accuracy']:8.3f} {gap:+19.3f} {source:7.3f} {seconds:8.0f}")
    means = {key: statistics.mean(metrics[key] for _, metrics, _ in rows) for key in COLUMNS}
    gaps = [metrics["fine_tuned_test_accuracy"] - metrics["scratch_test_accuracy"] for _, metrics, _ in rows]
    lines.append(f"{'mean':>6s} {means['frozen_test_accuracy']:8.3f} {means['fine_tuned_test_accuracy']:11.3f} "
                 f"{means['scratch_test_accuracy']:8.3f} {statistics.mean(gaps):+19.3f}")
    return "\n".join(lines), gaps


def main():
    """Train once per seed, print the table and whether fine-tuning beat scratch on every seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="transfer-shapes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="an override passed to every run (repeatable)")
    arguments = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dlzoo-transfer-seeds-") as temporary:
        for seed in arguments.seeds:
            record = train_once(arguments.recipe, seed, arguments.overrides, os.path.join(temporary, f"seed{seed}"))
            rows.append((seed, record["metrics"], record.get("wall_seconds", float("nan"))))
            print(f"seed {seed}: done", file=sys.stderr, flush=True)
    text, gaps = table(rows)
    settings = " ".join(f"--set {assignment}" for assignment in arguments.overrides)
    print(f"{arguments.recipe} {settings}".rstrip() + f": test accuracy on the target classes, seeds {arguments.seeds}")
    print(text)
    verdict = "beats" if min(gaps) > 0 else "does NOT beat"
    print(f"fine-tuned {verdict} scratch on every seed (smallest gap {min(gaps):+.3f})")


if __name__ == "__main__":
    main()
