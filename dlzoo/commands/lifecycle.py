"""Training one recipe: a resolved configuration in, a finished run folder out.

    config ──► task.check_config, task.prepare (data, model, optimizer: usage errors stop
               here, nothing written)
           ──► new run folder, config.toml, metrics.json {status: running}
           ──► task.run (trains through dlzoo.training, evaluates, exports, draws)
           ──► metrics.json {status: completed | failed | interrupted}, report.md

A failure after the run folder exists (NaN loss, export mismatch) marks the run ``failed`` with
the reason and raises :class:`~dlzoo.core.errors.RunFailed`; Ctrl-C marks it ``interrupted``. Files
of earlier runs are never touched. Sweeps (``[sweep]``) train several runs: :mod:`dlzoo.commands.sweep`.
"""

import contextlib
import datetime
import os
import platform
import shutil
import signal
import socket
import sys
import time

from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo import tasks
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices as placement
from dlzoo.training import state as checkpoint_state  # "state" names the arrays it reads
from dlzoo.core.errors import RunFailed, RunInterrupted, Terminated, UsageError

WRITE_ERRORS = folders.WRITE_ERRORS


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
    """Run ``task.prepare``; a ValueError raised here is the user's input, so it becomes a UsageError.

    A ``--quick`` run prepares the recipe's ``train.quick_model`` (:func:`dlzoo.config.recipes.with_quick_model`).
    """
    if quick:
        config = recipes.with_quick_model(config)
    resolve.check_component_options(config)  # imports the plug-ins first
    try:
        return task.prepare(config, quick)
    except UsageError:
        raise
    except (ValueError, KeyError, FileNotFoundError) as error:
        raise UsageError(resolve.error_message(error)) from error


