"""Gradient descent with Nesterov momentum, written with ``keras.ops`` only."""

import keras
from keras import ops

from dlzoo.optimizers import validation


@keras.saving.register_keras_serializable(package="dlzoo")
class Nesterov(keras.optimizers.Optimizer):
    """Nesterov accelerated gradient: momentum that corrects itself by looking ahead.

    The textbook rule (Sutskever et al., 2013) evaluates the gradient at the look-ahead point
    w + momentum * v:

        v <- momentum * v - learning_rate * gradient_at(w + momentum * v)
        w <- w + v

    Computing the gradient somewhere other than at the weights does not fit an optimizer
    that is handed the gradient at w. Keras (and this class) therefore store the look-ahead
    point itself as the weights (the change of variables of Bengio et al., 2012), which gives
    an update that only needs g, the gradient at the stored weights (v starts at 0):

        v <- momentum * v - learning_rate * g
        w <- w + momentum * v - learning_rate * g

    This matches ``keras.optimizers.SGD(momentum=m, nesterov=True)`` step for step.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        momentum: the fraction of the velocity kept at each step, in [0, 1).
        clipnorm, clipvalue, global_clipnorm, weight_decay, name, **kwargs: as for
            ``dlzoo.optimizers.SGD``.
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay = (
            validation.check_common_options(
                learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay
            )
        )
        momentum = validation.check_fraction("momentum", momentum)
        super().__init__(
            learning_rate=learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )
        self.momentum = momentum

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
        gradient_step = ops.multiply(gradient, learning_rate)

        # v <- momentum * v - learning_rate * g
        self.assign(velocity, ops.subtract(ops.multiply(velocity, momentum), gradient_step))
        # w <- w + momentum * v - learning_rate * g   (v is the velocity just updated)
        self.assign_add(variable, ops.subtract(ops.multiply(velocity, momentum), gradient_step))

    def get_config(self):
        """Return the constructor arguments, so that ``from_config`` rebuilds this optimizer."""
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
