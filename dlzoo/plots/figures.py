"""Pictures of a run: confusion matrix, decision boundary, image grids, bar tables, predicted vs true.

Learning curves are in :mod:`dlzoo.plots.curves`.

Every function takes arrays or plain dicts and a path, draws with matplotlib's Agg backend (no
screen needed) and writes the PNG atomically. Computing what to draw happens elsewhere.
"""

import pathlib
import textwrap

import numpy as np


def pyplot_module():
    """matplotlib.pyplot on the non-interactive Agg backend (works on servers and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def save_figure(figure, path, tight=True):
    """Save ``figure`` as a PNG at ``path`` with the one atomic writer, then close it.

    ``tight`` crops the canvas to what was drawn, so that no label is cut off whatever its
    length; it costs a second drawing of the figure. Figures that lay themselves out (image
    grids, with fixed margins) pass ``tight=False``.
    """
    import io

    from dlzoo.runs import folders

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight" if tight else None)
    pyplot_module().close(figure)
    return folders.atomic_write_bytes(path, buffer.getvalue())


def new_file_paths(*paths):
    """``paths`` themselves if none exists yet, else all of them with the first free ``-2``, ``-3``, ...

    Derived outputs (``dlzoo evaluate``, ``dlzoo visualize``) never replace a file already on
    disk: a second Grad-CAM of a run goes to ``gradcam-2.png`` next to ``gradcam.png``. Files
    written together (an evaluation's JSON and its confusion matrix) get the same number, so
    they stay paired. Two commands started at the same instant on the same folder could still
    pick the same number; one person running commands one after the other never does.
    """
    paths = [pathlib.Path(path) for path in paths]
    number = 1
    while True:
        candidates = paths if number == 1 else [path.with_name(f"{path.stem}-{number}{path.suffix}") for path in paths]
        if not any(candidate.exists() for candidate in candidates):
            return candidates
        number += 1


def confusion_matrix(matrix, class_names, path, title="confusion matrix (rows: true class)"):
    """A confusion matrix with counts written in the cells."""
    pyplot = pyplot_module()
    matrix = np.asarray(matrix)
    size = max(4.0, 0.5 * len(class_names) + 2)
    figure, axis = pyplot.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45 if len(class_names) > 10 else 0)
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            axis.text(column, row, int(matrix[row, column]), ha="center", va="center", fontsize=8,
                      color="white" if matrix[row, column] > threshold else "black")
    axis.set_title(title)
    return save_figure(figure, path)


def decision_boundary(predict, inputs, labels, path, title="decision boundary", resolution=200):
    """The predicted probability of class 1 over the plane, with the data points on top.

    Args:
        predict: function from (n, 2) inputs to model outputs.
        inputs, labels: 2-D points and their classes.
    """
    pyplot = pyplot_module()
    margin = 0.5
    x_min, y_min = inputs.min(axis=0) - margin
    x_max, y_max = inputs.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype("float32")
    outputs = np.asarray(predict(grid))
    probability = outputs[:, -1] if outputs.shape[1] <= 2 else outputs.argmax(axis=1)
    figure, axis = pyplot.subplots(figsize=(5.5, 4.5))
    surface = axis.contourf(grid_x, grid_y, probability.reshape(grid_x.shape), levels=20, cmap="RdBu_r", alpha=0.7)
    axis.contour(grid_x, grid_y, probability.reshape(grid_x.shape), levels=[0.5], colors="black", linewidths=1)
    axis.scatter(inputs[:, 0], inputs[:, 1], c=labels, cmap="RdBu_r", edgecolors="black", s=14)
    figure.colorbar(surface, ax=axis, label="P(class 1)")
    axis.set_title(title)
    return save_figure(figure, path)


def image_grid(images, path, titles=None, columns=8, title=""):
    """A grid of images (n, h, w, c); each image rescaled to [0, 1] for display."""
    pyplot = pyplot_module()
    count = len(images)
    rows = int(np.ceil(count / columns))
    # A long panel title ("T-shirt/top→Ankle boot 0.98") goes on two lines: on one it would run
    # into the next panel's.
    titles = None if titles is None else [textwrap.fill(str(text), 20) for text in titles]
    title_inches = 0.0 if titles is None else 0.13 * max(text.count("\n") + 1 for text in titles)
    # Fixed margins in inches (room for the suptitle and each row's panel titles) instead of an
    # automatic layout: with 32 panels, matplotlib's layout engines cost about a second a
    # picture, more than drawing the images.
    panel, gap = 1.25, title_inches + 0.1
    header = (0.35 if title else 0.05) + title_inches
    height = rows * panel + (rows - 1) * gap + header + 0.05
    figure, axes = pyplot.subplots(rows, columns, figsize=(1.4 * columns, height), squeeze=False)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.05 / height, top=1 - header / height,
                           wspace=0.1, hspace=gap / panel)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= count:
            continue
        image = np.asarray(images[index], dtype="float64")
        image = (image - image.min()) / max(image.max() - image.min(), 1e-12)
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        if titles is not None:
            axis.set_title(titles[index], fontsize=7)
    figure.suptitle(title, y=1 - 0.08 / height, va="top")
    return save_figure(figure, path, tight=False)


def bar_table(values, path, ylabel, title=""):
    """A bar chart of ``{label: value}`` (e.g. final accuracy per optimizer)."""
    pyplot = pyplot_module()
    figure, axis = pyplot.subplots(figsize=(max(4, 0.9 * len(values) + 2), 3.5))
    axis.bar(list(values), list(values.values()), color="tab:blue")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=30)
    return save_figure(figure, path)


def predicted_vs_true(true_values, predictions, path, title="predicted vs true (test split)"):
    """A scatter of predictions against true values with the identity line (perfect predictions)."""
    pyplot = pyplot_module()
    true_values, predictions = np.ravel(true_values), np.ravel(predictions)
    figure, axis = pyplot.subplots(figsize=(5, 5))
    axis.scatter(true_values, predictions, s=12, alpha=0.6)
    low = float(min(true_values.min(), predictions.min()))
    high = float(max(true_values.max(), predictions.max()))
    axis.plot([low, high], [low, high], color="gray", linestyle="--", linewidth=1, label="prediction = truth")
    axis.set_xlabel("true value")
    axis.set_ylabel("predicted value")
    axis.set_title(title)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return save_figure(figure, path)
