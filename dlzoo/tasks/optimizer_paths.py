"""The ``optimizer-paths`` task: the course's optimizers walking on 2-D loss surfaces.

No model and no data: each optimizer moves one point ``(x, y)`` (a ``keras.Variable`` of shape
(2,)) downhill on each surface of :mod:`dlzoo.scratch.functions2d`, with the zoo's own hand-written
optimizers (``dlzoo.optimizers``) and gradients from ``tf.GradientTape``. The run folder gets,
per surface, the paths drawn on the loss contours and the loss per step, and a report table of
where each optimizer ended up. The recipe's ``[paths]`` table says what to run::

    [paths]
    functions = ["quadratic", "rosenbrock", "saddle"]          # see dlzoo.scratch.functions2d
    optimizers = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    steps = {quadratic = 200, rosenbrock = 1000}               # or one number for all
    quick_steps = 20                                           # steps in --quick mode
    tolerance = 1e-3                                           # "converged": loss - minimum < this
    learning_rates = {rosenbrock = {sgd = 0.001}}              # per surface, per optimizer

Steps and learning rates not given come from each surface's defaults. There is no
``model.keras``: ``dlzoo evaluate`` and ``dlzoo export`` have nothing to read in these runs.
"""

import csv
import dataclasses
import io
import math
import pathlib
import time

import numpy as np

from dlzoo.scratch import functions2d
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.core import validation
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

PATHS_DEFAULTS = {
    "functions": ["quadratic", "rosenbrock", "saddle"],
    "optimizers": ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
    "steps": {},
    "quick_steps": 20,
    "tolerance": 1e-3,
    "learning_rates": {},
}
# A run whose loss passes this (or stops being finite) has diverged: it is stopped there.
DIVERGENCE_LOSS = 1e12
CONTOUR_RESOLUTION = 300
CONTOUR_LEVELS = 25


@dataclasses.dataclass
class PathPlan:
    """One optimizer on one surface: what to run."""

    surface: functions2d.LossSurface
    optimizer_name: str
    learning_rate: float
    steps: int
    optimizer: object  # a fresh keras.optimizers.Optimizer, used for this path only


@dataclasses.dataclass
class Trajectory:
    """Where one optimizer went: ``points`` (steps + 1, 2) and the loss at each, ``losses`` (steps + 1,)."""

    points: np.ndarray
    losses: np.ndarray
    diverged: bool


@dataclasses.dataclass
class PreparedPaths:
    """The checked ``[paths]`` options and one plan per (surface, optimizer)."""

    options: dict
    plans: list
    quick: bool


# 1. Checking the [paths] table ---------------------------------------------------------------


def read_paths_options(paths):
    """The ``[paths]`` table with defaults filled in, every key and value checked.

    Raises:
        ValueError: for an unknown key (listing the valid ones), a bad value or a duplicate name.
        UnknownNameError: for an unknown surface name (with a did-you-mean hint).
    """
    validation.check_known_keys("paths", paths, PATHS_DEFAULTS)
    options = {**PATHS_DEFAULTS, **paths}
    for key in ("functions", "optimizers"):
        validation.check_list_of(f"paths.{key}", options[key], validation.check_string, "names", distinct=True)
    for name in options["functions"]:
        functions2d.get(name)
    options["steps"] = check_steps(options["steps"])
    options["quick_steps"] = check_step_count("paths.quick_steps", options["quick_steps"])
    validation.check_number("paths.tolerance", options["tolerance"], minimum=0, exclusive_minimum=True)
    options["learning_rates"] = check_learning_rates(options["learning_rates"], options["optimizers"])
    return options


def check_step_count(name, value):
    """A whole number of steps, at least 1."""
    return validation.check_integer(name, value, minimum=1)


def check_steps(steps):
    """``paths.steps``: one number for every surface, or a table ``{surface: number}``."""
    if isinstance(steps, dict):
        validation.check_known_keys("paths.steps", steps, functions2d.names())
        return {name: check_step_count(f"paths.steps.{name}", count) for name, count in steps.items()}
    return check_step_count("paths.steps", steps)


