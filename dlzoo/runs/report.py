"""``report.md``: one readable page per run, rebuilt from the files in the run folder.

The report is never edited in place: :func:`write_report` rebuilds it from ``config.toml``,
``metrics.json``, ``evaluation.json``, the pictures in ``plots/`` and the extra sections in
``sections/*.md`` (written by tasks, ``dlzoo evaluate`` and ``dlzoo visualize`` with
:func:`write_section`), in the order of their file names (numbers compared as numbers).

``report.md`` and ``sections/*.md`` are derived views and the only files in a run folder that
are ever rewritten: ``report.md`` at every rebuild, a section when its command runs again
(``dlzoo visualize --method gradcam`` rewrites the Grad-CAM section to show its newest
picture). Everything else (metrics, evaluations, pictures, models) is written once and never
replaced: ``dlzoo evaluate`` and ``dlzoo visualize`` add new files (``gradcam-2.png``,
``evaluation-test-digits-2.json``) next to the earlier ones, which the report still lists.
"""

import pathlib
import re

from dlzoo.config import recipes
from dlzoo.runs import folders

# Captions of the pictures the platform draws; any other PNG is listed under "More pictures".
CAPTIONS = {
    "learning_curves.png": "Learning curves (solid: training, dashed: validation)",
    "decision_boundary.png": "Decision boundary on the test points",
    "confusion_matrix.png": "Confusion matrix on the test split",
    "augmentation.png": "Augmented training samples",
    "predicted_vs_true.png": "Predicted vs true values on the test split",
}


def natural_order(path):
    """Sort key of a file name: numbers compared as numbers, the extension last.

    So "gradcam.png" < "gradcam-2.png" < "gradcam-10.png", the order they were written in.
    """
    path = pathlib.PurePath(path)
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)], path.suffix


def section_path(folder, key):
    """The file of the report section ``key`` of the run in ``folder``."""
    return pathlib.Path(folder) / "sections" / f"{key}.md"


def write_section(folder, key, markdown):
    """Add (or replace) the report section ``key``; sections appear sorted by key (:func:`natural_order`)."""
    return folders.atomic_write_text(section_path(folder, key), markdown.rstrip() + "\n")


def format_number(value):
    """Numbers as a reader wants them: 4 significant digits, integers as they are."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_cell(value):
    """One table cell: the number formatted, a ``|`` escaped (``KL(q || p)`` would end the cell)."""
    return format_number(value).replace("|", "\\|")


def markdown_table(header, rows):
    """A Markdown table from a header list and rows of values."""
    lines = ["| " + " | ".join(markdown_cell(name) for name in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


# Why the final train accuracy can be higher than the accuracy Keras prints during an epoch.
TRAIN_ACCURACY_NOTE = ("train accuracy is measured after training, in inference mode (dropout off, batch norm "
                       "with its moving statistics), so it can exceed the accuracy shown during the epochs")


def target_section(record):
    """The recipe's target next to what the run reached (and whether the recipe was changed)."""
    target = record.get("target")
    if not target:
        return ""
    bound = recipes.target_bound(target)
    verdict = "**passed**" if target.get("passed") else "**not reached**"
    changes = recipes.describe_changed_settings(record.get("changed_settings"))
    if changes:
        verdict += f" ({changes})"
    if record.get("quick"):
        verdict += " (quick run: a smoke test, not the recipe's budget)"
    row = [target["metric"], target.get("value"), bound, target.get("budget", ""), target.get("source", "")]
    return "## Target\n\n" + markdown_table(["metric", "value", "target", "budget", "source"], [row]) + f"\n\n{verdict}\n"


def metrics_section(record):
    """Loss and accuracy per split, and the other headline numbers."""
    metrics = record.get("metrics") or {}
    if not metrics:
        return ""
    text = "## Metrics\n\n" + split_table(metrics)
    if "train_accuracy" in metrics:
        text += f"\nThe {TRAIN_ACCURACY_NOTE}.\n"
    others = {key: value for key, value in metrics.items()
              if not any(key == f"{split}_{name}" for split in ("train", "val", "test") for name in ("loss", "accuracy"))}
    notes = record.get("metric_notes") or {}  # what a task's own metrics mean, where a name is not enough
    if others and notes:
        rows = [[key, value, notes.get(key, "")] for key, value in sorted(others.items())]
        text += "\n" + markdown_table(["metric", "value", "what it is"], rows) + "\n"
    elif others:
        text += "\n" + markdown_table(["metric", "value"], sorted(others.items())) + "\n"
    facts = [("parameters", record.get("parameters")), ("epochs", record.get("epochs_run")),
             ("wall time (s)", record.get("wall_seconds")), ("training samples/s", record.get("samples_per_second")),
             ("device", record.get("device")), ("seed", record.get("seed"))]
    facts = [fact for fact in facts if fact[1] is not None]
    text += "\n" + markdown_table(["run", "value"], facts) + "\n"
    exported = record.get("export")
    if exported:
        text += (f"\nSavedModel `{pathlib.Path(exported['path']).name}/` verified: max |Keras - SavedModel| = "
                 f"{exported['max_abs_difference']:.2e} on {exported['verified_on']} test inputs; "
                 f"signature `{exported['signature']}`.\n")
    return text


