"""AtomicCheckpoint: the best and the last checkpoint of a run, never half written."""

import io
import math
import pathlib
import time

import keras
import numpy as np


def atomic_save_weights(model, path):
    """``model.save_weights(path)`` through a temporary file and a rename.

    Keras writes ``.weights.h5`` files in place: a signal in the middle leaves a truncated file
    where the previous good checkpoint was. Here the previous file stays whole until the new
    one is complete. The HDF5 file is made in memory and written with Python's own file
    calls: h5py writing to a full disk prints a traceback per object and can crash the process
    as it exits (a segmentation fault), while a full disk here is one ``OSError`` naming the file.
    """
    from dlzoo.runs import folders

    folders.atomic_write_bytes(path, weights_bytes(model))


def weights_bytes(model):
    """What ``model.save_weights`` writes (the ``.weights.h5`` format), as bytes made in memory.

    Keras's ``save_weights`` only takes a file name; its own writer (``H5IOStore``, which also
    takes an ``io.BytesIO``: Keras uses that for the weights inside ``.keras`` files) and the
    walk over the model's layers (``_save_state``) are what ``save_weights`` runs.
    """
    from keras.src.saving import saving_lib

    if not model.built:
        raise ValueError("cannot checkpoint a model that is not built yet")
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                               visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


def checkpointed_optimizers(model):
    """``{state prefix: (optimizer, the variables it updates)}`` of a model, for checkpoints.

    A compiled model has one, ``model.optimizer`` (prefix ``optimizer``). A model that trains
    with several optimizers (a GAN: one per network) lists them in a method
    ``optimizers_to_checkpoint() -> {name: (optimizer, variables)}``; each is then saved and
    restored under ``optimizer-<name>``, so that ``--resume`` continues all of them.
    """
    several = getattr(model, "optimizers_to_checkpoint", None)
    if callable(several):
        return {f"optimizer-{name}": pair for name, pair in several().items()}
    optimizer = getattr(model, "optimizer", None)
    return {"optimizer": (optimizer, model.trainable_variables)} if optimizer is not None else {}


def model_state(model):
    """Every variable of ``model`` and of its optimizer, as ``{name: array}`` for an ``.npz``.

    ``model.variables`` includes the random seed states of dropout and noise layers;
    ``optimizer.variables`` the moments and the iteration count (the learning-rate schedule's
    step), so that training can continue exactly where it stopped. A model with several
    optimizers (a GAN) names them (:func:`checkpointed_optimizers`): each is saved under its
    own prefix (``optimizer-generator/0``, ...).
    """
    state = {f"model/{index}": np.asarray(variable) for index, variable in enumerate(model.variables)}
    for prefix, (optimizer, _) in checkpointed_optimizers(model).items():
        if getattr(optimizer, "built", False):
            state.update({f"{prefix}/{index}": np.asarray(variable) for index, variable in enumerate(optimizer.variables)})
    return state


def atomic_save_state(path, state):
    """Write ``state`` (``{name: array}``) as an ``.npz`` file, atomically."""
    from dlzoo.runs import folders

    buffer = io.BytesIO()
    np.savez(buffer, **state)
    folders.atomic_write_bytes(path, buffer.getvalue())


