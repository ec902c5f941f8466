"""AtomicCheckpoint: the best and the last checkpoint of a run, never half written."""

import io
import math
import os
import pathlib

import keras
import numpy as np


def atomic_save_weights(model, path):
    """``model.save_weights(path)`` through a temporary file and a rename.

    Keras writes ``.weights.h5`` files in place: a signal in the middle leaves a truncated file
    where the previous good checkpoint was. Here the previous file stays whole until the new
    one is complete.
    """
    path = pathlib.Path(path)
    # Keras wants the ".weights.h5" suffix; the pid keeps two processes apart.
    temporary = path.with_name(f".{path.name[:-len('.weights.h5')]}.tmp-{os.getpid()}.weights.h5")
    try:
        model.save_weights(str(temporary))
        os.replace(temporary, path)
    except BaseException:
        if temporary.exists():
            temporary.unlink()
        raise


def model_state(model):
    """Every variable of ``model`` and of its optimizer, as ``{name: array}`` for an ``.npz``.

    ``model.variables`` includes the random seed states of dropout and noise layers;
    ``optimizer.variables`` the moments and the iteration count (the learning-rate schedule's
    step), so that training can continue exactly where it stopped. A model with several
    optimizers (a GAN) names them (:func:`dlzoo.training.checkpointed_optimizers`): each is
    saved under its own prefix (``optimizer-generator/0``, ...).
    """
    from dlzoo import training

    state = {f"model/{index}": np.asarray(variable) for index, variable in enumerate(model.variables)}
    for prefix, (optimizer, _) in training.checkpointed_optimizers(model).items():
        if getattr(optimizer, "built", False):
            state.update({f"{prefix}/{index}": np.asarray(variable) for index, variable in enumerate(optimizer.variables)})
    return state


def atomic_save_state(path, state):
    """Write ``state`` (``{name: array}``) as an ``.npz`` file, atomically."""
    from dlzoo import runs

    buffer = io.BytesIO()
    np.savez(buffer, **state)
    runs.atomic_write_bytes(path, buffer.getvalue())


class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the best weights (by ``monitor``) and the last state of the run after each epoch.

    * ``best`` (a ``.weights.h5`` file): the weights of the epoch with the best ``monitor``;
    * ``last`` (a ``.weights.h5`` file) and ``state`` (an ``.npz`` with the model's and the
      optimizer's variables, the epoch, the best value so far and ``extra_state()``): what
      ``dlzoo train --resume`` continues from.

    Every file goes through a temporary file and a rename, so an interruption at any moment
    leaves the previous checkpoint whole.

    Args:
        best_path, last_path, state_path: the three files.
        monitor: the quantity of the best checkpoint (``val_loss``, ``val_accuracy``, ...);
            a name ending in accuracy/auc/precision/recall is maximized, others minimized.
        extra_state: a function returning more ``{name: array}`` to keep in ``state``
            (the training module adds the history so far).
        best_value: the best value of an earlier part of the run (when resuming).
    """

    def __init__(self, best_path, last_path, state_path, monitor="val_loss", extra_state=None, best_value=None):
        super().__init__()
        self.best_path = pathlib.Path(best_path)
        self.last_path = pathlib.Path(last_path)
        self.state_path = pathlib.Path(state_path)
        self.monitor = monitor
        self.maximize = any(word in monitor for word in ("accuracy", "auc", "precision", "recall"))
        self.extra_state = extra_state
        self.initial_best = best_value
        self.best = best_value
        self.warned = False

    def on_train_begin(self, logs=None):
        """Start from the best value of an earlier part of the run, or from nothing."""
        self.best = self.initial_best
        self.warned = False

    def improved(self, value):
        """True when ``value`` beats the best so far."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.maximize else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        """Write ``best`` when the monitored value improved, then ``last`` and ``state``."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None and not self.warned:
            self.warned = True
            print(f"AtomicCheckpoint: '{self.monitor}' is not in the logs ({', '.join(sorted(logs))}); "
                  "no best checkpoint is written")
        if value is not None and self.improved(float(value)):
            self.best = float(value)
            atomic_save_weights(self.model, self.best_path)
        atomic_save_weights(self.model, self.last_path)
        state = model_state(self.model)
        state["epoch"] = np.asarray(epoch + 1)
        state["best"] = np.asarray(np.nan if self.best is None else self.best)
        if self.extra_state is not None:
            state.update(self.extra_state(epoch, logs))
        atomic_save_state(self.state_path, state)
