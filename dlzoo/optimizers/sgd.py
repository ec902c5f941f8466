"""Plain (stochastic, mini-batch) gradient descent, written with ``keras.ops`` only."""

import keras
from keras import ops

from dlzoo.optimizers import base


@base.register("sgd")
@keras.saving.register_keras_serializable(package="dlzoo")
class SGD(base.ZooOptimizer):
    """Gradient descent: step against the gradient, scaled by the learning rate.

    Update rule, for every weight w with gradient g of the loss on the current batch:

        w <- w - learning_rate * g

    SGD keeps no state between steps, so it needs no ``build()`` of its own. It matches
    ``keras.optimizers.SGD(momentum=0.0)`` step for step.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name: see
            :class:`dlzoo.optimizers.base.ZooOptimizer`.
    """

    def __init__(self, learning_rate=0.01, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, ops.multiply(gradient, learning_rate))
