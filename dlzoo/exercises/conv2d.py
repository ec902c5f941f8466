"""Exercise conv2d: the forward pass of a 2-D convolution layer, in NumPy.

The student writes ``conv2d(inputs, kernel, bias, strides=(1, 1), padding="valid")`` in Keras's
layout (channels last; the kernel is (kernel_height, kernel_width, in_channels, out_channels)).
The oracle is ``keras.layers.Conv2D`` holding the same kernel and bias, on four cases: a square
kernel, a non-square kernel with stride 2 (a transposed kernel no longer fits), and "same"
padding with stride 1 and 2 (with stride 2 on an even size, TensorFlow pads one more row and
column at the bottom and right than at the top and left).

Like Keras's layer (and every deep learning library), "convolution" here is a cross-correlation:
the kernel is not flipped.
"""

import functools

import numpy as np

from dlzoo import exercises
from dlzoo.exercises import base

# (name, kernel (height, width), strides, padding)
CASES = (
    ("valid, 3x3 kernel, stride 1", (3, 3), (1, 1), "valid"),
    ("valid, 3x2 kernel, stride 2", (3, 2), (2, 2), "valid"),
    ("same, 3x3 kernel, stride 1", (3, 3), (1, 1), "same"),
    ("same, 3x3 kernel, stride 2", (3, 3), (2, 2), "same"),
)
IN_CHANNELS, OUT_CHANNELS = 3, 4


def _place(case):
    return f"case '{case}'"


@functools.lru_cache(maxsize=1)
def _arrays():
    """inputs (2, 6, 8, 3) and, per case, kernel and bias, float32."""
    generator = np.random.default_rng(5)
    inputs = generator.normal(size=(2, 6, 8, IN_CHANNELS)).astype("float32")
    weights = {}
    for name, kernel_size, _, _ in CASES:
        kernel = generator.normal(size=(*kernel_size, IN_CHANNELS, OUT_CHANNELS)).astype("float32")
        weights[name] = (kernel, generator.normal(size=(OUT_CHANNELS,)).astype("float32"))
    return inputs, weights


@functools.lru_cache(maxsize=1)
def _keras_record():
    """keras.layers.Conv2D's outputs for every case."""
    import keras

    inputs, weights = _arrays()
    record = base.Record()
    for name, kernel_size, strides, padding in CASES:
        layer = keras.layers.Conv2D(OUT_CHANNELS, kernel_size, strides=strides, padding=padding)
        layer.build(inputs.shape)
        layer.set_weights(list(weights[name]))
        record.add("outputs", layer(inputs), place=_place(name))
    return record


