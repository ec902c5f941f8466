"""``dlzoo lr-find RECIPE``: the learning-rate range test (Smith 2017, "Cyclical Learning Rates").

Train from the recipe's initial weights for a few hundred steps while the learning rate grows
exponentially from ``start`` to ``end``; record the loss of every step. The loss first stays
flat (the rate is too small to move), then falls (good rates), then explodes (too large).
The suggested rate is a tenth of the rate at the lowest smoothed loss (the fastai rule: the
minimum itself is already on the edge of divergence); the rate of the steepest descent is
reported too. When the curve has no clear descent (the lowest smoothed loss is less than
``MIN_DESCENT`` below the loss at the start, or sits at the start of the range), no rate is
suggested: the report says so and what to try instead.

Each test writes ``runs/<recipe>-lr-find/<time>/``: ``plots/lr_find.png`` (loss vs rate on a
log scale, suggestion marked), ``lr_find.csv``, ``metrics.json`` and ``report.md``.
"""

import math

import numpy as np

from dlzoo.config import recipes
from dlzoo.plots import figures
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.core.errors import UsageError

# Stop once the smoothed loss is this many times its best: the rate has diverged.
DIVERGENCE = 4.0
# Exponential smoothing of the per-step losses: about the last 10 steps (fastai's 0.98 lags
# far behind a loss that falls quickly in a 100-200 step test).
SMOOTHING = 0.9
# A "clear descent": the lowest smoothed loss at least this fraction below the starting loss.
# Mini-batch noise moves the smoothed curve by a few percent; a drop of 10 % is a real descent.
MIN_DESCENT = 0.1


def check_arguments(start, end, steps):
    """Refuse an empty or reversed range before anything is loaded."""
    if not (math.isfinite(start) and math.isfinite(end)):  # inf would "diverge" at once, nan compares false
        raise UsageError(f"--start and --end must be finite learning rates, got {start:g} and {end:g}")
    if not 0 < start < end:
        raise UsageError(f"--start must be positive and below --end, got {start:g} and {end:g}")
    if steps < 10:
        raise UsageError(f"--steps must be at least 10, got {steps}")


def learning_rates(start, end, steps):
    """``steps`` rates growing geometrically from ``start`` to ``end``."""
    return np.geomspace(start, end, steps)


def smooth(losses, beta=SMOOTHING):
    """Exponentially smoothed losses with bias correction (the first values are not pulled to 0)."""
    smoothed, average = [], 0.0
    for step, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** step))
    return np.array(smoothed)


def suggest(rates, smoothed):
    """``{"suggested", "minimum", "steepest", "descent"}`` from the smoothed loss curve.

    ``minimum``: the rate at the lowest smoothed loss; ``suggested``: a tenth of it (the
    steepest-descent rate when a tenth would fall below the first rate tried, where the loss
    was never measured); ``steepest``: where the loss falls fastest per factor of rate (the most
    negative slope in log-rate); ``descent``: how far the lowest smoothed loss is below the
    loss at the start, as a fraction of it. Without a clear descent (``descent <
    MIN_DESCENT``, or the lowest loss in the first tenth of the steps) ``suggested`` is None.
    """
    rates, smoothed = np.asarray(rates), np.asarray(smoothed)
    best = int(np.argmin(smoothed))
    slopes = np.gradient(smoothed, np.log(rates)) if len(rates) > 2 else np.zeros_like(rates)
    skip = len(rates) // 10  # the first steps' slopes are noise of the smoothing's warm-up
    steepest = skip + int(np.argmin(slopes[skip: best + 1])) if best > skip else best
    initial = float(np.median(smoothed[: max(1, skip)]))  # the flat start of the curve
    descent = (initial - float(smoothed[best])) / abs(initial) if initial else 0.0
    suggested = float(rates[best] / 10.0)
    if suggested < rates[0]:
        suggested = float(rates[steepest])
    if descent < MIN_DESCENT or best <= skip:
        suggested = None
    return {"suggested": suggested, "minimum": float(rates[best]), "steepest": float(rates[steepest]),
            "descent": descent}


def no_descent_advice(suggestion, start, last_rate):
    """Why no rate is suggested, and what to try (one sentence for the terminal and the report)."""
    return (f"no clear descent: the smoothed loss fell only {max(suggestion['descent'], 0.0):.0%} below its start "
            f"between {start:g} and {last_rate:.3g} (a clear descent is {MIN_DESCENT:.0%} or more), so no learning "
            "rate is suggested; try a wider range (--start, --end), more --steps, or check that the model can learn "
            "(dlzoo train RECIPE --overfit-batch)")


def range_test(parts, rates):
    """Train ``parts.model`` (:class:`~dlzoo.tasks.base.TrainingParts`) one batch per rate;
    returns the raw losses (stops early once it diverges)."""
    import tensorflow as tf

    model = parts.model
    optimizer = model.optimizer

    @tf.function
    def step(inputs, labels):
        """One optimizer step; the loss before the update."""
        with tf.GradientTape() as tape:
            loss = parts.loss(inputs, labels, True)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    losses, best = [], math.inf
    for rate in rates:
        optimizer.learning_rate = float(rate)
        inputs, labels = parts.next_batch()
        loss = float(step(inputs, labels))
        losses.append(loss)
        smoothed = smooth(losses)[-1]
        best = min(best, smoothed)
        if not math.isfinite(loss) or smoothed > DIVERGENCE * best:
            break
    return losses


