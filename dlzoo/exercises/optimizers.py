"""Exercises sgd, momentum, nesterov, adagrad, rmsprop, adam: a Keras 3 optimizer, written by you.

The student writes a ``keras.optimizers.Optimizer`` subclass (``build`` creates the state,
``update_step`` applies the rule) that takes Keras's argument names (``learning_rate``,
``momentum``, ``rho``, ``beta_1``, ``beta_2``, ``epsilon``, ...). The checker runs it for 100
full-batch steps on a fixed regression problem, inside ``tf.function`` as ``model.fit`` does,
next to Keras's own optimizer with the same hyper-parameters from the same start (the oracle
test of tests/test_optimizers.py), and compares the weights after every step.

The problem: a 4 -> 8 (tanh) -> 1 network, mean squared error on 32 examples, with the gradients
computed in NumPy from the current weights (so both optimizers see exactly the gradients of the
weights they reached), plus one weight ``unused`` that the loss does not depend on: its gradient
is exactly 0, as for a dead ReLU unit, and an update without epsilon divides 0 by 0 there.

Why the epsilons are tiny (1e-10 for RMSProp and Adam): Keras adds epsilon in its own places
(inside the square root for RMSProp and AdaGrad; to sqrt(v) before the bias correction of the
step size for Adam), and textbooks and papers add it elsewhere (Adam's Algorithm 1 adds it to
sqrt(v_hat)). The forms differ by about epsilon / sqrt(v) relative, where sqrt(v) is the size of
the smallest recent gradient (here about 3e-4 at the first step). With epsilon = 1e-10 every
correct form agrees with Keras far inside the tolerance, while epsilon still keeps 0 / 0 away
from the weight with zero gradient. AdaGrad's accumulator starts at 0.2, so its epsilon never
matters and keeps a normal value.

Known mistakes are deliberately wrong NumPy optimizers, subclasses of the zoo's own
``dlzoo.optimizers.numpy_optimizers`` with one line changed; when the student's weights follow
one of them, the hint names the mistake.
"""

import functools

import numpy as np

from dlzoo import exercises
from dlzoo.exercises import base

STEPS = 100
WEIGHT_NAMES = ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias", "unused")
# Float32 rounding (graph vs eager, a different order of operations) grows over 100 steps of the
# adaptive optimizers to about 1e-5 of a weight; a correct Adam in the paper's form stays near
# that too (see the module docstring). Real mistakes differ by 1e-2 and more after one step.
TOLERANCE = 1e-3


def initial_weights():
    """The fixed start: ``{name: float32 array}`` (the same every call)."""
    generator = np.random.default_rng(0)
    return {
        "hidden_kernel": generator.normal(0.0, 0.5, size=(4, 8)).astype("float32"),
        "hidden_bias": generator.normal(0.0, 0.1, size=(8,)).astype("float32"),
        "output_kernel": generator.normal(0.0, 0.5, size=(8, 1)).astype("float32"),
        "output_bias": generator.normal(0.0, 0.1, size=(1,)).astype("float32"),
        "unused": np.ones(3, dtype="float32"),
    }


@functools.lru_cache(maxsize=1)
def regression_data():
    """32 inputs (32, 4) and targets sin(sum of the inputs) (32, 1), float32."""
    generator = np.random.default_rng(1)
    inputs = generator.normal(size=(32, 4)).astype("float32")
    return inputs, np.sin(inputs.sum(axis=1, keepdims=True)).astype("float32")


def gradients(weights):
    """Gradients of the mean squared error w.r.t. the weights (a list in WEIGHT_NAMES order)."""
    inputs, targets = regression_data()
    hidden_kernel, hidden_bias, output_kernel, output_bias, unused = weights
    hidden = np.tanh(inputs @ hidden_kernel + hidden_bias)  # (32, 8)
    outputs = hidden @ output_kernel + output_bias  # (32, 1)
    output_error = 2.0 * (outputs - targets) / outputs.size  # d loss / d outputs
    hidden_error = (output_error @ output_kernel.T) * (1.0 - hidden ** 2)  # (32, 8)
    grads = [inputs.T @ hidden_error, hidden_error.sum(0), hidden.T @ output_error, output_error.sum(0),
             np.zeros_like(unused)]  # the loss does not depend on "unused"
    return [grad.astype("float32") for grad in grads]