def train(config, out=None, quick=False, device="auto", echo=print):
    """Train one resolved configuration (not a sweep) and return ``(run_folder, metrics)``.

    Args:
        config: a resolved configuration (:func:`dlzoo.config.resolve.load_config`).
        out: the runs root folder (default ``runs/``).
        quick: train a tiny budget (smoke tests): ``train.quick_epochs`` on a few hundred examples.
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
        echo: where the lines before epoch 1 go (``print``; the CLI passes ``click.echo``).
    """
    device_name = placement.configure_device(device, config["train"])
    placement.configure_determinism(config["train"])
    task = tasks.create(config["task"])
    prepared = prepare(task, config, quick)
    fit.check_monitor(prepared, config["train"])
    folder = folders.new_run_folder(config["name"], out)

    def announce():
        """The lines before epoch 1: what trains where, on which data, and the run folder."""
        if not config["train"]["verbose"]:
            return
        echo(f"== {config['name']} ({task.name}) on {device_name}{' (quick)' if quick else ''}")
        description = task.describe(prepared)
        if description:
            echo(f"   {description}")
        echo(f"   run folder: {folder}")

    return execute(task, prepared, config, folder, quick, device_name, announce=announce)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within this block SIGTERM ends a run as cleanly as Ctrl-C: status, report, exit code 143.

    Both signals raise :class:`~dlzoo.core.errors.Terminated` / ``KeyboardInterrupt``; while Keras
    trains, they are honoured at the next batch boundary (:class:`SignalStop`), because an
    exception raised inside a traced step comes out as an unrelated Keras error.
    """
    from dlzoo.training.callbacks.signal_stop import SignalStop

    received = []

    def handler(signal_number, frame):
        received.append(signal_number)
        if not SignalStop.request(signal_number):
            raise as_exception(signal_number)

    def unraisable(details):
        """A signal's exception raised inside a destructor: Python cannot deliver it there and
        would print a traceback and go on; it is raised when the block ends instead."""
        if not isinstance(details.exc_value, KeyboardInterrupt):
            previous_hook(details)

    try:
        previous = {number: signal.signal(number, handler) for number in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
        # A signal whose exception never reached this block (it landed in a destructor, or
        # SignalStop recorded it after the last batch): the run still ends as interrupted.
        if received:
            raise as_exception(received[0])
    finally:
        SignalStop.reset()
        sys.unraisablehook = previous_hook
        for number, old_handler in previous.items():
            signal.signal(number, old_handler)


def as_exception(signal_number):
    """The exception a signal ends a run with: ``Terminated`` for SIGTERM, else ``KeyboardInterrupt``."""
    return Terminated(signal_number) if signal_number == signal.SIGTERM else KeyboardInterrupt()


def write_failure(error):
    """``"cannot write <file>: <reason>"`` for an OSError of the disk, else None."""
    return folders.write_failure(error)


def execute(task, prepared, config, folder, quick, device_name, resumed_record=None, announce=None):
    """Run a prepared task in ``folder``, recording its status whatever happens.

    ``resumed_record`` is the metrics.json of an interrupted or failed run that ``--resume``
    continues in the same folder: its record is kept and the run goes on from its checkpoint.
    ``announce`` prints the lines before epoch 1; it runs once ``config.toml`` and
    ``metrics.json`` exist, so that even a failure there leaves a folder that says why.
    """
    now = datetime.datetime.now().isoformat(timespec="seconds")
    if resumed_record is None:
        record = {
            "recipe": config["name"], "task": config["task"], "status": "running", "quick": quick,
            "seed": config["train"]["seed"], "device": device_name, "versions": versions(),
            "started": now,
        }
    else:
        # Files an earlier attempt was writing when it was killed (-9): nobody else writes here
        # (check_resumable refused a running run), and nothing reads them.
        folders.remove_temporary_files(folder)
        record = {key: value for key, value in resumed_record.items() if key not in ("error", "wall_seconds")}
        record.update(status="running", device=device_name, resumed=[*resumed_record.get("resumed", []), now])
    # Who runs it: a run found "running" whose process is gone was killed (dlzoo.runs.folders.read_json).
    record.update(pid=os.getpid(), host=socket.gethostname(), **placement.run_settings(config["train"]))
    try:
        if resumed_record is None:
            saved, plugin_records = with_plugin_copies(config, folder)
            if plugin_records:
                record["plugins"] = plugin_records
            folders.atomic_write_text(folder / folders.CONFIG_FILE, recipes.to_toml(saved))
        folders.atomic_write_json(folder / folders.METRICS_FILE, record)
    except OSError as error:  # a full disk before anything ran: no run, and no empty folder left
        if resumed_record is None:
            shutil.rmtree(folder, ignore_errors=True)
        raise RunFailed(write_failure(error) or str(error)) from None
    start = time.perf_counter()
    try:
        with sigterm_as_interrupt(), checkpoint_state.resuming(folder if resumed_record is not None else None):
            if announce is not None:
                announce()
            results = task.run(prepared, folder)
            # The last writes are protected too: a signal here leaves a run that resumes.
            finish_record(record, results, config, start)
            folders.atomic_write_json(folder / folders.METRICS_FILE, record)
            report.write_report(folder)
    except BaseException as error:  # also Ctrl-C and SIGTERM: the folder must say the run did not finish
        interrupted = isinstance(error, KeyboardInterrupt)
        cannot_write = write_failure(error)
        if interrupted:
            reason = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted by the user"
        else:
            reason = cannot_write or f"{type(error).__name__}: {str(error) or type(error).__name__}"
            if isinstance(error, RunFailed):
                reason = str(error)
        record.update(status="interrupted" if interrupted else "failed", error=reason,
                      wall_seconds=time.perf_counter() - start)
        folders.remove_temporary_files(folder)
        try:  # the disk may be full: say what happened where it still can
            folders.atomic_write_json(folder / folders.METRICS_FILE, record)
            report.write_report(folder)
        except OSError:
            folders.overwrite_in_place(folder / folders.METRICS_FILE, record)
        if interrupted:
            code = 143 if isinstance(error, Terminated) else 130
            raise RunInterrupted(f"interrupted; what the run wrote so far is in {folder} "
                                 f"(continue it: dlzoo train --resume {folder})", exit_code=code) from error
        raise RunFailed(f"{reason} (see {folder})") from error
    return folder, record


def finish_record(record, results, config, start):
    """Turn the running record into the completed one: the task's results, the target check."""
    record.update(results)
    record["changed_settings"] = resolve.changed_settings(config)
    record.update(status="completed", wall_seconds=time.perf_counter() - start,
                  finished=datetime.datetime.now().isoformat(timespec="seconds"))
    if "metrics" in record:
        record["target"] = target_check(config["expect"], record["metrics"])
        if record["target"]["value"] is None:
            record["target"]["error"] = (f"expect.metric '{record['target']['metric']}' is not a metric of this run "
                                         f"(its metrics: {', '.join(record['metrics'])})")


