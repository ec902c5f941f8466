"""From-scratch deep learning: an MLP whose forward and backward passes are written by hand in NumPy.

* :mod:`dlzoo.scratch.mlp`: :class:`NumpyMLP` and :func:`train`.
* :mod:`dlzoo.scratch.gradient_check`: finite differences and ``tf.GradientTape`` oracles.
* :mod:`dlzoo.scratch.to_keras`: the same trained network as a Keras model (export, evaluate,
  visualize reuse it).

Importing this package needs NumPy only; TensorFlow and Keras are imported on use.
"""

from dlzoo.scratch.mlp import ACTIVATIONS, NumpyMLP, train

__all__ = ["ACTIVATIONS", "NumpyMLP", "train"]
