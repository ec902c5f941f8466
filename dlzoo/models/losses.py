"""Losses of the tasks: classification (cross-entropy or squared error) and regression."""

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


@keras.saving.register_keras_serializable(package="dlzoo")
class StandardizedTargetLoss(keras.losses.Loss):
    """A regression loss on standardized targets: ``loss((y - mean) / std, (y_hat - mean) / std)``.

    The model answers in the target's units; measuring its error in units of the training
    targets' standard deviation keeps the loss (and the gradients) near 1 for any target
    scale, so one learning rate works for targets in [0, 1] and in [25, 346] alike. For the
    squared error it is the MSE divided by the targets' variance.

    The mean cancels in the difference, so only the standard deviation is needed.

    Args:
        kind: ``"mse"``, ``"mae"`` or ``"huber"`` (Huber's delta 1 is in standard deviations).
        std: the training targets' standard deviation (one per target).
    """

    KINDS = ("mse", "mae", "huber")

    def __init__(self, kind, std, name="standardized_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {', '.join(self.KINDS)}, got {kind!r}")
        self.kind, self.std = kind, std

    def call(self, y_true, y_pred):
        """The base loss per example, on standardized values, shape (batch,)."""
        y_pred = ops.reshape(y_pred, (ops.shape(y_pred)[0], -1))  # (batch, targets)
        y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
        error = (y_pred - y_true) / ops.convert_to_tensor(self.std, dtype=y_pred.dtype)
        if self.kind == "mse":
            return ops.mean(ops.square(error), axis=-1)
        if self.kind == "mae":
            return ops.mean(ops.abs(error), axis=-1)
        absolute = ops.abs(error)
        return ops.mean(ops.where(absolute <= 1.0, 0.5 * ops.square(error), absolute - 0.5), axis=-1)

    def get_config(self):
        """Serializable configuration."""
        return {**super().get_config(), "kind": self.kind, "std": self.std}
