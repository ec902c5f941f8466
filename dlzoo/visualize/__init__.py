"""Seeing inside image classifiers: saliency, SmoothGrad, integrated gradients, CAM, Grad-CAM,
Grad-CAM++, activation maximization, filters and feature maps.

Arrays first, pictures second: every method is a function returning numpy arrays (one method per
module); :func:`make_pictures` draws them as PNG files for ``dlzoo visualize``.

Layers are named by dotted paths, so a layer inside a nested model (a transfer-learning base
used as a layer) is ``"base.conv2d_3"``; see :mod:`dlzoo.visualize.trace` for how nested models
are opened up.
"""

from dlzoo.visualize.errors import NotApplicableError
from dlzoo.visualize.activation_maximization import activation_maximization, maximize_activations
from dlzoo.visualize.cam import cam
from dlzoo.visualize.feature_maps import feature_maps
from dlzoo.visualize.filters import first_layer_filters, layer_filters
from dlzoo.visualize.gradcam import gradcam, gradcam_plus_plus
from dlzoo.visualize.integrated_gradients import baseline_description, integrated_gradients
from dlzoo.visualize.methods import METHOD_NAMES, applicable_methods, check_applicable, make_pictures
from dlzoo.visualize.saliency import saliency
from dlzoo.visualize.sanity import randomization_rank_correlation
from dlzoo.visualize.smoothgrad import smoothgrad
from dlzoo.visualize.trace import ForwardTrace

__all__ = [
    "METHOD_NAMES",
    "ForwardTrace",
    "NotApplicableError",
    "activation_maximization",
    "applicable_methods",
    "baseline_description",
    "cam",
    "check_applicable",
    "feature_maps",
    "first_layer_filters",
    "gradcam",
    "gradcam_plus_plus",
    "integrated_gradients",
    "layer_filters",
    "make_pictures",
    "maximize_activations",
    "randomization_rank_correlation",
    "saliency",
    "smoothgrad",
]
