"""The ``optimizers-2d`` recipe: the 2-D test functions, the optimizers' paths on them, the
pictures and report of the ``optimizer-paths`` task, and its checks of the ``[paths]`` table."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlzoo import optimizers  # noqa: E402
from dlzoo.core.registry import UnknownNameError  # noqa: E402
from dlzoo.scratch import functions2d  # noqa: E402
from dlzoo.tasks import optimizer_paths  # noqa: E402
from helpers import shared_run  # noqa: E402

SURFACE_NAMES = functions2d.names()


def tape_gradient(surface, point):
    """The gradient of ``surface`` at ``point`` from ``tf.GradientTape``, in float64."""
    import tensorflow as tf

    variable = tf.Variable(np.asarray(point, dtype="float64"))
    with tf.GradientTape() as tape:
        loss = surface(variable[0], variable[1])
    return tape.gradient(loss, variable).numpy()


def neighbours(point, radius=1e-3, count=8):
    """``count`` points on a small circle around ``point``."""
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return np.asarray(point) + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def final_distance(surface_name, optimizer_name, learning_rate, steps):
    """Distance to the minimum after ``steps`` steps of one of the zoo's optimizers."""
    surface = functions2d.get(surface_name)
    trajectory = optimizer_paths.descend(surface, optimizers.get(optimizer_name, learning_rate=learning_rate), steps)
    return surface.distance_to_minimum(trajectory.points[-1])


def prepare(**paths):
    """The task's prepare() on a config holding only ``[paths]``."""
    return optimizer_paths.OptimizerPathsTask().prepare({"paths": paths}, quick=True)


# The test functions -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SURFACE_NAMES)
def test_gradient_vanishes_at_each_minimum_and_the_minimum_is_lowest(name):
    surface = functions2d.get(name)
    for minimum in surface.minima:
        np.testing.assert_allclose(tape_gradient(surface, minimum), [0.0, 0.0], atol=1e-12)
        assert surface(*minimum) == pytest.approx(surface.minimum_loss)
        around = surface(neighbours(minimum)[:, 0], neighbours(minimum)[:, 1])
        assert np.all(around > surface.minimum_loss)
    assert surface(*surface.start) > surface.minimum_loss + 1.0  # the start is well above the minimum
    assert surface.x_range[0] < surface.start[0] < surface.x_range[1]
    assert surface.y_range[0] < surface.start[1] < surface.y_range[1]


def test_saddle_point_is_flat_but_not_a_minimum():
    surface = functions2d.get("saddle")
    np.testing.assert_allclose(tape_gradient(surface, surface.saddle_point), [0.0, 0.0], atol=1e-12)
    around = surface(neighbours(surface.saddle_point)[:, 0], neighbours(surface.saddle_point)[:, 1])
    center = surface(*surface.saddle_point)
    assert np.any(around > center) and np.any(around < center)


def test_same_loss_on_numpy_grids_and_tensors():
    import tensorflow as tf

    points = np.array([[-1.2, 1.0], [0.3, -0.7], [2.0, 0.5]])
    for name in SURFACE_NAMES:
        surface = functions2d.get(name)
        on_tensors = surface(tf.constant(points[:, 0]), tf.constant(points[:, 1])).numpy()
        np.testing.assert_allclose(surface(points[:, 0], points[:, 1]), on_tensors, rtol=1e-12)


def test_distance_is_to_the_nearest_minimum():
    surface = functions2d.get("saddle")
    assert surface.distance_to_minimum((0.0, -0.9)) == pytest.approx(0.1)
    assert surface.nearest_minimum((0.2, 0.8)) == (0.0, 1.0)


# The optimizers on them ------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer_name", optimizers.names())
def test_every_optimizer_reduces_the_quadratic_loss(optimizer_name):
    surface = functions2d.get("quadratic")
    learning_rate = surface.learning_rates[optimizer_name]
    trajectory = optimizer_paths.descend(surface, optimizers.get(optimizer_name, learning_rate=learning_rate), 30)
    assert not trajectory.diverged
    assert trajectory.points.shape == (31, 2) and trajectory.losses.shape == (31,)
    assert trajectory.losses[-1] < 0.5 * trajectory.losses[0]


@pytest.mark.parametrize("learning_rate", [0.01, 0.03, 0.1])
def test_momentum_beats_sgd_on_the_ill_conditioned_bowl_at_equal_learning_rate(learning_rate):
    # Measured after 100 steps: sgd 8.14 / 6.66 / 3.29 from the minimum, momentum 3.32 / 0.094 / 0.024.
    sgd = final_distance("quadratic", "sgd", learning_rate, 100)
    assert final_distance("quadratic", "momentum", learning_rate, 100) < 0.5 * sgd


@pytest.mark.parametrize("learning_rate", [0.1, 0.15])
def test_adam_beats_sgd_on_the_ill_conditioned_bowl_at_large_equal_learning_rates(learning_rate):
    # Adam steps ~learning_rate along the flat x direction, SGD only 0.1 * learning_rate * x.
    # Measured after 100 steps: sgd 3.29 / 1.99, adam 1.55 / 0.17. At rates <= 0.01 the two are close.
    sgd = final_distance("quadratic", "sgd", learning_rate, 100)
    assert final_distance("quadratic", "adam", learning_rate, 100) < 0.5 * sgd


