"""``dlzoo export``: a deliverable folder with the verified model and its metric report."""

import datetime
import pathlib
import shutil

from dlzoo import runs
from dlzoo.errors import UsageError


def default_destination(run_folder):
    """``exports/<recipe>-<run timestamp>``, next to the runs folder the user works in."""
    return pathlib.Path("exports") / f"{run_folder.parent.name}-{run_folder.name}"


def export_run(argument, export_format="saved_model", out=None, root=None):
    """Export a run's model as a verified SavedModel (or ``.keras``) plus its report.

    The destination must not exist yet (or be an empty folder): an export never overwrites.

    Returns:
        The destination folder.
    """
    from dlzoo import export
    from dlzoo.models_io import load_run

    run = load_run(argument, root)
    destination = pathlib.Path(out) if out else default_destination(run.folder)
    if destination.exists() and any(destination.iterdir()):
        raise UsageError(f"{destination} already exists and is not empty; choose another --out")
    runs.check_writable(destination)
    if export_format == "saved_model":
        splits = run.load_data()
        if hasattr(run.task, "export"):  # tasks whose endpoints take other inputs (noise, codes) export themselves
            check = run.task.export(run.model, splits, destination / "saved_model")
        else:
            check = export.export_saved_model(run.model, destination / "saved_model",
                                              run.task.serving_endpoints(run.model, splits),
                                              splits.arrays("test", limit=64)[0])
            check["example"] = run.task.serving_example(splits)
    else:
        export.save_keras_model(run.model, destination / "model.keras")
        check = {"path": str(destination / "model.keras")}
    copy_report(run.folder, destination)
    runs.atomic_write_json(destination / "export.json", {
        "run": str(run.folder), "format": export_format, "exported": datetime.datetime.now().isoformat(timespec="seconds"),
        **check, "metrics": run.record.get("metrics", {}), "target": run.record.get("target", {}),
    })
    return destination


def copy_report(run_folder, destination):
    """Copy the run's report, metrics and pictures so the export documents itself."""
    for name in ("report.md", "metrics.json", "config.toml", "evaluation.json"):
        if (run_folder / name).exists():
            shutil.copy2(run_folder / name, destination / name)
    if (run_folder / "plots").is_dir():
        shutil.copytree(run_folder / "plots", destination / "plots")
