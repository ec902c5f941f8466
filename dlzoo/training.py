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
import pathlib
import platform
import sys

from dlzoo.errors import RunFailed, UsageError

# A loss this many times its first value means the run diverged even if it is still finite.
DIVERGENCE_FACTOR = 1e4


def seed_everything(seed):
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    import keras

    keras.utils.set_random_seed(int(seed))


# The tf.distribute strategy of this process (``train.distribute``), made once by
# configure_device: TensorFlow wants multi-device and multi-worker set up before it starts.
STRATEGY = {"kind": "none", "strategy": None}
DISTRIBUTE_CHOICES = ("none", "mirrored", "multiworker")
PRECISION_CHOICES = ("float32", "mixed")


def configure_device(device="auto", settings=None):
    """Choose where TensorFlow runs and return a short description of the device.

    ``"auto"`` uses a GPU when TensorFlow sees one (with memory growth, so that TensorFlow
    does not grab all GPU memory at start), ``"cpu"`` hides the GPUs, ``"gpu"`` requires one.
    ``settings`` (the ``[train]`` table) may ask for ``devices`` logical CPU devices (so that
    multi-device training can be tried without GPUs) and a ``distribute`` strategy.
    """
    import tensorflow as tf

    settings = settings or {}
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
    on_cpu = device == "cpu" or not gpus
    split_cpu(int(settings.get("devices", 0) or 0) if on_cpu else 0)
    make_strategy(settings)
    if on_cpu:
        count = len(tf.config.list_logical_devices("CPU"))
        return f"CPU ({platform.processor() or platform.machine()})" + (f" x {count} logical devices" if count > 1 else "")
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})" + (f" x {len(gpus)}" if len(gpus) > 1 else "")


def split_cpu(devices):
    """Split the CPU into ``devices`` logical devices (``--devices N``); 0 or 1 leaves it whole."""
    import tensorflow as tf

    if devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:  # TensorFlow already started in this process
        existing = len(tf.config.list_logical_devices("CPU"))
        if existing != devices:
            raise UsageError(f"--devices {devices}: TensorFlow already runs on {existing} CPU device(s) in this "
                             "process; start a new process") from None


def make_strategy(settings):
    """Create the ``train.distribute`` strategy once per process (None for ``"none"``)."""
    import os

    kind = settings.get("distribute", "none")
    if kind not in DISTRIBUTE_CHOICES:
        raise UsageError(f"train.distribute must be one of {', '.join(DISTRIBUTE_CHOICES)}, got {kind!r}")
    if kind == STRATEGY["kind"]:
        return STRATEGY["strategy"]
    import tensorflow as tf

    if kind == "none":
        strategy = None
    elif kind == "mirrored":
        # All local GPUs, or the logical CPU devices of --devices N.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([device.name for device in devices])
    else:
        if "TF_CONFIG" not in os.environ:
            raise UsageError("train.distribute = \"multiworker\" needs the TF_CONFIG environment variable "
                             "(the cluster's workers and this worker's index)")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    STRATEGY.update(kind=kind, strategy=strategy)
    return strategy


@contextlib.contextmanager
def distribution_scope(settings):
    """The scope models and optimizers are built in: the ``train.distribute`` strategy's scope
    (variables mirrored on every device) and the ``train.precision`` dtype policy."""
    import keras

    strategy = make_strategy(settings)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision_policy(settings))
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            yield strategy
    finally:
        keras.config.set_dtype_policy(previous)


def precision_policy(settings):
    """The Keras dtype policy of the run's layers for ``train.precision``.

    ``"mixed"``: float16 maths on a GPU (Keras adds loss scaling when it compiles), bfloat16 on
    a CPU (same range as float32, so no loss scaling); variables stay float32, and the
    classifier head computes its probabilities in float32.
    """
    precision = settings.get("precision", "float32")
    if precision not in PRECISION_CHOICES:
        raise UsageError(f"train.precision must be one of {', '.join(PRECISION_CHOICES)}, got {precision!r}")
    if precision == "float32":
        return "float32"
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def configure_determinism(settings):
    """``train.deterministic``: seeded, and TensorFlow's ops made deterministic (slower on GPUs)."""
    if settings.get("deterministic"):
        import tensorflow as tf

        seed_everything(settings.get("seed", 0))
        tf.config.experimental.enable_op_determinism()