def run_keras_optimizer(optimizer, record):
    """Train the problem's weights with ``optimizer`` for STEPS steps, recording them each step."""
    import keras
    import tensorflow as tf

    variables = [keras.Variable(value, name=name) for name, value in initial_weights().items()]
    record.place = "step 1"
    optimizer.build(variables)  # the state is created eagerly, so that tf.function traces once

    @tf.function  # as model.fit runs the optimizer: Python code in update_step runs once, traced
    def apply(step_gradients):
        optimizer.apply_gradients(zip(step_gradients, variables))

    for step in range(1, STEPS + 1):
        record.place = f"step {step}"
        values = [variable.numpy() for variable in variables]
        with np.errstate(all="ignore"):  # a diverging student's weights overflow: the comparison says so
            step_gradients = gradients(values)
        apply([tf.constant(gradient) for gradient in step_gradients])
        for name, variable in zip(WEIGHT_NAMES, variables):
            record.add(name, variable.numpy())


def run_numpy_optimizer(optimizer, record):
    """The same training with a NumPy optimizer (``step(params, grads)``): the known mistakes."""
    params = [value.copy() for value in initial_weights().values()]
    for step in range(1, STEPS + 1):
        record.place = f"step {step}"
        optimizer.step(params, gradients(params))
        for name, param in zip(WEIGHT_NAMES, params):
            record.add(name, param)


class OptimizerExercise(base.Exercise):
    """One optimizer: its hyper-parameters, Keras counterpart, skeleton text and known mistakes."""

    topic = "optimization"
    kind = "a class derived from keras.optimizers.Optimizer"
    tolerance = TOLERANCE
    match_tolerance = 1e-2
    keras_class = ""  # keras.optimizers.<keras_class>
    keras_options = {}  # extra options of the Keras counterpart (momentum=0.0 for plain SGD, ...)
    options = {}  # the hyper-parameters of the check (non-default values: an ignored one shows)
    signature = ""  # the skeleton's __init__ arguments
    rule = ""  # the update rule, for the skeleton's docstring
    state = ()  # (attribute, variable name, initializer) of each state tensor per weight
    todo = ""

    @property
    def class_name(self):
        """The skeleton's class name: ``MyAdam``."""
        return self.object_name

    def kind_problem(self, candidate):
        """None for an Optimizer subclass (the class, not an instance)."""
        import keras

        if isinstance(candidate, keras.optimizers.Optimizer):
            return "is an optimizer instance, not its class (give the class: the checker creates it)"
        if not isinstance(candidate, type):
            return f"is of type {type(candidate).__name__}, not a class"
        if not issubclass(candidate, keras.optimizers.Optimizer):
            return "is a class that does not derive from keras.optimizers.Optimizer"
        return None

    def keras_optimizer(self):
        """Keras's own optimizer with the check's hyper-parameters: the oracle."""
        import keras

        return getattr(keras.optimizers, self.keras_class)(**self.options, **self.keras_options)

    def expected(self):
        """Keras's weights after each of the 100 steps (computed once per process)."""
        return _expected_record(self.name)

    def outputs(self, candidate, record):
        """The student's weights after each step, from an instance made with the check's options."""
        record.place = "while creating the optimizer"
        optimizer = candidate(**self.options)
        run_keras_optimizer(optimizer, record)

    def final_checks(self, candidate):
        """A model.keras file stores get_config(): from_config must rebuild the same optimizer."""
        optimizer = candidate(**self.options)
        config = optimizer.get_config()
        try:
            rebuilt = candidate.from_config(config).get_config()
        except Exception as error:
            return (f"{self.class_name}.from_config(get_config()) raised {type(error).__name__}: {error}",
                    "get_config() must return every argument of __init__ (a saved model rebuilds the "
                    "optimizer from it)")
        for key, value in self.options.items():
            if key != "learning_rate" and not np.isclose(rebuilt.get(key, np.nan), value):
                return (f"get_config() does not keep {key} (got {rebuilt.get(key)!r}, expected {value})",
                        f"add {key} to the dict that get_config() returns")
        return None

    def passed_summary(self, largest_error):
        """``adam: 100 steps match keras.optimizers.Adam ...``."""
        options = ", ".join(f"{key}={value:g}" for key, value in self.options.items())
        return (f"{self.name}: {STEPS} steps match keras.optimizers.{self.keras_class}({options}) "
                f"(largest relative error {largest_error:.1g}, tolerance {self.tolerance:g})")

    def pattern_hint(self, difference, expected, got):
        """Guess from how the first differing step compares with Keras's."""
        if difference.got is not None and not np.isfinite(difference.got):
            return ("NaN or inf: a division by zero (is epsilon added to the denominator? does the step "
                    "count t start at 1?) or an overflow")
        if difference.index is None:
            return "the weights must keep their shapes: update each variable with self.assign_sub / assign"
        step = int(difference.place.split()[-1])
        expected_change, got_change = _changes(expected, got, step, difference.variable)
        scale = np.max(np.abs(expected_change))
        if np.max(np.abs(got_change)) <= 1e-3 * scale:
            return ("the weights did not move: change the variable in place with self.assign_sub(variable, ...) "
                    "(variable = variable - ... only renames a local)")
        with np.errstate(all="ignore"):
            ratios = got_change / expected_change
        ratios = ratios[np.abs(expected_change) > 0.1 * scale]
        ratio = float(np.median(ratios))
        constant = np.allclose(ratios, ratio, rtol=0.01)
        if _fades(expected, got):
            return ("your steps differ most in the first steps and the difference fades: a correction of the "
                    "early steps is missing or wrong (Adam's bias correction 1 - beta ** t, with t from 1)")
        if constant and abs(ratio + 1) < 0.01:
            return "your steps go the wrong way (the sign is flipped): a weight moves against its gradient"
        if constant:
            return (f"each of your steps is {ratio:.3g} times Keras's: a factor is off or missing (the learning "
                    "rate, 1 - beta, a bias correction)")
        if step > 1:
            return ("the first step(s) agree but step {0} does not: the state kept from step to step ({1}) is "
                    "updated wrong, or a hyper-parameter that only matters from then on is ignored"
                    .format(step, ", ".join(variable for _, variable, _ in self.state) or "none"))
        return "compare your update with the rule in the skeleton's docstring, term by term"

    def skeleton(self):
        """A file with the class, the update rule in its docstring and TODOs."""
        return _optimizer_skeleton(self)


