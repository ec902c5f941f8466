"""Learning curves: every metric of a run's history against the epoch, training beside validation.

One panel per metric (loss, accuracy, ...), a log scale where a positive metric spans decades,
readable epoch ticks; several histories (stages, sweep variants, compared runs) overlay.
"""

import numpy as np

from dlzoo.plots import figures


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
    return figures.save_figure(learning_curves_figure(histories, title), path)


def learning_curves_figure(histories, title=""):
    """The matplotlib figure of :func:`learning_curves` (not saved)."""
    pyplot = figures.pyplot_module()
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


# Up to this many epochs every point of a curve gets a marker.
MARKER_EPOCHS = 30