def test_sgd_above_two_over_curvature_diverges_and_stops_early():
    surface = functions2d.get("quadratic")  # largest curvature 10: stable only below 0.2
    trajectory = optimizer_paths.descend(surface, optimizers.get("sgd", learning_rate=0.5), 100)
    assert trajectory.diverged and len(trajectory.points) < 100
    assert np.all(np.isfinite(trajectory.points)) and len(trajectory.losses) == len(trajectory.points)


def test_steps_to_tolerance():
    assert optimizer_paths.steps_to_tolerance([5.0, 1.0, 0.01, 0.0001], 0.0, 1e-3) == 3
    assert optimizer_paths.steps_to_tolerance([5.0, 1.0], 0.0, 1e-3) is None


# The task ---------------------------------------------------------------------------------------------


def test_task_writes_one_picture_per_function_and_the_report_table(tmp_path):
    task = optimizer_paths.OptimizerPathsTask()
    prepared = task.prepare({"paths": {"functions": ["saddle"], "optimizers": ["sgd", "adam"], "quick_steps": 5}},
                            quick=True)
    results = task.run(prepared, tmp_path)
    pictures = sorted(path.name for path in (tmp_path / "plots").iterdir())
    assert pictures == ["loss_saddle.png", "paths_saddle.png"]
    assert all((tmp_path / "plots" / name).stat().st_size > 10_000 for name in pictures)
    section = (tmp_path / "sections" / "10-optimizer-paths.md").read_text()
    assert section.count("| optimizer | learning rate |") == 1
    assert "| adam | 0.03 | 5 |" in section and "distance from saddle point" in section
    metrics = results["metrics"]
    assert metrics["best_distance_saddle"] == min(metrics["saddle/sgd/distance"], metrics["saddle/adam/distance"])
    assert all(isinstance(value, float) for value in metrics.values())
    assert results["paths"]["saddle"]["sgd"]["steps_run"] == 5
    rows = (tmp_path / "trajectories.csv").read_text().strip().splitlines()
    assert rows[0] == "function,optimizer,step,x,y,loss" and len(rows) == 1 + 2 * 6


def test_recipe_values_override_the_defaults():
    prepared = prepare(functions=["rosenbrock"], optimizers=["sgd", "adam"], steps=7,
                       learning_rates={"rosenbrock": {"adam": 0.2}})
    rates = {plan.optimizer_name: plan.learning_rate for plan in prepared.plans}
    assert rates == {"sgd": functions2d.get("rosenbrock").learning_rates["sgd"], "adam": 0.2}
    assert optimizer_paths.steps_for(prepared.options, functions2d.get("rosenbrock"), quick=False) == 7
    assert optimizer_paths.steps_for(prepared.options, functions2d.get("rosenbrock"), quick=True) == 20
    per_function = optimizer_paths.read_paths_options({"steps": {"saddle": 30}})
    assert optimizer_paths.steps_for(per_function, functions2d.get("saddle"), quick=False) == 30
    assert optimizer_paths.steps_for(per_function, functions2d.get("quadratic"), quick=False) == 200


@pytest.mark.parametrize("paths, error, message", [
    ({"function": ["quadratic"]}, ValueError, "unknown key 'paths.function'; did you mean 'functions'"),
    ({"functions": ["rosenbrok"]}, UnknownNameError, "did you mean 'rosenbrock'"),
    ({"optimizers": ["adamm"]}, UnknownNameError, "did you mean 'adam'"),
    ({"optimizers": ["keras.adam"]}, ValueError, "set paths.learning_rates.quadratic.keras.adam"),
    ({"functions": []}, ValueError, "paths.functions must be a non-empty list"),
    ({"optimizers": ["sgd", "sgd"]}, ValueError, "lists sgd more than once"),
    ({"steps": 0}, ValueError, "paths.steps must be a whole number >= 1, got 0"),
    ({"steps": {"saddle": 2.5}}, ValueError, "paths.steps.saddle must be a whole number"),
    ({"steps": {"sadle": 10}}, ValueError, "did you mean 'saddle'"),
    ({"quick_steps": True}, ValueError, "paths.quick_steps must be a whole number"),
    ({"tolerance": -1.0}, ValueError, "paths.tolerance must be a number > 0"),
    ({"learning_rates": {"quadratic": {"sdg": 0.1}}}, ValueError, "did you mean 'sgd'"),
    ({"learning_rates": {"quadratic": {"sgd": 0}}}, ValueError, "learning_rates.quadratic.sgd must be a number > 0"),
    ({"learning_rates": {"quadratic": 0.1}}, ValueError, "must be a table"),
])
def test_bad_paths_options_are_refused_up_front(paths, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        prepare(**paths)


# Through the command line ---------------------------------------------------------------------------


def test_recipe_trains_through_the_cli(tmp_path_factory):
    folder = shared_run(tmp_path_factory, "optimizers-2d", "--quick").folder
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["target"]["metric"] == "best_distance_rosenbrock" and record["target"]["value"] is not None
    assert {"quadratic/adam/distance", "saddle/sgd/distance_from_saddle"} <= set(record["metrics"])
    assert sorted(path.name for path in (folder / "plots").glob("paths_*.png")) == [
        "paths_quadratic.png", "paths_rosenbrock.png", "paths_saddle.png"]
    report = (folder / "report.md").read_text()
    assert "plots/paths_rosenbrock.png" in report and "## More pictures" not in report


def test_bad_paths_key_exits_with_usage_error_and_no_run_folder(cli_run, tmp_path):
    result = cli_run("train", "optimizers-2d", "--quick", "--set", "paths.stepz=3", "--runs", tmp_path / "runs")
    assert result.exit_code == 2
    assert "unknown key 'paths.stepz'" in result.output + result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))
