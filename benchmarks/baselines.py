"""Measure the classical baselines of every recipe (full data, the recipe's split) for the README.

    PYTHONPATH=. python benchmarks/baselines.py            # print the table
    PYTHONPATH=. python benchmarks/baselines.py --write    # also store it in each recipe's [expect] baseline

The numbers are :func:`dlzoo.metrics.baselines.fit_baselines` on the data a full (not --quick) run of
the recipe trains on; ``dlzoo list --markdown`` prints them in the README's "baseline" column.
Recipes without data a scikit-learn model can fit (2-D optimizer paths) are skipped.
"""

import re
import sys

from dlzoo import data
from dlzoo.metrics import baselines
from dlzoo.config import recipes
from dlzoo.config import resolve


def recipe_splits(resolved):
    """The splits a full run of the recipe trains on (the target classes for transfer)."""
    if resolved["task"] == "transfer":
        from dlzoo.tasks import transfer

        options = transfer.check_transfer_options(resolved["transfer"], resolved["optimizer"])
        return transfer.load_classes(resolved, options["target_classes"], options["target_train_samples"], False)
    return data.load(resolved["data"]["dataset"], seed=resolved["data"]["seed"], options=dict(resolved["data"]))


def measure(name):
    """``"RBF-SVM 0.983 (0.05 s)"`` for one recipe, or ``None`` when it has no baseline."""
    resolved = resolve.load_config(name)
    if resolved["task"] not in ("classify", "regress", "transfer", "numpy-mlp") and "sweep" not in resolved:
        return None
    result = baselines.fit_baselines(recipe_splits(resolved), seed=resolved["train"]["seed"])
    best = baselines.best_model(result) if "skipped" not in result else None
    if best is None:
        return None
    metric = result["metric"]
    label = "accuracy" if metric == "accuracy" else "R²"
    return f"{best['name']} {label} {best[f'test_{metric}']:.3f} ({best['fit_seconds']:.2g} s)"


def write_baseline(name, text):
    """Put ``baseline = "text"`` into the [expect] section of the recipe file (replacing an older one)."""
    path = recipes.find_recipe(name)
    source = path.read_text()
    line = f'baseline = "{text}"'
    if re.search(r"^baseline = .*$", source, flags=re.M):
        source = re.sub(r"^baseline = .*$", line, source, flags=re.M)
    else:
        source = source.rstrip("\n") + "\n" + line + "\n"  # [expect] is the last section of every recipe
    path.write_text(source)


def main(arguments):
    """Measure every recipe, print one line each, and write them with ``--write``."""
    for name in recipes.recipe_names():
        text = measure(name)
        print(f"{name:22s} {text or '—'}", flush=True)
        if text and "--write" in arguments:
            write_baseline(name, text)


if __name__ == "__main__":
    main(sys.argv[1:])
