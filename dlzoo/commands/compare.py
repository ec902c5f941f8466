"""Comparing runs: a table of final metrics and overlaid learning curves.

Used by ``dlzoo compare RUN RUN ...`` and by sweep recipes (``optimizers-compare``,
``training-tricks``), which train several variants and compare them in one report.
"""

import csv
import datetime
import math
import pathlib

from dlzoo.plots import curves
from dlzoo.runs import folders
from dlzoo.runs.report import format_number, format_table, markdown_table

# The columns every row has; the metric columns come from each run's task (Task.headline_metrics).
FIRST_COLUMNS = ("status",)
LAST_COLUMNS = ("epochs_run", "wall_seconds")
# A history cell that is not a number: a GAN's history.csv writes NA for an epoch without a value.
MISSING = ("", "NA", "NaN", "nan", None)


def read_history(folder):
    """``history.csv`` of a run as ``{column: [values]}`` (empty when there is none; NA and blank cells are NaN)."""
    path = pathlib.Path(folder) / "history.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return {}
    return {key: [cell_value(row[key]) for row in rows] for key in rows[0]}


def cell_value(text):
    """One history cell as a float (NaN for a missing value, and for text that is no number)."""
    if text in MISSING:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def headline_metrics(folder):
    """The metric names the run's task puts first for it (its target metric and related scores);
    the classification columns for a folder whose config or task cannot be read."""
    from dlzoo.config import recipes
    from dlzoo.config import resolve
    from dlzoo.core.errors import UsageError

    try:
        config = recipes.read_toml(pathlib.Path(folder) / folders.CONFIG_FILE)
        return list(resolve.task_of(config).headline_metrics(config))
    except (OSError, UsageError, ValueError, KeyError):
        return ["test_accuracy", "val_accuracy", "test_loss"]


def epochs_to_reach(history, metric, target):
    """First epoch (1-based) at which ``history[metric]`` reaches ``target``, or None."""
    for epoch, value in enumerate(history.get(metric, []), start=1):
        if value >= target:
            return epoch
    return None


def row_of(label, record, history, metric=None, target=None, metric_names=("test_accuracy", "val_accuracy", "test_loss")):
    """One comparison row: label, status, the run's ``metric_names``, epochs, wall time (and epochs to target)."""
    metrics = record.get("metrics") or {}
    row = {"run": label, "status": record.get("status", "?"), **{name: metrics.get(name) for name in metric_names},
           "epochs_run": record.get("epochs_run"), "wall_seconds": record.get("wall_seconds")}
    if metric and target is not None:
        row[f"epochs to {metric} >= {target}"] = epochs_to_reach(history, metric, target)
    return row


def same_columns(rows):
    """The rows with one set of columns: every row's metrics, in order of first appearance; a
    metric column that no run has is left out."""
    metric_names = []
    for row in rows:
        metric_names += [key for key in row if key not in ("run", *FIRST_COLUMNS, *LAST_COLUMNS)
                         and key not in metric_names]
    kept = [name for name in metric_names if any(row.get(name) is not None for row in rows)]
    header = ["run", *FIRST_COLUMNS, *kept, *LAST_COLUMNS]
    return [{key: row.get(key) for key in header} for row in rows]


def comparison(rows):
    """The rows as a Markdown table (blank cells for missing values)."""
    header = list(rows[0])
    return markdown_table(header, [["" if row.get(key) is None else row.get(key) for key in header] for row in rows])


def plain_table(rows):
    """The rows as an aligned plain-text table for the terminal."""
    header = list(rows[0])
    return format_table([["" if row.get(key) is None else format_number(row.get(key)) for key in header] for row in rows], header)


def label_for(folder, taken=()):
    """An unambiguous label for a run folder: ``recipe/timestamp``, ``(quick)`` for a smoke test.

    A sweep variant (``.../variants/<name>``) is labelled ``recipe/timestamp/<name>``. A label
    already in ``taken`` (the same folder given twice) gets ``#2``, ``#3``... appended.
    """
    folder = pathlib.Path(folder)
    if folder.parent.name == "variants":
        run = folder.parent.parent
        label = f"{run.parent.name}/{run.name}/{folder.name}"
    else:
        label = f"{folder.parent.name}/{folder.name}"
    if folders.is_quick_run(folder):
        label += " (quick)"
    unique, number = label, 2
    while unique in taken:
        unique, number = f"{label} #{number}", number + 1
    return unique


def runs_beneath(folder):
    """The run folders in ``folder`` or one level below it, oldest first: ``runs/lenet`` holds
    lenet's runs, ``runs/`` every recipe's (``runs/<recipe>/<timestamp>``)."""
    found = []
    for child in sorted(path for path in pathlib.Path(folder).iterdir() if path.is_dir()):
        if folders.is_run_folder(child):
            found.append(child)
        else:
            found += [grandchild for grandchild in child.iterdir() if folders.is_run_folder(grandchild)]
    return sorted(found, key=lambda run: (run.parent.name, folders.run_order(run)))


def runs_to_compare(arguments, root=None):
    """Run folders for ``arguments``: run folders, recipe names (their latest run), or folders of
    runs (every run in them); each run once, in the order given."""
    from dlzoo.core.errors import UsageError

    compared = []
    for argument in arguments:
        path = pathlib.Path(argument)
        if path.is_dir() and not folders.is_run_folder(path):
            found = runs_beneath(path)
            if not found:
                raise UsageError(f"{argument} is not a run folder and holds none (no {folders.CONFIG_FILE} in it "
                                 f"or in its sub-folders)")
            compared += found
        else:
            compared.append(folders.resolve_run(argument, root))
    seen, unique = set(), []
    for folder in compared:  # a run named twice (its folder and its recipe's latest run) is one row
        if folder.resolve() not in seen:
            seen.add(folder.resolve())
            unique.append(folder)
    return unique


def compare_runs(arguments, out=None, root=None):
    """Compare the runs named by ``arguments`` (see :func:`runs_to_compare`); write
    compare.md/json and curves to ``out``.

    Returns:
        ``(plain text table, output folder)``.
    """
    compared = runs_to_compare(arguments, root)
    rows, histories = [], {}
    for folder in compared:
        label = label_for(folder, histories)
        history = read_history(folder)
        histories[label] = history
        rows.append(row_of(label, folders.read_json(folder / folders.METRICS_FILE), history,
                           metric_names=headline_metrics(folder)))
    rows = same_columns(rows)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    destination = pathlib.Path(out) if out else (pathlib.Path(root) if root else folders.DEFAULT_ROOT) / "compare" / stamp
    if destination.exists() and any(destination.iterdir()):
        from dlzoo.core.errors import UsageError

        raise UsageError(f"{destination} already exists and is not empty; choose another --out")
    folders.check_writable(destination)
    drawn = {label: history for label, history in histories.items() if history}
    text = "# Comparison\n\n" + comparison(rows) + "\n\nRuns:\n" + "".join(f"- `{folder}`\n" for folder in compared)
    if drawn:
        curves.learning_curves(drawn, destination / "learning_curves.png", title="comparison")
        text += "\n![learning curves](learning_curves.png)\n"
    folders.atomic_write_text(destination / "compare.md", text)
    folders.atomic_write_json(destination / "compare.json", {"runs": [str(folder) for folder in compared], "rows": rows})
    return plain_table(rows), destination