def _changes(expected, got, step, variable):
    """What Keras's and the student's step ``step`` did to ``variable`` (from the same weights)."""
    expected_values, got_values = expected.lookup(), got.lookup()
    before = (initial_weights()[variable].astype(np.float64) if step == 1
              else expected_values[(f"step {step - 1}", variable)])
    return (expected_values[(f"step {step}", variable)] - before,
            got_values[(f"step {step}", variable)] - before)


def _fades(expected, got):
    """True if the student's steps are too long or too short at first and then become as long as
    Keras's: the size of step 1 is off by more than 5 % and that of the last 10 steps by at most a
    fifth as much (the signature of a wrong bias correction; a wrong constant factor stays)."""
    expected_values, got_values = expected.lookup(), got.lookup()
    previous = {name: value.astype(np.float64) for name, value in initial_weights().items()}
    previous_got = dict(previous)
    ratios = []
    for step in range(1, STEPS + 1):
        expected_length = got_length = 0.0
        for name in WEIGHT_NAMES[:4]:
            key = (f"step {step}", name)
            if key not in got_values:
                return False
            expected_length += float(np.sum((expected_values[key] - previous[name]) ** 2))
            got_length += float(np.sum((got_values[key] - previous_got[name]) ** 2))
            previous[name], previous_got[name] = expected_values[key], got_values[key]
        ratios.append(np.sqrt(got_length / max(expected_length, np.finfo(np.float64).tiny)))
    deviations = np.abs(np.array(ratios) - 1.0)
    if not np.all(np.isfinite(deviations)):
        return False
    return bool(deviations[0] > 0.05 and deviations[-10:].max() <= 0.2 * deviations[0])


@functools.lru_cache(maxsize=None)
def _expected_record(name):
    """Keras's record for exercise ``name`` (the Keras run is the slow part: once per process)."""
    record = base.Record()
    run_keras_optimizer(exercises.EXERCISES.get(name).keras_optimizer(), record)
    return record


def _numpy_mistake(label, hint, optimizer_class, **options):
    """A Mistake that trains with ``optimizer_class(**options)`` (a wrong NumPy optimizer)."""
    return base.Mistake(label, hint, lambda record: run_numpy_optimizer(optimizer_class(**options), record))


