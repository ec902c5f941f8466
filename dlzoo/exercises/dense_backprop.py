"""Exercise dense-backprop: a dense layer's forward and backward passes, written in NumPy.

The student writes ``DenseLayer(kernel, bias, activation)`` with ``forward(inputs)`` and
``backward(output_gradient)``: the building block of the zoo's from-scratch MLP
(:mod:`dlzoo.scratch.mlp`). For each activation (linear first, then tanh, sigmoid, relu) the
checker compares, in float64:

* the forward pass with ``keras.layers.Dense`` holding the same kernel and bias;
* the three gradients of ``L = sum(outputs * output_gradient)`` (so that ``dL/doutputs`` is the
  given ``output_gradient``) with ``tf.GradientTape`` on that Keras layer. The oracle itself is
  checked against central finite differences (:func:`dlzoo.scratch.gradient_check.numerical_gradients`)
  before it is used, so both oracles of the course agree on what the answer is.

The inputs keep every pre-activation at least 0.05 away from 0, where relu has its kink and a
finite difference would straddle it.
"""

import functools

import numpy as np

from dlzoo import exercises
from dlzoo.exercises import base

ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu")
GRADIENT_NAMES = ("kernel_gradient", "bias_gradient", "input_gradient")


@functools.lru_cache(maxsize=1)
def _problem():
    """inputs (5, 4), kernel (4, 3), bias (3,), output_gradient (5, 3), float64; no |z| < 0.05."""
    for seed in range(100):
        generator = np.random.default_rng(seed)
        inputs = generator.normal(size=(5, 4))
        kernel = generator.normal(0.0, 0.7, size=(4, 3))
        bias = generator.normal(0.0, 0.3, size=(3,))
        if np.min(np.abs(inputs @ kernel + bias)) > 0.05:
            return inputs, kernel, bias, generator.normal(size=(5, 3))
    raise RuntimeError("no problem without a pre-activation near 0")  # cannot happen for these sizes


def _place(activation):
    return f"case activation='{activation}'"


def _keras_dense(activation):
    """keras.layers.Dense(3, activation) in float64 holding the problem's kernel and bias."""
    import keras

    inputs, kernel, bias, _ = _problem()
    layer = keras.layers.Dense(3, activation=activation, dtype="float64")
    layer.build((None, 4))
    layer.set_weights([kernel, bias])
    return layer


@functools.lru_cache(maxsize=1)
def _keras_record():
    """Keras's outputs and GradientTape's gradients, checked against finite differences."""
    import tensorflow as tf

    from dlzoo.scratch.gradient_check import numerical_gradients, relative_error

    inputs, kernel, bias, output_gradient = _problem()
    record = base.Record()
    for activation in ACTIVATIONS:
        record.place = _place(activation)
        layer = _keras_dense(activation)
        input_variable = tf.Variable(inputs)
        with tf.GradientTape() as tape:
            outputs = layer(input_variable)
            loss = tf.reduce_sum(outputs * output_gradient)
        tape_gradients = tape.gradient(loss, [layer.kernel, layer.bias, input_variable])
        record.add("outputs", outputs)
        for name, gradient in zip(GRADIENT_NAMES, tape_gradients):
            record.add(name, gradient)
        # The second oracle: finite differences of the same loss (float64, arrays edited in place).
        arrays = [kernel.copy(), bias.copy(), inputs.copy()]

        def loss_function():
            layer.set_weights(arrays[:2])
            return float(np.sum(np.asarray(layer(arrays[2])) * output_gradient))

        for name, numerical, gradient in zip(GRADIENT_NAMES, numerical_gradients(loss_function, arrays),
                                             tape_gradients):
            if relative_error(numerical, gradient.numpy()) > 1e-6:
                raise RuntimeError(f"the oracles disagree on {name} for {activation}")  # a checker bug
    return record


def _derivative_from_output(activation, outputs):
    """The activation's derivative written with its output a (what the cache keeps)."""
    if activation == "tanh":
        return 1.0 - outputs ** 2
    if activation == "sigmoid":
        return outputs * (1.0 - outputs)
    if activation == "relu":
        return (outputs > 0).astype(outputs.dtype)
    return np.ones_like(outputs)


def _activate(activation, pre_activation):
    if activation == "tanh":
        return np.tanh(pre_activation)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-pre_activation))
    if activation == "relu":
        return np.maximum(pre_activation, 0.0)
    return pre_activation


def _variant(derivative="output", bias_reduction="sum"):
    """A mistaken dense layer: how the activation's derivative and the bias gradient are taken."""

    def produce(record):
        inputs, kernel, bias, output_gradient = _problem()
        for activation in ACTIVATIONS:
            record.place = _place(activation)
            pre_activation = inputs @ kernel + bias
            outputs = _activate(activation, pre_activation)
            record.add("outputs", outputs)
            if derivative == "none":
                local = np.ones_like(outputs)
            elif derivative == "pre-activation":  # the formula in a, fed z
                local = _derivative_from_output(activation, pre_activation)
            else:
                local = _derivative_from_output(activation, outputs)
            delta = output_gradient * local  # dL/dz (batch, units)
            record.add("kernel_gradient", inputs.T @ delta)
            bias_gradient = delta.sum(axis=0) if bias_reduction == "sum" else delta.mean(axis=0)
            record.add("bias_gradient", bias_gradient)
            record.add("input_gradient", delta @ kernel.T)

    return produce


