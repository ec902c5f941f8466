"""The one training module: every task trains through it, whatever it learns.

    fit(model, train_data, val_data, folder, settings, epochs)      a Keras model (``fit`` and
        its callbacks; also models with their own ``train_step`` and several optimizers)
    run_epochs(epoch_function, epochs, folder, settings)            a loop that is not Keras's
        (the NumPy MLP): same history file, same guards

What both give every run, so no task writes it again:

1. ``history.csv`` (one row per epoch; ``history-<stage>.csv`` for a named stage) and
   TensorBoard logs;
2. checkpoints: ``checkpoints/last.state.npz`` after every epoch (what ``--resume`` reads),
   ``best.weights.h5`` (by ``train.monitor``) and ``last.weights.h5`` at most every
   ``train.checkpoint_seconds`` and at the end; the best weights are restored after training
   when ``train.restore_best`` is on;
3. guards: a NaN or infinite loss, or a loss that diverges far above its start, stops training
   and fails the run with a suggestion (nothing gets exported);
4. early stopping (``train.early_stopping_patience``);
5. where and how the model runs: :func:`configure_device`, :func:`distribution_scope` and
   :func:`precision_policy` are the hooks multi-device training and mixed precision plug into.

Keras is imported inside the functions: importing this module stays cheap.
"""

import contextlib
import math
import sys

from dlzoo.core.errors import RunFailed, UsageError
from dlzoo.training import state

# A loss this many times its first value means the run diverged even if it is still finite.
DIVERGENCE_FACTOR = 1e4


def monitored_names(model):
    """The names ``train.monitor`` may take for a compiled Keras model, or None when unknown."""
    try:
        compiled = model.get_compile_config() or {}
    except (AttributeError, NotImplementedError):
        return None
    names = {"loss"}
    metrics = compiled.get("metrics") or []
    for metric in metrics if isinstance(metrics, (list, tuple)) else [metrics]:
        if isinstance(metric, str):
            names.add(metric)
        elif isinstance(metric, dict):
            names.add((metric.get("config") or {}).get("name", ""))
        else:
            names.add(getattr(metric, "name", ""))
    return names | {f"val_{name}" for name in names}


def check_monitor(prepared, settings):
    """Refuse an unknown ``train.monitor`` before the run folder exists (for compiled models)."""
    model = getattr(prepared, "model", None)
    names = monitored_names(model) if model is not None and getattr(model, "compiled", False) else None
    monitor = settings.get("monitor", "val_loss")
    if names and monitor not in names and not getattr(prepared, "callbacks", None):
        from dlzoo.core.registry import did_you_mean

        hint = did_you_mean(monitor, sorted(names))
        raise UsageError(f"train.monitor '{monitor}' is not a quantity of this run" + (f"; {hint}" if hint else "")
                         + f" (it has: {', '.join(sorted(names))})")


def keras_verbosity(verbose):
    """Keras's ``verbose``: a progress bar on a terminal, one line per epoch in a log file."""
    if verbose == 1 and not sys.stdout.isatty():
        return 2  # a progress bar redrawn per batch fills log files
    return verbose


def history_name(stage):
    """``history.csv``, or ``history-<stage>.csv`` for one stage of a multi-stage run."""
    return f"history-{stage}.csv" if stage else "history.csv"


def platform_callbacks(folder, settings, stage=None, monitor=None, resumed=None):
    """The callbacks of every Keras run: history, TensorBoard, checkpoints, guards, early stop.

    ``resumed`` is the state of an earlier part of the run (:func:`restore_state`), when
    ``--resume`` continues it: the history file is appended to and the best value carries over.
    """
    import json

    import keras
    import numpy as np

    from dlzoo.training.callbacks.atomic_checkpoint import AtomicCheckpoint
    from dlzoo.training.callbacks.divergence_guard import DivergenceGuard
    from dlzoo.training.callbacks.epoch_csv_logger import EpochCSVLogger
    from dlzoo.training.callbacks.epoch_tensorboard import EpochTensorBoard
    from dlzoo.training.callbacks.signal_stop import SignalStop

    monitor = monitor or settings["monitor"]
    best, last = state.checkpoint_paths(folder, stage)
    best.parent.mkdir(parents=True, exist_ok=True)
    history = {key: list(values) for key, values in (resumed or {}).get("history", {}).items()}

    def history_state(epoch, logs):
        """The history so far, kept in the state file so that a resumed run has all of it."""
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        return {"history": np.asarray(json.dumps(history))}

    callbacks = [
        EpochCSVLogger(str(folder / history_name(stage)), append=resumed is not None),
        EpochTensorBoard(log_dir=str(folder / "tensorboard" / (stage or ""))),
        AtomicCheckpoint(best, last, state.state_path(folder, stage), monitor=monitor, extra_state=history_state,
                         best_value=(resumed or {}).get("best"), every_seconds=settings.get("checkpoint_seconds", 0)),
        DivergenceGuard(factor=DIVERGENCE_FACTOR),
        SignalStop(),
    ]
    if settings.get("early_stopping_patience", 0) > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=settings["early_stopping_patience"]))
    return callbacks


