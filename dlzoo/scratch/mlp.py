"""A multi-layer perceptron written from scratch: NumPy only, forward and backward by hand.

The network is a stack of dense layers::

    x ─► [dense ─► activation ─► dropout] × hidden layers ─► dense ─► softmax ─► probabilities

trained with the mean cross-entropy of integer labels plus an L2 penalty on the kernels::

    loss = mean_i( -log p[i, y_i] ) + l2 * sum_layers( sum(W ** 2) )

(the penalty is the one of ``keras.regularizers.L2(l2)``, so the same network built in Keras
minimizes the same objective). Backpropagation, for a batch of ``n`` samples:

    dL/dlogits = (p - onehot(y)) / n                 softmax and cross-entropy together
    dL/dW      = input.T @ dL/doutput + 2 * l2 * W   # (fan_in, fan_out)
    dL/db      = sum over the batch of dL/doutput    # (fan_out,)
    dL/dinput  = dL/doutput @ W.T                    then times the dropout mask and the
                                                     derivative of the activation

The optimizer is any object with ``step(params, grads)`` that updates ``params`` in place
(see ``dlzoo.optimizers``); :meth:`NumpyMLP.train_epoch` and :func:`train` only call that.
"""

import time

import numpy as np

from dlzoo.core import validation

ACTIVATIONS = ("relu", "sigmoid", "tanh")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_EVALUATION_BATCH_SIZE = 4096  # bounds the memory of predict/evaluate on large inputs


# ---------------------------------------------------------------------------------------------
# Activations. Each derivative is written in terms of the activation's *output* ``a``, which the
# forward pass keeps anyway, so the pre-activations need not be stored.
# ---------------------------------------------------------------------------------------------


def _relu(pre_activation):
    """max(z, 0), computed in place (the pre-activation is not needed afterwards)."""
    return np.maximum(pre_activation, 0, out=pre_activation)


def _relu_derivative(output):
    """d relu / dz = 1 where the unit is active, 0 elsewhere."""
    return (output > 0).astype(output.dtype)


def _sigmoid(pre_activation):
    """1 / (1 + exp(-z)), written as 0.5 * (1 + tanh(z / 2)) which never overflows."""
    pre_activation *= 0.5
    np.tanh(pre_activation, out=pre_activation)
    pre_activation += 1
    pre_activation *= 0.5
    return pre_activation


def _sigmoid_derivative(output):
    """d sigmoid / dz = a * (1 - a)."""
    return output * (1 - output)


def _tanh(pre_activation):
    """tanh(z), computed in place."""
    return np.tanh(pre_activation, out=pre_activation)


def _tanh_derivative(output):
    """d tanh / dz = 1 - a ** 2."""
    return 1 - output * output


_ACTIVATION_FUNCTIONS = {
    "relu": (_relu, _relu_derivative),
    "sigmoid": (_sigmoid, _sigmoid_derivative),
    "tanh": (_tanh, _tanh_derivative),
}


# ---------------------------------------------------------------------------------------------
# Argument validation: user arguments are checked up front, each error names the argument.
# ---------------------------------------------------------------------------------------------


def _check_layer_size(name, value):
    """One layer size: a whole number >= 1."""
    return validation.check_integer(name, value, minimum=1)


def _check_layer_sizes(layer_sizes):
    """Return ``layer_sizes`` as a tuple of ints, or raise ValueError naming it."""
    sizes = validation.check_list_of(
        "layer_sizes", layer_sizes, _check_layer_size, "whole numbers like [64, 128, 10]"
    )
    if len(sizes) < 2:
        raise ValueError(
            "layer_sizes must list at least the number of input features and the number of "
            f"classes, e.g. [64, 128, 10], got {layer_sizes!r}"
        )
    if sizes[-1] < 2:
        raise ValueError(
            f"layer_sizes must end with the number of classes (at least 2), got {layer_sizes!r}"
        )
    return tuple(sizes)


