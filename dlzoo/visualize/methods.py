"""The visualization methods by name, which of them apply to a model, and their pictures.

``dlzoo visualize`` calls :func:`make_pictures` with a method name from :data:`METHOD_NAMES`;
each method computes its arrays with the functions of this package, then draws them with
:mod:`dlzoo.visualize.pictures`.
"""

import pathlib

import numpy as np
import tensorflow as tf

from dlzoo.plots import figures
from dlzoo.core.registry import Registry
from dlzoo.visualize import layers, pictures, targets
from dlzoo.visualize.errors import NotApplicableError
from dlzoo.visualize.trace import ForwardTrace

# The package exports functions named like their modules, so import the functions themselves.
from dlzoo.visualize.activation_maximization import maximize_activations
from dlzoo.visualize.cam import cam
from dlzoo.visualize.feature_maps import feature_maps
from dlzoo.visualize.filters import first_layer_filters, layer_filters
from dlzoo.visualize.gradcam import gradcam, gradcam_plus_plus
from dlzoo.visualize.integrated_gradients import baseline_kind, integrated_gradients
from dlzoo.visualize.saliency import saliency
from dlzoo.visualize.smoothgrad import smoothgrad

METHOD_NAMES = [
    "saliency",
    "smoothgrad",
    "integrated-gradients",
    "cam",
    "gradcam",
    "gradcam++",
    "activation-max",
    "filters",
    "feature-maps",
]
METHODS = Registry("visualization method")

MAX_ROWS = 16  # samples drawn per explanation picture
MAX_TILES = 64  # filters drawn
MAX_FEATURE_MAPS = 32  # channels drawn
MAX_MAXIMIZED = 16  # classes or channels optimized by activation maximization
ACTIVATION_MAX_STEPS = 64

# Methods and what they need besides image inputs.
_NEEDS_CONVOLUTION = ("gradcam", "gradcam++", "filters", "feature-maps")


# Methods whose maps read a convolutional feature map: their titles name that layer.
_LAYER_METHODS = ("cam", "gradcam", "gradcam++")
# Methods whose attributions have a sign (raise or lower the class score).
_SIGNED_METHODS = ("integrated-gradients",)

_TITLES = {
    "saliency": "saliency: |d score / d pixel|",
    "smoothgrad": "SmoothGrad (25 noisy copies, noise 15%)",
    "integrated-gradients": "integrated gradients (50 steps)",
    "cam": "CAM",
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
}

_COLORBAR_LABELS = {
    "saliency": "|gradient|, relative",
    "smoothgrad": "mean |gradient|, relative",
    "integrated-gradients": "attribution (+ raises the score)",
    "cam": "class evidence, relative",
    "gradcam": "class evidence, relative",
    "gradcam++": "class evidence, relative",
}


def file_name(method):
    """The PNG file name of a method's picture ("gradcam++" -> "gradcam-plus-plus.png")."""
    return method.replace("++", "-plus-plus") + ".png"


def new_picture_path(out_dir, method):
    """Where a method's next picture goes: ``gradcam.png``, or ``gradcam-2.png`` if that exists, ...

    Pictures are derived outputs: drawing again never replaces an earlier picture.
    """
    return figures.new_file_paths(pathlib.Path(out_dir) / file_name(method))[0]


def heatmap_style(method):
    """(colormap, (low, high), colorbar label) of an explanation method's heatmaps.

    Signed attributions (integrated gradients) get a diverging colormap with limits symmetric
    around 0, so white means "no effect"; |gradient| maps and class-activation maps are >= 0
    and get a sequential one from 0.
    """
    if method in _SIGNED_METHODS:
        return pictures.SIGNED_COLORMAP, (-1.0, 1.0), _COLORBAR_LABELS[method]
    return pictures.HEATMAP_COLORMAP, (0.0, 1.0), _COLORBAR_LABELS[method]


def figure_title(method, layer=None, baseline=None):
    """The title of an explanation picture: the method, its layer (CAM family), its baseline (IG)."""
    title = _TITLES[method]
    if method in _LAYER_METHODS and layer is not None:
        title += f" at layer {layer}"
    if method in _SIGNED_METHODS and baseline is not None:
        title += f", baseline: {baseline}"
    return title


def explained_layer(model, method, layer=None):
    """The dotted path of the feature-map layer a CAM-family method reads (``layer``, or found)."""
    trace = ForwardTrace(model)
    if method == "cam":
        feature_map, _ = layers.pooled_head(trace)
        return trace.producer(feature_map).path
    return layers.feature_map_call(trace, layer, method).path


