"""Gradient descent with Nesterov momentum, written with ``keras.ops`` only."""

import keras
from keras import ops

from dlzoo.optimizers import base, momentum


@base.register("nesterov")
@keras.saving.register_keras_serializable(package="dlzoo")
class Nesterov(momentum.Momentum):
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

    This matches ``keras.optimizers.SGD(momentum=m, nesterov=True)`` step for step. The
    options, the velocities and the saved config are those of
    :class:`dlzoo.optimizers.Momentum`; only the update of w differs.
    """

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum_factor = ops.cast(self.momentum, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        gradient_step = ops.multiply(gradient, learning_rate)

        # v <- momentum * v - learning_rate * g
        self.assign(velocity, ops.subtract(ops.multiply(velocity, momentum_factor), gradient_step))
        # w <- w + momentum * v - learning_rate * g   (v is the velocity just updated)
        self.assign_add(variable, ops.subtract(ops.multiply(velocity, momentum_factor), gradient_step))