# ---------------------------------------------------------------------------------------------
# The six optimizers.
# ---------------------------------------------------------------------------------------------


@exercises.register
class SGDExercise(OptimizerExercise):
    """Plain gradient descent."""

    name = "sgd"
    order = 10
    object_name = "MySGD"
    task = "class MySGD(keras.optimizers.Optimizer): w <- w - lr * g"
    keras_class = "SGD"
    keras_options = {"momentum": 0.0}
    options = {"learning_rate": 0.1}
    signature = "learning_rate=0.01"
    rule = "w <- w - learning_rate * g"
    todo = "w <- w - learning_rate * g, with self.assign_sub(variable, ...)"

    def mistakes(self):
        """Gradient ascent, and a step without the learning rate."""
        from dlzoo.optimizers import numpy_optimizers

        class Ascent(numpy_optimizers.NumpySGD):
            def update(self, index, param, grad, learning_rate):
                param += grad * learning_rate

        class NoLearningRate(numpy_optimizers.NumpySGD):
            def update(self, index, param, grad, learning_rate):
                param -= grad

        return [
            _numpy_mistake("the sign flipped (w + learning_rate * g)",
                           "that climbs the loss; step against the gradient: w <- w - learning_rate * g",
                           Ascent, **self.options),
            _numpy_mistake("no learning rate (w - g)", "multiply the gradient by learning_rate",
                           NoLearningRate, **self.options),
        ]


@exercises.register
class MomentumExercise(OptimizerExercise):
    """Heavy-ball momentum, in Keras's form."""

    name = "momentum"
    order = 11
    object_name = "MyMomentum"
    task = "class MyMomentum(keras.optimizers.Optimizer): v <- momentum * v - lr * g; w <- w + v"
    keras_class = "SGD"
    options = {"learning_rate": 0.05, "momentum": 0.8}
    signature = "learning_rate=0.01, momentum=0.9"
    rule = ("v <- momentum * v - learning_rate * g      (the velocity v starts at 0)\n"
            "        w <- w + v")
    state = (("velocities", "velocity", "zeros"),)
    todo = "v <- momentum * v - learning_rate * g, then w <- w + v"

    def mistakes(self):
        """The velocity's sign flipped, the velocity not kept, momentum hard-coded to 0.9."""
        from dlzoo.optimizers import numpy_optimizers

        class FlippedVelocity(numpy_optimizers.NumpyMomentum):
            def update(self, index, param, grad, learning_rate):
                velocity = self.velocities[index]
                velocity *= self.momentum
                velocity -= grad * learning_rate
                param -= velocity

        class VelocityNotKept(numpy_optimizers.NumpyMomentum):
            def update(self, index, param, grad, learning_rate):
                param += self.momentum * self.velocities[index] - grad * learning_rate  # v stays 0

        options = dict(self.options)
        return [
            _numpy_mistake("the velocity's sign flipped (w <- w - v with v <- momentum * v - learning_rate * g)",
                           "v already points downhill; add it: w <- w + v", FlippedVelocity, **options),
            _numpy_mistake("the velocity is not kept between steps (plain gradient descent)",
                           "store the new velocity in the optimizer variable with self.assign(velocity, ...)",
                           VelocityNotKept, **options),
            _numpy_mistake("momentum 0.9 instead of the momentum argument",
                           "use self.momentum (the argument), not a number",
                           numpy_optimizers.NumpyMomentum, learning_rate=options["learning_rate"], momentum=0.9),
        ]


