"""Tests for dlzoo.optimizers.schedules: learning rates from numbers and schedule tables."""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlzoo import optimizers  # noqa: E402
from dlzoo.optimizers.schedules import build_learning_rate, schedule_names  # noqa: E402
from dlzoo.core.registry import UnknownNameError  # noqa: E402


def learning_rate_at(schedule, step):
    """The schedule's learning rate at optimizer step ``step``, as a Python float."""
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_numbers_pass_through_as_floats():
    assert build_learning_rate(0.01) == 0.01
    assert build_learning_rate(1) == 1.0
    assert isinstance(build_learning_rate(1), float)
    ready_made = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert build_learning_rate(ready_made) is ready_made


def test_schedule_names():
    assert schedule_names() == ["cosine", "exponential", "step", "warmup_cosine"]


@pytest.mark.parametrize(
    "step, expected",
    [(0, 0.1), (100, 0.1), (101, 0.01), (200, 0.01), (201, 0.001), (10_000, 0.001)],
)
def test_step_schedule(step, expected):
    schedule = build_learning_rate(
        {"schedule": "step", "initial": 0.1, "boundaries": [100, 200], "factor": 0.1}
    )
    assert isinstance(schedule, keras.optimizers.schedules.PiecewiseConstantDecay)
    assert learning_rate_at(schedule, step) == pytest.approx(expected, rel=1e-6)


def test_step_schedule_default_factor_is_a_tenth():
    schedule = build_learning_rate({"schedule": "step", "initial": 1.0, "boundaries": [5]})
    assert learning_rate_at(schedule, 6) == pytest.approx(0.1)


@pytest.mark.parametrize("staircase, step, expected", [
    (False, 0, 0.1), (False, 10, 0.05), (False, 5, 0.1 * 0.5**0.5), (False, 20, 0.025),
    (True, 5, 0.1), (True, 19, 0.05), (True, 20, 0.025),
])
def test_exponential_schedule(staircase, step, expected):
    schedule = build_learning_rate({
        "schedule": "exponential", "initial": 0.1, "decay_steps": 10, "decay_rate": 0.5,
        "staircase": staircase,
    })
    assert learning_rate_at(schedule, step) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("step, expected", [
    (0, 0.1),
    (50, 0.1 * (0.9 * 0.5 + 0.1)),  # half way: cosine factor 0.5, floor alpha = 0.1
    (25, 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi / 4)) + 0.1)),
    (100, 0.01),
    (500, 0.01),  # stays at initial * alpha after decay_steps
])
def test_cosine_schedule(step, expected):
    schedule = build_learning_rate(
        {"schedule": "cosine", "initial": 0.1, "decay_steps": 100, "alpha": 0.1}
    )
    assert learning_rate_at(schedule, step) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("schedule_name", ["warmup_cosine", "cosine"])
@pytest.mark.parametrize("step, expected", [
    (0, 0.0),       # warmup starts at warmup_start (0.0 by default)
    (5, 0.05),      # linear: half way up
    (10, 0.1),      # peak = initial
    (60, 0.05),     # half way through the cosine decay (alpha 0)
    (110, 0.0),
    (1000, 0.0),
])
def test_warmup_cosine_schedule(schedule_name, step, expected):
    schedule = build_learning_rate(
        {"schedule": schedule_name, "initial": 0.1, "warmup_steps": 10, "decay_steps": 100}
    )
    assert learning_rate_at(schedule, step) == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_warmup_start():
    schedule = build_learning_rate({
        "schedule": "warmup_cosine", "initial": 0.1, "warmup_steps": 10, "decay_steps": 100,
        "warmup_start": 0.02,
    })
    assert learning_rate_at(schedule, 0) == pytest.approx(0.02)
    assert learning_rate_at(schedule, 5) == pytest.approx(0.06)


@pytest.mark.parametrize("value, message", [
    ({"schedule": "cosin", "initial": 0.1, "decay_steps": 10}, "did you mean 'cosine'"),
    ({"initial": 0.1, "decay_steps": 10}, "'schedule' key"),
    ({"schedule": "cosine", "initial": 0.1}, "needs the key.*decay_steps"),
    ({"schedule": "warmup_cosine", "initial": 0.1, "decay_steps": 10}, "warmup_steps"),
    ({"schedule": "cosine", "initial": 0.1, "decay_step": 10},
     "'decay_step'.*did you mean 'decay_steps'"),
    ({"schedule": "step", "initial": 0.1, "boundaries": [200, 100]}, "strictly increasing"),
    ({"schedule": "step", "initial": 0.1, "boundaries": []}, "boundaries"),
    ({"schedule": "step", "initial": 0.1, "boundaries": [1.5]}, "boundaries.*1.5"),
    ({"schedule": "step", "initial": 0.1, "boundaries": [10], "factor": -1}, "factor.*-1"),
    ({"schedule": "exponential", "initial": 0.1, "decay_steps": 0, "decay_rate": 0.5},
     "decay_steps.*0"),
    ({"schedule": "exponential", "initial": 0.1, "decay_steps": 10, "decay_rate": 0.5,
      "staircase": "yes"}, "staircase"),
    ({"schedule": "cosine", "initial": -0.1, "decay_steps": 10}, "initial.*-0.1"),
    ({"schedule": "cosine", "initial": 0, "decay_steps": 10}, "initial.*> 0"),
    ({"schedule": "cosine", "initial": 0.1, "decay_steps": 10, "alpha": 2.0}, "alpha.*2.0"),
    ({"schedule": "cosine", "initial": 0.1, "decay_steps": True}, "decay_steps.*True"),
    (-0.5, "learning_rate.*-0.5"),
    ("fast", "learning_rate.*'fast'"),
    (False, "learning_rate.*False"),
    (None, "learning_rate.*None"),
])
def test_bad_learning_rates_raise_value_error(value, message):
    with pytest.raises(ValueError, match=message):
        build_learning_rate(value)


def test_unknown_schedule_is_an_unknown_name_error():
    with pytest.raises(UnknownNameError):
        build_learning_rate({"schedule": "linear", "initial": 0.1})


SCHEDULE_TABLES = [
    {"schedule": "step", "initial": 0.05, "boundaries": [1], "factor": 0.5},
    {"schedule": "exponential", "initial": 0.05, "decay_steps": 2, "decay_rate": 0.5},
    {"schedule": "cosine", "initial": 0.05, "decay_steps": 4},
    {"schedule": "warmup_cosine", "initial": 0.05, "warmup_steps": 1, "decay_steps": 4},
]


@pytest.mark.parametrize("table", SCHEDULE_TABLES, ids=lambda table: table["schedule"])
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_every_optimizer_trains_under_every_schedule(name, table):
    keras.utils.set_random_seed(0)
    weights = keras.Variable(np.ones((3, 2), dtype="float32"))
    optimizer = optimizers.build_optimizer({"name": name, "learning_rate": dict(table)})
    gradient = np.full((3, 2), 0.5, dtype="float32")
    rates = []
    for _ in range(3):
        rates.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        optimizer.apply_gradients([(gradient, weights)])
    final = keras.ops.convert_to_numpy(weights)
    assert np.all(np.isfinite(final))
    assert np.all(final < 1.0)  # a positive gradient moves every weight down
    assert rates[0] != rates[2]  # the schedule changed the learning rate while training
