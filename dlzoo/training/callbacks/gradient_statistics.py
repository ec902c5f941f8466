"""Gradient diagnostics for training deep networks: vanishing/exploding gradients, dead ReLUs,
saturated sigmoids.

Once before training (epoch 0 = initialization) and after every ``every``-th epoch, the
callback runs ONE forward and backward pass on a fixed sample batch and records, for every
trainable top-level layer that has a ``kernel`` (Dense, Conv, ...), in model order:

* ``gradient_norm``: the L2 (Frobenius) norm of d loss / d kernel;
* ``activation_mean``, ``activation_std``: over every value of the layer's activation;
* ``dead_fraction``: for ReLU-like activations, the fraction of units that output 0 for every
  sample of the batch (a unit is a Dense unit, or a Conv channel over all positions);
* ``saturated_fraction``: for sigmoid/tanh, the fraction of activation values within
  ``SATURATION_MARGIN`` (0.01) of an asymptote; for a sigmoid that is |pre-activation| > 4.6,
  for tanh |pre-activation| > 2.65. There the derivative is below 0.01 (sigmoid) or 0.02 (tanh),
  so almost no gradient flows back through those values.

Which activation belongs to a kernel layer (see :func:`activation_source`): the layer's own
output when it has a non-linear ``activation`` (``Dense(64, activation="relu")``); otherwise
the first activation layer (``Activation``, ``ReLU``) reached by following the single consumer
of the layer through normalization and dropout layers (``Dense -> BatchNormalization ->
Activation("relu")``). When there is none, or the graph branches, the layer's own linear
output is measured and the dead/saturated fractions are NaN ("does not apply").

The head convention of :mod:`dlzoo.models.heads` (``logits`` then ``probabilities``) makes the
softmax the activation of ``logits``: it counts as neither ReLU-like nor saturating.

Per-epoch summaries also go into ``logs`` (hence into ``history.csv``): ``grad_norm_first``,
``grad_norm_last`` and ``grad_norm_ratio`` = first / last kernel layer's gradient norm. A ratio
far below 1 means vanishing gradients, far above 1 exploding ones. Place this callback BEFORE
any ``CSVLogger`` in the callback list so that the logger sees these keys.

Numbering: record epoch 0 is the initialization and record epoch k is "after k epochs", which
is the history row Keras numbers k - 1.

This module uses TensorFlow (``tf.GradientTape``, ``tf.function``), so it runs with the
TensorFlow backend only.
"""

import csv
import io
import math
import os
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from dlzoo.runs import folders
from dlzoo.core import validation

