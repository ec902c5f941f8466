"""The six course optimizers in plain NumPy, for networks written from scratch.

Each class has the same hyper-parameters, defaults and update rule as its Keras counterpart in
``dlzoo.optimizers`` (and so as the Keras built-in); the tests check them step for step. Use::

    optimizer = get_numpy_optimizer("adam", learning_rate=0.01)
    for batch in batches:
        grads = backward(params, batch)        # one gradient array per parameter array
        optimizer.step(params, grads)          # updates the parameter arrays in place

All operations are element-wise on arrays of the parameters' own dtype (float32 stays
float32). The step counter ``iterations`` starts at 0 and counts calls to ``step``.
"""

import inspect

import numpy as np

from dlzoo.core import validation
from dlzoo.optimizers import shared_options
from dlzoo.core.registry import Registry

NUMPY_OPTIMIZERS = Registry("numpy optimizer")


class NumpyOptimizer:
    """Base class: checks the arrays, creates the state on the first step, counts steps.

    Subclasses implement ``update(index, param, grad)`` for one parameter array and, if they
    keep state, ``build(params)``.

    Args:
        learning_rate: a number >= 0, or a callable taking the step number (0, 1, ...) and
            returning the learning rate (a Keras LearningRateSchedule works too).
    """

    def __init__(self, learning_rate):
        self.learning_rate = shared_options.check_learning_rate(learning_rate)
        self.iterations = 0
        self.parameter_shapes = None  # set by the first step; later steps must match

    def current_learning_rate(self):
        """The learning rate for the coming step (the schedule's value at ``iterations``)."""
        if callable(self.learning_rate):
            return float(self.learning_rate(self.iterations))
        return self.learning_rate

    def step(self, params, grads):
        """Update every array in ``params`` in place, using the matching array in ``grads``.

        Args:
            params: list of floating-point NumPy arrays (the weights), changed in place.
            grads: list of arrays of the same shapes (the gradients of the loss).
        """
        self._check_arrays(params, grads)
        if self.parameter_shapes is None:
            self.parameter_shapes = [param.shape for param in params]
            self.build(params)
        learning_rate = self.current_learning_rate()
        for index, (param, grad) in enumerate(zip(params, grads)):
            self.update(index, param, np.asarray(grad, dtype=param.dtype), learning_rate)
        self.iterations += 1

    def _check_arrays(self, params, grads):
        """Raise ValueError unless params and grads are matching lists of float arrays."""
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} params but {len(grads)} grads")
        for index, (param, grad) in enumerate(zip(params, grads)):
            if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
                raise ValueError(
                    f"params[{index}] must be a floating-point NumPy array (it is updated in "
                    f"place), got {type(param).__name__} {getattr(param, 'dtype', '')}"
                )
            if np.shape(grad) != param.shape:
                raise ValueError(
                    f"grads[{index}] has shape {np.shape(grad)} but params[{index}] has "
                    f"shape {param.shape}"
                )
        shapes = [param.shape for param in params]
        if self.parameter_shapes is not None and shapes != self.parameter_shapes:
            raise ValueError(
                f"params changed since the first step: shapes {shapes}, "
                f"expected {self.parameter_shapes}; use a new optimizer for new parameters"
            )

    def build(self, params):
        """Create per-parameter state; the default keeps none."""

    def update(self, index, param, grad, learning_rate):
        """Update ``param`` (the ``index``-th parameter array) in place."""
        raise NotImplementedError


@NUMPY_OPTIMIZERS.register("sgd")
class NumpySGD(NumpyOptimizer):
    """Gradient descent, as ``dlzoo.optimizers.SGD``:  w <- w - learning_rate * g."""

    def __init__(self, learning_rate=0.01):
        super().__init__(learning_rate)

    def update(self, index, param, grad, learning_rate):
        """w <- w - learning_rate * g"""
        param -= grad * learning_rate


@NUMPY_OPTIMIZERS.register("momentum")
class NumpyMomentum(NumpyOptimizer):
    """Momentum, as ``dlzoo.optimizers.Momentum`` (Keras's form; v starts at 0):

        v <- momentum * v - learning_rate * g
        w <- w + v
    """

    def __init__(self, learning_rate=0.01, momentum=0.9):
        super().__init__(learning_rate)
        self.momentum = validation.check_fraction("momentum", momentum)

    def build(self, params):
        """One zero velocity per parameter array."""
        self.velocities = [np.zeros_like(param) for param in params]

    def update(self, index, param, grad, learning_rate):
        """v <- momentum * v - learning_rate * g;  w <- w + v"""
        velocity = self.velocities[index]
        velocity *= self.momentum
        velocity -= grad * learning_rate
        param += velocity