def split_table(metrics):
    """Loss and accuracy per split, with only the columns and splits the run has ("" when none)."""
    columns = [name for name in ("loss", "accuracy")
               if any(f"{split}_{name}" in metrics for split in ("train", "val", "test"))]
    rows = [[split] + [metrics.get(f"{split}_{name}", "") for name in columns] for split in ("train", "val", "test")
            if any(f"{split}_{name}" in metrics for name in columns)]
    return markdown_table(["split", *columns], rows) + "\n" if rows else ""


# What a SavedModel takes unless its task says otherwise (``export["takes"]``: noise, strings, words).
RAW_VALUES = "the dataset's raw values"


def serving_section(record):
    """How to call the exported SavedModel from plain TensorFlow (no dlzoo needed); the export's
    ``takes`` says what its inputs are and ``notes`` what to know before calling it."""
    exported = record.get("export") or {}
    if not exported.get("example"):
        return ""
    return ("## Use it without dlzoo\n\n"
            f"The SavedModel `saved_model/` takes {exported.get('takes', RAW_VALUES)}: `{exported['signature']}`. "
            "Plain TensorFlow calls it like this:\n\n" + exported["example"]
            + "".join(f"\n{note}\n" for note in exported.get("notes", [])))


def per_class_section(evaluation):
    """Per-class precision, recall and F1 on the test split."""
    per_class = evaluation.get("per_class")
    if not per_class:
        return ""
    rows = [[name, values["precision"], values["recall"], values["f1"], values["support"]] for name, values in per_class.items()]
    return "### Per class (test)\n\n" + markdown_table(["class", "precision", "recall", "F1", "support"], rows) + "\n"


def picture(name, caption):
    """Markdown for one picture in ``plots/``."""
    return f"**{caption}**\n\n![{caption}](plots/{name})\n"


def write_report(folder):
    """Rebuild ``report.md`` of the run in ``folder`` from its files; returns its path."""
    folder = pathlib.Path(folder)
    record = folders.read_json(folder / folders.METRICS_FILE)
    evaluation = folders.read_json(folder / "evaluation.json")
    config_text = (folder / folders.CONFIG_FILE).read_text() if (folder / folders.CONFIG_FILE).exists() else ""
    title = record.get("recipe", folder.parent.name)
    parts = [f"# {title}\n", f"Run `{folder}` · status **{record.get('status', 'unknown')}**"
             + (f" · started {record['started']}" if record.get("started") else "") + "\n"]
    if record.get("status") == "failed":
        parts.append(f"> **The run failed:** {record.get('error', 'unknown reason')}\n")
    parts += [target_section(record), metrics_section(record)]
    plots_folder = folder / "plots"
    shown = set()
    for name in CAPTIONS:
        if (plots_folder / name).exists():
            parts.append(picture(name, CAPTIONS[name]))
            shown.add(name)
    parts.append(per_class_section(evaluation))
    parts.append(serving_section(record))
    for section in sorted((folder / "sections").glob("*.md"), key=natural_order):
        text = section.read_text()
        parts.append(text)
        shown.update(name for name in (p.name for p in plots_folder.glob("*.png")) if f"plots/{name}" in text)
    remaining = sorted((path.name for path in plots_folder.glob("*.png") if path.name not in shown), key=natural_order)
    if remaining:
        parts.append("## More pictures\n\n" + "\n".join(picture(name, name) for name in remaining))
    if config_text:
        parts.append("## Configuration\n\nRepeat this run with `dlzoo train config.toml`:\n\n```toml\n" + config_text + "```\n")
    return folders.atomic_write_text(folder / "report.md", "\n".join(part for part in parts if part))


def format_table(rows, header):
    """Rows of strings as an aligned plain-text table."""
    widths = [max(len(str(value)) for value in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(value).ljust(width) for value, width in zip(header, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(str(value).ljust(width) for value, width in zip(row, widths)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