@exercises.register
class NesterovExercise(OptimizerExercise):
    """Nesterov momentum, in Keras's look-ahead form."""

    name = "nesterov"
    order = 12
    object_name = "MyNesterov"
    task = "class MyNesterov(keras.optimizers.Optimizer): momentum with Keras's look-ahead step"
    keras_class = "SGD"
    keras_options = {"nesterov": True}
    options = {"learning_rate": 0.05, "momentum": 0.8}
    signature = "learning_rate=0.01, momentum=0.9"
    rule = ("v <- momentum * v - learning_rate * g              (v starts at 0)\n"
            "        w <- w + momentum * v - learning_rate * g          (v: the velocity just updated)\n"
            "\n"
            "    The textbook rule takes the gradient at the look-ahead point w + momentum * v; an\n"
            "    optimizer only gets the gradient at w, so Keras stores the look-ahead point itself as\n"
            "    the weights (Bengio et al. 2012), which gives the rule above.")
    state = (("velocities", "velocity", "zeros"),)
    todo = "v <- momentum * v - learning_rate * g, then w <- w + momentum * v - learning_rate * g"

    def mistakes(self):
        """Plain momentum (no look-ahead), and the look-ahead without its gradient term."""
        from dlzoo.optimizers import numpy_optimizers

        class NoGradientTerm(numpy_optimizers.NumpyNesterov):
            def update(self, index, param, grad, learning_rate):
                velocity = self.velocities[index]
                velocity *= self.momentum
                velocity -= grad * learning_rate
                param += velocity * self.momentum  # the "- learning_rate * g" is missing

        return [
            _numpy_mistake("plain momentum (w <- w + v, no look-ahead)",
                           "Nesterov's step is w <- w + momentum * v - learning_rate * g with the new v",
                           numpy_optimizers.NumpyMomentum, **self.options),
            _numpy_mistake("w <- w + momentum * v (the - learning_rate * g term is missing)",
                           "the look-ahead step is w <- w + momentum * v - learning_rate * g", NoGradientTerm,
                           **self.options),
        ]


@exercises.register
class AdaGradExercise(OptimizerExercise):
    """AdaGrad, in Keras's form."""

    name = "adagrad"
    order = 13
    object_name = "MyAdaGrad"
    task = "class MyAdaGrad(keras.optimizers.Optimizer): s <- s + g * g; w <- w - lr * g / sqrt(s + eps)"
    keras_class = "Adagrad"
    options = {"learning_rate": 0.1, "initial_accumulator_value": 0.2, "epsilon": 1e-6}
    signature = "learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7"
    rule = ("s <- s + g * g                                  (s starts at initial_accumulator_value)\n"
            "        w <- w - learning_rate * g / sqrt(s + epsilon)")
    state = (("accumulators", "accumulator", "keras.initializers.Constant(self.initial_accumulator_value)"),)
    todo = "s <- s + g * g, then w <- w - learning_rate * g / sqrt(s + epsilon)"

    def mistakes(self):
        """The accumulator starting at 0, and no square root."""
        from dlzoo.optimizers import numpy_optimizers

        class NoSquareRoot(numpy_optimizers.NumpyAdaGrad):
            def update(self, index, param, grad, learning_rate):
                accumulator = self.accumulators[index]
                accumulator += np.square(grad)
                param -= learning_rate * grad / (accumulator + self.epsilon)

        options = dict(self.options)
        return [
            _numpy_mistake("the accumulator starts at 0 instead of initial_accumulator_value",
                           "fill it with keras.initializers.Constant(self.initial_accumulator_value) in build()",
                           numpy_optimizers.NumpyAdaGrad, **{**options, "initial_accumulator_value": 0.0}),
            _numpy_mistake("no square root (g / (s + epsilon))", "divide by sqrt(s + epsilon)", NoSquareRoot,
                           **options),
        ]


