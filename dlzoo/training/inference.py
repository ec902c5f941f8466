"""A trained model's outputs on many examples: the inference batch size, arrays and streamed splits.

Shared by every task that evaluates or predicts, and by the metrics that need a model's outputs
(the performance pictures of a classifier). Keras is used through the model only.
"""

import numpy as np


def evaluation_batch_size(input_shape):
    """Examples per inference batch: 1024 for small inputs (28x28, 32x32x3: the per-batch overhead of
    evaluating 70,000 images in batches of 256 adds up), 256 for larger ones (their activations
    would not fit: 1024 images of 160x160x3 make gigabytes of feature maps)."""
    return 1024 if int(np.prod(input_shape)) <= 4096 else 256


def predict(model, inputs):
    """Model outputs for ``inputs`` as a NumPy array, in batches."""
    return np.asarray(model.predict(inputs, batch_size=evaluation_batch_size(np.shape(inputs)[1:]), verbose=0))


def predict_split(model, bundle, split, batch_size=None):
    """``(outputs, targets)`` of a whole split, batch by batch through the bundle's pipeline.

    Streamed datasets are never read into memory at once: only the outputs and the targets,
    which are small, are collected. ``model.predict`` (not a loop of ``predict_on_batch``)
    also gives one output per example when the model was built under a multi-device strategy.
    """
    dataset = bundle.dataset(split, batch_size or evaluation_batch_size(bundle.input_shape))
    outputs = np.asarray(model.predict(dataset.map(lambda inputs, targets: inputs), verbose=0))
    targets = np.concatenate([np.asarray(batch) for batch in dataset.map(lambda inputs, targets: targets)])
    return outputs, targets