def _check_dtype(dtype):
    """Return ``dtype`` as float32 or float64, or raise ValueError naming it."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in _SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def _check_optimizer(optimizer):
    """Raise ValueError unless ``optimizer`` has a callable ``step(params, grads)``."""
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(
            f"optimizer must have a method step(params, grads), got {type(optimizer).__name__}"
        )


# ---------------------------------------------------------------------------------------------
# The network.
# ---------------------------------------------------------------------------------------------


class NumpyMLP:
    """A dense network with a softmax cross-entropy output, trained by hand-written backprop.

    Args:
        layer_sizes: ``[input_features, hidden_1, ..., hidden_k, num_classes]``; at least the
            input and the output size. Inputs of rank > 2 are flattened to ``input_features``.
        activation: activation of the hidden layers: ``"relu"``, ``"sigmoid"`` or ``"tanh"``.
        l2: weight of the L2 penalty ``l2 * sum(W ** 2)`` on every kernel (not on the biases).
        dropout_rate: fraction of hidden units dropped while training (inverted dropout: the
            kept units are scaled by ``1 / (1 - dropout_rate)``, so inference needs no change).
        seed: seeds the initial weights and the dropout masks.
        dtype: ``np.float32`` (fast) or ``np.float64`` (for gradient checks).

    Initialization: He normal (std ``sqrt(2 / fan_in)``) for ReLU hidden layers, Glorot
    uniform (limit ``sqrt(6 / (fan_in + fan_out))``) for sigmoid and tanh hidden layers and for
    the output layer, whose softmax is closer to a linear unit. Biases start at zero.

    Usage::

        model = NumpyMLP([64, 128, 10])
        loss = model.loss(x_batch, y_batch, training=True)   # forward, cache kept
        grads = model.backward()                              # same order as parameters()
        optimizer.step(model.parameters(), grads)            # updates in place
    """

    def __init__(self, layer_sizes, activation="relu", l2=0.0, dropout_rate=0.0, seed=0,
                 dtype=np.float32):
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        self.activation = validation.check_choice("activation", activation, ACTIVATIONS)
        self.l2 = validation.check_number("l2", l2, minimum=0.0)
        self.dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
        self.seed = validation.check_integer("seed", seed)
        self.dtype = _check_dtype(dtype)
        self._activate, self._activation_derivative = _ACTIVATION_FUNCTIONS[activation]
        self.weights, self.biases = self._initial_parameters(np.random.default_rng(self.seed))
        # Dropout draws from its own stream, so that the masks do not depend on the init.
        self._dropout_rng = np.random.default_rng([self.seed, 1])
        # Gradients are written into these buffers by backward() (allocated once).
        self._gradients = [np.zeros_like(parameter) for parameter in self.parameters()]
        self._cache = None

    # -- structure ---------------------------------------------------------------------------

    @property
    def num_classes(self):
        """Number of output classes (units of the softmax layer)."""
        return self.layer_sizes[-1]

    @property
    def num_layers(self):
        """Number of dense layers (hidden layers + the output layer)."""
        return len(self.layer_sizes) - 1

    def parameters(self):
        """The trainable arrays ``[W1, b1, W2, b2, ...]``; W is (fan_in, fan_out), b (fan_out,).

        These are the model's own arrays: an optimizer must update them in place.
        """
        parameters = []
        for kernel, bias in zip(self.weights, self.biases):
            parameters.extend((kernel, bias))
        return parameters

    def parameter_names(self):
        """Names of :meth:`parameters`, in the same order: ``["W1", "b1", "W2", ...]``."""
        names = []
        for layer in range(1, self.num_layers + 1):
            names.extend((f"W{layer}", f"b{layer}"))
        return names

    def count_parameters(self):
        """Total number of trainable scalars."""
        return int(sum(parameter.size for parameter in self.parameters()))

    def copy(self, dtype=None):
        """An independent copy with the same settings, weights and dropout state.

        Args:
            dtype: dtype of the copy (default: this model's); e.g. ``np.float64`` for checks.
        """
        clone = NumpyMLP(self.layer_sizes, self.activation, self.l2, self.dropout_rate,
                         self.seed, self.dtype if dtype is None else dtype)
        for target, source in zip(clone.parameters(), self.parameters()):
            target[...] = source
        clone._dropout_rng.bit_generator.state = self._dropout_rng.bit_generator.state
        return clone

    def _initial_parameters(self, rng):
        """Kernels (He or Glorot, see the class docstring) and zero biases."""
        weights, biases = [], []
        for layer, (fan_in, fan_out) in enumerate(zip(self.layer_sizes, self.layer_sizes[1:])):
            is_hidden = layer < self.num_layers - 1
            if is_hidden and self.activation == "relu":
                # He: keeps the variance of ReLU outputs roughly constant from layer to layer.
                kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
            else:
                # Glorot: balances the variance of the forward signal and the backward gradient.
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                kernel = rng.uniform(-limit, limit, size=(fan_in, fan_out))
            weights.append(np.ascontiguousarray(kernel, dtype=self.dtype))
            biases.append(np.zeros(fan_out, dtype=self.dtype))
        return weights, biases

    # -- inputs ------------------------------------------------------------------------------

    def _as_inputs(self, x):
        """``x`` as a (batch, features) array of the model dtype (a view when possible)."""
        inputs = np.asarray(x, dtype=self.dtype)
        if inputs.ndim < 1 or inputs.size != len(inputs) * self.layer_sizes[0] or len(inputs) == 0:
            raise ValueError(
                f"x must be a non-empty batch of samples with {self.layer_sizes[0]} features each "
                f"(after flattening), got shape {inputs.shape}"
            )
        return inputs.reshape(len(inputs), self.layer_sizes[0])

    def _as_labels(self, y, batch_size):
        """``y`` as a (batch,) integer array of class ids, checked against ``num_classes``."""
        labels = np.asarray(y).reshape(-1)
        if labels.shape != (batch_size,):
            raise ValueError(f"y must hold one integer label per sample ({batch_size}), "
                             f"got shape {np.shape(y)}")
        if not np.issubdtype(labels.dtype, np.integer):
            if not np.issubdtype(labels.dtype, np.number) or np.any(labels != np.round(labels)):
                raise ValueError(f"y must hold integer class ids, got dtype {labels.dtype}")
        labels = labels.astype(np.intp)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"y must hold class ids in [0, {self.num_classes}), "
                             f"got values in [{labels.min()}, {labels.max()}]")
        return labels

    # -- forward -----------------------------------------------------------------------------

    def _dropout_mask(self, shape):
        """Inverted-dropout mask: 0 with probability ``rate``, else ``1 / (1 - rate)``."""
        keep_probability = 1.0 - self.dropout_rate
        mask = self._dropout_rng.random(shape, dtype=self.dtype) < keep_probability
        return mask.astype(self.dtype) / self.dtype.type(keep_probability)

    def _forward(self, inputs, training):
        """Forward pass over a (batch, features) array; returns the cache of every layer."""
        layer_inputs = [inputs]  # input of each dense layer, after dropout: (batch, fan_in)
        activations = []         # output of each hidden activation, before dropout: (batch, units)
        masks = []               # dropout mask of each hidden layer (training only): (batch, units)
        hidden = inputs
        for kernel, bias in zip(self.weights[:-1], self.biases[:-1]):
            pre_activation = hidden @ kernel  # (batch, units)
            pre_activation += bias
            hidden = self._activate(pre_activation)  # (batch, units), in place
            activations.append(hidden)
            if training and self.dropout_rate > 0:
                mask = self._dropout_mask(hidden.shape)
                masks.append(mask)
                hidden = hidden * mask
            layer_inputs.append(hidden)
        logits = hidden @ self.weights[-1]  # (batch, classes)
        logits += self.biases[-1]
        # Stable softmax: subtracting the row maximum changes nothing mathematically but keeps
        # exp() <= 1; the log normalizer then gives log-probabilities without log(0).
        shifted_logits = logits - logits.max(axis=1, keepdims=True)  # (batch, classes)
        exponentials = np.exp(shifted_logits)
        normalizer = exponentials.sum(axis=1, keepdims=True)  # (batch, 1)
        probabilities = exponentials / normalizer  # (batch, classes)
        return {
            "layer_inputs": layer_inputs,
            "activations": activations,
            "masks": masks,
            "shifted_logits": shifted_logits,
            "log_normalizer": np.log(normalizer),
            "probabilities": probabilities,
            "labels": None,
        }

    def forward(self, x, training=False):
        """Class probabilities (batch, classes) for ``x``; keeps the cache for :meth:`backward`.

        Args:
            x: (batch, features), or any (batch, ...) array of ``layer_sizes[0]`` values a sample.
            training: apply dropout (and draw new masks) when True.
        """
        self._cache = self._forward(self._as_inputs(x), training)
        return self._cache["probabilities"]

    def _penalty(self):
        """The L2 term ``l2 * sum(W ** 2)`` over the kernels."""
        if self.l2 == 0:
            return 0.0
        return self.l2 * float(sum(np.vdot(kernel, kernel) for kernel in self.weights))

    @staticmethod
    def _cross_entropy_sum(cache, labels):
        """Sum over the batch of -log p[i, y_i], from the log-softmax (never log(0))."""
        rows = np.arange(len(labels))
        log_probabilities = cache["shifted_logits"][rows, labels] - cache["log_normalizer"][:, 0]
        return -float(log_probabilities.sum(dtype=np.float64))

    def _loss_from_arrays(self, inputs, labels, training):
        """Loss of prepared arrays; keeps the cache and the labels for :meth:`backward`."""
        cache = self._forward(inputs, training)
        cache["labels"] = labels
        self._cache = cache
        return self._cross_entropy_sum(cache, labels) / len(labels) + self._penalty()

    def loss(self, x, y, training=False):
        """Mean cross-entropy of integer labels ``y`` plus the L2 penalty, as a float.

        Runs the forward pass and keeps what :meth:`backward` needs.

        Args:
            x: a batch of inputs, see :meth:`forward`.
            y: (batch,) integer class ids.
            training: apply dropout when True.
        """
        inputs = self._as_inputs(x)
        return self._loss_from_arrays(inputs, self._as_labels(y, len(inputs)), training)

    # -- backward ----------------------------------------------------------------------------

    def backward(self):
        """Gradients of the last :meth:`loss` w.r.t. :meth:`parameters`, in the same order.

        The arrays are buffers owned by the model and overwritten by the next call: copy them
        to keep them.
        """
        if self._cache is None or self._cache["labels"] is None:
            raise RuntimeError("backward() needs the cache of loss(x, y): call loss() first")
        cache = self._cache
        labels = cache["labels"]
        # 1. Softmax and cross-entropy together: dL/dlogits = (p - onehot(y)) / batch.
        delta = cache["probabilities"].copy()  # (batch, classes)
        delta[np.arange(len(labels)), labels] -= 1
        delta /= len(labels)
        # 2. From the last layer to the first: gradients of W and b, then the delta below.
        for layer in reversed(range(self.num_layers)):
            kernel = self.weights[layer]
            kernel_gradient = self._gradients[2 * layer]  # (fan_in, fan_out)
            bias_gradient = self._gradients[2 * layer + 1]  # (fan_out,)
            np.matmul(cache["layer_inputs"][layer].T, delta, out=kernel_gradient)
            if self.l2 > 0:
                kernel_gradient += (2 * self.l2) * kernel
            np.sum(delta, axis=0, out=bias_gradient)
            if layer > 0:
                delta = delta @ kernel.T  # (batch, fan_in) = dL/d(input of this layer)
                if cache["masks"]:
                    delta *= cache["masks"][layer - 1]  # dropped units pass no gradient
                delta *= self._activation_derivative(cache["activations"][layer - 1])
        return list(self._gradients)

    # -- training and inference ----------------------------------------------------------------

    def train_epoch(self, x, y, optimizer, batch_size, rng):
        """One pass over shuffled mini-batches; returns (mean training loss, training accuracy).

        The loss and accuracy are those of the training-mode forward passes (with dropout),
        averaged over the samples, as Keras reports them.

        Args:
            x: training inputs, see :meth:`forward`.
            y: (samples,) integer labels.
            optimizer: an object whose ``step(params, grads)`` updates ``params`` in place.
            batch_size: samples per step; the last batch may be smaller.
            rng: a ``numpy.random.Generator`` that shuffles the samples.
        """
        _check_optimizer(optimizer)
        batch_size = validation.check_integer("batch_size", batch_size, minimum=1)
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        inputs = self._as_inputs(x)
        labels = self._as_labels(y, len(inputs))
        order = rng.permutation(len(inputs))
        parameters = self.parameters()
        total_loss, correct = 0.0, 0
        for start in range(0, len(inputs), batch_size):
            batch = order[start:start + batch_size]
            batch_labels = labels[batch]
            batch_loss = self._loss_from_arrays(inputs[batch], batch_labels, training=True)
            optimizer.step(parameters, self.backward())
            total_loss += batch_loss * len(batch)
            correct += int(np.count_nonzero(
                self._cache["probabilities"].argmax(axis=1) == batch_labels))
        return total_loss / len(inputs), correct / len(inputs)

    def predict_proba(self, x):
        """Class probabilities (samples, classes) in inference mode; leaves the cache alone."""
        inputs = self._as_inputs(x)
        chunks = [inputs[start:start + _EVALUATION_BATCH_SIZE]
                  for start in range(0, len(inputs), _EVALUATION_BATCH_SIZE)]
        return np.concatenate([self._forward(chunk, False)["probabilities"] for chunk in chunks])

    def predict(self, x):
        """Predicted class ids (samples,) in inference mode."""
        return self.predict_proba(x).argmax(axis=1)

    def evaluate(self, x, y):
        """(loss, accuracy) in inference mode; the loss includes the L2 penalty, as in Keras."""
        inputs = self._as_inputs(x)
        labels = self._as_labels(y, len(inputs))
        cross_entropy_sum, correct = 0.0, 0
        for start in range(0, len(inputs), _EVALUATION_BATCH_SIZE):
            batch_labels = labels[start:start + _EVALUATION_BATCH_SIZE]
            cache = self._forward(inputs[start:start + _EVALUATION_BATCH_SIZE], training=False)
            cross_entropy_sum += self._cross_entropy_sum(cache, batch_labels)
            correct += int(np.count_nonzero(cache["probabilities"].argmax(axis=1) == batch_labels))
        return cross_entropy_sum / len(inputs) + self._penalty(), correct / len(inputs)

    def __repr__(self):
        return (f"NumpyMLP(layer_sizes={list(self.layer_sizes)}, activation={self.activation!r}, "
                f"l2={self.l2}, dropout_rate={self.dropout_rate}, seed={self.seed}, "
                f"dtype={self.dtype.name})")


def train(model, x_train, y_train, x_val, y_val, optimizer, epochs, batch_size, seed,
          on_epoch_end=None):
    """Train ``model`` for ``epochs`` epochs; return the history as a dict of lists.

    Args:
        model: a :class:`NumpyMLP`.
        x_train, y_train: training inputs and integer labels.
        x_val, y_val: validation inputs and labels, evaluated after every epoch (both may be
            None: the history then has no ``val_*`` values).
        optimizer: an object whose ``step(params, grads)`` updates ``params`` in place.
        epochs: number of passes over the training set.
        batch_size: samples per optimizer step.
        seed: seeds the shuffling of every epoch.
        on_epoch_end: optional ``callback(epoch, logs)`` called after every epoch with that
            epoch's values; training stops early if it returns True.

    Returns:
        ``{"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"}`` each a list with
        one value per epoch. ``epoch_seconds`` times the training pass only, not validation.
    """
    epochs = validation.check_integer("epochs", epochs, minimum=1)
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together (or both be None)")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise ValueError(f"on_epoch_end must be callable, got {on_epoch_end!r}")
    rng = np.random.default_rng(seed)
    history = {key: [] for key in HISTORY_KEYS}
    for epoch in range(epochs):
        start = time.perf_counter()
        loss, accuracy = model.train_epoch(x_train, y_train, optimizer, batch_size, rng)
        logs = {"loss": loss, "accuracy": accuracy, "epoch_seconds": time.perf_counter() - start}
        if x_val is not None:
            logs["val_loss"], logs["val_accuracy"] = model.evaluate(x_val, y_val)
        for key, value in logs.items():
            history[key].append(float(value))
        if on_epoch_end is not None and on_epoch_end(epoch, logs) is True:
            break
    if x_val is None:
        del history["val_loss"], history["val_accuracy"]
    return history