@exercises.register
class DenseBackpropExercise(base.Exercise):
    """A NumPy dense layer: forward, and backward by the chain rule."""

    name = "dense-backprop"
    order = 20
    topic = "backprop"
    object_name = "DenseLayer"
    task = "class DenseLayer: forward(inputs) and backward(output_gradient) in NumPy"
    kind = "a class DenseLayer(kernel, bias, activation) with forward(inputs) and backward(output_gradient)"
    tolerance = 1e-6

    def kind_problem(self, candidate):
        """None for a class with forward and backward methods."""
        if not isinstance(candidate, type):
            return f"is of type {type(candidate).__name__}, not a class"
        missing = [method for method in ("forward", "backward") if not callable(getattr(candidate, method, None))]
        if missing:
            return f"has no method {' or '.join(missing)}"
        return None

    def expected(self):
        return _keras_record()

    def outputs(self, candidate, record):
        """Forward and backward of the student's layer for each activation."""
        inputs, kernel, bias, output_gradient = _problem()
        for activation in ACTIVATIONS:
            record.place = _place(activation)
            layer = candidate(kernel.copy(), bias.copy(), activation)
            record.add("outputs", layer.forward(inputs.copy()))
            input_gradient = layer.backward(output_gradient.copy())
            for name in ("kernel_gradient", "bias_gradient"):
                if getattr(layer, name, None) is None:
                    raise base.InterfaceProblem(
                        f"{_place(activation)}: after backward() the layer has no {name}",
                        f"backward() must set self.{name} (d loss / d {name.split('_')[0]})")
                record.add(name, getattr(layer, name))
            if input_gradient is None:
                raise base.InterfaceProblem(f"{_place(activation)}: backward() returned None",
                                            "return d loss / d inputs: the previous layer's output_gradient")
            record.add("input_gradient", input_gradient)

    def mistakes(self):
        """No activation derivative, the derivative fed the pre-activation, a mean bias gradient."""
        return [
            base.Mistake("the activation's derivative is missing (backward as if linear)",
                         "multiply output_gradient by the activation's derivative first: delta = dL/dy * f'(z)",
                         _variant(derivative="none")),
            base.Mistake("the derivative's formula in the output a, fed the pre-activation z",
                         "tanh' = 1 - a ** 2 and sigmoid' = a * (1 - a) take the output a = f(z), not z",
                         _variant(derivative="pre-activation")),
            base.Mistake("the bias gradient averaged over the batch",
                         "every example adds its delta to the bias: sum over the batch (axis 0), no mean",
                         _variant(bias_reduction="mean")),
        ]

    def pattern_hint(self, difference, expected, got):
        """Which part is wrong, and the formula for it."""
        formulas = {
            "outputs": "outputs = activation(inputs @ kernel + bias)",
            "kernel_gradient": "kernel_gradient = inputs.T @ delta, with delta = output_gradient * f'(z)",
            "bias_gradient": "bias_gradient = delta summed over the batch (axis 0)",
            "input_gradient": "input_gradient = delta @ kernel.T",
        }
        return formulas.get(difference.variable, "")

    def skeleton(self):
        return SKELETON


SKELETON = '''"""Exercise dense-backprop: a dense layer's forward and backward passes, in NumPy.

Check it with:

    dlzoo exercise check dense-backprop THIS_FILE.py

The checker compares forward() with keras.layers.Dense holding the same kernel and bias, and
the gradients from backward() with tf.GradientTape (and finite differences), for the
activations linear, tanh, sigmoid and relu, in float64.
"""

import numpy as np


class DenseLayer:
    """outputs = activation(inputs @ kernel + bias), and its backward pass by the chain rule.

    With z = inputs @ kernel + bias, outputs a = f(z) and the gradient of the loss with respect
    to the outputs dL/da (the output_gradient handed down by the next layer):

        delta           = dL/da * f'(z)                 (batch, units)
        kernel_gradient = inputs.T @ delta              (features, units)
        bias_gradient   = sum of delta over the batch   (units,)
        input_gradient  = delta @ kernel.T              (batch, features): for the layer below

    f'(z) for each activation: linear 1; tanh 1 - a ** 2; sigmoid a * (1 - a); relu 1 where
    z > 0, else 0.

    Args:
        kernel: (features, units) array.
        bias: (units,) array.
        activation: "linear", "tanh", "sigmoid" or "relu".
    """

    def __init__(self, kernel, bias, activation="linear"):
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
        self.kernel_gradient = None
        self.bias_gradient = None

    def forward(self, inputs):
        """(batch, features) -> (batch, units); keep what backward() will need."""
        # TODO: compute and return the outputs; keep inputs and outputs (or z) on self.
        raise NotImplementedError("DenseLayer.forward")

    def backward(self, output_gradient):
        """dL/doutputs (batch, units) -> dL/dinputs (batch, features).

        Also sets self.kernel_gradient and self.bias_gradient.
        """
        # TODO: delta, then the three gradients (see the class docstring).
        raise NotImplementedError("DenseLayer.backward")
'''
