"""SignalStop: end training at the next batch boundary when Ctrl-C or SIGTERM asked for it."""

import signal

import keras

from dlzoo.core.errors import Terminated


class SignalStop(keras.callbacks.Callback):
    """Honour a stop signal between batches, where raising is safe.

    A ``KeyboardInterrupt`` raised by a signal handler in the middle of a Keras step can land
    inside a layer being traced, and Keras then reports it as an unrelated ``TypeError``.
    So while ``fit`` runs, dlzoo's handler only records the signal (:meth:`request`), and this
    callback raises it after the current batch. A second signal raises at once.

    The state is kept on the class: one process trains one run at a time.
    """

    active = False
    requested = None

    @classmethod
    def request(cls, signal_number):
        """Record ``signal_number``; returns False when the caller should raise at once instead."""
        if not cls.active or cls.requested is not None:
            return False
        cls.requested = signal_number
        return True

    @classmethod
    def reset(cls):
        """Forget any recorded signal (at the end of a run)."""
        cls.active, cls.requested = False, None

    def on_train_begin(self, logs=None):
        """Signals are recorded from now on, and honoured between batches."""
        SignalStop.active = True

    def on_train_end(self, logs=None):
        """Back to raising at once; a signal recorded after the last batch is raised now, before
        the steps after training start (the checkpoints are written: it runs after them)."""
        SignalStop.active = False
        self.raise_requested()

    def on_train_batch_end(self, batch, logs=None):
        """Raise the recorded signal, if any."""
        self.raise_requested()

    def on_test_batch_end(self, batch, logs=None):
        """Raise the recorded signal during validation too."""
        self.raise_requested()

    @staticmethod
    def raise_requested():
        """``Terminated`` for SIGTERM, ``KeyboardInterrupt`` for Ctrl-C."""
        number = SignalStop.requested
        if number is None:
            return
        SignalStop.reset()
        raise Terminated(number) if number == signal.SIGTERM else KeyboardInterrupt()