def check_learning_rates(learning_rates, optimizer_names):
    """``paths.learning_rates``: a table ``{surface: {optimizer: learning rate > 0}}``."""
    from dlzoo import optimizers

    if not isinstance(learning_rates, dict):
        raise ValueError("paths.learning_rates must be a table {function = {optimizer = rate}}, "
                         f"got {learning_rates!r}")
    validation.check_known_keys("paths.learning_rates", learning_rates, functions2d.names())
    known = sorted({*optimizer_names, *optimizers.names(), *optimizers.keras_names()})
    for surface_name, rates in learning_rates.items():
        section = f"paths.learning_rates.{surface_name}"
        if not isinstance(rates, dict):
            raise ValueError(f"{section} must be a table {{optimizer = rate}}, got {rates!r}")
        validation.check_known_keys(section, rates, known)
        for optimizer_name, rate in rates.items():
            validation.check_number(f"{section}.{optimizer_name}", rate, minimum=0, exclusive_minimum=True)
    return learning_rates


def learning_rate_for(options, surface, optimizer_name):
    """The learning rate of ``optimizer_name`` on ``surface``: the recipe's, else the surface's default."""
    rates = options["learning_rates"].get(surface.name, {})
    if optimizer_name in rates:
        return float(rates[optimizer_name])
    if optimizer_name in surface.learning_rates:
        return surface.learning_rates[optimizer_name]
    raise ValueError(f"no default learning rate for '{optimizer_name}' on '{surface.name}': "
                     f"set paths.learning_rates.{surface.name}.{optimizer_name}")


def steps_for(options, surface, quick):
    """How many steps to run on ``surface``: ``quick_steps`` in quick mode, else the recipe's or the default."""
    if quick:
        return options["quick_steps"]
    steps = options["steps"]
    if isinstance(steps, int):
        return steps
    return steps.get(surface.name, surface.steps)


def build_plans(options, quick):
    """One :class:`PathPlan` per (surface, optimizer), each with its own fresh optimizer."""
    from dlzoo import optimizers

    for name in options["optimizers"]:
        optimizers.get(name)  # an unknown name fails here, with a did-you-mean hint
    plans = []
    for surface_name in options["functions"]:
        surface = functions2d.get(surface_name)
        for optimizer_name in options["optimizers"]:
            learning_rate = learning_rate_for(options, surface, optimizer_name)
            optimizer = optimizers.get(optimizer_name, learning_rate=learning_rate)
            steps = steps_for(options, surface, quick)
            plans.append(PathPlan(surface, optimizer_name, learning_rate, steps, optimizer))
    return plans


# 2. Running the optimizers ---------------------------------------------------------------------


def descend(surface, optimizer, steps, dtype="float64"):
    """Run ``optimizer`` for ``steps`` steps from ``surface.start``; return the :class:`Trajectory`.

    The point is a ``keras.Variable`` of shape (2,); each step computes the loss, its gradient
    with ``tf.GradientTape`` and calls ``optimizer.apply_gradients``, as ``fit`` would for a
    model's weights. The run stops early if the loss leaves the finite range (divergence).
    """
    import keras
    import tensorflow as tf

    point = keras.Variable(np.asarray(surface.start, dtype=dtype), dtype=dtype, name="point")
    optimizer.build([point])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = surface(point[0], point[1])
        gradient = tape.gradient(loss, point)
        optimizer.apply_gradients([(gradient, point)])
        return loss

    points, losses = [np.array(surface.start, dtype=dtype)], []
    diverged = False
    for _ in range(steps):
        losses.append(float(step()))  # the loss at the point before this step
        position = np.array(point.numpy())
        if not (math.isfinite(losses[-1]) and np.all(np.isfinite(position))):
            diverged = True
            losses.pop()
            break
        points.append(position)
        if abs(losses[-1]) > DIVERGENCE_LOSS:
            diverged = True
            break
    final_loss = float(surface(*points[-1]))
    if not diverged and (not math.isfinite(final_loss) or abs(final_loss) > DIVERGENCE_LOSS):
        diverged = True
    losses = losses[: len(points) - 1] + [final_loss]
    return Trajectory(np.array(points), np.array(losses), diverged)