def check_applicable(model, method):
    """Raise :class:`NotApplicableError` (one line, why) if ``method`` cannot explain ``model``.

    Raises:
        UnknownNameError: ``method`` is not a method name (with a did-you-mean hint).
    """
    METHODS.get(method)
    layers.require_image_input(model, method)
    trace = ForwardTrace(model)
    if method == "cam":
        layers.pooled_head(trace)
    elif method in _NEEDS_CONVOLUTION:
        layers.require_convolution(trace, method)


def applicable_methods(model):
    """The names of the methods that apply to ``model``, in :data:`METHOD_NAMES` order."""
    applicable = []
    for method in METHOD_NAMES:
        try:
            check_applicable(model, method)
        except NotApplicableError:
            continue
        applicable.append(method)
    return applicable


def make_pictures(model, method, images, labels, out_dir, class_index=None, layer=None, class_names=None):
    """Compute ``method`` on ``images`` and write its PNG picture(s) into ``out_dir``.

    Args:
        model: a Keras classifier taking images.
        method: one of :data:`METHOD_NAMES`.
        images: float32 (batch, height, width, channels), any value range; at most
            :data:`MAX_ROWS` are drawn.
        labels: true classes, (batch,) ints or (batch, classes) one-hot, or None.
        out_dir: folder for the pictures (created if needed).
        class_index: class to explain (int, one per sample, or None for the predicted class);
            for "activation-max", the class(es) to maximize (None: the first 16 classes).
        layer: dotted path of the layer for "gradcam", "gradcam++", "feature-maps", "filters",
            and "activation-max" (channels of that layer instead of classes).
        class_names: optional names of the classes, for the captions.

    Returns:
        list of pathlib.Path of the written PNG files.

    Raises:
        UnknownNameError: unknown ``method`` (with a did-you-mean hint).
        NotApplicableError: the method does not apply to this model.
        ValueError: bad images, labels, class index or layer.
    """
    draw = METHODS.get(method)
    if layer is None or method == "cam":
        check_applicable(model, method)
    images = targets.check_images(model, images)[:MAX_ROWS]
    labels = _check_labels(labels, len(images))
    if class_index is not None and np.ndim(class_index) == 1 and method != "activation-max":
        class_index = np.asarray(class_index)[: len(images)]  # one per drawn sample
    return draw(model, images, labels, pathlib.Path(out_dir), class_index, layer, class_names)


# 1. Helpers -------------------------------------------------------------------------------


