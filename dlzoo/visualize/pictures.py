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

from dlzoo import runs

HEATMAP_COLORMAP = "turbo"
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


def overlay(image, heatmap, heat_weight=0.5):
    """RGB blend of an image (as from :func:`display_image`) and a [0, 1] heatmap."""
    base = image if image.ndim == 3 else np.stack([image] * 3, axis=-1)
    heat = matplotlib.colormaps[HEATMAP_COLORMAP](heatmap)[..., :3]
    return (1.0 - heat_weight) * base + heat_weight * heat


def save_figure(figure, path):
    """Write ``figure`` as a PNG at ``path`` atomically; return the path."""
    FigureCanvasAgg(figure)  # attach the Agg canvas: PNG output without any GUI backend
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return runs.atomic_write_bytes(path, buffer.getvalue())


def _show(axes, picture, title=None, colormap=None, value_range=None):
    """Draw one picture on ``axes`` without ticks; gray for 2-D pictures unless told otherwise."""
    if picture.ndim == 2:
        colormap = colormap or "gray"
    low, high = value_range if value_range else (None, None)
    axes.imshow(picture, cmap=colormap, vmin=low, vmax=high, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=8)


def save_explanation_grid(path, images, heatmaps, row_titles, title):
    """One row per sample: the input, the heatmap, and the heatmap over the input.

    Args:
        path: PNG file to write.
        images: (batch, height, width, channels) inputs, any value range.
        heatmaps: (batch, height, width) maps in [0, 1].
        row_titles: one caption per sample (true and predicted class).
        title: the figure title (method and layer).
    """
    rows = len(images)
    figure = Figure(figsize=(3 * TILE_INCHES, rows * TILE_INCHES + 0.5))
    figure.suptitle(title, fontsize=10)
    for row, (image, heatmap, caption) in enumerate(zip(images, heatmaps, row_titles)):
        shown = display_image(image)
        _show(figure.add_subplot(rows, 3, 3 * row + 1), shown, caption)
        _show(figure.add_subplot(rows, 3, 3 * row + 2), heatmap, "map", HEATMAP_COLORMAP, (0.0, 1.0))
        _show(figure.add_subplot(rows, 3, 3 * row + 3), overlay(shown, heatmap), "overlay")
    figure.tight_layout()
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
