"""Adam: momentum plus RMSProp, with bias correction (keras.ops only)."""

import keras
from keras import ops

from dlzoo.core import validation
from dlzoo.optimizers import base


@base.register("adam")
@keras.saving.register_keras_serializable(package="dlzoo")
class Adam(base.ZooOptimizer):
    """Adam (Kingma and Ba, 2015): running averages of the gradient and of its square.

    Update rule at step t = 1, 2, ..., for every weight w with gradient g (element-wise
    operations; m and v start at 0):

        m <- beta_1 * m + (1 - beta_1) * g          (first moment: a smoothed gradient)
        v <- beta_2 * v + (1 - beta_2) * g * g      (second moment: a smoothed g squared)
        step_size <- learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        w <- w - step_size * m / (sqrt(v) + epsilon)

    The bias corrections (dividing by 1 - beta ** t) undo the pull towards 0 of averages
    that start at 0. This is the Keras form (``keras.optimizers.Adam(amsgrad=False)``), which
    this class matches step for step; it is the "efficient version" from section 2 of the paper.
    Algorithm 1 of the paper instead corrects m and v separately and adds epsilon to the
    corrected sqrt(v): ``w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)``. The two
    agree when Keras's epsilon (the paper's "epsilon hat") equals the paper's epsilon times
    sqrt(1 - beta_2 ** t); with the same number they differ only while sqrt(v) is tiny.

    Args:
        learning_rate: a number >= 0, or a ``keras.optimizers.schedules.LearningRateSchedule``.
        beta_1: decay of the first-moment average, in [0, 1).
        beta_2: decay of the second-moment average, in [0, 1).
        epsilon: small number >= 0 added to sqrt(v), against division by 0.
        **kwargs: clipnorm, clipvalue, global_clipnorm, weight_decay, name: see
            :class:`dlzoo.optimizers.base.ZooOptimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = validation.check_fraction("beta_1", beta_1)
        self.beta_2 = validation.check_fraction("beta_2", beta_2)
        self.epsilon = validation.check_number("epsilon", epsilon, minimum=0.0)

    def build(self, var_list):
        """Create the first and second moments m and v per trainable variable, filled with 0."""
        if self.built:
            return
        super().build(var_list)
        self.first_moments = self.add_optimizer_variables(var_list, "first_moment")
        self.second_moments = self.add_optimizer_variables(var_list, "second_moment")

    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` given its (already clipped) ``gradient``."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        first_moment = self.first_moments[index]
        second_moment = self.second_moments[index]

        # t counts from 1; self.iterations is incremented only after all variables are updated.
        step_number = ops.cast(self.iterations + 1, variable.dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), step_number)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), step_number)
        step_size = learning_rate * ops.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)

        # m <- beta_1 * m + (1 - beta_1) * g, written as m + (g - m) * (1 - beta_1)
        self.assign_add(
            first_moment, ops.multiply(ops.subtract(gradient, first_moment), 1.0 - self.beta_1)
        )
        # v <- beta_2 * v + (1 - beta_2) * g * g, written the same way
        self.assign_add(
            second_moment,
            ops.multiply(ops.subtract(ops.square(gradient), second_moment), 1.0 - self.beta_2),
        )
        # w <- w - step_size * m / (sqrt(v) + epsilon)
        step = ops.divide(
            ops.multiply(first_moment, step_size),
            ops.add(ops.sqrt(second_moment), self.epsilon),
        )
        self.assign_sub(variable, step)

    def get_config(self):
        """Return the constructor arguments, so that ``from_config`` rebuilds this optimizer."""
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
