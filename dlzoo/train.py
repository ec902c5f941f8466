"""Training one recipe: a resolved configuration in, a finished run folder out.

    config ──► task.check_config, task.prepare (data, model, optimizer: usage errors stop
               here, nothing written)
           ──► new run folder, config.toml, metrics.json {status: running}
           ──► task.run (trains through dlzoo.training, evaluates, exports, draws)
           ──► metrics.json {status: completed | failed | interrupted}, report.md

A failure after the run folder exists (NaN loss, export mismatch) marks the run ``failed`` with
the reason and raises :class:`~dlzoo.errors.RunFailed`; Ctrl-C marks it ``interrupted``. Files
of earlier runs are never touched. Sweeps (``[sweep]``) train several runs: :mod:`dlzoo.sweep`.
"""

import datetime
import platform
import time

from dlzoo import config as config_module
from dlzoo import report, runs, tasks, training
from dlzoo.errors import RunFailed, RunInterrupted, UsageError


def versions():
    """Versions of the libraries a run depends on, for metrics.json."""
    import keras
    import tensorflow as tf

    import dlzoo

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "dlzoo": dlzoo.__version__}


def target_check(expect, metrics):
    """Compare the run's metric with the recipe's ``[expect]`` target."""
    name = expect.get("metric", "test_accuracy")
    value = metrics.get(name)
    result = {"metric": name, "value": value, "minimum": expect.get("minimum"),
              "budget": expect.get("budget", ""), "source": expect.get("source", "")}
    if expect.get("maximum") is not None:  # a quantity to keep low (a distance, a ratio)
        result["maximum"] = expect["maximum"]
        result["passed"] = value is not None and value <= expect["maximum"]
    else:
        result["passed"] = value is not None and value >= expect.get("minimum", 0.0)
    return result


def prepare(task, config, quick):
    """Run ``task.prepare``; a ValueError raised here is the user's input, so it becomes a UsageError."""
    config_module.check_component_options(config)
    try:
        return task.prepare(config, quick)
    except UsageError:
        raise
    except (ValueError, KeyError, FileNotFoundError) as error:
        raise UsageError(config_module.error_message(error)) from error


def train(config, out=None, quick=False, device="auto", echo=print):
    """Train one resolved configuration (not a sweep) and return ``(run_folder, metrics)``.

    Args:
        config: a resolved configuration (:func:`dlzoo.config.load_config`).
        out: the runs root folder (default ``runs/``).
        quick: train a tiny budget (smoke tests): ``train.quick_epochs`` on a few hundred examples.
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
        echo: where the lines before epoch 1 go (``print``; the CLI passes ``click.echo``).
    """
    device_name = training.configure_device(device)
    task = tasks.create(config["task"])
    prepared = prepare(task, config, quick)
    folder = runs.new_run_folder(config["name"], out)
    if config["train"]["verbose"]:
        echo(f"== {config['name']} ({task.name}) on {device_name}{' (quick)' if quick else ''}")
        description = task.describe(prepared)
        if description:
            echo(f"   {description}")
        echo(f"   run folder: {folder}")
    return execute(task, prepared, config, folder, quick, device_name)


def execute(task, prepared, config, folder, quick, device_name):
    """Run a prepared task in ``folder``, recording its status whatever happens."""
    runs.atomic_write_text(folder / runs.CONFIG_FILE, config_module.to_toml(config))
    record = {
        "recipe": config["name"], "task": config["task"], "status": "running", "quick": quick,
        "seed": config["train"]["seed"], "device": device_name, "versions": versions(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    runs.atomic_write_json(folder / runs.METRICS_FILE, record)
    start = time.perf_counter()
    try:
        results = task.run(prepared, folder)
    except BaseException as error:  # also Ctrl-C: the folder must say the run did not finish
        interrupted = isinstance(error, KeyboardInterrupt)
        reason = "interrupted by the user" if interrupted else (str(error) or type(error).__name__)
        record.update(status="interrupted" if interrupted else "failed",
                      error=reason if interrupted else f"{type(error).__name__}: {reason}",
                      wall_seconds=time.perf_counter() - start)
        runs.atomic_write_json(folder / runs.METRICS_FILE, record)
        report.write_report(folder)
        if interrupted:
            raise RunInterrupted(f"interrupted; what the run wrote so far is in {folder}") from error
        if isinstance(error, RunFailed):
            raise RunFailed(f"{error} (see {folder})") from error
        raise RunFailed(f"{type(error).__name__}: {reason} (see {folder})") from error
    record.update(results)
    record["changed_settings"] = config_module.changed_settings(config)
    record.update(status="completed", wall_seconds=time.perf_counter() - start,
                  finished=datetime.datetime.now().isoformat(timespec="seconds"))
    if "metrics" in record:
        record["target"] = target_check(config["expect"], record["metrics"])
    runs.atomic_write_json(folder / runs.METRICS_FILE, record)
    report.write_report(folder)
    return folder, record