def with_plugin_copies(config, folder):
    """``(config to save, plug-in records)``: the run keeps a copy of each plug-in file, and its
    config.toml names the copies (relative to the run folder), so the run outlives the originals."""
    from dlzoo.runs import plugins

    if not config.get(recipes.PLUGINS_KEY):
        return config, []
    relative, records = plugins.copy_into_run(config[recipes.PLUGINS_KEY], folder)
    return {**config, recipes.PLUGINS_KEY: relative}, records


def check_resumable(argument):
    """The run folder ``--resume`` continues; a usage error (before TensorFlow loads) when the
    folder is no run, is finished, is still running, or has no checkpoint."""
    import pathlib

    folder = pathlib.Path(argument)
    if not folders.is_run_folder(folder):
        raise UsageError(f"--resume {argument}: not a run folder (no {folders.CONFIG_FILE} in it)")
    record = folders.read_json(folder / folders.METRICS_FILE)
    status = record.get("status", "unknown")
    if status == "completed":
        raise UsageError(f"--resume {argument}: the run already completed; train the recipe again for a new run")
    if status == "running":
        raise UsageError(f"--resume {argument}: the run is still running (pid {record.get('pid')} on "
                         f"{record.get('host')})")
    if record.get("task") == "sweep":
        raise UsageError(f"--resume {argument}: sweeps cannot be resumed; train the sweep again")
    task_class = tasks.get(record["task"]) if record.get("task") in tasks.names() else None
    if task_class is not None and task_class.resume_unsupported:
        raise UsageError(f"--resume {argument}: runs of task '{task_class.name}' cannot be resumed "
                         f"({task_class.resume_unsupported}); train the recipe again")
    checkpoint_state.check_checkpoints(folder)  # missing or damaged: said now
    return folder


def resume(folder, device="auto", deterministic=False, devices=None, echo=print):
    """Continue an interrupted or failed run in its own folder from its last checkpoint.

    The model's and optimizer's variables (moments, step count, random seed states), the epoch,
    the best value so far and the history come from ``checkpoints/last.state.npz``; the
    shuffled data order is advanced to that epoch. With ``train.deterministic`` the result is
    the same as a run that was never interrupted.

    Returns:
        ``(run_folder, metrics)`` as :func:`train`.
    """
    folder = check_resumable(folder)
    record = folders.read_json(folder / folders.METRICS_FILE)
    config = resolve.load_config(str(folder / folders.CONFIG_FILE))
    # The config comes from the run folder: its tf.data cache may not point anywhere on the disk.
    config["data"]["cache"] = folders.safe_cache_folder(config["data"].get("cache", ""), folder)
    if deterministic:
        config["train"]["deterministic"] = True
    if devices:
        config["train"]["devices"] = int(devices)
    quick = bool(record.get("quick"))
    device_name = placement.configure_device(device, config["train"])
    placement.configure_determinism(config["train"])
    task = tasks.create(config["task"])
    prepared = prepare(task, config, quick)
    task.check_resume(prepared, folder)  # a foreign checkpoint: said before anything is written
    if config["train"]["verbose"]:
        state = checkpoint_state.read_state(folder)
        after = " (training had ended: evaluation, export, pictures and report are redone)" \
            if bool(state.get("finished", False)) else ""
        echo(f"== {config['name']} ({task.name}) on {device_name}: resuming {folder} after epoch "
             f"{int(state['epoch'])}{after}")
    return execute(task, prepared, config, folder, quick, device_name, resumed_record=record)