@exercises.register
class RMSPropExercise(OptimizerExercise):
    """RMSProp, in Keras's form (no momentum, not centered)."""

    name = "rmsprop"
    order = 14
    object_name = "MyRMSProp"
    task = "class MyRMSProp(keras.optimizers.Optimizer): a decaying average of g * g divides the step"
    keras_class = "RMSprop"
    options = {"learning_rate": 0.001, "rho": 0.8, "epsilon": 1e-10}
    signature = "learning_rate=0.001, rho=0.9, epsilon=1e-7"
    rule = ("s <- rho * s + (1 - rho) * g * g               (s starts at 0)\n"
            "        w <- w - learning_rate * g / sqrt(s + epsilon)\n"
            "\n"
            "    (Textbooks put epsilon outside the root, g / (sqrt(s) + epsilon): with the checker's\n"
            "    tiny epsilon both pass.)")
    state = (("mean_squares", "mean_square", "zeros"),)
    todo = "s <- rho * s + (1 - rho) * g * g, then w <- w - learning_rate * g / sqrt(s + epsilon)"

    def mistakes(self):
        """rho and 1 - rho swapped, no square root, a growing sum (AdaGrad), no epsilon."""
        from dlzoo.optimizers import numpy_optimizers

        class SwappedRho(numpy_optimizers.NumpyRMSProp):
            def update(self, index, param, grad, learning_rate):
                mean_square = self.mean_squares[index]
                mean_square *= 1.0 - self.rho
                mean_square += self.rho * np.square(grad)
                param -= learning_rate * grad / np.sqrt(mean_square + self.epsilon)

        class NoSquareRoot(numpy_optimizers.NumpyRMSProp):
            def update(self, index, param, grad, learning_rate):
                mean_square = self.mean_squares[index]
                mean_square *= self.rho
                mean_square += (1.0 - self.rho) * np.square(grad)
                param -= learning_rate * grad / (mean_square + self.epsilon)

        options = dict(self.options)
        return [
            _numpy_mistake("rho and 1 - rho swapped (s <- (1 - rho) * s + rho * g * g)",
                           "rho is the share of the old average that is kept: s <- rho * s + (1 - rho) * g * g",
                           SwappedRho, **options),
            _numpy_mistake("no square root (g / (s + epsilon))", "divide by sqrt(s + epsilon)", NoSquareRoot,
                           **options),
            _numpy_mistake("a growing sum s <- s + g * g (that is AdaGrad)",
                           "RMSProp forgets: s <- rho * s + (1 - rho) * g * g", numpy_optimizers.NumpyAdaGrad,
                           learning_rate=options["learning_rate"], initial_accumulator_value=0.0,
                           epsilon=options["epsilon"]),
            _numpy_mistake("no epsilon (0 / 0 = NaN where the gradient is 0: the weight 'unused')",
                           "add epsilon: g / sqrt(s + epsilon)", numpy_optimizers.NumpyRMSProp,
                           **{**options, "epsilon": 0.0}),
        ]


@exercises.register
class AdamExercise(OptimizerExercise):
    """Adam; Keras's form and the paper's Algorithm 1 both pass (see the module docstring)."""

    name = "adam"
    order = 15
    object_name = "MyAdam"
    task = "class MyAdam(keras.optimizers.Optimizer): moments m and v, bias-corrected (Kingma & Ba)"
    keras_class = "Adam"
    keras_options = {"amsgrad": False}
    options = {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-10}
    signature = "learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7"
    rule = ("at step t = 1, 2, ... (t = self.iterations + 1; m and v start at 0):\n"
            "\n"
            "        m <- beta_1 * m + (1 - beta_1) * g\n"
            "        v <- beta_2 * v + (1 - beta_2) * g * g\n"
            "        m_hat = m / (1 - beta_1 ** t)          bias corrections: m and v start at 0\n"
            "        v_hat = v / (1 - beta_2 ** t)\n"
            "        w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)\n"
            "\n"
            "    (Algorithm 1 of the paper. Keras folds the corrections into the step size,\n"
            "    learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (sqrt(v) + epsilon):\n"
            "    with the checker's tiny epsilon both forms pass.)")
    state = (("first_moments", "first_moment", "zeros"), ("second_moments", "second_moment", "zeros"))
    todo = "update m and v, correct their bias, then update w (see the docstring)"

    def mistakes(self):
        """No bias correction, m's correction only, t from 0, betas swapped, no epsilon."""
        from dlzoo.optimizers import numpy_optimizers

        def adam_variant(correct_first=True, correct_second=True, step_offset=1, swap_betas=False):
            class Variant(numpy_optimizers.NumpyAdam):
                def update(self, index, param, grad, learning_rate):
                    beta_1, beta_2 = (self.beta_2, self.beta_1) if swap_betas else (self.beta_1, self.beta_2)
                    first_moment, second_moment = self.first_moments[index], self.second_moments[index]
                    first_moment += (grad - first_moment) * (1.0 - beta_1)
                    second_moment += (np.square(grad) - second_moment) * (1.0 - beta_2)
                    step = self.iterations + step_offset
                    first_hat = first_moment / (1 - beta_1 ** step) if correct_first else first_moment
                    second_hat = second_moment / (1 - beta_2 ** step) if correct_second else second_moment
                    param -= learning_rate * first_hat / (np.sqrt(second_hat) + self.epsilon)

            return Variant

        options = dict(self.options)
        return [
            _numpy_mistake("no bias correction (w <- w - learning_rate * m / (sqrt(v) + epsilon))",
                           "m and v start at 0, so early on they are too small: divide them by 1 - beta ** t "
                           "(the difference is largest in the first steps and fades)",
                           adam_variant(correct_first=False, correct_second=False), **options),
            _numpy_mistake("only m is bias-corrected", "correct v too: v_hat = v / (1 - beta_2 ** t)",
                           adam_variant(correct_second=False), **options),
            _numpy_mistake("t counted from 0 (1 - beta ** 0 = 0 at the first step)",
                           "self.iterations is 0 during the first update: t = self.iterations + 1",
                           adam_variant(step_offset=0), **options),
            _numpy_mistake("beta_1 and beta_2 swapped", "beta_1 smooths g (m), beta_2 smooths g * g (v)",
                           adam_variant(swap_betas=True), **options),
            _numpy_mistake("no epsilon (0 / 0 = NaN where the gradient is 0: the weight 'unused')",
                           "add epsilon to the denominator: sqrt(v_hat) + epsilon",
                           numpy_optimizers.NumpyAdam, **{**options, "epsilon": 0.0}),
        ]


