"""What the loss of an untrained model should be: the first check of ``dlzoo check``.

A freshly initialized classifier predicts about 1/K for each of its K classes, so its
cross-entropy starts near ln K; a regressor on standardized targets starts near 1. A first loss
far above means over-confident initial outputs (weights too large, a wrong loss); far below, the
labels may leak into the inputs.
"""

import math


# Initial loss within this factor of its expected value is fine.
LOSS_TOLERANCE = 0.5


def expected_initial_loss(config, splits, model):
    """``(expected value, explanation, highest acceptable ratio loss / expected)``, or
    ``(None, why there is no reference, None)``."""
    if splits.targets == "values":
        # Predicting the mean gives 1 on standardized targets; a randomly initialized output layer
        # adds the variance of its own outputs (about 1-2 with Glorot initialization), hence the slack.
        return 1.0, "MSE on standardized targets: 1 for predicting the mean, plus the initial outputs' variance", 4.0
    if config["train"]["loss"] == "mse":
        return None, "no reference for a squared-error classifier", None
    if model.output_shape[-1] == 1:
        return math.log(2.0), "ln 2 for a sigmoid unit that predicts 0.5", 1.0 + LOSS_TOLERANCE
    classes = splits.num_classes
    return (math.log(classes), f"ln({classes}) for a softmax over {classes} classes that predicts 1/{classes}",
            1.0 + LOSS_TOLERANCE)
