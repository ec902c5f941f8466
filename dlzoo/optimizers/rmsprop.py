"""RMSProp: divide each step by a moving root-mean-square of recent gradients (keras.ops only)."""

import keras
from keras import ops

from dlzoo.core import validation
from dlzoo.optimizers import base


@base.register("rmsprop")
@keras.saving.register_keras_serializable(package="dlzoo")
class RMSProp(base.ZooOptimizer):
    """RMSProp (Hinton, 2012): AdaGrad with a decaying average instead of a growing sum.

    Update rule, for every weight w with gradient g (element-wise operations; the average
    of squared gradients s starts at 0):

        s <- rho * s + (1 - rho) * g * g
        w <- w - learning_rate * g / sqrt(s + epsilon)

    This is the Keras form, matched step for step by this class
    (``keras.optimizers.RMSprop(rho, momentum=0.0, centered=False)``). Textbooks usually put
    epsilon outside the square root, ``g / (sqrt(s) + epsilon)``; the two differ only while s
    is about as small as epsilon.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        rho: how much of the running average is kept at each step, in [0, 1).
        epsilon: small number >= 0 added to s inside the square root, against division by 0.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name: see
            :class:`dlzoo.optimizers.base.ZooOptimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = validation.check_fraction("rho", rho)
        self.epsilon = validation.check_number("epsilon", epsilon, minimum=0.0)

    def build(self, var_list):
        """Create one running average s per trainable variable, filled with zeros."""
        if self.built:
            return
        super().build(var_list)
        self.mean_squares = self.add_optimizer_variables(var_list, "mean_square")

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        mean_square = self.mean_squares[self._get_variable_index(variable)]

        # s <- rho * s + (1 - rho) * g * g
        self.assign(
            mean_square,
            ops.add(
                ops.multiply(self.rho, mean_square),
                ops.multiply(1.0 - self.rho, ops.square(gradient)),
            ),
        )
        # w <- w - learning_rate * g / sqrt(s + epsilon)
        step = ops.divide(
            ops.multiply(learning_rate, gradient),
            ops.sqrt(ops.add(mean_square, self.epsilon)),
        )
        self.assign_sub(variable, step)

    def get_config(self):
        """Return the constructor arguments, so that ``from_config`` rebuilds this optimizer."""
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
