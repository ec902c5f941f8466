"""EpochCSVLogger: Keras's CSVLogger with epochs numbered from 1, as the console numbers them."""

import keras


class EpochCSVLogger(keras.callbacks.CSVLogger):
    """``keras.callbacks.CSVLogger`` whose ``epoch`` column counts from 1.

    Keras passes 0-based epoch indices to callbacks and CSVLogger writes them as they are, while
    its progress bar prints ``Epoch 1/10``; so did dlzoo's plots and reports. The row of the
    first epoch now says 1 everywhere. A resumed run (``initial_epoch`` = epochs done) goes on
    with the next number, because Keras's index of that epoch is the count of the ones before.
    """

    def on_epoch_end(self, epoch, logs=None):
        """Write the row of epoch ``epoch + 1`` (Keras's ``epoch`` is 0-based)."""
        super().on_epoch_end(epoch + 1, logs)
