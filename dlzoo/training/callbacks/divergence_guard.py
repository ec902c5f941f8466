"""DivergenceGuard: stop training when the loss explodes, even while it is still finite."""

import math

import keras
import numpy as np


class DivergenceGuard(keras.callbacks.Callback):
    """Stop training when a batch loss is NaN/infinite or ``factor`` times the first batch's loss.

    Keras's ``TerminateOnNaN`` only sees NaN and infinity; a diverging optimizer (Adam at
    learning rate 1e6) can climb to 1e14 and stay finite, and then exports a useless model.
    The reason is kept in :attr:`reason` for the training module to report.

    Args:
        factor: how many times the first batch's loss counts as divergence.
    """

    def __init__(self, factor=1e4):
        super().__init__()
        if not factor > 1:
            raise ValueError(f"factor must be > 1, got {factor!r}")
        self.factor = float(factor)
        self.first_loss = None
        self.reason = None

    def on_train_begin(self, logs=None):
        """Forget the previous fit's reference loss (callbacks may be reused)."""
        self.first_loss = None
        self.reason = None

    def on_train_batch_end(self, batch, logs=None):
        """Compare this batch's loss with the first one; stop training when it diverged."""
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = loss
        if not math.isfinite(loss):
            self.reason = f"loss {loss} at batch {batch}"
        elif self.first_loss is not None and abs(loss) > self.factor * max(abs(self.first_loss), 1e-3):
            self.reason = f"loss {self.first_loss:.3g} -> {loss:.3g}, over {self.factor:g} times its start"
        if self.reason:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        """Stop when a weight became NaN or infinite (a finite loss can hide it: ReLU outputs 0
        for NaN pre-activations in some kernels, and a diverged model must not be exported)."""
        if self.reason:
            return
        for variable in self.model.trainable_variables:
            if not np.all(np.isfinite(np.asarray(variable))):
                self.reason = f"weights of {variable.path} became NaN or infinite in epoch {epoch + 1}"
                self.model.stop_training = True
                return
