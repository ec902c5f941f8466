"""Pictures of a run: learning curves, confusion matrix, decision boundary, augmented samples.

Every function takes arrays or plain dicts and a path, draws with matplotlib's Agg backend (no
screen needed) and writes the PNG atomically. Computing what to draw happens elsewhere.
"""

import pathlib

import numpy as np


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (works on servers and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def save_figure(figure, path):
    """Save ``figure`` as a PNG at ``path`` with the one atomic writer, then close it."""
    import io

    from dlzoo.runs import folders

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
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


def metric_pairs(history):
    """Group history keys into (metric, [train key, val key]) pairs: loss, accuracy, ..."""
    names = [key for key in history if not key.startswith("val_") and key not in ("epoch", "learning_rate")]
    return [(name, [key for key in (name, f"val_{name}") if key in history]) for name in names]


def curve_panels(histories):
    """The panels of a learning-curve figure: ``[(y label, [metric, ...])]``.

    The total loss first; then the terms it is made of when the run logs them (a GAN's
    ``discriminator_loss`` and ``generator_loss``, a VAE's ``reconstruction_loss`` and
    ``kl_loss``), in one panel; then accuracy. A history with none of these gets its first two
    metrics. Each metric is drawn with its ``val_`` twin when there is one.
    """
    names = []
    for history in histories.values():
        names += [name for name, _ in metric_pairs(history) if name not in names]
    terms = [name for name in names if name.endswith("_loss")]
    panels = [(label, chosen) for label, chosen in
              (("loss", [name for name in names if name == "loss"]), ("loss terms", terms),
               ("accuracy", [name for name in names if name == "accuracy"])) if chosen]
    return panels or [(name, [name]) for name in names[:2]]


def learning_curves(histories, path, title=""):
    """Loss and metric curves per epoch; ``histories`` maps a label to a history dict.

    One run gives one label; ``dlzoo compare`` and sweeps overlay several runs in one figure.
    """
    return save_figure(learning_curves_figure(histories, title), path)


def learning_curves_figure(histories, title=""):
    """The matplotlib figure of :func:`learning_curves` (not saved)."""
    pyplot = _pyplot()
    panels = curve_panels(histories)
    figure, axes = pyplot.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False,
                                   layout="constrained")
    for axis, (label, metrics) in zip(axes[0], panels):
        for run, history in histories.items():
            for metric in metrics:
                if metric not in history:
                    continue
                prefix = " ".join(part for part in (run if len(histories) > 1 else "",
                                                    metric if len(metrics) > 1 else "") if part)
                train_line = None
                for key, split, style in ((metric, "train", "-"), (f"val_{metric}", "val", "--")):
                    if key not in history:
                        continue
                    # Markers when there are few epochs: one epoch is one point, invisible as a bare line.
                    marker = "o" if len(history[key]) <= MARKER_EPOCHS else None
                    (line,) = axis.plot(epochs_of(history, key), history[key], linestyle=style, marker=marker,
                                        markersize=4, label=f"{prefix} {split}".strip(),
                                        color=None if train_line is None else train_line.get_color())
                    train_line = train_line or line
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.set_xticks(epoch_ticks(max(len(values) for history in histories.values() for values in history.values())))
        if label.startswith("loss") and all_positive(histories, metrics):
            log_scale_with_labels(axis, finite_values(histories, metrics))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return figure


# Up to this many epochs every point of a curve gets a marker.
MARKER_EPOCHS = 30


def epochs_of(history, key):
    """Epoch numbers (1-based, like the console and ``history.csv``) for the values of ``history[key]``."""
    return np.arange(1, len(history[key]) + 1)


