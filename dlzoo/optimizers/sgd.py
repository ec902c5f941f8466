"""Plain (stochastic, mini-batch) gradient descent, written with ``keras.ops`` only."""

import keras
from keras import ops

from dlzoo.optimizers import validation


@keras.saving.register_keras_serializable(package="dlzoo")
class SGD(keras.optimizers.Optimizer):
    """Gradient descent: step against the gradient, scaled by the learning rate.

    Update rule, for every weight w with gradient g of the loss on the current batch:

        w <- w - learning_rate * g

    SGD keeps no state between steps, so it needs no ``build()`` of its own. It matches
    ``keras.optimizers.SGD(momentum=0.0)`` step for step.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        clipnorm: if set (> 0), each gradient is rescaled so that its L2 norm is at most this.
        clipvalue: if set (> 0), each gradient element is clipped to [-clipvalue, clipvalue].
        global_clipnorm: if set (> 0), all gradients are rescaled together so that their
            joint L2 norm is at most this. Use at most one of the three clipping options.
        weight_decay: if set (>= 0), decoupled weight decay, applied by the Keras base class.
        name: the optimizer's name; derived from the class name when None.
        **kwargs: other keyword arguments of ``keras.optimizers.Optimizer`` (used when the
            optimizer is rebuilt from its config).
    """

    def __init__(
        self,
        learning_rate=0.01,
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
        super().__init__(
            learning_rate=learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, ops.multiply(gradient, learning_rate))
