"""From-scratch deep learning: an MLP whose forward and backward passes are written by hand in NumPy.

* :mod:`dlzoo.scratch.mlp`: :class:`NumpyMLP` and :func:`train`.
* :mod:`dlzoo.scratch.gradient_check`: finite differences and ``tf.GradientTape`` oracles.
* :mod:`dlzoo.scratch.to_keras`: the same trained network as a Keras model (export, evaluate,
  visualize reuse it).
* :mod:`dlzoo.scratch.functions2d`: two-dimensional loss surfaces with their gradients in NumPy,
  for watching optimizers move (the ``optimizers-2d`` recipe).

Importing this package needs NumPy only; TensorFlow and Keras are imported on use.
"""

from dlzoo.scratch.mlp import ACTIVATIONS, NumpyMLP, train

__all__ = ["ACTIVATIONS", "NumpyMLP", "train"]