def steps_to_tolerance(losses, minimum_loss, tolerance):
    """The first step at which ``loss - minimum_loss < tolerance``, or None if never."""
    below = np.flatnonzero(np.asarray(losses) - minimum_loss < tolerance)
    return int(below[0]) if below.size else None


def summarize(plan, trajectory, tolerance):
    """The numbers of one path: where it ended, how far from the minimum, when it converged."""
    surface = plan.surface
    final_point = trajectory.points[-1]
    summary = {
        "learning_rate": plan.learning_rate,
        "steps": plan.steps,
        "steps_run": len(trajectory.points) - 1,
        "final_point": [float(value) for value in final_point],
        "final_loss": float(trajectory.losses[-1]),
        "distance": float(surface.distance_to_minimum(final_point)),
        "steps_to_tolerance": steps_to_tolerance(trajectory.losses, surface.minimum_loss, tolerance),
        "diverged": trajectory.diverged,
    }
    if surface.saddle_point is not None:
        summary["distance_from_saddle"] = float(math.dist(surface.saddle_point, final_point))
    return summary


def flat_metrics(summaries):
    """``metrics.json`` numbers: ``<function>/<optimizer>/distance`` and ``/final_loss`` per path,
    and per function ``best_distance_<function>`` and ``best_loss_<function>``."""
    metrics = {}
    for surface_name, by_optimizer in summaries.items():
        for optimizer_name, summary in by_optimizer.items():
            metrics[f"{surface_name}/{optimizer_name}/distance"] = summary["distance"]
            metrics[f"{surface_name}/{optimizer_name}/final_loss"] = summary["final_loss"]
            if "distance_from_saddle" in summary:
                metrics[f"{surface_name}/{optimizer_name}/distance_from_saddle"] = summary["distance_from_saddle"]
        metrics[f"best_distance_{surface_name}"] = min(s["distance"] for s in by_optimizer.values())
        metrics[f"best_loss_{surface_name}"] = min(s["final_loss"] for s in by_optimizer.values())
    return metrics


# 3. Pictures -----------------------------------------------------------------------------------


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def loss_grid(surface, resolution=CONTOUR_RESOLUTION):
    """The loss on a grid over the plotting window: ``(grid_x, grid_y, values)``, each (resolution, resolution)."""
    grid_x, grid_y = np.meshgrid(np.linspace(*surface.x_range, resolution), np.linspace(*surface.y_range, resolution))
    return grid_x, grid_y, surface(grid_x, grid_y)


def contour_levels(values, minimum_loss, count=CONTOUR_LEVELS):
    """Log-spaced contour levels of ``values - minimum_loss``: dense near the minimum, where paths end."""
    heights = np.asarray(values) - minimum_loss
    lowest = max(float(np.percentile(heights, 0.5)), 1e-6)
    return np.geomspace(lowest, float(heights.max()), count)


