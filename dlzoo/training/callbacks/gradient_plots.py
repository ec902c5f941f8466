"""Pictures of the records of :class:`dlzoo.training.callbacks.GradientStatistics`.

Arrays first (:func:`records_table`, :func:`gradient_norm_table`), the picture second
(:func:`plot_gradient_statistics`). Only matplotlib with the non-interactive Agg backend is
used, so this runs on machines without a display and without TensorFlow.
"""

import io

import numpy as np

from dlzoo.runs import folders
from dlzoo.core import validation

# The most epochs drawn as separate lines; more would make the plot unreadable.
MAX_EPOCH_LINES = 6


def records_table(records, field):
    """Arrange one field of the records as a table.

    Args:
        records: list of dicts with at least "epoch", "layer" and ``field``.
        field: e.g. "gradient_norm", "dead_fraction".

    Returns:
        (layer_names, epochs, values): layer names in model order, the sorted recorded epochs,
        and a float array of shape (len(epochs), len(layer_names)), NaN where missing.
    """
    if not records:
        raise ValueError("records must not be empty")
    validation.check_choice("field", field, sorted(records[0]))
    layer_names = list(dict.fromkeys(row["layer"] for row in records))
    epochs = sorted({row["epoch"] for row in records})
    values = np.full((len(epochs), len(layer_names)), np.nan)
    for row in records:
        values[epochs.index(row["epoch"]), layer_names.index(row["layer"])] = row[field]
    return layer_names, epochs, values


def gradient_norm_table(records):
    """(layer_names, epochs, gradient norms of shape (epochs, layers)); see :func:`records_table`."""
    return records_table(records, "gradient_norm")


def epochs_to_draw(epochs, max_lines=MAX_EPOCH_LINES):
    """All recorded epochs when there are few, else ``max_lines`` evenly spaced ones that
    always include the initialization and the final epoch."""
    if len(epochs) <= max_lines:
        return list(epochs)
    positions = np.linspace(0, len(epochs) - 1, max_lines).round().astype(int)
    return [epochs[position] for position in sorted(set(positions))]


def _epoch_label(epoch):
    return "init" if epoch == 0 else f"epoch {epoch}"


def _draw_gradient_norms(axes, records):
    """Left panel: gradient norm per layer, log scale, one line per drawn epoch."""
    layer_names, epochs, norms = gradient_norm_table(records)
    positions = np.arange(len(layer_names))
    for epoch in epochs_to_draw(epochs):
        row = norms[epochs.index(epoch)]
        # Zeros cannot be drawn on a log axis; leave a gap instead.
        axes.plot(positions, np.where(row > 0, row, np.nan), marker="o", label=_epoch_label(epoch))
    axes.set_yscale("log")
    axes.set_title("gradient norm of each kernel")
    axes.set_ylabel("||dL/dW|| (log scale)")
    _label_layers(axes, layer_names)
    axes.legend(fontsize="small")


def _draw_fractions(axes, records):
    """Right panel: dead ReLU (solid) and saturated (dashed) fractions, init and final."""
    layer_names, epochs, dead = records_table(records, "dead_fraction")
    _, _, saturated = records_table(records, "saturated_fraction")
    positions = np.arange(len(layer_names))
    drawn_any = False
    for epoch in sorted({epochs[0], epochs[-1]}):
        index = epochs.index(epoch)
        for values, what, style in ((dead, "dead", "-"), (saturated, "saturated", "--")):
            if np.all(np.isnan(values[index])):
                continue
            axes.plot(
                positions, values[index], linestyle=style, marker="o",
                label=f"{what}, {_epoch_label(epoch)}",
            )
            drawn_any = True
    if not drawn_any:
        axes.text(0.5, 0.5, "no ReLU, sigmoid or tanh layers", ha="center", va="center",
                  transform=axes.transAxes)
    else:
        axes.legend(fontsize="small")
    axes.set_ylim(-0.05, 1.05)
    axes.set_title("dead ReLU units / saturated sigmoid-tanh values")
    axes.set_ylabel("fraction")
    _label_layers(axes, layer_names)


def _label_layers(axes, layer_names):
    """Layer names under the x axis; at most about 25 labels, so deep nets stay readable."""
    step = max(1, len(layer_names) // 25)
    positions = np.arange(0, len(layer_names), step)
    axes.set_xticks(positions)
    axes.set_xticklabels([layer_names[p] for p in positions], rotation=60, ha="right",
                         fontsize="x-small")
    axes.set_xlabel("layer (input side on the left)")


def plot_gradient_statistics(records, path):
    """Draw the records into a PNG at ``path`` (written atomically) and return ``path``.

    Left: gradient norm per layer on a log scale, one line per recorded epoch (or, when there
    are many, the initialization, the final epoch and a few in between). Vanishing gradients
    show as a line rising steeply from left (input) to right (output).
    Right: dead ReLU fraction and saturated sigmoid/tanh fraction per layer, at the
    initialization and the final epoch.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    if not records:
        raise ValueError("records must not be empty")
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    try:
        _draw_gradient_norms(left, records)
        _draw_fractions(right, records)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        folders.atomic_write_bytes(path, buffer.getvalue())
    finally:
        pyplot.close(figure)
    return path
