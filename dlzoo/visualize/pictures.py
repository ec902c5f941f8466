"""PNG pictures of the arrays the methods compute (no computation on models here).

Figures are drawn with matplotlib's object-oriented API on the Agg canvas, so nothing touches
pyplot's global state or needs a display, and every file is written atomically: drawn to a
temporary file in the same folder, then renamed over the target.
"""

import io
import math

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlzoo.runs import folders

HEATMAP_COLORMAP = "turbo"  # sequential: 0 (no evidence) to 1 (the strongest)
SIGNED_COLORMAP = "RdBu_r"  # diverging: blue negative, white 0, red positive
TILE_INCHES = 1.7


def display_image(image):
    """An image ready for ``imshow``: values rescaled to [0, 1] per image.

    Inputs may be standardized (any range). One channel gives (height, width), shown in gray;
    three give RGB; any other count shows the channel mean in gray.
    """
    image = np.asarray(image, dtype="float64")
    if image.ndim == 3:
        image = image if image.shape[-1] == 3 else image.mean(axis=-1)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def attribution_heatmap(attribution):
    """A (height, width) map in [0, 1] from a gradient-like attribution (height, width, channels).

    Strength is ``max |value|`` over the channels, divided by its 99th percentile so that one
    extreme pixel does not make the rest of the map black.
    """
    strength = np.max(np.abs(np.asarray(attribution, dtype="float64")), axis=-1)
    top = np.percentile(strength, 99)
    return np.clip(strength / top, 0.0, 1.0) if top > 0 else np.zeros_like(strength)


def signed_attribution_heatmap(attribution):
    """A (height, width) map in [-1, 1] from a signed attribution (height, width, channels).

    The channels are summed (integrated-gradients attributions add up to the score change, so
    their sum per pixel is that pixel's share), then divided by the 99th percentile of the
    absolute values: the sign says whether a pixel raised (+) or lowered (-) the class score.
    """
    total = np.sum(np.asarray(attribution, dtype="float64"), axis=-1)
    top = np.percentile(np.abs(total), 99)
    return np.clip(total / top, -1.0, 1.0) if top > 0 else np.zeros_like(total)


def overlay(image, heatmap, colormap=HEATMAP_COLORMAP, value_range=(0.0, 1.0), heat_weight=0.5):
    """RGB blend of an image (as from :func:`display_image`) and a heatmap in ``value_range``.

    A sequential map is blended everywhere with ``heat_weight``; a signed map (its range goes
    below 0) only where it is far from 0, so that pixels with no attribution show the image.
    """
    low, high = value_range
    base = image if image.ndim == 3 else np.stack([image] * 3, axis=-1)
    heat = matplotlib.colormaps[colormap]((heatmap - low) / (high - low))[..., :3]
    if low < 0:
        weight = heat_weight * np.abs(heatmap)[..., np.newaxis] / max(abs(low), abs(high))
    else:
        weight = heat_weight
    return (1.0 - weight) * base + weight * heat


def save_figure(figure, path):
    """Write ``figure`` as a PNG at ``path`` atomically; return the path."""
    FigureCanvasAgg(figure)  # attach the Agg canvas: PNG output without any GUI backend
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return folders.atomic_write_bytes(path, buffer.getvalue())


def _show(axes, picture, title=None, colormap=None, value_range=None):
    """Draw one picture on ``axes`` without ticks; gray for 2-D pictures unless told otherwise.

    Returns the matplotlib image, for a colorbar.
    """
    if picture.ndim == 2:
        colormap = colormap or "gray"
    low, high = value_range if value_range else (None, None)
    shown = axes.imshow(picture, cmap=colormap, vmin=low, vmax=high, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=8)
    return shown


def explanation_figure(images, heatmaps, row_titles, title, colormap=HEATMAP_COLORMAP, value_range=(0.0, 1.0),
                       colorbar_label=""):
    """One row per sample: the input, the heatmap (with its colorbar), the heatmap over the input.

    Args:
        images: (batch, height, width, channels) inputs, any value range.
        heatmaps: (batch, height, width) maps in ``value_range``.
        row_titles: one caption per sample (true and predicted class).
        title: the figure title (method and layer).
        colormap: matplotlib colormap of the heatmaps (sequential, or diverging for signed maps).
        value_range: (low, high) of the colormap; symmetric around 0 for signed maps.
        colorbar_label: what the heatmap's colours measure.

    Returns:
        a matplotlib ``Figure`` (not attached to pyplot).
    """
    rows = len(images)
    figure = Figure(figsize=(3.4 * TILE_INCHES, rows * TILE_INCHES + 0.5))
    figure.suptitle(title, fontsize=10)
    for row, (image, heatmap, caption) in enumerate(zip(images, heatmaps, row_titles)):
        shown = display_image(image)
        _show(figure.add_subplot(rows, 3, 3 * row + 1), shown, caption)
        map_axes = figure.add_subplot(rows, 3, 3 * row + 2)
        drawn = _show(map_axes, heatmap, "map", colormap, value_range)
        colorbar = figure.colorbar(drawn, ax=map_axes, fraction=0.046, pad=0.04)
        colorbar.ax.tick_params(labelsize=6)
        if colorbar_label:
            colorbar.set_label(colorbar_label, fontsize=6)
        _show(figure.add_subplot(rows, 3, 3 * row + 3), overlay(shown, heatmap, colormap, value_range), "overlay")
    figure.tight_layout()
    return figure


def save_explanation_grid(path, images, heatmaps, row_titles, title, colormap=HEATMAP_COLORMAP,
                          value_range=(0.0, 1.0), colorbar_label=""):
    """Draw :func:`explanation_figure` and write it as a PNG at ``path``; return the path."""
    figure = explanation_figure(images, heatmaps, row_titles, title, colormap, value_range, colorbar_label)
    return save_figure(figure, path)


def save_tile_grid(path, tiles, tile_titles, title, columns=8, colormap=None):
    """A grid of pictures (filters, feature maps, maximizing inputs), each rescaled on its own.

    Args:
        path: PNG file to write.
        tiles: sequence of (height, width) or (height, width, channels) arrays.
        tile_titles: one caption per tile (may be empty strings).
        title: the figure title.
        columns: tiles per row, at most.
        colormap: colormap for one-channel tiles (gray by default), or one per tile.
    """
    count = len(tiles)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    # Extra height per row for two-line captions.
    figure = Figure(figsize=(columns * TILE_INCHES, rows * (TILE_INCHES + 0.3) + 0.6))
    figure.suptitle(title, fontsize=10)
    colormaps = colormap if isinstance(colormap, (list, tuple)) else [colormap] * count
    for position, (tile, caption, tile_colormap) in enumerate(zip(tiles, tile_titles, colormaps)):
        _show(figure.add_subplot(rows, columns, position + 1), display_image(tile), caption, tile_colormap)
    figure.tight_layout()
    return save_figure(figure, path)
