"""``dlzoo evaluate``: metrics of a run, a recipe's latest run, or a bare SavedModel on a split."""

import pathlib
import re

from dlzoo.plots import figures
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.core.errors import UsageError
from dlzoo.metrics.classification import classification_metrics


def is_saved_model(path):
    """True when ``path`` is a SavedModel folder (it holds ``saved_model.pb``)."""
    return (pathlib.Path(path) / "saved_model.pb").is_file()


def slug(text):
    """A file-name friendly version of a dataset spec (``tfds:mnist`` -> ``tfds-mnist``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def evaluate_target(target, dataset=None, split="test", out=None, root=None):
    """Evaluate ``target`` on ``split`` and write ``evaluation-<split>-<data>.json`` (and the task's pictures).

    Every output is a new file (``-2``, ``-3``, ... when an earlier evaluation wrote the same
    names); a run's report gets one section per evaluation.

    Args:
        target: a run folder, a recipe name (its latest completed run) or a SavedModel folder.
        dataset: a dataset spec; required for a bare SavedModel, optional for a run.
        split: ``"train"``, ``"val"`` or ``"test"``.
        out: folder for the outputs (default: the run folder, or the SavedModel folder).
        root: runs root used to resolve a recipe name.

    Returns:
        ``(metrics, one line for the terminal, written path)``.
    """
    if is_saved_model(target):
        return evaluate_saved_model(target, dataset, split, out)
    from dlzoo.runs.load import load_run

    run = load_run(target, root)
    splits = run.load_data(dataset)
    run.task.check_fits(run.model, splits)  # each task knows what fits its model (classes, images, text)
    result = run.task.evaluate_run(run, splits, split)
    out_folder = folders.check_writable(pathlib.Path(out) if out else run.folder)
    # New files every time: evaluation.json and the pictures of the training run stay as they
    # are, and a second evaluation on the same data gets "-2" (figures.new_file_paths).
    name = f"{split}-{slug(splits.name)}"
    json_path, picture_path = figures.new_file_paths(out_folder / f"evaluation-{name}.json",
                                                   out_folder / "plots" / f"confusion_matrix-{name}.png")
    # Nothing is written when one of the files would go through a link out of the run folder.
    folders.check_stays_inside_run(json_path, picture_path, *([] if out else [
        report.section_path(run.folder, f"60-{json_path.stem}"), run.folder / "report.md"]))
    written = folders.atomic_write_json(json_path, result)
    if "confusion_matrix" in result:
        figures.confusion_matrix(result["confusion_matrix"], splits.class_names, picture_path,
                               title=f"confusion matrix, {splits.name} {split} split")
    else:
        picture_path = None
    if out is None:
        add_report_section(run.folder, run.task.headline(result), result, json_path, picture_path)
        report.write_report(run.folder)
    return result, run.task.evaluation_line(result), written


def evaluate_saved_model(path, dataset, split, out):
    """Classification metrics of a bare SavedModel (its ``serve`` endpoint) on ``dataset``."""
    from dlzoo import data
    from dlzoo.runs.export import load_saved_model

    if not dataset:
        raise UsageError(f"{path} is a bare SavedModel: say which data to evaluate it on with --data")
    splits = data.load(dataset)
    x, y = splits.arrays(split)
    try:
        outputs = load_saved_model(path)(x)
    except (TypeError, ValueError) as error:  # the SavedModel's signature refuses these inputs
        raise UsageError(f"dataset {splits.name} (inputs {splits.input_shape}) does not fit the model in {path}") from error
    probabilities = outputs.get("probabilities", outputs.get("output_0"))
    if probabilities is None or probabilities.ndim != 2 or probabilities.shape[1] not in (1, splits.num_classes):
        raise UsageError(f"the SavedModel in {path} does not output probabilities for the "
                         f"{splits.num_classes} classes of {splits.name}")
    result = {"split": split, "dataset": splits.name, **classification_metrics(y, probabilities, splits.class_names)}
    out_folder = folders.check_writable(pathlib.Path(out) if out else pathlib.Path(path))
    (json_path,) = figures.new_file_paths(out_folder / f"evaluation-{split}-{slug(splits.name)}.json")
    written = folders.atomic_write_json(json_path, result)
    line = (f"{split} accuracy {result['accuracy']:.4f} · macro F1 {result['macro_f1']:.4f} · "
            f"ECE {result['expected_calibration_error']:.4f} on {result['examples']} examples")
    return result, line, written


def add_report_section(folder, headline, result, json_path, picture_path):
    """A report section for one ``dlzoo evaluate``: the task's headline numbers (and its picture)."""
    rows = [[result["split"], result["dataset"], result["examples"], *headline.values()]]
    table = report.markdown_table(["split", "dataset", "examples", *headline], rows)
    text = f"## Evaluation `{json_path.name}`\n\n{table}\n"
    if picture_path is not None:
        text += f"\n![confusion matrix](plots/{picture_path.name})\n"
    report.write_section(folder, f"60-{json_path.stem}", text)