class AtomicCheckpoint(keras.callbacks.Callback):
    """Keep the best weights (by ``monitor``) and the last state of the run, never half written.

    * ``state`` (an ``.npz`` with the model's and the optimizer's variables, the epoch, the best
      value on disk and ``extra_state()``), written after **every** epoch: what
      ``dlzoo train --resume`` continues from. It costs a few milliseconds.
    * ``best`` and ``last`` (``.weights.h5`` files, what ``model.load_weights`` reads): the
      weights of the epoch with the best ``monitor`` and of the last epoch. Keras's
      ``save_weights`` takes about 40 ms even for a small model (it walks every layer), so
      these two are written at most every ``every_seconds`` and when training ends; in
      between, the best weights wait in memory. A process killed in between loses at most
      ``every_seconds`` of best weights, and ``state`` then names the best value that is on disk.

    Every file goes through a temporary file and a rename, so an interruption at any moment
    leaves the previous checkpoint whole.

    Args:
        best_path, last_path, state_path: the three files.
        monitor: the quantity of the best checkpoint (``val_loss``, ``val_accuracy``, ...);
            a name ending in accuracy/auc/precision/recall is maximized, others minimized.
        extra_state: a function returning more ``{name: array}`` to keep in ``state``
            (the training module adds the history so far).
        best_value: the best value of an earlier part of the run (when resuming).
        every_seconds: the least time between two writes of the ``.weights.h5`` files (0: every epoch).
    """

    def __init__(self, best_path, last_path, state_path, monitor="val_loss", extra_state=None, best_value=None,
                 every_seconds=0.0):
        super().__init__()
        self.best_path = pathlib.Path(best_path)
        self.last_path = pathlib.Path(last_path)
        self.state_path = pathlib.Path(state_path)
        self.monitor = monitor
        self.maximize = any(word in monitor for word in ("accuracy", "auc", "precision", "recall"))
        self.extra_state = extra_state
        self.initial_best = best_value
        self.every_seconds = float(every_seconds)
        self.reset()

    def reset(self):
        """Start from the best value of an earlier part of the run, or from nothing."""
        self.best = self.initial_best  # the best value seen
        self.saved_best = self.initial_best  # the best value whose weights are on disk
        self.pending_best = None  # the best weights not written yet (a list of arrays)
        self.last_write = time.monotonic()
        self.last_state = None
        self.warned = False

    def on_train_begin(self, logs=None):
        """Forget an earlier fit of the same callback."""
        self.reset()

    def improved(self, value):
        """True when ``value`` beats the best so far."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.maximize else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        """Remember the best weights; write the ``.h5`` files when they are due, then ``state``."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None and not self.warned:
            self.warned = True
            print(f"AtomicCheckpoint: '{self.monitor}' is not in the logs ({', '.join(sorted(logs))}); "
                  "no best checkpoint is written")
        improved = value is not None and self.improved(float(value))
        if improved:
            self.best = float(value)
        if time.monotonic() - self.last_write >= self.every_seconds:
            if improved:  # the best weights are the model's own: written without a copy
                self.pending_best = None
                atomic_save_weights(self.model, self.best_path)
                self.saved_best = self.best
            self.write_weights()
        elif improved:
            self.pending_best = self.model.get_weights()
        state = model_state(self.model)
        state["epoch"] = np.asarray(epoch + 1)
        if self.extra_state is not None:
            state.update(self.extra_state(epoch, logs))
        self.last_state = state
        self.write_state()

    def on_train_end(self, logs=None):
        """Write what is still in memory: the best weights, the last weights, the best value;
        the state now says that training ended (a run stopped after this resumes without training)."""
        self.write_weights()
        if self.last_state is not None:
            self.last_state["finished"] = np.asarray(True)
            self.write_state()

    def on_fit_raised(self):
        """Write the best weights still in memory when ``fit`` ended by an exception (Ctrl-C,
        SIGTERM, a failure), which Keras does not report to callbacks. The model's current
        weights belong to no finished epoch and are not written: ``state`` keeps the last one.
        """
        self.write_pending_best()
        if self.last_state is not None:
            self.write_state()

    def write_weights(self):
        """Write the pending best weights and the model's current weights (the last epoch's)."""
        self.write_pending_best()
        atomic_save_weights(self.model, self.last_path)
        self.last_write = time.monotonic()

    def write_pending_best(self):
        """Write the best weights kept in memory, if any; the model's own weights are left as they were."""
        if self.pending_best is None:
            return
        current = self.model.get_weights()
        self.model.set_weights(self.pending_best)
        try:
            atomic_save_weights(self.model, self.best_path)
        finally:
            self.model.set_weights(current)
        self.pending_best = None
        self.saved_best = self.best

    def write_state(self):
        """Write the last epoch's state with the best value whose weights are on disk."""
        self.last_state["best"] = np.asarray(np.nan if self.saved_best is None else self.saved_best)
        atomic_save_state(self.state_path, self.last_state)
