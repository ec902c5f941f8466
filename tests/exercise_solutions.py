"""Correct solutions of the exercises that have no counterpart in the zoo, written as a student
would (a file that ``dlzoo exercise check`` reads), and two correct forms that differ from
Keras's: Adam as in Algorithm 1 of the paper, RMSProp with epsilon outside the square root.

tests/test_exercises.py checks each of them through the checker and the CLI.
"""

import keras
import numpy as np
from keras import ops


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels and its gradient, stable for any logits."""
    rows = np.arange(len(labels))
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp() <= 1: no overflow
    log_normalizer = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probabilities = shifted - log_normalizer  # log-sum-exp: never log(0)
    loss = -log_probabilities[rows, labels].mean()
    gradient = np.exp(log_probabilities)
    gradient[rows, labels] -= 1.0
    return loss, gradient / len(labels)


class DenseLayer:
    """outputs = activation(inputs @ kernel + bias), with its backward pass."""

    def __init__(self, kernel, bias, activation="linear"):
        self.kernel, self.bias, self.activation = kernel, bias, activation
        self.kernel_gradient = self.bias_gradient = None

    def forward(self, inputs):
        """(batch, features) -> (batch, units)."""
        pre_activation = inputs @ self.kernel + self.bias
        activations = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
                       "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
        self.inputs, self.outputs = inputs, activations[self.activation](pre_activation)
        return self.outputs

    def backward(self, output_gradient):
        """dL/doutputs -> dL/dinputs; sets kernel_gradient and bias_gradient."""
        derivatives = {"linear": lambda a: np.ones_like(a), "tanh": lambda a: 1.0 - a ** 2,
                       "sigmoid": lambda a: a * (1.0 - a), "relu": lambda a: (a > 0).astype(a.dtype)}
        delta = output_gradient * derivatives[self.activation](self.outputs)
        self.kernel_gradient = self.inputs.T @ delta
        self.bias_gradient = delta.sum(axis=0)
        return delta @ self.kernel.T


def conv2d(inputs, kernel, bias, strides=(1, 1), padding="valid"):
    """keras.layers.Conv2D's forward pass (channels last, not flipped)."""
    kernel_height, kernel_width = kernel.shape[:2]
    if padding == "same":
        pads = []
        for size, kernel_size, stride in zip(inputs.shape[1:3], kernel.shape[:2], strides):
            total = max((-(-size // stride) - 1) * stride + kernel_size - size, 0)
            pads.append((total // 2, total - total // 2))
        inputs = np.pad(inputs, ((0, 0), pads[0], pads[1], (0, 0)))
    rows = (inputs.shape[1] - kernel_height) // strides[0] + 1
    columns = (inputs.shape[2] - kernel_width) // strides[1] + 1
    outputs = np.empty((inputs.shape[0], rows, columns, kernel.shape[3]))
    for row in range(rows):
        for column in range(columns):
            top, left = row * strides[0], column * strides[1]
            patch = inputs[:, top:top + kernel_height, left:left + kernel_width]
            outputs[:, row, column] = np.einsum("bijc,ijco->bo", patch, kernel)
    return outputs + bias


class PaperAdam(keras.optimizers.Optimizer):
    """Adam as in Algorithm 1 of Kingma & Ba: epsilon added to sqrt(v_hat), not to sqrt(v)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, name="paper_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.first_moments = self.add_optimizer_variables(var_list, "m")
        self.second_moments = self.add_optimizer_variables(var_list, "v")

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v = self.first_moments[index], self.second_moments[index]
        t = ops.cast(self.iterations + 1, variable.dtype)
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        m_hat = m / (1.0 - ops.power(self.beta_1, t))
        v_hat = v / (1.0 - ops.power(self.beta_2, t))
        self.assign_sub(variable, learning_rate * m_hat / (ops.sqrt(v_hat) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


class TextbookRMSProp(keras.optimizers.Optimizer):
    """RMSProp with epsilon outside the square root: g / (sqrt(s) + epsilon)."""

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, name="textbook_rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.averages = self.add_optimizer_variables(var_list, "average")

    def update_step(self, gradient, variable, learning_rate):
        average = self.averages[self._get_variable_index(variable)]
        self.assign(average, self.rho * average + (1.0 - self.rho) * ops.square(gradient))
        self.assign_sub(variable, learning_rate * gradient / (ops.sqrt(average) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config


class TextbookMomentum(keras.optimizers.Optimizer):
    """Momentum as textbooks write it: v <- momentum * v + g; w <- w - learning_rate * v."""

    def __init__(self, learning_rate=0.01, momentum=0.9, name="textbook_momentum", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.velocities[self._get_variable_index(variable)]
        self.assign(velocity, self.momentum * velocity + gradient)
        self.assign_sub(variable, learning_rate * velocity)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum})
        return config
