"""Keras callbacks, one per file: gradient statistics (vanishing/exploding gradients, dead
ReLUs, saturated sigmoids) and the plots drawn from them."""

from dlzoo.training.callbacks.gradient_plots import gradient_norm_table, plot_gradient_statistics
from dlzoo.training.callbacks.gradient_statistics import GradientStatistics, gradient_ratio

__all__ = [
    "GradientStatistics",
    "gradient_norm_table",
    "gradient_ratio",
    "plot_gradient_statistics",
]