def run_settings(settings):
    """How the run was computed, for metrics.json: determinism, strategy, devices, precision, XLA."""
    strategy = STRATEGY["strategy"]
    return {
        "deterministic": bool(settings.get("deterministic", False)),
        "distribute": settings.get("distribute", "none"),
        "replicas": int(strategy.num_replicas_in_sync) if strategy is not None else 1,
        "precision": settings.get("precision", "float32"),
        "dtype_policy": precision_policy(settings),
        "jit_compile": "auto" if settings.get("jit_compile") is None else bool(settings["jit_compile"]),
    }


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
        from dlzoo.registry import did_you_mean

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


def checkpoint_paths(folder, stage=None):
    """``(best, last)`` weight files of a run (or of one stage)."""
    prefix = f"{stage}-" if stage else ""
    checkpoints = folder / "checkpoints"
    return checkpoints / f"{prefix}best.weights.h5", checkpoints / f"{prefix}last.weights.h5"


def state_path(folder, stage=None):
    """The ``.npz`` with everything ``--resume`` needs (model and optimizer variables, epoch, history)."""
    prefix = f"{stage}-" if stage else ""
    return folder / "checkpoints" / f"{prefix}last.state.npz"


def platform_callbacks(folder, settings, stage=None, monitor=None, resumed=None):
    """The callbacks of every Keras run: history, TensorBoard, checkpoints, guards, early stop.

    ``resumed`` is the state of an earlier part of the run (:func:`restore_state`), when
    ``--resume`` continues it: the history file is appended to and the best value carries over.
    """
    import json

    import keras
    import numpy as np

    from dlzoo.callbacks.atomic_checkpoint import AtomicCheckpoint
    from dlzoo.callbacks.divergence_guard import DivergenceGuard
    from dlzoo.callbacks.epoch_csv_logger import EpochCSVLogger
    from dlzoo.callbacks.epoch_tensorboard import EpochTensorBoard
    from dlzoo.callbacks.signal_stop import SignalStop

    monitor = monitor or settings["monitor"]
    best, last = checkpoint_paths(folder, stage)
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
        AtomicCheckpoint(best, last, state_path(folder, stage), monitor=monitor, extra_state=history_state,
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
    resuming_here = RESUMING["folder"] == folder and (stage is None or state_path(folder, stage).is_file())
    resumed = restore_state(model, folder, stage) if resuming_here else None
    initial_epoch = resumed["epoch"] if resumed else 0
    if resumed:
        skip_shuffles(train_data, initial_epoch)
    if resumed and resumed["finished"]:
        # Training had ended before the run stopped (in evaluation, export, pictures, report):
        # nothing is trained again, the steps after training are redone on the same weights.
        return finished_training(model, folder, settings, stage, resumed["history"])
    callbacks = list(extra_callbacks) + platform_callbacks(folder, settings, stage, monitor, resumed)
    checkpoint = next(callback for callback in callbacks if type(callback).__name__ == "AtomicCheckpoint")
    build_optimizers(model)
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
    best, _ = checkpoint_paths(folder, stage)
    if settings.get("restore_best", True) and best.exists():
        model.load_weights(str(best))


def finished_training(model, folder, settings, stage, history):
    """What :func:`fit` returns for a resumed run whose training had already ended: the model
    as training left it (the last state, then the best weights) and the whole history."""
    check_history(history)
    restore_best(model, folder, settings, stage)
    return {key: list(values) for key, values in history.items()}


def rewrites_own_output(path):
    """True when ``path`` lies in the run folder ``--resume`` continues.

    The earlier attempt of that run may have written it (``model.keras``, ``saved_model/``)
    before it stopped; this attempt writes it again. Anywhere else an existing file is never
    overwritten.
    """
    folder = RESUMING["folder"]
    return folder is not None and pathlib.Path(folder).resolve() in pathlib.Path(path).resolve().parents


# The run folder that ``dlzoo train --resume`` continues (set by :func:`resuming`): fit() then
# starts from the folder's last checkpoint instead of from the freshly built model.
RESUMING = {"folder": None}


@contextlib.contextmanager
def resuming(folder):
    """Within this block, :func:`fit` in ``folder`` continues from the folder's last checkpoint."""
    RESUMING["folder"] = folder
    try:
        yield
    finally:
        RESUMING["folder"] = None


def read_state(folder, stage=None):
    """The last checkpoint's state of a run as ``{name: array}``; a clear usage error when it is
    missing or corrupt."""
    import zipfile

    import numpy as np

    from dlzoo import runs

    path = state_path(folder, stage)
    if not path.exists():
        raise UsageError(f"{folder} has no checkpoint to resume from ({path.name} is missing: the run stopped "
                         "before its first epoch ended, or was written by an older dlzoo)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path} is corrupt and cannot be resumed from ({runs.damage_reason(error)})") from None
    if "epoch" not in state or not any(name.startswith("model/") for name in state):
        raise UsageError(f"{path} is not a dlzoo checkpoint (no epoch or model variables in it)")
    return state


def check_checkpoints(folder):
    """Raise a usage error naming the first damaged checkpoint of a run (before ``--resume``
    writes anything): the main state, every stage's state and every ``.weights.h5`` file.

    Cheap and without TensorFlow (NumPy and h5py only): ``--resume`` calls it before the import.
    """
    read_state(folder)
    for path in sorted((pathlib.Path(folder) / "checkpoints").glob("*-last.state.npz")):
        read_state(folder, path.name[:-len("-last.state.npz")])
    for path in sorted((pathlib.Path(folder) / "checkpoints").glob("*.weights.h5")):
        if not path.name.startswith("."):  # a temporary file of a killed write: removed by the resume
            check_weights_file(path)


def check_weights_file(path):
    """A usage error when the HDF5 weights file at ``path`` cannot be read back whole."""
    import h5py

    from dlzoo import runs

    def read_dataset(name, item):
        """Read every dataset: a file cut short after its header fails here, not at the open."""
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as file:
            file.visititems(read_dataset)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise runs.damaged(path, f"not a readable HDF5 file: {str(error).splitlines()[0][:100]}") from None


def numbered(state, prefix):
    """The arrays ``prefix/0, prefix/1, ...`` of a state, in order."""
    count = sum(1 for name in state if name.startswith(prefix + "/"))
    return [state[f"{prefix}/{index}"] for index in range(count)]


def check_state_fits(model, folder, stage=None):
    """Raise a usage error unless the run's checkpoint holds exactly ``model``'s variables."""
    values = numbered(read_state(folder, stage), "model")
    variables = list(model.variables)
    shapes = [tuple(value.shape) for value in values]
    expected = [tuple(variable.shape) for variable in variables]
    if shapes != expected:
        raise UsageError(f"the checkpoint in {folder} belongs to another model ({len(shapes)} variables, "
                         f"this recipe's model has {len(expected)} of other shapes): it cannot be resumed here")


def restore_state(model, folder, stage=None):
    """Put the last checkpoint's model and optimizer variables into ``model``.

    Returns ``{"epoch", "best", "history", "finished"}`` of the part of the run that is already
    done; ``finished`` is true when training had ended (the run stopped after it).
    """
    import json

    from dlzoo.callbacks import atomic_checkpoint

    check_state_fits(model, folder, stage)
    state = read_state(folder, stage)
    for variable, value in zip(model.variables, numbered(state, "model")):
        variable.assign(value)
    named = atomic_checkpoint.checkpointed_optimizers(model)
    for prefix, (optimizer, variables) in named.items():
        optimizer_values = numbered(state, prefix)
        if not optimizer_values:
            if prefix != "optimizer":  # one of several optimizers: its state cannot be made up
                raise UsageError(f"the checkpoint in {folder} has no state for the {prefix[len('optimizer-'):]} "
                                 "optimizer (written by an older dlzoo): it cannot be resumed")
            continue
        if not optimizer.built:
            optimizer.build(variables)
        if [tuple(value.shape) for value in optimizer_values] != [tuple(v.shape) for v in optimizer.variables]:
            raise UsageError(f"the optimizer state in {folder} belongs to another optimizer: it cannot be resumed here")
        for variable, value in zip(optimizer.variables, optimizer_values):
            variable.assign(value)
    best = float(state["best"]) if "best" in state else math.nan
    history = json.loads(str(state["history"])) if "history" in state else {}
    return {"epoch": int(state["epoch"]), "best": None if math.isnan(best) else best, "history": history,
            "finished": bool(state["finished"]) if "finished" in state else False}


def build_optimizers(model):
    """Create the optimizers' variables (moments, step count) before ``fit`` traces its step.

    Left to ``fit``, the first trace of the training step creates them, and TensorFlow then
    traces the whole step a second time (a ``tf.function`` may create variables only in its
    first trace): for the transformer translator that is 12 s of tracing instead of 7 s before
    the first batch. Only done for a model whose layers are all built: an optimizer built on a
    partial variable list could not update the rest.
    """
    from dlzoo.callbacks import atomic_checkpoint

    if not getattr(model, "built", False) or not all(getattr(layer, "built", True) for layer in model.layers):
        return
    strategy = getattr(model, "distribute_strategy", None)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        for optimizer, variables in atomic_checkpoint.checkpointed_optimizers(model).values():
            if optimizer is not None and not getattr(optimizer, "built", True) and variables:
                optimizer.build(variables)


def resumed_progress(folder, stage=None):
    """``(epochs done, history so far)`` of the run ``--resume`` continues in ``folder``, or
    ``(0, {})`` when this is not a resumed run (for tasks that keep per-epoch things of their own)."""
    import json

    if RESUMING["folder"] != folder or not state_path(folder, stage).is_file():
        return 0, {}
    state = read_state(folder, stage)
    return int(state["epoch"]), json.loads(str(state["history"])) if "history" in state else {}


ITERATORS_PER_EPOCH = 2


def skip_shuffles(dataset, epochs):
    """Advance a shuffled ``tf.data`` pipeline by ``epochs`` epochs without reading it.

    A reshuffling ``shuffle`` draws a new order each time an iterator is created. Keras 3's
    epoch iterator creates :data:`ITERATORS_PER_EPOCH` iterators per epoch of a dataset whose
    length is known (one at the epoch's start, one at its end); creating and dropping as many
    makes epoch ``epochs`` of a resumed run see the order of an uninterrupted run
    (tests/test_resume.py checks the result is identical, so a Keras change shows up there).
    """
    for _ in range(ITERATORS_PER_EPOCH * int(epochs)):
        iter(dataset)


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

    from dlzoo import runs

    history, start = {}, 0
    if checkpoint is not None and RESUMING["folder"] == folder:
        state = read_state(folder, stage)
        checkpoint.restore(state)
        start = int(state["epoch"])
        history = {key: list(values) for key, values in json.loads(str(state["history"])).items()}
    first_loss = history["loss"][0] if history.get("loss") else None
    for epoch in range(start, int(epochs)):
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
            break  # the checkpoint keeps the last good epoch
        if checkpoint is not None:
            from dlzoo.callbacks.atomic_checkpoint import atomic_save_state

            state_path(folder, stage).parent.mkdir(parents=True, exist_ok=True)
            atomic_save_state(state_path(folder, stage), {**checkpoint.state(), "epoch": np.asarray(epoch + 1),
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
    (like the console and :class:`~dlzoo.callbacks.epoch_csv_logger.EpochCSVLogger`)."""
    keys = [key for key in history if len(history[key]) == len(history["loss"])]
    lines = [",".join(["epoch", *keys])]
    lines += [",".join([str(epoch + 1), *(repr(float(history[key][epoch])) for key in keys)])
              for epoch in range(len(history["loss"]))]
    return "\n".join(lines) + "\n"