def _check_labels(labels, batch):
    """True classes as an int array (batch,), or None; one-hot labels are decoded."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=-1)
    if labels.ndim != 1 or len(labels) < batch:
        raise ValueError(f"labels must hold one class per image ({batch}), got shape {labels.shape}")
    return labels[:batch].astype("int64")


def _class_name(index, class_names):
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return str(int(index))


def _captions(labels, predicted, explained, class_names):
    """One caption per sample: true class, predicted class, and the explained one if different."""
    captions = []
    for position, prediction in enumerate(predicted):
        parts = []
        if labels is not None:
            parts.append(f"true {_class_name(labels[position], class_names)}")
        parts.append(f"pred {_class_name(prediction, class_names)}")
        if explained[position] != prediction:
            parts.append(f"map for {_class_name(explained[position], class_names)}")
        captions.append(", ".join(parts))
    return captions


def _explained_classes(model, images, class_index):
    """(predicted, explained): the predicted class and the class to explain, per sample."""
    logits = targets.logits_model(model)(tf.convert_to_tensor(images), training=False)
    return targets.predicted_from_logits(logits), targets.resolve_class_indices(class_index, logits)


def _explanation_picture(method, compute_heatmaps):
    """Register a method drawing "input | heatmap | overlay" rows; ``compute_heatmaps`` gives the maps."""

    def draw(model, images, labels, out_dir, class_index, layer, class_names):
        predicted, explained = _explained_classes(model, images, class_index)
        heatmaps = compute_heatmaps(model, images, explained, layer)
        captions = _captions(labels, predicted, explained, class_names)
        map_layer = explained_layer(model, method, layer) if method in _LAYER_METHODS else None
        baseline = baseline_kind(model, images) if method in _SIGNED_METHODS else None
        colormap, value_range, colorbar_label = heatmap_style(method)
        path = new_picture_path(out_dir, method)
        return [pictures.save_explanation_grid(path, images, heatmaps, captions, figure_title(method, map_layer, baseline),
                                               colormap, value_range, colorbar_label)]

    METHODS.register(method)(draw)


def _attribution_heatmaps(attributions):
    return np.stack([pictures.attribution_heatmap(attribution) for attribution in attributions])


def _signed_heatmaps(attributions):
    return np.stack([pictures.signed_attribution_heatmap(attribution) for attribution in attributions])


# 2. The methods ---------------------------------------------------------------------------

_explanation_picture(
    "saliency",
    lambda model, images, classes, layer: _attribution_heatmaps(saliency(model, images, classes)),
)
_explanation_picture(
    "smoothgrad",
    lambda model, images, classes, layer: _attribution_heatmaps(smoothgrad(model, images, classes)),
)
_explanation_picture(
    "integrated-gradients",
    lambda model, images, classes, layer: _signed_heatmaps(integrated_gradients(model, images, classes)),
)
_explanation_picture("cam", lambda model, images, classes, layer: cam(model, images, classes))
_explanation_picture("gradcam", lambda model, images, classes, layer: gradcam(model, images, classes, layer))
_explanation_picture(
    "gradcam++", lambda model, images, classes, layer: gradcam_plus_plus(model, images, classes, layer)
)


@METHODS.register("activation-max")
def _draw_activation_maximization(model, images, labels, out_dir, class_index, layer, class_names):
    """Inputs maximizing several classes (or channels of ``layer``), with the objective's rise."""
    if layer is None:
        classes = targets.number_of_classes(layers.logits_tensor(ForwardTrace(model)))
        if class_index is None:
            target_indices = list(range(min(classes, MAX_MAXIMIZED)))
        else:
            target_indices = [int(index) for index in np.atleast_1d(class_index)]
        names = [f"class {_class_name(index, class_names)}" for index in target_indices]
        title = "activation maximization of class scores"
    else:
        units = int(ForwardTrace(model).find(layer).output.shape[-1])
        target_indices = list(range(min(units, MAX_MAXIMIZED)))
        names = [f"channel {index}" for index in target_indices]
        title = f"activation maximization of channels of {layer}"
    maximized, histories = maximize_activations(model, target_indices, layer, steps=ACTIVATION_MAX_STEPS)
    captions = [f"{name}\n{history[0]:.2g} -> {history[-1]:.2g}" for name, history in zip(names, histories)]
    return [pictures.save_tile_grid(new_picture_path(out_dir, "activation-max"), list(maximized), captions, title)]


@METHODS.register("filters")
def _draw_filters(model, images, labels, out_dir, class_index, layer, class_names):
    """The kernels of the first convolutional layer (or of ``layer``), one tile per filter."""
    if layer is None:
        kernels = first_layer_filters(model)
        layer = layers.require_convolution(ForwardTrace(model), "filters")[0].path
    else:
        kernels = layer_filters(model, layer)
    height, width, channels, count = kernels.shape
    tiles = [kernels[..., index] for index in range(min(count, MAX_TILES))]
    title = f"filters of {layer} ({height}x{width}, {channels} input channels, {count} filters)"
    return [pictures.save_tile_grid(new_picture_path(out_dir, "filters"), tiles, [str(i) for i in range(len(tiles))], title)]


@METHODS.register("feature-maps")
def _draw_feature_maps(model, images, labels, out_dir, class_index, layer, class_names):
    """The channels of one layer's output for the first image."""
    trace = ForwardTrace(model)
    if layer is None:
        path = layers.require_convolution(trace, "feature-maps")[0].path
    else:
        path = layers.feature_map_call(trace, layer, "feature maps").path
    activations = feature_maps(model, images[0], path)
    channels = activations.shape[-1]
    shown = min(channels, MAX_FEATURE_MAPS)
    tiles = [images[0]] + [activations[..., index] for index in range(shown)]
    # The peak value tells a weak channel from a dead one (all zeros after a ReLU).
    captions = ["input"] + [f"{index}: max {activations[..., index].max():.2g}" for index in range(shown)]
    colormaps = ["gray"] + ["viridis"] * shown
    title = f"feature maps of {path} (channels 0-{shown - 1} of {channels})"
    return [pictures.save_tile_grid(new_picture_path(out_dir, "feature-maps"), tiles, captions, title, colormap=colormaps)]


if sorted(METHODS.names()) != sorted(METHOD_NAMES):  # a method added to one list only
    raise RuntimeError("METHOD_NAMES and the registered methods differ")
