"""The one training module: every task trains through it, whatever it learns.

    fit(model, train_data, val_data, folder, settings, epochs)      a Keras model (``fit`` and
        its callbacks; also models with their own ``train_step`` and several optimizers)
    run_epochs(epoch_function, epochs, folder, settings)            a loop that is not Keras's
        (the NumPy MLP): same history file, same guards

What both give every run, so no task writes it again:

1. ``history.csv`` (one row per epoch; ``history-<stage>.csv`` for a named stage) and
   TensorBoard logs;
2. checkpoints: ``checkpoints/best.weights.h5`` (by ``train.monitor``) and ``last.weights.h5``;
   the best weights are restored after training when ``train.restore_best`` is on;
3. guards: a NaN or infinite loss, or a loss that diverges far above its start, stops training
   and fails the run with a suggestion (nothing gets exported);
4. early stopping (``train.early_stopping_patience``);
5. where and how the model runs: :func:`configure_device`, :func:`distribution_scope` and
   :func:`precision_policy` are the hooks multi-device training and mixed precision plug into.

Keras is imported inside the functions: importing this module stays cheap.
"""

import contextlib
import math
import platform
import sys

from dlzoo.errors import RunFailed, UsageError

# A loss this many times its first value means the run diverged even if it is still finite.
DIVERGENCE_FACTOR = 1e4


def seed_everything(seed):
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    import keras

    keras.utils.set_random_seed(int(seed))


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


def distribution_scope(settings):
    """The scope models and optimizers are built in: one device today.

    Multi-device strategies (``train.distribute``) plug in here, so that every task gets them
    at once; until then this is a scope that changes nothing.
    """
    del settings
    return contextlib.nullcontext()


def precision_policy(settings):
    """The Keras dtype policy of the run's layers: ``"float32"`` (mixed precision plugs in here)."""
    del settings
    return "float32"


def keras_verbosity(verbose):
    """Keras's ``verbose``: a progress bar on a terminal, one line per epoch in a log file."""
    if verbose == 1 and not sys.stdout.isatty():
        return 2  # a progress bar redrawn per batch fills log files
    return verbose


def history_name(stage):
    """``history.csv``, or ``history-<stage>.csv`` for one stage of a multi-stage run."""
    return f"history-{stage}.csv" if stage else "history.csv"


def checkpoint_paths(folder, stage=None):
    """``(best, last)`` weight files of a run (or of one stage)."""
    prefix = f"{stage}-" if stage else ""
    checkpoints = folder / "checkpoints"
    return checkpoints / f"{prefix}best.weights.h5", checkpoints / f"{prefix}last.weights.h5"


def platform_callbacks(folder, settings, stage=None, monitor=None):
    """The callbacks of every Keras run: history, TensorBoard, checkpoints, guards, early stop."""
    import keras

    from dlzoo.callbacks.divergence_guard import DivergenceGuard

    monitor = monitor or settings["monitor"]
    best, last = checkpoint_paths(folder, stage)
    best.parent.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.CSVLogger(str(folder / history_name(stage))),
        keras.callbacks.TensorBoard(log_dir=str(folder / "tensorboard" / (stage or "")), write_graph=False),
        keras.callbacks.ModelCheckpoint(str(best), monitor=monitor, save_best_only=True, save_weights_only=True),
        keras.callbacks.ModelCheckpoint(str(last), save_weights_only=True),
        DivergenceGuard(factor=DIVERGENCE_FACTOR),
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
    callbacks = list(extra_callbacks) + platform_callbacks(folder, settings, stage, monitor)
    keras_history = model.fit(
        train_data, validation_data=val_data, epochs=int(epochs), callbacks=callbacks,
        verbose=keras_verbosity(settings.get("verbose", 1)),
        shuffle=False,  # the tf.data pipeline already shuffles, with the recipe's seed
    )
    history = {key: [float(value) for value in values] for key, values in keras_history.history.items()}
    guard = next(callback for callback in callbacks if type(callback).__name__ == "DivergenceGuard")
    check_history(history, guard.reason)
    best, _ = checkpoint_paths(folder, stage)
    if settings.get("restore_best", True) and best.exists():
        model.load_weights(str(best))
    return history


def run_epochs(epoch_function, epochs, folder, settings, stage=None):
    """Train with a loop of the task's own (no Keras ``fit``), with the same history and guards.

    Args:
        epoch_function: ``epoch_function(epoch) -> logs``, one epoch of training that returns
            its metrics (``{"loss": ..., "val_loss": ..., ...}``).
        epochs, folder, settings, stage: as in :func:`fit`.

    Returns:
        The history, ``{metric: [one value per epoch]}``; ``history.csv`` is written after
        every epoch, so an interrupted run keeps its curves.
    """
    from dlzoo import runs

    history = {}
    first_loss = None
    for epoch in range(int(epochs)):
        logs = epoch_function(epoch)
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        runs.atomic_write_text(folder / history_name(stage), history_csv(history))
        if settings.get("verbose", 1):
            print(f"epoch {epoch + 1}/{epochs}: " + " - ".join(f"{key} {value:.4f}" for key, value in logs.items()),
                  flush=True)
        loss = float(logs.get("loss", 0.0))
        first_loss = loss if first_loss is None else first_loss
        if not math.isfinite(loss) or diverged(loss, first_loss):
            break
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
    """A ``{column: [values]}`` history as CSV text with an ``epoch`` column (0-based, like
    Keras's CSVLogger)."""
    keys = [key for key in history if len(history[key]) == len(history["loss"])]
    lines = [",".join(["epoch", *keys])]
    lines += [",".join([str(epoch), *(repr(float(history[key][epoch])) for key in keys)])
              for epoch in range(len(history["loss"]))]
    return "\n".join(lines) + "\n"