@NUMPY_OPTIMIZERS.register("nesterov")
class NumpyNesterov(NumpyMomentum):
    """Nesterov momentum, as ``dlzoo.optimizers.Nesterov`` (Keras's look-ahead form):

        v <- momentum * v - learning_rate * g
        w <- w + momentum * v - learning_rate * g

    (The weights stored are the look-ahead point w + momentum * v of the textbook rule, so
    the gradient g at the stored weights is all the update needs.) Options and velocities are
    those of :class:`NumpyMomentum`.
    """

    def update(self, index, param, grad, learning_rate):
        """v <- momentum * v - learning_rate * g;  w <- w + momentum * v - learning_rate * g"""
        velocity = self.velocities[index]
        gradient_step = grad * learning_rate
        velocity *= self.momentum
        velocity -= gradient_step
        param += velocity * self.momentum - gradient_step


@NUMPY_OPTIMIZERS.register("adagrad")
class NumpyAdaGrad(NumpyOptimizer):
    """AdaGrad, as ``dlzoo.optimizers.AdaGrad`` (Keras's form; s starts at the initial value):

        s <- s + g * g
        w <- w - learning_rate * g / sqrt(s + epsilon)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = validation.check_number(
            "initial_accumulator_value", initial_accumulator_value, minimum=0.0
        )
        self.epsilon = validation.check_number("epsilon", epsilon, minimum=0.0)

    def build(self, params):
        """One accumulator per parameter array, filled with initial_accumulator_value."""
        self.accumulators = [
            np.full_like(param, self.initial_accumulator_value) for param in params
        ]

    def update(self, index, param, grad, learning_rate):
        """s <- s + g * g;  w <- w - learning_rate * g / sqrt(s + epsilon)"""
        accumulator = self.accumulators[index]
        accumulator += np.square(grad)
        param -= learning_rate * grad / np.sqrt(accumulator + self.epsilon)


@NUMPY_OPTIMIZERS.register("rmsprop")
class NumpyRMSProp(NumpyOptimizer):
    """RMSProp, as ``dlzoo.optimizers.RMSProp`` (Keras's form; s starts at 0):

        s <- rho * s + (1 - rho) * g * g
        w <- w - learning_rate * g / sqrt(s + epsilon)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        super().__init__(learning_rate)
        self.rho = validation.check_fraction("rho", rho)
        self.epsilon = validation.check_number("epsilon", epsilon, minimum=0.0)

    def build(self, params):
        """One zero running average of squared gradients per parameter array."""
        self.mean_squares = [np.zeros_like(param) for param in params]

    def update(self, index, param, grad, learning_rate):
        """s <- rho * s + (1 - rho) * g * g;  w <- w - learning_rate * g / sqrt(s + epsilon)"""
        mean_square = self.mean_squares[index]
        mean_square *= self.rho
        mean_square += (1.0 - self.rho) * np.square(grad)
        param -= learning_rate * grad / np.sqrt(mean_square + self.epsilon)


@NUMPY_OPTIMIZERS.register("adam")
class NumpyAdam(NumpyOptimizer):
    """Adam, as ``dlzoo.optimizers.Adam`` (Keras's form; m and v start at 0; t = 1, 2, ...):

        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g * g
        step_size <- learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        w <- w - step_size * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = validation.check_fraction("beta_1", beta_1)
        self.beta_2 = validation.check_fraction("beta_2", beta_2)
        self.epsilon = validation.check_number("epsilon", epsilon, minimum=0.0)

    def build(self, params):
        """Zero first and second moments per parameter array."""
        self.first_moments = [np.zeros_like(param) for param in params]
        self.second_moments = [np.zeros_like(param) for param in params]

    def update(self, index, param, grad, learning_rate):
        """One Adam step for one parameter array (see the class docstring)."""
        first_moment = self.first_moments[index]
        second_moment = self.second_moments[index]
        # Bias corrections computed in the parameters' dtype, as Keras does (float32 stays
        # float32, and matches Keras's rounding).
        as_dtype = param.dtype.type
        step_number = as_dtype(self.iterations + 1)
        beta_1_power = as_dtype(self.beta_1) ** step_number
        beta_2_power = as_dtype(self.beta_2) ** step_number
        step_size = as_dtype(learning_rate) * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        first_moment += (grad - first_moment) * (1.0 - self.beta_1)
        second_moment += (np.square(grad) - second_moment) * (1.0 - self.beta_2)
        param -= first_moment * step_size / (np.sqrt(second_moment) + self.epsilon)


def get_numpy_optimizer(name, **options):
    """Create the NumPy optimizer ``name`` (sgd, momentum, nesterov, adagrad, rmsprop, adam).

    Raises ``UnknownNameError`` (with a did-you-mean hint) for an unknown name and
    ``ValueError`` for an unknown option or a bad value.
    """
    optimizer_class = NUMPY_OPTIMIZERS.get(name)
    parameters = inspect.signature(optimizer_class.__init__).parameters
    valid_options = [parameter for parameter in parameters if parameter != "self"]
    validation.check_known_options(f"numpy optimizer '{name}'", options, valid_options)
    return optimizer_class(**options)
