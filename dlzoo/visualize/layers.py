"""Finding the layers a visualization method needs: the logits, the last convolutional
feature map, the first convolutional layer, and the pooling head CAM relies on.

Every function takes a :class:`~dlzoo.visualize.trace.ForwardTrace`, so layers inside nested
models are found as easily as top-level ones, and are named by dotted paths.
"""

from keras import layers

from dlzoo.models import heads
from dlzoo.visualize.trace import graph_inputs
from dlzoo.visualize.errors import NotApplicableError

# Layers that compute a spatial feature map from an image-like input.
CONVOLUTION_TYPES = (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D)

# Layers that keep a feature map's layout and are usually part of the same conv "block":
# the Grad-CAM target is the block's last output (after activation, normalization, residual sum).
BLOCK_FOLLOWER_TYPES = (
    layers.Activation,
    layers.BatchNormalization,
    layers.ReLU,
    layers.LeakyReLU,
    layers.PReLU,
    layers.ELU,
    layers.Add,
)

# Layers that do nothing at inference time between the pooled features and the logits.
INFERENCE_IDENTITY_TYPES = (layers.Dropout, layers.GaussianNoise, layers.GaussianDropout, layers.AlphaDropout)


def is_feature_map(tensor):
    """True for a (batch, height, width, channels) tensor."""
    return len(tensor.shape) == 4


def require_image_input(model, method):
    """Raise :class:`NotApplicableError` unless ``model`` takes one batch of images."""
    inputs = graph_inputs(model)
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = ", ".join(str(tuple(tensor.shape)) for tensor in inputs)
        raise NotApplicableError(
            f"{method} needs a model whose input is a batch of images (batch, height, width, channels); "
            f"this model's input has shape {shapes}"
        )


def logits_call(trace):
    """The call of the layer named ``"logits"`` (the last one if nested models have several), or None."""
    matches = [call for call in trace.calls if call.layer.name == heads.LOGITS_LAYER]
    return matches[-1] if matches else None


def logits_tensor(trace):
    """The tensor to differentiate: the ``logits`` layer output, else the model output.

    dlzoo classifiers always have a ``logits`` layer; other models fall back to their output
    (whose saturating softmax makes gradients smaller, but still meaningful).
    """
    call = logits_call(trace)
    if call is not None:
        return call.output
    return trace.outputs[0] if isinstance(trace.outputs, (list, tuple)) else trace.outputs


def convolution_calls(trace):
    """The calls of convolutional layers with a 4-D output, in execution order."""
    return [
        call
        for call in trace.calls
        if isinstance(call.layer, CONVOLUTION_TYPES) and is_feature_map(call.output)
    ]


def require_convolution(trace, method):
    """The convolution calls of ``trace``; raise :class:`NotApplicableError` when there are none."""
    calls = convolution_calls(trace)
    if not calls:
        raise NotApplicableError(
            f"{method} needs a convolutional layer, and model '{trace.model_name}' has none"
        )
    return calls


def last_convolution_block(trace, method="Grad-CAM"):
    """The call whose output is the last convolutional feature map.

    Starts at the last convolutional layer and follows the layers of the same block that keep
    the map's shape (batch normalization, activation, residual ``Add``), so that for a ResNet
    block ``conv -> bn -> add -> relu`` the map after the final ReLU is chosen.
    """
    current = require_convolution(trace, method)[-1]
    while True:
        followers = [
            call
            for call in trace.consumers(current.output)
            if isinstance(call.layer, BLOCK_FOLLOWER_TYPES) and is_feature_map(call.output)
        ]
        if len(followers) != 1:
            return current
        current = followers[0]


def feature_map_call(trace, layer, method):
    """The call whose output a method reads: ``layer`` (a dotted path) or the last conv block."""
    if layer is None:
        return last_convolution_block(trace, method)
    call = trace.find(layer)
    if not is_feature_map(call.output):
        raise ValueError(
            f"layer {layer!r} has output shape {tuple(call.output.shape)}; {method} needs a "
            "layer with a (batch, height, width, channels) output"
        )
    return call


def pooled_head(trace):
    """The feature map and logits call of a "global average pooling -> logits" head (for CAM).

    Returns:
        (feature_map_tensor, logits_call): the 4-D tensor that the pooling averages, and the
        ``logits`` Dense call whose kernel weighs the pooled channels.

    Raises:
        NotApplicableError: the model has no such head.
    """
    head = logits_call(trace)
    if head is None or not isinstance(head.layer, layers.Dense):
        raise NotApplicableError(f"CAM needs a Dense layer named 'logits'; model '{trace.model_name}' has none")
    # Walk back from the logits through layers that are the identity at inference time.
    producer = trace.producer(head.inputs[0])
    while producer is not None and isinstance(producer.layer, INFERENCE_IDENTITY_TYPES):
        producer = trace.producer(producer.inputs[0])
    if producer is None or not isinstance(producer.layer, layers.GlobalAveragePooling2D):
        found = "the model input" if producer is None else f"{type(producer.layer).__name__} '{producer.path}'"
        raise NotApplicableError(
            "CAM needs the last feature map to be averaged by GlobalAveragePooling2D straight into "
            f"the 'logits' layer, but 'logits' reads {found}; use gradcam instead"
        )
    return producer.inputs[0], head