def draw_paths(surface, trajectories, labels, path):
    """Contours of ``surface`` with every trajectory, start and end marked, minima as stars.

    Args:
        trajectories: ``{optimizer name: Trajectory}``.
        labels: ``{optimizer name: legend label}``.
        path: the PNG to write.
    """
    import matplotlib.colors
    import matplotlib.ticker

    from dlzoo.plots import figures

    pyplot = _pyplot()
    grid_x, grid_y, values = loss_grid(surface)
    heights = values - surface.minimum_loss
    levels = contour_levels(values, surface.minimum_loss)
    figure, axis = pyplot.subplots(figsize=(8, 6.5))
    filled = axis.contourf(grid_x, grid_y, np.maximum(heights, levels[0]), levels=levels,
                           norm=matplotlib.colors.LogNorm(), cmap="Greys_r", alpha=0.55, extend="both")
    axis.contour(grid_x, grid_y, heights, levels=levels, colors="grey", linewidths=0.4)
    figure.colorbar(filled, ax=axis, label="loss − minimum (log scale)",
                    ticks=matplotlib.ticker.LogLocator(), format=matplotlib.ticker.LogFormatterSciNotation())
    colors = pyplot.get_cmap("tab10")
    for index, (name, trajectory) in enumerate(trajectories.items()):
        color = colors(index % 10)
        axis.plot(trajectory.points[:, 0], trajectory.points[:, 1], "-", color=color, linewidth=1.4,
                  marker=".", markersize=3, label=labels[name])
        axis.plot(*trajectory.points[-1], marker="X" if trajectory.diverged else "s", color=color,
                  markeredgecolor="black", markersize=8)
    axis.plot(*surface.start, "o", color="white", markeredgecolor="black", markersize=9, label="start")
    minima = np.array(surface.minima)
    axis.plot(minima[:, 0], minima[:, 1], "*", color="gold", markeredgecolor="black", markersize=16, label="minimum")
    if surface.saddle_point is not None:
        axis.plot(*surface.saddle_point, "P", color="tomato", markeredgecolor="black", markersize=10,
                  label="saddle point")
    axis.set_xlim(surface.x_range)
    axis.set_ylim(surface.y_range)
    axis.set_xlabel("x")
    axis.set_ylabel("y")
    steps = max(len(trajectory.points) - 1 for trajectory in trajectories.values())
    axis.set_title(f"{surface.name}: f(x, y) = {surface.formula}, {steps} steps (squares: end points)")
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=5)
    return figures.save_figure(figure, path)


