"""The Trainer: one function that turns a resolved configuration into a finished run folder.

    config ──► task.prepare (data, model, optimizer: usage errors stop here, nothing written)
           ──► new run folder, config.toml, metrics.json {status: running}
           ──► task.run (fit, evaluate, export, plots)
           ──► metrics.json {status: completed | failed}, report.md

A failure after the run folder exists (NaN loss, export mismatch, Ctrl-C) marks the run
``failed`` with the reason and raises :class:`~dlzoo.errors.RunFailed`; files of earlier runs
are never touched.
"""

import datetime
import platform
import time

from dlzoo import config as config_module
from dlzoo import report, runs, tasks
from dlzoo.errors import RunFailed, UsageError


def configure_device(device="auto"):
    """Choose where TensorFlow runs and return a short description of the device.

    ``"auto"`` uses a GPU when TensorFlow sees one (with memory growth, so that TensorFlow
    does not grab all GPU memory at start), ``"cpu"`` hides the GPUs, ``"gpu"`` requires one.
    """
    import tensorflow as tf

    if device not in ("auto", "cpu", "gpu"):
        raise UsageError(f"--device must be auto, cpu or gpu, got {device!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise UsageError("--device gpu: TensorFlow sees no GPU (install the 'gpu' extra and check nvidia-smi)")
    try:
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        for gpu in gpus if device != "cpu" else []:
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # devices were already initialized by an earlier run in this process
    if device == "cpu" or not gpus:
        return f"CPU ({platform.processor() or platform.machine()})"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})"


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
        raise UsageError(str(error).strip("'\"")) from error


def train(config, out=None, quick=False, device="auto"):
    """Train one resolved configuration and return ``(run_folder, metrics)``.

    Args:
        config: a resolved configuration (:func:`dlzoo.config.load_config`).
        out: the runs root folder (default ``runs/``).
        quick: train a tiny budget (smoke tests): ``train.quick_epochs`` on a few hundred examples.
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
    """
    if config.get("sweep"):
        from dlzoo import sweep

        return sweep.run_sweep(config, out=out, quick=quick, device=device)
    device_name = configure_device(device)
    task = tasks.get(config["task"])()
    prepared = prepare(task, config, quick)
    folder = runs.new_run_folder(config["name"], out)
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
        reason = str(error) or type(error).__name__
        record.update(status="failed", error=f"{type(error).__name__}: {reason}",
                      wall_seconds=time.perf_counter() - start)
        runs.atomic_write_json(folder / runs.METRICS_FILE, record)
        report.write_report(folder)
        if isinstance(error, (RunFailed, KeyboardInterrupt)):
            raise
        raise RunFailed(f"{type(error).__name__}: {reason} (see {folder})") from error
    record.update(results)
    record.update(status="completed", wall_seconds=time.perf_counter() - start,
                  finished=datetime.datetime.now().isoformat(timespec="seconds"))
    if "metrics" in record:
        record["target"] = target_check(config["expect"], record["metrics"])
    runs.atomic_write_json(folder / runs.METRICS_FILE, record)
    report.write_report(folder)
    return folder, record
