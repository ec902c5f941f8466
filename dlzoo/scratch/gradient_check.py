"""Two oracles for the hand-written backward pass of :class:`~dlzoo.scratch.mlp.NumpyMLP`.

* :func:`gradient_check`: central finite differences, one parameter element at a time::

      dL/dw  ≈  (L(w + eps) - L(w - eps)) / (2 * eps)      error O(eps ** 2)

* :func:`tape_check`: automatic differentiation of the same loss with ``tf.GradientTape``.

Both run in float64 on a copy of the model (the model itself is not changed), in inference
mode (no dropout) and with the model's L2 penalty, and compare each parameter array with the
relative error of the whole array (``||.||`` is the Euclidean norm)::

      ||analytic - other|| / max(||analytic|| + ||other||, tiny)

which is below 1e-6 for a correct backward pass on a small network and a few samples (with
a bug it is typically above 1e-2). ``tiny`` keeps 0 / 0 at 0 where both gradients vanish.

Why norms and not element by element: the loss is known to about 1e-16 (float64 round-off),
so a finite difference with ``eps = 1e-6`` carries an absolute error near 1e-10. For a single
gradient element close to zero (|g| ~ 1e-5, common in the first layer of a sigmoid network)
that is a relative error of 1e-5 although the backward pass is right; measured over the whole
array, the round-off is compared with the size of the gradient it belongs to.
"""

import numpy as np

from dlzoo.core import validation

DEFAULT_TINY = 1e-12


def relative_error(analytic, other, tiny=DEFAULT_TINY):
    """``||analytic - other|| / max(||analytic|| + ||other||, tiny)`` for two arrays, a float."""
    analytic = np.asarray(analytic, dtype=np.float64).reshape(-1)
    other = np.asarray(other, dtype=np.float64).reshape(-1)
    scale = np.linalg.norm(analytic) + np.linalg.norm(other)
    return float(np.linalg.norm(analytic - other) / max(scale, tiny))


def numerical_gradients(loss_function, parameters, epsilon=1e-6):
    """Central-difference gradients of ``loss_function()`` w.r.t. every element of ``parameters``.

    Args:
        loss_function: a function of no arguments returning the loss (a float) computed from
            the current values of ``parameters``.
        parameters: contiguous float arrays; each element is nudged in place and restored.
        epsilon: the finite-difference step.

    Returns:
        A list of arrays shaped like ``parameters``.
    """
    epsilon = validation.check_number("epsilon", epsilon, minimum=0, exclusive_minimum=True)
    gradients = []
    for parameter in parameters:
        if not parameter.flags.c_contiguous:
            raise ValueError("parameters must be C-contiguous arrays (they are edited in place)")
        flat_parameter = parameter.reshape(-1)  # a view: writing it changes the parameter
        flat_gradient = np.zeros(parameter.size, dtype=np.float64)
        for index in range(parameter.size):
            original = flat_parameter[index]
            flat_parameter[index] = original + epsilon
            upper = flat_parameter[index]
            loss_plus = loss_function()
            flat_parameter[index] = original - epsilon
            lower = flat_parameter[index]
            loss_minus = loss_function()
            flat_parameter[index] = original
            # Divide by the step actually taken (w + eps is rounded), not by 2 * eps.
            flat_gradient[index] = (loss_plus - loss_minus) / (upper - lower)
        gradients.append(flat_gradient.reshape(parameter.shape))
    return gradients


def _analytic_gradients(model64, inputs, labels):
    """Hand-written gradients of the inference-mode loss, copied out of the model's buffers."""
    model64.loss(inputs, labels, training=False)
    return [gradient.copy() for gradient in model64.backward()]


def _compare(model64, analytic, others):
    """Relative error of every parameter array, and the largest one."""
    per_parameter = []
    for name, mine, other in zip(model64.parameter_names(), analytic, others):
        per_parameter.append({
            "name": name,
            "shape": list(mine.shape),
            "relative_error": relative_error(mine, other),
            "max_abs_difference": float(np.abs(mine - other).max()),
        })
    return {
        "max_relative_error": max(entry["relative_error"] for entry in per_parameter),
        "per_parameter": per_parameter,
    }


def gradient_check(model, x, y, epsilon=1e-6):
    """Compare the backward pass of ``model`` with central finite differences, in float64.

    Use a small network and a few samples: the loss is evaluated twice per parameter element.

    Args:
        model: a :class:`~dlzoo.scratch.mlp.NumpyMLP` (not modified).
        x: a few input samples.
        y: their integer labels.
        epsilon: the finite-difference step.

    Returns:
        ``{"max_relative_error": float, "per_parameter": [{"name", "shape", "relative_error",
        "max_abs_difference"}, ...]}`` in the order of ``parameters()``; the maximum is taken
        over the per-parameter relative errors.
    """
    model64 = model.copy(dtype=np.float64)
    inputs = np.asarray(x, dtype=np.float64)
    analytic = _analytic_gradients(model64, inputs, y)

    def loss_function():
        return model64.loss(inputs, y, training=False)

    numerical = numerical_gradients(loss_function, model64.parameters(), epsilon)
    return _compare(model64, analytic, numerical)


def _tape_gradients(model64, inputs, labels):
    """Gradients of the same loss computed by ``tf.GradientTape`` in float64."""
    import tensorflow as tf  # imported here: the NumPy MLP itself does not need TensorFlow

    activations = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh}
    activation = activations[model64.activation]
    variables = [tf.Variable(parameter) for parameter in model64.parameters()]
    kernels, biases = variables[0::2], variables[1::2]
    with tf.GradientTape() as tape:
        hidden = tf.constant(inputs.reshape(len(inputs), -1))  # (batch, features)
        for kernel, bias in zip(kernels[:-1], biases[:-1]):
            hidden = activation(tf.matmul(hidden, kernel) + bias)  # (batch, units)
        logits = tf.matmul(hidden, kernels[-1]) + biases[-1]  # (batch, classes)
        cross_entropy = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant(labels, dtype=tf.int64), logits=logits))
        penalty = tf.add_n([tf.reduce_sum(tf.square(kernel)) for kernel in kernels])
        loss = cross_entropy + model64.l2 * penalty
    return [gradient.numpy() for gradient in tape.gradient(loss, variables)]


def tape_check(model, x, y):
    """Max relative error between the hand-written gradients and ``tf.GradientTape``'s.

    Both are computed in float64 for the same weights and the same loss (mean cross-entropy
    plus ``l2 * sum(W ** 2)``), without dropout.

    Args:
        model: a :class:`~dlzoo.scratch.mlp.NumpyMLP` (not modified).
        x: a batch of inputs.
        y: their integer labels.

    Returns:
        The largest relative error over the parameter arrays, a float.
    """
    model64 = model.copy(dtype=np.float64)
    inputs = model64._as_inputs(x)
    labels = model64._as_labels(y, len(inputs))
    analytic = _analytic_gradients(model64, inputs, labels)
    tape_gradients = _tape_gradients(model64, inputs, labels)
    return _compare(model64, analytic, tape_gradients)["max_relative_error"]