def draw_losses(surface, trajectories, labels, tolerance, path):
    """Loss minus its minimum per step, log scale, one line per optimizer; the tolerance dashed."""
    from dlzoo.plots import figures

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(7, 4))
    floor = 1e-16  # log scale: a loss exactly at the minimum is drawn at the floor
    for name, trajectory in trajectories.items():
        axis.plot(np.maximum(trajectory.losses - surface.minimum_loss, floor), label=labels[name], linewidth=1.4)
    axis.axhline(tolerance, color="black", linestyle="--", linewidth=0.8, label=f"tolerance {tolerance:g}")
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss − minimum")
    axis.set_title(f"{surface.name}: f(x, y) = {surface.formula}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figures.save_figure(figure, path)


# 4. Report and files -------------------------------------------------------------------------


def report_section(summaries, tolerance, quick):
    """The report section: per function, a table of where each optimizer ended, and the pictures."""
    lines = ["## Optimizer paths on 2-D test functions\n",
             "Each optimizer starts from the same point and moves `(x, y)` downhill with the zoo's "
             "hand-written Keras optimizers (`dlzoo.optimizers`); gradients from `tf.GradientTape`. "
             f"*Steps to tolerance*: the first step where loss − minimum < {tolerance:g}.\n"]
    if quick:
        lines.append("> Quick run: a few steps only; the distances are not the recipe's results.\n")
    for surface_name, by_optimizer in summaries.items():
        surface = functions2d.get(surface_name)
        minima = " and ".join(f"({x:g}, {y:g})" for x, y in surface.minima)
        lines.append(f"### {surface_name}: f(x, y) = {surface.formula}\n")
        lines.append(f"Start ({surface.start[0]:g}, {surface.start[1]:g}), minimum {minima}. {surface.lesson}\n")
        header = ["optimizer", "learning rate", "steps", "final loss", "distance to minimum", "steps to tolerance"]
        if surface.saddle_point is not None:
            header.append("distance from saddle point")
        rows = []
        for optimizer_name, summary in by_optimizer.items():
            reached = summary["steps_to_tolerance"]
            row = [optimizer_name, summary["learning_rate"], summary["steps_run"], summary["final_loss"],
                   summary["distance"], "not reached" if reached is None else reached]
            if summary["diverged"]:
                row[0] += " (diverged)"
            if surface.saddle_point is not None:
                row.append(summary["distance_from_saddle"])
            rows.append(row)
        lines.append(report.markdown_table(header, rows) + "\n")
        lines.append(report.picture(f"paths_{surface_name}.png", f"Paths on {surface_name}"))
        lines.append(report.picture(f"loss_{surface_name}.png", f"Loss per step on {surface_name}"))
    return "\n".join(lines)


def trajectories_csv(all_trajectories):
    """Every point of every path as CSV: ``function, optimizer, step, x, y, loss``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["function", "optimizer", "step", "x", "y", "loss"])
    for surface_name, trajectories in all_trajectories.items():
        for optimizer_name, trajectory in trajectories.items():
            for step, ((x, y), loss) in enumerate(zip(trajectory.points, trajectory.losses)):
                writer.writerow([surface_name, optimizer_name, step, repr(float(x)), repr(float(y)), repr(float(loss))])
    return buffer.getvalue()


@register("optimizer-paths")
class OptimizerPathsTask(Task):
    """Run every optimizer of ``[paths]`` on every test function; draw and tabulate the paths.

    It trains no network on data: evaluate, export and predict have nothing to work on.
    """

    section = "paths"
    section_defaults = PATHS_DEFAULTS
    description = "optimizer paths on 2-D test functions (no model, no data)"
    uses_data = False
    resume_unsupported = "its descents take seconds and keep no checkpoints"

    def check_config(self, config):
        """Check ``[paths]`` before anything is imported or run."""
        read_paths_options(config.get("paths", {}))

    def metric_names(self, config):
        """The names :func:`flat_metrics` gives for the surfaces and optimizers of ``[paths]``
        (no TensorFlow: ``expect.metric`` is checked against them before anything runs)."""
        options = read_paths_options(config.get("paths", {}))
        names = set()
        for surface_name in options["functions"]:
            names |= {f"best_distance_{surface_name}", f"best_loss_{surface_name}"}
            per_path = ["distance", "final_loss"]
            if functions2d.get(surface_name).saddle_point is not None:
                per_path.append("distance_from_saddle")
            names |= {f"{surface_name}/{optimizer}/{key}" for optimizer in options["optimizers"] for key in per_path}
        return names

    def describe(self, prepared):
        """What is about to run, printed first."""
        return f"{len(prepared.plans)} descents (optimizer x test function)"

    def prepare(self, config, quick=False):
        """Check ``[paths]`` and build one optimizer per (function, optimizer); errors are usage errors."""
        options = read_paths_options(config.get("paths", {}))
        return PreparedPaths(options, build_plans(options, quick), quick)

    def run(self, prepared, folder):
        """Descend, then write the pictures, ``trajectories.csv`` and the report section."""
        options, folder = prepared.options, pathlib.Path(folder)
        start = time.perf_counter()
        trajectories, summaries = {}, {}
        for plan in prepared.plans:
            trajectory = descend(plan.surface, plan.optimizer, plan.steps)
            trajectories.setdefault(plan.surface.name, {})[plan.optimizer_name] = trajectory
            summaries.setdefault(plan.surface.name, {})[plan.optimizer_name] = summarize(
                plan, trajectory, options["tolerance"])
        descent_seconds = time.perf_counter() - start
        for surface_name, by_optimizer in trajectories.items():
            surface = functions2d.get(surface_name)
            labels = {name: f"{name} (lr {summaries[surface_name][name]['learning_rate']:g})" for name in by_optimizer}
            plots_folder = folder / "plots"
            draw_paths(surface, by_optimizer, labels, plots_folder / f"paths_{surface_name}.png")
            draw_losses(surface, by_optimizer, labels, options["tolerance"], plots_folder / f"loss_{surface_name}.png")
        folders.atomic_write_text(folder / "trajectories.csv", trajectories_csv(trajectories))
        section = report_section(summaries, options["tolerance"], prepared.quick)
        report.write_section(folder, "10-optimizer-paths", section)
        return {"metrics": flat_metrics(summaries), "paths": summaries, "train_seconds": descent_seconds,
                "steps_total": sum(len(t.points) - 1 for by in trajectories.values() for t in by.values())}
