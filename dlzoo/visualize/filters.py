"""The kernels of a convolutional layer, as an array you can look at.

First-layer filters work directly on pixels, so they are the only ones that read as pictures:
edge, colour and blob detectors once the network is trained, noise before.
"""

from keras import layers as keras_layers

from dlzoo.visualize import layers
from dlzoo.visualize.trace import ForwardTrace


def kernel_of(layer):
    """The spatial kernel of a convolution, (kernel_height, kernel_width, in_channels, filters).

    A depthwise or separable convolution gives its depthwise kernel (the spatial part).
    """
    if isinstance(layer, keras_layers.SeparableConv2D):
        return layer.depthwise_kernel.numpy()
    return layer.kernel.numpy()


def first_layer_filters(model):
    """Kernels of the first convolutional layer the input meets (nested models included).

    Returns:
        float32 array (kernel_height, kernel_width, in_channels, filters).

    Raises:
        NotApplicableError: the model has no convolutional layer.
    """
    trace = ForwardTrace(model)
    return kernel_of(layers.require_convolution(trace, "filters")[0].layer)


def layer_filters(model, layer):
    """Kernels of the convolutional layer at dotted path ``layer``, like :func:`first_layer_filters`."""
    call = ForwardTrace(model).find(layer)
    if not isinstance(call.layer, layers.CONVOLUTION_TYPES):
        raise ValueError(
            f"layer {layer!r} is a {type(call.layer).__name__}; filters need a Conv2D, "
            "SeparableConv2D or DepthwiseConv2D layer"
        )
    return kernel_of(call.layer)
