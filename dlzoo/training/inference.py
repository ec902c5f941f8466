"""A trained model's outputs on many examples: the inference batch size, arrays and streamed splits.

Shared by every task that evaluates or predicts, and by the metrics that need a model's outputs
(the performance pictures of a classifier). Keras is used through the model only.
"""

import numpy as np


# The largest feature map of one inference batch, in bytes: the batch size is chosen to stay under it.
ACTIVATION_BUDGET = 32 * 2**20


def evaluation_batch_size(input_shape, model=None):
    """Examples per inference batch: at most 1024 for small inputs (28x28, 32x32x3: the per-batch
    overhead of evaluating 70,000 images in batches of 256 adds up), 256 for larger ones.

    With ``model``, also small enough that its largest layer output for the batch stays under
    :data:`ACTIVATION_BUDGET` (a power of two, at least 32): 1024 Fashion-MNIST images through
    a convolution of 32 filters are a 100 MB feature map, and a few of them live at once.
    """
    batch_size = 1024 if int(np.prod(input_shape)) <= 4096 else 256
    largest = largest_activation(model) if model is not None else 0
    while largest and batch_size > 32 and batch_size * largest * 4 > ACTIVATION_BUDGET:
        batch_size //= 2
    return batch_size


def largest_activation(model):
    """Values in the largest output of any layer of ``model`` for one example (0 when unknown:
    a subclassed model has no symbolic layer outputs)."""
    largest = 0
    for layer in getattr(model, "layers", []):
        if getattr(layer, "layers", None):  # a nested model: its own layers
            largest = max(largest, largest_activation(layer))
            continue
        try:
            outputs = layer.output
        except (AttributeError, ValueError):
            continue
        for output in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            shape = getattr(output, "shape", None)
            if shape is not None and len(shape) > 1 and all(side is not None for side in shape[1:]):
                largest = max(largest, int(np.prod(shape[1:])))
    return largest


def predict(model, inputs):
    """Model outputs for ``inputs`` as a NumPy array, in batches."""
    batch_size = evaluation_batch_size(np.shape(inputs)[1:], model)
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))


def predict_split(model, bundle, split, batch_size=None):
    """``(outputs, targets)`` of a whole split, batch by batch through the bundle's pipeline.

    Streamed datasets are never read into memory at once: only the outputs and the targets,
    which are small, are collected. ``model.predict`` (not a loop of ``predict_on_batch``)
    also gives one output per example when the model was built under a multi-device strategy.
    """
    dataset = bundle.dataset(split, batch_size or evaluation_batch_size(bundle.input_shape, model))
    outputs = np.asarray(model.predict(dataset.map(lambda inputs, targets: inputs), verbose=0))
    targets = np.concatenate([np.asarray(batch) for batch in dataset.map(lambda inputs, targets: targets)])
    return outputs, targets
