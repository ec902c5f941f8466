"""``dlzoo export``: a deliverable folder with the verified model and its metric report."""

import datetime
import os
import pathlib
import re
import shutil

from dlzoo.runs import folders
from dlzoo.core.errors import UsageError


def check_destination(out):
    """An ``out`` folder that exists and holds files is refused (an export never writes over one);
    TensorFlow-free, so the CLI and the API say it before the import."""
    if out is not None and pathlib.Path(out).exists() and any(pathlib.Path(out).iterdir()):
        raise UsageError(f"{out} already exists and is not empty; choose another --out")


def default_destination(run_folder):
    """``exports/<recipe>-<run timestamp>``, next to the runs folder the user works in."""
    return pathlib.Path("exports") / f"{run_folder.parent.name}-{run_folder.name}"


def export_run(argument, export_format="saved_model", out=None, root=None, allow_failed=False):
    """Export a run's model as a verified SavedModel (or ``.keras``) plus its report.

    The destination must not exist yet (or be an empty folder): an export never overwrites.
    Everything is written into a staging folder *beside* the destination
    (``.<name>.staging-<pid>``) and renamed into place at the end, so an export killed half-way
    leaves no destination at all; a staging folder whose process is gone is removed by the
    next export. Only completed runs are exported unless ``allow_failed`` (the export then
    says so).

    Returns:
        The destination folder.
    """
    from dlzoo.runs import export
    from dlzoo.runs.load import load_run, read_run

    folder, _, record, _ = read_run(argument, root)
    status = record.get("status", "unknown")
    if status != "completed" and not allow_failed:
        raise UsageError(f"{folder} is a {status} run ({record.get('error', 'no reason recorded')}); its model is not "
                         "the finished one: export it anyway with --allow-failed")
    run = load_run(folder, root)
    destination = pathlib.Path(out) if out else default_destination(run.folder)
    if destination.exists() and any(destination.iterdir()):
        raise UsageError(f"{destination} already exists and is not empty; choose another --out")
    folders.check_writable(destination.parent)
    clean_stale_staging(destination)
    staging = destination.parent / f".{destination.name}.staging-{os.getpid()}"
    staging.mkdir()
    try:
        if export_format == "saved_model":
            splits = run.load_data()
            check = run.task.export(run.model, splits, staging / "saved_model")
            check["path"] = str(destination / "saved_model")
        else:
            export.save_keras_model(run.model, staging / "model.keras")
            check = {"path": str(destination / "model.keras")}
        copy_report(run.folder, staging)
        folders.atomic_write_json(staging / "export.json", {
            "run": str(run.folder), "format": export_format,
            "exported": datetime.datetime.now().isoformat(timespec="seconds"),
            **check, "metrics": run.record.get("metrics", {}), "target": run.record.get("target", {}),
            "run_status": status, "allow_failed": status != "completed",
        })
        publish(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def publish(staging, destination):
    """Rename the finished staging folder to ``destination`` (which may be an empty folder)."""
    try:
        if destination.is_dir() and not any(destination.iterdir()):
            destination.rmdir()
        os.rename(staging, destination)
    except OSError as error:
        raise UsageError(f"{destination} was created by another export meanwhile ({error.strerror}); "
                         "choose another --out") from None


def clean_stale_staging(destination):
    """Remove staging folders of earlier exports to ``destination`` whose process is gone; refuse
    when one is still running."""
    pattern = re.compile(rf"^\.{re.escape(destination.name)}\.staging-(\d+)$")
    for path in destination.parent.glob(f".{destination.name}.staging-*"):
        match = pattern.match(path.name)
        if not match:
            continue
        if folders.process_alive(int(match.group(1)), folders.socket.gethostname()) and int(match.group(1)) != os.getpid():
            raise UsageError(f"another export to {destination} is running (pid {match.group(1)}); wait for it "
                             "or choose another --out")
        shutil.rmtree(path, ignore_errors=True)


def copy_report(run_folder, destination):
    """Copy the run's report, metrics and pictures so the export documents itself."""
    for name in ("report.md", "metrics.json", "config.toml", "evaluation.json"):
        if (run_folder / name).exists():
            shutil.copy2(run_folder / name, destination / name)
    if (run_folder / "plots").is_dir():
        shutil.copytree(run_folder / "plots", destination / "plots")