def fit(model, train_data, val_data, folder, settings, epochs, stage=None, extra_callbacks=(), monitor=None):
    """Train a compiled Keras model with the platform's callbacks and guards.

    Args:
        model: a compiled ``keras.Model`` (a functional model, or a subclass with its own
            ``train_step`` and optimizers).
        train_data, val_data: ``tf.data`` datasets (``val_data`` may be None).
        folder: the run folder.
        settings: the recipe's ``[train]`` table (``monitor``, ``restore_best``,
            ``early_stopping_patience``, ``verbose``).
        epochs: number of epochs.
        stage: a name for one stage of a multi-stage run (files get it as prefix/suffix).
        extra_callbacks: the task's own callbacks, run before the platform's (so that what
            they add to the epoch logs reaches ``history.csv``).
        monitor: the quantity for the best checkpoint (default ``settings["monitor"]``, or
            ``"loss"`` when there is no validation data).

    Returns:
        The history, ``{metric: [one value per epoch]}``.

    Raises:
        RunFailed: the loss became NaN or infinite, or diverged.
    """
    monitor = monitor or (settings["monitor"] if val_data is not None else "loss")
    apply_compile_settings(model, settings)
    # A stage of a multi-stage run that had not started when the run stopped starts afresh.
    resuming_here = state.RESUMING["folder"] == folder and (stage is None or state.state_path(folder, stage).is_file())
    resumed = state.restore_state(model, folder, stage) if resuming_here else None
    initial_epoch = resumed["epoch"] if resumed else 0
    if resumed:
        state.skip_shuffles(train_data, initial_epoch)
    if resumed and resumed["finished"]:
        # Training had ended before the run stopped (in evaluation, export, pictures, report):
        # nothing is trained again, the steps after training are redone on the same weights.
        return finished_training(model, folder, settings, stage, resumed["history"])
    callbacks = list(extra_callbacks) + platform_callbacks(folder, settings, stage, monitor, resumed)
    checkpoint = next(callback for callback in callbacks if type(callback).__name__ == "AtomicCheckpoint")
    state.build_optimizers(model)
    try:
        with multiworker_workarounds(model, train_data):
            keras_history = model.fit(
                train_data, validation_data=val_data, epochs=int(epochs), callbacks=callbacks,
                verbose=keras_verbosity(settings.get("verbose", 1)), initial_epoch=initial_epoch,
                shuffle=False,  # the tf.data pipeline already shuffles, with the recipe's seed
            )
    except BaseException:
        # Keras skips on_train_end when fit raises: keep the best weights still in memory.
        checkpoint.on_fit_raised()
        raise
    history = {key: list(values) for key, values in (resumed or {}).get("history", {}).items()}
    for key, values in keras_history.history.items():
        history.setdefault(key, []).extend(float(value) for value in values)
    guard = next(callback for callback in callbacks if type(callback).__name__ == "DivergenceGuard")
    check_history(history, guard.reason)
    restore_best(model, folder, settings, stage)
    return history


def restore_best(model, folder, settings, stage=None):
    """Load the best checkpoint's weights into ``model`` (``train.restore_best``, on by default)."""
    best, _ = state.checkpoint_paths(folder, stage)
    if settings.get("restore_best", True) and best.exists():
        model.load_weights(str(best))


def finished_training(model, folder, settings, stage, history):
    """What :func:`fit` returns for a resumed run whose training had already ended: the model
    as training left it (the last state, then the best weights) and the whole history."""
    check_history(history)
    restore_best(model, folder, settings, stage)
    return {key: list(values) for key, values in history.items()}


