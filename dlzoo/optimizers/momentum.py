"""Gradient descent with (heavy-ball) momentum, written with ``keras.ops`` only."""

import keras
from keras import ops

from dlzoo.core import validation
from dlzoo.optimizers import base


@base.register("momentum")
@keras.saving.register_keras_serializable(package="dlzoo")
class Momentum(base.ZooOptimizer):
    """Gradient descent with momentum: a velocity accumulates past steps and keeps moving.

    Update rule, for every weight w with gradient g (velocity v starts at 0):

        v <- momentum * v - learning_rate * g
        w <- w + v

    This is the form Keras uses (``keras.optimizers.SGD(momentum=m)``), which this class
    matches step for step. Textbooks often write ``v <- momentum * v + g`` and
    ``w <- w - learning_rate * v`` instead: the two are the same while the learning rate is
    constant, but differ under a learning-rate schedule (here a change of learning rate only
    affects new gradients, not the velocity already built up).

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        momentum: the fraction of the velocity kept at each step, in [0, 1). 0 is plain SGD.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name: see
            :class:`dlzoo.optimizers.base.ZooOptimizer`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = validation.check_fraction("momentum", momentum)

    def build(self, var_list):
        """Create one velocity per trainable variable, same shape, filled with zeros."""
        if self.built:
            return
        super().build(var_list)
        self.velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self.momentum, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]

        # v <- momentum * v - learning_rate * g
        self.assign(
            velocity,
            ops.subtract(ops.multiply(velocity, momentum), ops.multiply(gradient, learning_rate)),
        )
        # w <- w + v
        self.assign_add(variable, velocity)

    def get_config(self):
        """Return the constructor arguments, so that ``from_config`` rebuilds this optimizer."""
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
