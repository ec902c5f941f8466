"""AdaGrad: per-weight learning rates from the sum of past squared gradients (keras.ops only)."""

import keras
from keras import ops

from dlzoo.core import validation
from dlzoo.optimizers import base


@base.register("adagrad")
@keras.saving.register_keras_serializable(package="dlzoo")
class AdaGrad(base.ZooOptimizer):
    """AdaGrad (Duchi et al., 2011): weights that received large gradients take smaller steps.

    Update rule, for every weight w with gradient g (element-wise operations; the
    accumulator s starts at initial_accumulator_value):

        s <- s + g * g
        w <- w - learning_rate * g / sqrt(s + epsilon)

    This is the Keras form, which this class matches step for step
    (``keras.optimizers.Adagrad``). Two differences from the textbook rule
    ``w <- w - learning_rate * g / (sqrt(s) + epsilon)`` with s starting at 0:
    epsilon sits inside the square root, and s starts at initial_accumulator_value (0.1 by
    default), which keeps the very first steps from being huge where a gradient is tiny.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        initial_accumulator_value: starting value of s, >= 0.
        epsilon: small number >= 0 added to s inside the square root, against division by 0.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name: see
            :class:`dlzoo.optimizers.base.ZooOptimizer`.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = validation.check_number(
            "initial_accumulator_value", initial_accumulator_value, minimum=0.0
        )
        self.epsilon = validation.check_number("epsilon", epsilon, minimum=0.0)

    def build(self, var_list):
        """Create one accumulator s per trainable variable, filled with the initial value."""
        if self.built:
            return
        super().build(var_list)
        self.accumulators = self.add_optimizer_variables(
            var_list,
            "accumulator",
            initializer=keras.initializers.Constant(self.initial_accumulator_value),
        )

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self.accumulators[self._get_variable_index(variable)]

        # s <- s + g * g
        self.assign_add(accumulator, ops.square(gradient))
        # w <- w - learning_rate * g / sqrt(s + epsilon)
        step = ops.divide(
            ops.multiply(learning_rate, gradient),
            ops.sqrt(ops.add(accumulator, self.epsilon)),
        )
        self.assign_sub(variable, step)

    def get_config(self):
        """Return the constructor arguments, so that ``from_config`` rebuilds this optimizer."""
        config = super().get_config()
        config.update(
            {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}
        )
        return config