def epoch_ticks(epochs, most=8):
    """Whole-epoch tick positions for curves of ``epochs`` epochs: 1, then multiples of a step
    of 1, 2, 5, 10, 20, ... that leaves at most about ``most`` ticks (matplotlib's own ticks
    are 1.00, 1.25, 1.50, ... on a short run, and 0.96 ... 1.04 on a one-epoch run)."""
    epochs = max(int(epochs), 1)
    step = 1
    while epochs / step > most:
        step = next(candidate * 10 ** power for power in range(10) for candidate in (1, 2, 5)
                    if candidate * 10 ** power > step)
    return sorted({1, *range(step, epochs + 1, step)})


def log_ticks(low, high, least=3):
    """Tick values for a log axis from ``low`` to ``high`` (both > 0), at least ``least`` of them.

    Powers of ten when the range spans enough decades; else 1-2-5 steps, then 1..9 steps; a
    range narrower than that (0.51 to 0.53) gets ``least`` values evenly spaced on the log
    scale, rounded to as few digits as keep them apart. matplotlib's own log axis labels
    powers of ten only, so a loss from 0.3 to 0.7 got one label or none.
    """
    if not 0 < low <= high:
        raise ValueError(f"log_ticks needs 0 < low <= high, got low={low!r}, high={high!r}")
    exponents = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for steps in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        # float("5e-1") is exactly the number written; 5 * 10.0 ** -1 may land just past a bound.
        candidates = [float(f"{step}e{exponent}") for exponent in exponents for step in steps]
        ticks = [tick for tick in candidates if low <= tick <= high]
        if len(ticks) >= least:
            return ticks
    spaced = np.geomspace(low, high, least) if high > low else np.array([low])
    for digits in range(2, 10):
        rounded = sorted({float(f"{value:.{digits}g}") for value in spaced})
        if len(rounded) == len(spaced):
            return rounded
    return [float(value) for value in spaced]


def log_scale_with_labels(axis, values):
    """A log y axis labelled at :func:`log_ticks` of ``values`` (plain numbers, no 10^x)."""
    from matplotlib import ticker

    axis.set_yscale("log")
    axis.set_yticks(log_ticks(float(np.min(values)), float(np.max(values))))
    axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.yaxis.set_minor_formatter(ticker.NullFormatter())


def finite_values(histories, keys):
    """Every finite value of ``keys`` and their ``val_`` twins in every history, as one array."""
    arrays = [np.asarray(history[key], dtype=float) for history in histories.values()
              for name in keys for key in (name, f"val_{name}") if key in history]
    values = np.concatenate(arrays) if arrays else np.array([])
    return values[np.isfinite(values)]


def all_positive(histories, keys):
    """True when every finite value of ``keys`` (and their ``val_`` twins) is positive (log scale works)."""
    keys = [keys] if isinstance(keys, str) else keys
    values = finite_values(histories, keys)
    return values.size > 0 and bool(np.all(values > 0))


def confusion_matrix(matrix, class_names, path, title="confusion matrix (rows: true class)"):
    """A confusion matrix with counts written in the cells."""
    pyplot = _pyplot()
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
    pyplot = _pyplot()
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
    pyplot = _pyplot()
    count = len(images)
    rows = int(np.ceil(count / columns))
    figure, axes = pyplot.subplots(rows, columns, figsize=(1.4 * columns, 1.5 * rows), squeeze=False,
                                   layout="constrained")  # the suptitle never covers the panel titles
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index >= count:
            continue
        image = np.asarray(images[index], dtype="float64")
        image = (image - image.min()) / max(image.max() - image.min(), 1e-12)
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=7)
    figure.suptitle(title)
    return save_figure(figure, path)


def bar_table(values, path, ylabel, title=""):
    """A bar chart of ``{label: value}`` (e.g. final accuracy per optimizer)."""
    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(max(4, 0.9 * len(values) + 2), 3.5))
    axis.bar(list(values), list(values.values()), color="tab:blue")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=30)
    return save_figure(figure, path)


def predicted_vs_true(true_values, predictions, path, title="predicted vs true (test split)"):
    """A scatter of predictions against true values with the identity line (perfect predictions)."""
    pyplot = _pyplot()
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