@contextlib.contextmanager
def multiworker_workarounds(model, train_data):
    """Make Keras 3.15's ``fit`` work under ``MultiWorkerMirroredStrategy`` (nothing otherwise).

    Two bugs of Keras's TensorFlow trainer stop it (tensorflow/tensorflow#72388, closed
    unfixed), both in how it reduces values across workers; the training step itself is right:

    1. before the first step, ``_maybe_symbolic_build`` averages a *distributed batch* across
       workers to learn the input shapes (``strategy.reduce`` of a batch fails); a batch of this
       worker's dataset has the same shapes, so the build is given that one;
    2. after each step, ``reduce_per_replica`` averages every logged value with ``axis=0``,
       which does not exist for the scalar loss and metrics ("Invalid reduction dimension 0");
       the multi-worker mean is taken over the workers instead (``axis=None``).

    Both are private Keras functions, patched only while this ``fit`` runs; the two-worker test
    in ``tests/test_scale.py`` will fail if a Keras release changes them.
    """
    import tensorflow as tf

    strategy = getattr(model, "distribute_strategy", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    from keras.src.backend.tensorflow import trainer as keras_trainer

    local_batch = next(iter(train_data))
    original_build = type(model)._maybe_symbolic_build
    original_reduce = keras_trainer.reduce_per_replica

    def build_from_local_batch(iterator=None, data_batch=None):
        """The symbolic build on a batch of this worker's data (same shapes as the global one)."""
        return original_build(model, data_batch=local_batch)

    def reduce_per_replica(values, strategy, reduction):
        """Average logged values over the workers without an axis; anything else as Keras does."""
        if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original_reduce(values, strategy, reduction)

    model._maybe_symbolic_build = build_from_local_batch
    keras_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        del model._maybe_symbolic_build
        keras_trainer.reduce_per_replica = original_reduce


def apply_compile_settings(model, settings):
    """``train.jit_compile`` (XLA) on a compiled model; unset keeps Keras's own choice."""
    if settings.get("jit_compile") is not None and hasattr(model, "jit_compile"):
        model.jit_compile = bool(settings["jit_compile"])


def run_epochs(epoch_function, epochs, folder, settings, stage=None, checkpoint=None):
    """Train with a loop of the task's own (no Keras ``fit``), with the same history and guards.

    Args:
        epoch_function: ``epoch_function(epoch) -> logs``, one epoch of training that returns
            its metrics (``{"loss": ..., "val_loss": ..., ...}``).
        epochs, folder, settings, stage: as in :func:`fit`.
        checkpoint: what makes the loop resumable: an object with ``state() -> {name: array}``
            (everything training changes: parameters, optimizer slots, random generators;
            the network's parameters under ``model/0``, ``model/1``, ...) and
            ``restore(state)``. After every epoch its state, the epoch and the history go to
            ``checkpoints/last.state.npz`` (atomically); under ``dlzoo train --resume`` the
            loop restores them and continues with the next epoch. None: not resumable.

    Returns:
        The history, ``{metric: [one value per epoch]}``; ``history.csv`` is written after
        every epoch, so an interrupted run keeps its curves.
    """
    import json

    import numpy as np

    from dlzoo.runs import folders

    history, start = {}, 0
    if checkpoint is not None and state.RESUMING["folder"] == folder:
        saved = state.read_state(folder, stage)
        checkpoint.restore(saved)
        start = int(saved["epoch"])
        history = {key: list(values) for key, values in json.loads(str(saved["history"])).items()}
    first_loss = history["loss"][0] if history.get("loss") else None
    for epoch in range(start, int(epochs)):
        logs = epoch_function(epoch)
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        folders.atomic_write_text(folder / history_name(stage), history_csv(history))
        if settings.get("verbose", 1):
            print(f"epoch {epoch + 1}/{epochs}: " + " - ".join(f"{key} {value:.4f}" for key, value in logs.items()),
                  flush=True)
        loss = float(logs.get("loss", 0.0))
        first_loss = loss if first_loss is None else first_loss
        if not math.isfinite(loss) or diverged(loss, first_loss):
            break  # the checkpoint keeps the last good epoch
        if checkpoint is not None:
            from dlzoo.training.callbacks.atomic_checkpoint import atomic_save_state

            state.state_path(folder, stage).parent.mkdir(parents=True, exist_ok=True)
            atomic_save_state(state.state_path(folder, stage), {**checkpoint.state(), "epoch": np.asarray(epoch + 1),
                                                          "history": np.asarray(json.dumps(history))})
    check_history(history)
    return history


def diverged(loss, first_loss, factor=DIVERGENCE_FACTOR):
    """True when ``loss`` is more than ``factor`` times the first loss (and not tiny)."""
    return first_loss is not None and abs(loss) > factor * max(abs(first_loss), 1e-3)


def check_history(history, guard_reason=None):
    """Fail the run when a loss in ``history`` is NaN or infinite, or the guard stopped it."""
    losses = {key: values for key, values in history.items() if key.endswith("loss")}
    if not losses or not any(losses.values()):
        raise RunFailed("training produced no loss values")
    for key, values in losses.items():
        for epoch, value in enumerate(values, start=1):
            if not math.isfinite(value):
                raise RunFailed(f"training {key} became NaN or infinite at epoch {epoch}; lower "
                                "optimizer.learning_rate or add optimizer.clipnorm")
    first, last = history.get("loss", [None])[0], history.get("loss", [None])[-1]
    if guard_reason or (first is not None and diverged(last, first)):
        raise RunFailed(f"training diverged ({guard_reason or f'loss {first:.3g} -> {last:.3g}'}); lower "
                        "optimizer.learning_rate or add optimizer.clipnorm")


def history_csv(history):
    """A ``{column: [values]}`` history as CSV text with an ``epoch`` column counting from 1
    (like the console and :class:`~dlzoo.training.callbacks.epoch_csv_logger.EpochCSVLogger`)."""
    keys = [key for key in history if len(history[key]) == len(history["loss"])]
    lines = [",".join(["epoch", *keys])]
    lines += [",".join([str(epoch + 1), *(repr(float(history[key][epoch])) for key in keys)])
              for epoch in range(len(history["loss"]))]
    return "\n".join(lines) + "\n"