def _reference_like(inputs, kernel, bias, strides, padding, flip=False, transpose=False, symmetric_same=False,
                    ignore_strides=False, add_bias=True):
    """A NumPy convolution with switches for the known mistakes (all off: Keras's result)."""
    if transpose:
        kernel = kernel.transpose(1, 0, 2, 3)
    if flip:
        kernel = kernel[::-1, ::-1]
    if ignore_strides:
        strides = (1, 1)
    kernel_height, kernel_width = kernel.shape[:2]
    if padding == "same":
        pads = []
        for size, kernel_size, stride in zip(inputs.shape[1:3], (kernel_height, kernel_width), strides):
            output_size = -(-size // stride)
            total = max((output_size - 1) * stride + kernel_size - size, 0)
            before = total // 2 if not symmetric_same else (kernel_size - 1) // 2
            after = total - total // 2 if not symmetric_same else (kernel_size - 1) // 2
            pads.append((before, after))
        inputs = np.pad(inputs, ((0, 0), pads[0], pads[1], (0, 0)))
    rows = (inputs.shape[1] - kernel_height) // strides[0] + 1
    columns = (inputs.shape[2] - kernel_width) // strides[1] + 1
    outputs = np.zeros((inputs.shape[0], rows, columns, kernel.shape[3]))
    for row in range(rows):
        for column in range(columns):
            top, left = row * strides[0], column * strides[1]
            patch = inputs[:, top:top + kernel_height, left:left + kernel_width, :]  # (batch, kh, kw, in)
            outputs[:, row, column, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return outputs + bias if add_bias else outputs


def _variant(**switches):
    """A Mistake's producer: the NumPy convolution with some switches on."""

    def produce(record):
        inputs, weights = _arrays()
        for name, _, strides, padding in CASES:
            record.place = _place(name)
            kernel, bias = weights[name]
            record.add("outputs", _reference_like(inputs, kernel, bias, strides, padding, **switches))

    return produce


@exercises.register
class Conv2DExercise(base.FunctionExercise):
    """A NumPy Conv2D forward pass in Keras's layout."""

    name = "conv2d"
    order = 40
    topic = "cnn"
    object_name = "conv2d"
    task = "def conv2d(inputs, kernel, bias, strides, padding): Conv2D's forward pass in NumPy"
    kind = "a function conv2d(inputs, kernel, bias, strides=(1, 1), padding='valid')"
    tolerance = 1e-4

    def expected(self):
        return _keras_record()

    def outputs(self, candidate, record):
        inputs, weights = _arrays()
        for name, _, strides, padding in CASES:
            record.place = _place(name)
            kernel, bias = weights[name]
            record.add("outputs", candidate(inputs.copy(), kernel.copy(), bias.copy(), strides=strides,
                                            padding=padding))

    def mistakes(self):
        """Transposed kernel, flipped kernel, no bias, strides ignored, symmetric 'same' padding."""
        return [
            base.Mistake("the kernel's height and width axes swapped (a transposed kernel)",
                         "kernel[i, j] multiplies inputs[top + i, left + j]: i runs down the rows, j along "
                         "the columns", _variant(transpose=True)),
            base.Mistake("the kernel flipped (a true convolution)",
                         "Conv2D does not flip the kernel (it is a cross-correlation): use kernel[i, j] as it is",
                         _variant(flip=True)),
            base.Mistake("the bias is not added", "add bias (one value per output channel) to every position",
                         _variant(add_bias=False)),
            base.Mistake("the strides are ignored", "move the window by strides[0] rows and strides[1] columns",
                         _variant(ignore_strides=True)),
            base.Mistake("'same' padding with (k - 1) / 2 on each side for stride 2",
                         "pad total = max((out - 1) * stride + k - size, 0), with out = ceil(size / stride); "
                         "total // 2 before, the rest after", _variant(symmetric_same=True)),
        ]

    def pattern_hint(self, difference, expected, got):
        if "shape" in difference.message:
            return ("output size: valid: (size - k) // stride + 1; same: ceil(size / stride); "
                    "channels last: (batch, rows, columns, out_channels)")
        return "output[b, r, c, o] = bias[o] + sum over i, j, ch of inputs[b, r * s + i, c * s + j, ch] * kernel[i, j, ch, o]"

    def skeleton(self):
        return SKELETON


SKELETON = '''"""Exercise conv2d: the forward pass of a 2-D convolution layer, in NumPy.

Check it with:

    dlzoo exercise check conv2d THIS_FILE.py

The checker compares it with keras.layers.Conv2D holding the same kernel and bias, with
"valid" and "same" padding and strides 1 and 2, on a non-square kernel too.
"""

import numpy as np


def conv2d(inputs, kernel, bias, strides=(1, 1), padding="valid"):
    """What keras.layers.Conv2D computes (channels last; a cross-correlation: no flipped kernel).

        outputs[b, r, c, o] = bias[o] + sum over i, j, ch of
                              inputs[b, r * strides[0] + i, c * strides[1] + j, ch] * kernel[i, j, ch, o]

    padding "valid": no padding; output rows = (rows - kernel_height) // strides[0] + 1.
    padding "same": output rows = ceil(rows / strides[0]); pad the input with zeros,
    total = max((output_rows - 1) * strides[0] + kernel_height - rows, 0) rows, total // 2 at
    the top and the rest at the bottom (the same for the columns).

    Args:
        inputs: (batch, rows, columns, in_channels) array.
        kernel: (kernel_height, kernel_width, in_channels, out_channels) array.
        bias: (out_channels,) array.
        strides: (row stride, column stride).
        padding: "valid" or "same".

    Returns:
        (batch, output_rows, output_columns, out_channels) array.
    """
    # TODO: pad for "same", then slide the window and sum patch * kernel over i, j and ch
    # (np.tensordot or np.einsum over the patch's last three axes helps).
    raise NotImplementedError("conv2d")
'''