# Activation names (the ``__name__`` of the Keras activation function) by family.
RELU_LIKE_ACTIVATIONS = ("relu", "relu6")
SATURATING_ASYMPTOTES = {"sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
# An activation value closer than this to an asymptote counts as saturated.
SATURATION_MARGIN = 0.01
# Layers that may sit between a kernel layer and its activation without changing which
# activation belongs to the kernel layer.
PASS_THROUGH_LAYERS = (
    layers.BatchNormalization,
    layers.LayerNormalization,
    layers.GroupNormalization,
    layers.Dropout,  # SpatialDropout*D are subclasses
    layers.GaussianDropout,
    layers.GaussianNoise,
    layers.AlphaDropout,
)
RECORD_FIELDS = (
    "epoch",
    "layer",
    "gradient_norm",
    "activation_mean",
    "activation_std",
    "dead_fraction",
    "saturated_fraction",
)


def gradient_ratio(records, epoch):
    """First kernel layer's gradient norm divided by the last one's, at record epoch ``epoch``.

    Args:
        records: the list of dicts of :attr:`GradientStatistics.records` (model order within
            an epoch).
        epoch: 0 for the initialization, k for "after k epochs".

    Returns:
        A float; NaN when the last layer's gradient norm is 0 or NaN.
    """
    rows = [row for row in records if row["epoch"] == epoch]
    if not rows:
        recorded = sorted({row["epoch"] for row in records})
        raise ValueError(f"epoch {epoch!r} was not recorded; recorded epochs are {recorded}")
    first, last = rows[0]["gradient_norm"], rows[-1]["gradient_norm"]
    if not last > 0:
        return math.nan
    return first / last


def activation_kind(layer):
    """The activation family of ``layer``: "relu", "sigmoid", "hard_sigmoid", "tanh",
    "linear" (no activation) or "other" (softmax, elu, gelu, leaky ReLU, ...)."""
    if isinstance(layer, layers.ReLU):
        # A ReLU layer with a negative slope is a leaky ReLU: its units cannot die.
        return "relu" if not layer.negative_slope else "other"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    if activation is None or name == "linear":
        return "linear"
    if name in RELU_LIKE_ACTIVATIONS:
        return "relu"
    if name in SATURATING_ASYMPTOTES:
        return name
    return "other"


def kernel_layers(model):
    """The trainable top-level layers of ``model`` that have a kernel, in model order."""
    return [
        layer
        for layer in model.layers
        if layer.trainable and getattr(layer, "kernel", None) is not None
    ]


def activation_source(model, kernel_layer):
    """The layer whose output is ``kernel_layer``'s activation, and its activation kind.

    Rules (module docstring): the kernel layer itself when its own activation is non-linear;
    else follow the only consumer through :data:`PASS_THROUGH_LAYERS` up to an activation
    layer; else the kernel layer itself with kind "linear".

    Returns:
        (layer, kind), kind as in :func:`activation_kind`.
    """
    own_kind = activation_kind(kernel_layer)
    if own_kind != "linear":
        return kernel_layer, own_kind
    current = kernel_layer
    while True:
        consumers = _consumers(model, current)
        if len(consumers) != 1:
            return kernel_layer, "linear"
        (consumer,) = consumers
        if isinstance(consumer, PASS_THROUGH_LAYERS):
            current = consumer
            continue
        if isinstance(consumer, (layers.Activation, layers.ReLU)):
            return consumer, activation_kind(consumer)
        return kernel_layer, "linear"


def _consumers(model, producer):
    """Top-level layers of ``model`` whose input is ``producer``'s output (a flat graph)."""
    try:
        produced = producer.output
    except (AttributeError, ValueError):  # never called, or called several times (shared)
        return []
    consumers = []
    for layer in model.layers:
        try:
            inputs = keras.tree.flatten(layer.input)
        except (AttributeError, ValueError):
            continue
        if any(tensor is produced for tensor in inputs):
            consumers.append(layer)
    return consumers


def dead_fraction(activations, units_axis=-1):
    """Fraction of units that are 0 for every sample (and every position) of the batch.

    Args:
        activations: a (batch, ..., units) tensor of ReLU outputs (``units_axis`` says where the
            units/channels are).
        units_axis: axis of the units; -1 for Dense and channels_last Conv.
    """
    activations = tf.convert_to_tensor(activations)
    units_axis = units_axis % len(activations.shape)
    other_axes = [axis for axis in range(len(activations.shape)) if axis != units_axis]
    alive = tf.reduce_any(tf.not_equal(activations, 0), axis=other_axes)  # (units,)
    return 1.0 - tf.reduce_mean(tf.cast(alive, tf.float32))


def saturated_fraction(activations, kind):
    """Fraction of activation values within :data:`SATURATION_MARGIN` of an asymptote of
    ``kind`` ("sigmoid", "hard_sigmoid" or "tanh")."""
    validation.check_choice("kind", kind, sorted(SATURATING_ASYMPTOTES))
    lower, upper = SATURATING_ASYMPTOTES[kind]
    activations = tf.cast(activations, tf.float32)
    saturated = tf.logical_or(
        activations < lower + SATURATION_MARGIN, activations > upper - SATURATION_MARGIN
    )
    return tf.reduce_mean(tf.cast(saturated, tf.float32))


def write_csv_atomically(records, path):
    """Write ``records`` (dicts with :data:`RECORD_FIELDS`) to ``path`` via a temporary file and
    a rename, so a reader never sees a half-written file."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=RECORD_FIELDS)
    writer.writeheader()
    writer.writerows(records)
    folders.atomic_write_text(path, text.getvalue())


class GradientStatistics(keras.callbacks.Callback):
    """Record per-layer gradient norms and activation health on a fixed sample batch.

    See the module docstring for what is measured and how activations are attributed.

    Args:
        sample_x: a fixed batch of inputs, shape (samples, ...); a few hundred samples (256)
            keep the cost at one cheap forward+backward pass.
        sample_y: the matching targets, in the form ``loss_fn`` expects.
        loss_fn: a Keras loss object applied to the model's outputs (probabilities, by the head
            convention), e.g. ``keras.losses.SparseCategoricalCrossentropy()``.
        output_path: optional CSV path, rewritten atomically after every measurement.
        every: measure after every ``every``-th epoch (and always after the last one).
        training: run the forward pass in training mode (default) so BatchNormalization uses
            batch statistics, i.e. the gradients the optimizer sees; the moving statistics
            are restored afterwards, so the measurement leaves the model unchanged.

    Attributes:
        records: list of dicts with keys :data:`RECORD_FIELDS`, one per (epoch, kernel layer).
        activation_sources: {kernel layer name: (measured layer name, activation kind)}.
    """

    def __init__(self, sample_x, sample_y, loss_fn, output_path=None, every=1, training=True):
        super().__init__()
        sample_x, sample_y = np.asarray(sample_x), np.asarray(sample_y)
        if sample_x.ndim == 0 or len(sample_x) == 0:
            raise ValueError(f"sample_x must be a non-empty batch, got shape {sample_x.shape}")
        if sample_y.ndim == 0 or len(sample_y) != len(sample_x):
            raise ValueError(
                f"sample_y must have one target per sample ({len(sample_x)}), "
                f"got shape {sample_y.shape}"
            )
        if not callable(loss_fn):
            raise ValueError(f"loss_fn must be a callable Keras loss, got {loss_fn!r}")
        every = validation.check_integer("every", every, minimum=1)
        if np.issubdtype(sample_x.dtype, np.floating):
            sample_x = sample_x.astype(keras.config.floatx())
        self.sample_x = tf.constant(sample_x)
        self.sample_y = tf.constant(sample_y)
        self.loss_fn = loss_fn
        self.output_path = None if output_path is None else os.fspath(output_path)
        self.every = every
        self.training = bool(training)
        self.records = []
        self.activation_sources = {}
        self._kernel_layers = []
        self._step = None  # the measurement as a plain Python function (eager)
        self._compiled_step = None  # the same, wrapped in tf.function for the epochs

    # ---- Keras hooks -------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        """Reset the records, find the kernel layers, and measure the initialization."""
        self.records = []
        self.activation_sources = {}
        if not self.model.built:
            # fit() builds a model without an Input only when it traces its first step, after
            # on_train_begin; one call on a sample builds it now, the way fit would.
            self.model(self.sample_x[:1], training=False)
        self._kernel_layers = kernel_layers(self.model)
        self._step = self._compiled_step = None
        if not self._kernel_layers:
            names = [layer.name for layer in self.model.layers]
            warnings.warn(
                "GradientStatistics: the model has no trainable top-level layer with a kernel "
                f"(layers: {names}); nothing will be recorded.",
                stacklevel=2,
            )
            return
        self._warn_about_nested_models()
        self._step = self._build_step()
        # One call does not repay tracing a graph: the initialization is measured eagerly,
        # the epochs (many calls) with the compiled step.
        self._compiled_step = tf.function(self._step)
        self._measure(epoch=0, step=self._step)

    def on_epoch_end(self, epoch, logs=None):
        """Measure after epoch ``epoch`` (0-based) when due; add the summaries to ``logs``."""
        if self._step is None:
            return
        completed = epoch + 1
        last_epoch = self.params.get("epochs") if self.params else None
        if completed % self.every == 0 or completed == last_epoch:
            rows = self._measure(epoch=completed, step=self._compiled_step)
            first, last = rows[0]["gradient_norm"], rows[-1]["gradient_norm"]
            ratio = gradient_ratio(rows, completed)
        else:
            # NaN keeps every history column the same length.
            first = last = ratio = math.nan
        if logs is not None:
            logs["grad_norm_first"] = first
            logs["grad_norm_last"] = last
            logs["grad_norm_ratio"] = ratio

    # ---- measurement -------------------------------------------------------------------

    def _warn_about_nested_models(self):
        """Layers inside a nested model are not measured: say so once."""
        nested = [layer.name for layer in self.model.layers if isinstance(layer, keras.Model)]
        if nested:
            warnings.warn(
                f"GradientStatistics: nested models {nested} are not looked into; only the "
                "top-level kernel layers are measured.",
                stacklevel=3,
            )

    def _build_probe(self, sources):
        """A model with the same weights that outputs (prediction, *activations), or None
        when the model is not a flat functional/Sequential graph."""
        try:
            outputs = self.model.outputs
            if len(outputs) != 1:
                raise ValueError(f"{len(outputs)} outputs")
            return keras.Model(self.model.inputs, [outputs[0]] + [s.output for s in sources])
        except (AttributeError, ValueError, TypeError) as error:
            warnings.warn(
                "GradientStatistics: cannot read the activations of this model "
                f"({error}); only gradient norms are recorded.",
                stacklevel=4,
            )
            return None

    def _build_step(self):
        """Attribute activations; return the measurement as one function of (inputs, targets)
        that can run eagerly or inside ``tf.function``."""
        # 1. Which output is each kernel layer's activation, and of which kind.
        attributions = [activation_source(self.model, layer) for layer in self._kernel_layers]
        probe = self._build_probe([source for source, _ in attributions])
        if probe is None:
            attributions = [(None, "unknown") for _ in self._kernel_layers]
        self.activation_sources = {
            layer.name: (None if source is None else source.name, kind)
            for layer, (source, kind) in zip(self._kernel_layers, attributions)
        }
        kinds = [kind for _, kind in attributions]
        units_axes = [
            1 if getattr(layer, "data_format", None) == "channels_first" else -1
            for layer in self._kernel_layers
        ]
        kernels = [layer.kernel for layer in self._kernel_layers]
        model, loss_fn, training = self.model, self.loss_fn, self.training

        # 2. One forward + backward pass; returns small per-layer statistics, not tensors.
        def step(inputs, targets):
            with tf.GradientTape() as tape:
                if probe is None:
                    predictions, activations = model(inputs, training=training), []
                else:
                    outputs = probe(inputs, training=training)
                    predictions, activations = outputs[0], outputs[1:]
                loss = loss_fn(targets, predictions)
            gradients = tape.gradient(loss, kernels)
            norms = [
                tf.norm(tf.cast(gradient, tf.float32)) if gradient is not None else math.nan
                for gradient in gradients
            ]
            statistics = [
                _activation_statistics(values, kind, axis)
                for values, kind, axis in zip(activations, kinds, units_axes)
            ]
            return norms, statistics

        return step

    def _measure(self, epoch, step):
        """Run ``step`` on the sample batch, append one record per kernel layer, write CSV."""
        # Training-mode BatchNormalization updates its moving statistics: save and restore
        # them so that measuring does not change the model.
        saved_state = [variable.numpy() for variable in self.model.non_trainable_variables]
        norms, statistics = step(self.sample_x, self.sample_y)
        for variable, value in zip(self.model.non_trainable_variables, saved_state):
            variable.assign(value)

        nan_statistics = (math.nan,) * 4
        rows = []
        for index, layer in enumerate(self._kernel_layers):
            layer_statistics = statistics[index] if statistics else nan_statistics
            mean, std, dead, saturated = (float(value) for value in layer_statistics)
            rows.append(
                {
                    "epoch": epoch,
                    "layer": layer.name,
                    "gradient_norm": float(norms[index]),
                    "activation_mean": mean,
                    "activation_std": std,
                    "dead_fraction": dead,
                    "saturated_fraction": saturated,
                }
            )
        self.records.extend(rows)
        if self.output_path is not None:
            write_csv_atomically(self.records, self.output_path)
        return rows


def _activation_statistics(values, kind, units_axis):
    """(mean, std, dead fraction, saturated fraction) of one activation tensor; the fractions
    are NaN where they do not apply to ``kind``."""
    values = tf.cast(values, tf.float32)
    mean, std = tf.reduce_mean(values), tf.math.reduce_std(values)
    dead = dead_fraction(values, units_axis) if kind == "relu" else tf.constant(math.nan)
    if kind in SATURATING_ASYMPTOTES:
        saturated = saturated_fraction(values, kind)
    else:
        saturated = tf.constant(math.nan)
    return mean, std, dead, saturated
