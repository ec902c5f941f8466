"""``dlzoo evaluate``: metrics of a run, a recipe's latest run, or a bare SavedModel on a split."""

import pathlib
import re

import numpy as np

from dlzoo import plots, report, runs
from dlzoo.errors import UsageError
from dlzoo.evaluate import classification_metrics


def is_saved_model(path):
    """True when ``path`` is a SavedModel folder (it holds ``saved_model.pb``)."""
    return (pathlib.Path(path) / "saved_model.pb").is_file()


def slug(text):
    """A file-name friendly version of a dataset spec (``tfds:mnist`` -> ``tfds-mnist``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def evaluate_target(target, dataset=None, split="test", out=None, root=None):
    """Evaluate ``target`` on ``split`` and write ``evaluation-<split>-<data>.json`` and a confusion matrix.

    Both are new files (``-2``, ``-3``, ... when an earlier evaluation wrote the same names); a
    run's report gets one section per evaluation.

    Args:
        target: a run folder, a recipe name (its latest completed run) or a SavedModel folder.
        dataset: a dataset spec; required for a bare SavedModel, optional for a run.
        split: ``"train"``, ``"val"`` or ``"test"``.
        out: folder for the outputs (default: the run folder, or the SavedModel folder).
        root: runs root used to resolve a recipe name.

    Returns:
        ``(metrics, written_paths)``.
    """
    from dlzoo.models_io import load_run, load_run_data

    if is_saved_model(target):
        if not dataset:
            raise UsageError(f"{target} is a bare SavedModel: say which data to evaluate it on with --data")
        from dlzoo import data
        from dlzoo.export import load_saved_model

        splits = data.load(dataset)
        predict = load_saved_model(target)
        folder, run_folder = pathlib.Path(target), None
    else:
        run = load_run(target, root)
        splits = load_run_data(run.config, dataset)
        predict = lambda inputs: np.asarray(run.model.predict(inputs, batch_size=256, verbose=0))  # noqa: E731
        folder, run_folder = run.folder, run.folder
        check_fits(run.model, splits)
    x, y = splits.split(split)
    try:
        outputs = predict(x)
    except (TypeError, ValueError) as error:  # the SavedModel's signature refuses these inputs
        raise UsageError(f"dataset {splits.name} (inputs {splits.input_shape}) does not fit the model in {target}") from error
    result = {"split": split, "dataset": splits.name,
              **classification_metrics(y, outputs, splits.class_names)}
    out_folder = runs.check_writable(pathlib.Path(out) if out else folder)
    # New files every time: evaluation.json and confusion_matrix.png of the training run stay
    # as they are, and a second evaluation on the same data gets "-2" (plots.new_file_paths).
    name = f"{split}-{slug(splits.name)}"
    json_path, picture_path = plots.new_file_paths(out_folder / f"evaluation-{name}.json",
                                                   out_folder / "plots" / f"confusion_matrix-{name}.png")
    written = [runs.atomic_write_json(json_path, result)]
    written.append(plots.confusion_matrix(result["confusion_matrix"], splits.class_names, picture_path,
                                          title=f"confusion matrix, {splits.name} {split} split"))
    if run_folder is not None and out is None:
        add_report_section(run_folder, result, json_path, picture_path)
        report.write_report(run_folder)
    return result, written[0]


def add_report_section(folder, result, json_path, picture_path):
    """A report section for one ``dlzoo evaluate``: headline numbers and the confusion matrix."""
    rows = [[result["split"], result["dataset"], result["examples"], result["accuracy"], result["macro_f1"],
             result["expected_calibration_error"]]]
    table = report.markdown_table(["split", "dataset", "examples", "accuracy", "macro F1", "ECE"], rows)
    text = (f"## Evaluation `{json_path.name}`\n\n{table}\n\n"
            f"![confusion matrix](plots/{picture_path.name})\n")
    report.write_section(folder, f"60-{json_path.stem}", text)


def check_fits(model, splits):
    """A dataset whose inputs or classes do not fit the model is a usage error."""
    expected = tuple(model.input_shape[1:])
    if expected != splits.input_shape:
        raise UsageError(f"dataset {splits.name} has inputs {splits.input_shape}; the model expects {expected}")
    units = model.output_shape[-1]
    if units not in (splits.num_classes, 1) or (units == 1 and splits.num_classes != 2):
        raise UsageError(f"dataset {splits.name} has {splits.num_classes} classes; the model predicts {max(units, 2)}")
