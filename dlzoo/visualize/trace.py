"""The forward pass of a model, replayed layer by layer, with nested models opened up.

Methods such as Grad-CAM need two tensors from the same forward pass: the output of an inner
convolutional layer and the logits. The usual recipe, ``keras.Model(model.inputs,
[model.get_layer(name).output, model.output])``, fails with "Graph disconnected" as soon as
the convolutional layer sits inside a nested model (a transfer-learning base used as a layer):
``inner_layer.output`` belongs to the inner model's own graph, which starts at the inner
model's own ``Input``, not at the outer model's input.

:class:`ForwardTrace` solves this by calling every layer again on a fresh ``keras.Input``, in
the order of the original graph, and by stepping *into* nested Sequential and functional
models instead of calling them as one block. The result is one flat graph, sharing the
original layers and weights, in which every layer output at every depth is reachable from the
new input, so any of them can be an output of a sub-model. Layers are named by dotted paths:
``"base.conv2d_3"`` is layer ``conv2d_3`` of the nested model ``base``.
"""

import dataclasses

import keras

from dlzoo.visualize.errors import NotApplicableError


@dataclasses.dataclass
class LayerCall:
    """One layer call in the replayed forward pass.

    Attributes:
        path: dotted name of the layer, ``"base.conv2d_3"`` inside the nested model ``base``.
        layer: the (original, weight-sharing) layer object.
        inputs: the symbolic tensors the layer consumed, flattened.
        outputs: the symbolic tensors it produced, flattened.
    """

    path: str
    layer: keras.layers.Layer
    inputs: list
    outputs: list

    @property
    def output(self):
        """The single output tensor of the call (the first one if there are several)."""
        return self.outputs[0]


def _is_sequential(layer):
    return isinstance(layer, keras.Sequential)


def _is_functional(layer):
    # keras.Model(inputs, outputs) builds a Functional model; only those carry a graph of
    # layer calls we can replay. Subclassed models stay opaque blocks.
    return isinstance(layer, keras.Model) and hasattr(layer, "_run_through_graph")


def graph_inputs(model):
    """The symbolic inputs of a Sequential or functional ``model``, checking that it has them.

    Raises:
        NotApplicableError: ``model`` is a subclassed model (its layers form no graph to read).
        ValueError: a Sequential model without an ``Input`` that was never built.
    """
    if not (_is_sequential(model) or _is_functional(model)):
        raise NotApplicableError(
            "visualizing needs a Sequential or functional Keras model (a graph of layers), "
            f"got a {type(model).__name__}"
        )
    try:
        inputs = model.inputs
    except AttributeError:  # a Sequential model without an Input is not built yet
        inputs = None
    if not inputs:
        raise ValueError(f"model '{model.name}' has no inputs yet; start it with keras.Input(shape)")
    return inputs


def _keras_tensors(structure):
    """The symbolic tensors found anywhere in a nested structure of call arguments."""
    return [item for item in keras.tree.flatten(structure) if isinstance(item, keras.KerasTensor)]


class ForwardTrace:
    """A flat replay of ``model``'s forward pass that exposes every layer output.

    Args:
        model: a built Sequential or functional Keras model; nested Sequential and
            functional models inside it are opened up.

    Raises:
        NotApplicableError: ``model`` is a subclassed model (its layers form no graph).

    Attributes:
        inputs: the new ``keras.Input`` tensors the replay starts from.
        outputs: the replayed model outputs (the same structure as ``model.outputs``).
        calls: the :class:`LayerCall` records in execution order; a nested model appears
            after its own layers, with the same output tensor as its last layer.
    """

    def __init__(self, model):
        model_inputs = graph_inputs(model)
        self.model_name = model.name
        self.calls = []
        self.inputs = [keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype) for tensor in model_inputs]
        self.outputs = self._replay(model, self.inputs, prefix="")

    # 1. Replaying ------------------------------------------------------------------------

    def _replay(self, model, inputs, prefix):
        """Run ``model``'s graph on ``inputs`` (a list of tensors), recording every layer call."""
        if _is_sequential(model):
            tensor = inputs[0]
            for layer in model.layers:
                tensor = self._call_layer(layer, prefix, tensor)
            return tensor
        # A functional model walks its own graph in order and lets us choose what "calling a
        # layer" means: we record the call, and open up nested models.
        return model._run_through_graph(
            inputs,
            operation_fn=lambda layer: (lambda *args, **kwargs: self._call_layer(layer, prefix, *args, **kwargs)),
        )

    def _call_layer(self, layer, prefix, *args, **kwargs):
        """Call one layer on symbolic tensors (stepping into nested models) and record it."""
        path = prefix + layer.name
        if _is_sequential(layer) or _is_functional(layer):
            outputs = self._replay(layer, _keras_tensors((args, kwargs)), prefix=path + ".")
        else:
            outputs = layer(*args, **kwargs)
        self.calls.append(LayerCall(path, layer, _keras_tensors((args, kwargs)), _keras_tensors(outputs)))
        return outputs

    # 2. Looking things up -----------------------------------------------------------------

    def paths(self):
        """Dotted paths of all layers, in execution order."""
        return [call.path for call in self.calls]

    def find(self, path, argument="layer"):
        """The :class:`LayerCall` of the layer at dotted ``path``.

        A bare layer name is accepted when exactly one nested layer carries it, so
        ``"conv2d_3"`` finds ``"base.conv2d_3"``.

        Raises:
            ValueError: no such layer; the message lists the available paths.
        """
        if not isinstance(path, str) or not path:
            raise ValueError(f"{argument} must be a layer name such as 'base.conv2d_3', got {path!r}")
        by_path = {call.path: call for call in self.calls}
        if path in by_path:
            return by_path[path]
        suffix_matches = [call for call in self.calls if call.path.endswith("." + path)]
        if len(suffix_matches) == 1:
            return suffix_matches[0]
        raise ValueError(
            f"{argument} {path!r} is not a layer of model '{self.model_name}'; "
            f"available layers: {', '.join(self.paths())}"
        )

    def producer(self, tensor):
        """The innermost layer call that produced ``tensor``, or ``None`` for a model input."""
        for call in self.calls:
            if any(output is tensor for output in call.outputs):
                return call
        return None

    def consumers(self, tensor):
        """The layer calls that take ``tensor`` as an input, in execution order."""
        return [call for call in self.calls if any(item is tensor for item in call.inputs)]

    def sub_model(self, outputs):
        """A ``keras.Model`` from the replay's inputs to ``outputs`` (tensors of this trace)."""
        # A single-input model takes a tensor, not a one-element list.
        inputs = self.inputs[0] if len(self.inputs) == 1 else self.inputs
        return keras.Model(inputs, outputs)
