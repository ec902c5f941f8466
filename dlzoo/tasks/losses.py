"""Losses the classification task chooses between (cross-entropy or squared error)."""

import keras
from keras import ops

from dlzoo.models.heads import output_units


@keras.saving.register_keras_serializable(package="dlzoo")
class OneHotMeanSquaredError(keras.losses.Loss):
    """Squared error between one-hot labels and softmax probabilities.

    With softmax outputs the squared-error cost is a poor choice (its gradient vanishes when the
    network is confidently wrong); it is here so that students can see that next to
    cross-entropy (``--set train.loss=mse``).
    """

    def __init__(self, num_classes, name="one_hot_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)

    def call(self, y_true, y_pred):
        """Mean over classes of (one_hot(y) - p)^2, shape (batch,)."""
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        targets = ops.one_hot(labels, self.num_classes, dtype=y_pred.dtype)
        return ops.mean(ops.square(targets - y_pred), axis=-1)

    def get_config(self):
        """Serializable configuration."""
        return {**super().get_config(), "num_classes": self.num_classes}


def classification_loss(kind, num_classes):
    """The loss for ``kind`` ("auto"/"crossentropy" or "mse") and a head for ``num_classes``."""
    binary = output_units(num_classes) == 1
    if kind in ("auto", "crossentropy"):
        return keras.losses.BinaryCrossentropy() if binary else keras.losses.SparseCategoricalCrossentropy()
    if kind == "mse":
        return keras.losses.MeanSquaredError() if binary else OneHotMeanSquaredError(num_classes)
    raise ValueError(f"train.loss must be 'auto', 'crossentropy' or 'mse', got {kind!r}")


def accuracy_metric(num_classes):
    """The accuracy metric that matches the head: binary (threshold 0.5) or sparse categorical."""
    if output_units(num_classes) == 1:
        return keras.metrics.BinaryAccuracy(name="accuracy")
    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