def check_task(config):
    """The recipe's task, refused (no TensorFlow needed) unless it declares the "lr-find" capability."""
    from dlzoo import tasks

    task = tasks.create(config["task"])
    task.require("lr-find", config["name"])
    return task


def find(config, out=None, start=1e-6, end=1.0, steps=200, echo=print):
    """Run the range test on the recipe; write its folder and return ``(folder, record)``."""
    from dlzoo.commands import lifecycle
    from dlzoo.training import devices

    task = check_task(config)
    recipe_rate = describe_rate(config["optimizer"]["learning_rate"])
    config = dict(config, optimizer=dict(config["optimizer"], learning_rate=float(start)))
    prepared = lifecycle.prepare(task, config, quick=False)
    devices.seed_everything(config["train"]["seed"])
    rates = learning_rates(start, end, steps)
    losses = range_test(task.training_parts(prepared), rates)
    rates = rates[: len(losses)]
    finite = [index for index, loss in enumerate(losses) if math.isfinite(loss)]
    if len(finite) < 3:
        raise UsageError(f"the loss diverged at once (from {start:g}): try a smaller --start")
    rates_seen, smoothed = rates[finite], smooth([losses[index] for index in finite])
    suggestion = suggest(rates_seen, smoothed)
    folder = folders.new_run_folder(f"{config['name']}-lr-find", out)
    folders.atomic_write_text(folder / folders.CONFIG_FILE, recipes.to_toml(config))
    folders.atomic_write_text(folder / "lr_find.csv", "learning_rate,loss,smoothed_loss\n" + "".join(
        f"{rate:.6g},{losses[index]:.6g},{value:.6g}\n" for index, rate, value in zip(finite, rates_seen, smoothed)))
    draw(rates_seen, np.asarray(losses)[finite], smoothed, suggestion, folder / "plots" / "lr_find.png", config["name"])
    record = {"recipe": f"{config['name']}-lr-find", "task": config["task"], "status": "completed",
              "lr_find": {**suggestion, "start": start, "end": end, "steps": len(losses)},
              "metrics": {} if suggestion["suggested"] is None else
              {"suggested_learning_rate": suggestion["suggested"]}}
    folders.atomic_write_json(folder / folders.METRICS_FILE, record)
    report.write_section(folder, "10-lr-find", lr_find_section(config["name"], suggestion, len(losses), start,
                                                                rates[-1], recipe_rate))
    report.write_report(folder)
    if suggestion["suggested"] is None:
        echo(no_descent_advice(suggestion, start, rates[-1]) + f"; the recipe uses {recipe_rate}")
    else:
        echo(f"suggested learning rate {suggestion['suggested']:.3g} (lowest smoothed loss at "
             f"{suggestion['minimum']:.3g}, steepest descent at {suggestion['steepest']:.3g}); "
             f"the recipe uses {recipe_rate}")
    echo(f"report: {folder / 'report.md'}")
    return folder, record


def describe_rate(rate):
    """The recipe's learning rate in words: ``0.001``, or ``a warmup_cosine schedule from 0.001``."""
    if isinstance(rate, dict):  # a schedule table: the range test compares with its starting rate
        return f"a {rate.get('schedule', '')} schedule from {rate.get('initial', '?')}"
    return str(rate)


def lr_find_section(name, suggestion, steps, start, last_rate, recipe_rate):
    """The report section: the rates found, and the suggestion (or why there is none)."""
    suggested = suggestion["suggested"]
    rows = [["lowest smoothed loss", suggestion["minimum"]], ["steepest descent", suggestion["steepest"]],
            ["**suggested** (lowest / 10)", "none (no clear descent)" if suggested is None else suggested],
            ["the recipe's", str(recipe_rate)]]
    reason = no_descent_advice(suggestion, start, last_rate)
    advice = (f"**{reason[0].upper() + reason[1:]}.**" if suggested is None else
              f"Try it: `dlzoo train {name} --set optimizer.learning_rate={suggested:.2g}`")
    return ("## Learning-rate range test (Smith 2017)\n\n"
            f"{steps} steps with the rate growing from {start:g} to {last_rate:.3g} (one batch each).\n\n"
            + report.markdown_table(["", "learning rate"], rows) + f"\n\n{advice}\n\n"
            "![loss vs learning rate](plots/lr_find.png)\n")


def draw(rates, losses, smoothed, suggestion, path, name):
    """Loss vs learning rate (log scale), the smoothed curve and the suggested rate."""
    figure, axes = figures.pyplot_module().subplots(figsize=(7, 4.5))
    axes.plot(rates, losses, color="0.75", linewidth=0.8, label="loss per step")
    axes.plot(rates, smoothed, color="C0", label="smoothed")
    if suggestion["suggested"] is not None:
        axes.axvline(suggestion["suggested"], color="C3", linestyle="--",
                     label=f"suggested {suggestion['suggested']:.2g}")
    axes.axvline(suggestion["minimum"], color="C2", linestyle=":", label=f"lowest loss {suggestion['minimum']:.2g}")
    axes.set_xscale("log")
    top = float(np.percentile(smoothed, 95)) * 1.5
    axes.set_ylim(max(0.0, float(np.min(losses)) * 0.9), max(top, float(smoothed[0]) * 1.2))
    axes.set_xlabel("learning rate (log scale)")
    axes.set_ylabel("training loss")
    axes.set_title(f"{name}: learning-rate range test")
    axes.legend()
    figures.save_figure(figure, path)