# ---------------------------------------------------------------------------------------------
# The skeleton file.
# ---------------------------------------------------------------------------------------------


def _optimizer_skeleton(exercise):
    """The text of the skeleton for an OptimizerExercise."""
    names = [argument.split("=")[0] for argument in exercise.signature.split(", ")]
    own = [name for name in names if name != "learning_rate"]
    assignments = "".join(f"        self.{name} = {name}\n" for name in own)
    build = ""
    state_lines = ""
    if exercise.state:
        created = "".join(
            f"        #     self.{attribute} = self.add_optimizer_variables(var_list, \"{variable}\""
            + (f", initializer={initializer})\n" if initializer != "zeros" else ")\n")
            for attribute, variable, initializer in exercise.state)
        build = (
            "    def build(self, var_list):\n"
            "        \"\"\"Create the state: one tensor per weight, of the weight's shape.\"\"\"\n"
            "        if self.built:\n"
            "            return\n"
            "        super().build(var_list)\n"
            "        # TODO: create the state, for example\n"
            f"{created}"
            f"        raise NotImplementedError(\"{exercise.class_name}.build\")\n\n")
        state_lines = "".join(
            f"        # {variable} = self.{attribute}[self._get_variable_index(variable)]\n"
            for attribute, variable, _ in exercise.state)
    config = ""
    if own:
        items = ", ".join(f"\"{name}\": self.{name}" for name in own)
        config = (
            "\n    def get_config(self):\n"
            "        \"\"\"The constructor's arguments: a saved model rebuilds the optimizer from them.\"\"\"\n"
            "        config = super().get_config()\n"
            f"        config.update({{{items}}})\n"
            "        return config\n")
    snake = "my_" + exercise.name
    return f'''"""Exercise {exercise.name}: write this optimizer as a Keras 3 optimizer.

Check it against Keras's own with:

    dlzoo exercise check {exercise.name} THIS_FILE.py

The checker creates {exercise.class_name}(**hyper-parameters) with Keras's argument names, runs it
for {STEPS} steps on a small regression problem inside tf.function (as model.fit does), next to
keras.optimizers.{exercise.keras_class} with the same hyper-parameters, and compares the weights
after every step. A passed optimizer is a normal Keras optimizer: model.compile(optimizer={exercise.class_name}()),
or train a recipe with it as a plug-in:

    dlzoo train mlp --plugin THIS_FILE.py --set optimizer.name={snake}
"""

import keras
from keras import ops

import dlzoo


@dlzoo.register_optimizer("{snake}")  # the name a recipe's optimizer.name refers to
class {exercise.class_name}(keras.optimizers.Optimizer):
    """Update rule, for every weight w with gradient g (element-wise):

        {exercise.rule}
    """

    def __init__(self, {exercise.signature}, name="{snake}", **kwargs):
        # The base class keeps learning_rate (a number or a schedule) and the step count.
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
{assignments}
{build}    def update_step(self, gradient, variable, learning_rate):
        """Apply one update to ``variable`` (a weight), given its ``gradient``, of the same shape."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
{state_lines}        # TODO: {exercise.todo}
        # Change tensors in place with self.assign(x, value), self.assign_add(x, value) or
        # self.assign_sub(x, value), and compute with keras.ops (ops.sqrt, ops.square, ...):
        # the code runs inside tf.function, so use no Python if/float() on tensors.
        raise NotImplementedError("{exercise.class_name}.update_step")
{config}'''
