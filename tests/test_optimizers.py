"""Tests for dlzoo.optimizers: hand-written optimizers against Keras built-ins (the oracle),
NumPy versions against the same built-ins, serialization, clipping and bad input."""

import os
import pathlib
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from dlzoo import optimizers  # noqa: E402
from dlzoo.optimizers import numpy_optimizers  # noqa: E402
from dlzoo.core.registry import UnknownNameError  # noqa: E402

STEPS = 100
RELATIVE_TOLERANCE = 1e-5

# name -> (options for ours, the Keras built-in with the same hyper-parameters). The values
# differ from the defaults on purpose, so that a hyper-parameter that is ignored shows up.
# The learning rates are small enough for the 100 steps to stay away from the oscillating
# regime of RMSProp and Adam, where a float32 rounding difference (graph vs eager, or a
# different order of operations) grows step after step far beyond 1e-5.
CASES = {
    "sgd": ({"learning_rate": 0.1}, lambda: keras.optimizers.SGD(0.1)),
    "momentum": (
        {"learning_rate": 0.05, "momentum": 0.9},
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    ),
    "nesterov": (
        {"learning_rate": 0.05, "momentum": 0.8},
        lambda: keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    ),
    "adagrad": (
        {"learning_rate": 0.1, "initial_accumulator_value": 0.2, "epsilon": 1e-6},
        lambda: keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.2, epsilon=1e-6),
    ),
    "rmsprop": (
        {"learning_rate": 0.001, "rho": 0.8, "epsilon": 1e-6},
        lambda: keras.optimizers.RMSprop(0.001, rho=0.8, epsilon=1e-6),
    ),
    "adam": (
        {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
        lambda: keras.optimizers.Adam(0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
    ),
}
NAMES = list(CASES)


def make_data():
    """A tiny regression problem: (32, 4) inputs, (32, 1) targets."""
    generator = np.random.default_rng(0)
    inputs = generator.normal(size=(32, 4)).astype("float32")
    targets = np.sin(inputs.sum(axis=1, keepdims=True)).astype("float32")
    return inputs, targets


def make_model():
    """4 -> 8 (tanh) -> 1, with the same initial weights every call."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )


def tape_gradients(model, inputs, targets):
    """Gradients of the mean squared error with respect to the model's weights."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs) - targets))
    return tape.gradient(loss, model.trainable_variables)


def numpy_gradients(params, inputs, targets):
    """The same gradients as tape_gradients, by hand: params = [w1 (4, 8), b1, w2 (8, 1), b2]."""
    weights_1, bias_1, weights_2, bias_2 = params
    hidden = np.tanh(inputs @ weights_1 + bias_1)  # (32, 8)
    outputs = hidden @ weights_2 + bias_2  # (32, 1)
    output_error = 2.0 * (outputs - targets) / outputs.size  # d loss / d outputs
    hidden_error = (output_error @ weights_2.T) * (1.0 - hidden**2)  # (32, 8)
    grads = [
        inputs.T @ hidden_error, hidden_error.sum(0), hidden.T @ output_error, output_error.sum(0)
    ]
    return [grad.astype("float32") for grad in grads]


def train_with_tape(optimizer, steps=STEPS, compiled=True):
    """Train make_model() for ``steps`` full-batch steps; return the final weights.

    With ``compiled``, the step runs as a tf.function, as in ``model.fit``: tracing it takes a
    moment, and then each step is several times faster than eager.
    """
    inputs, targets = make_data()
    model = make_model()

    def train_step():
        grads = tape_gradients(model, inputs, targets)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    if compiled:
        train_step = tf.function(train_step)

    for _ in range(steps):
        train_step()
    return [variable.numpy() for variable in model.trainable_variables]


def max_relative_deviation(actual, expected):
    """Largest element-wise |actual - expected| / |expected| over a list of arrays."""
    deviations = [
        np.max(np.abs(a - e) / np.maximum(np.abs(e), np.finfo(np.float32).tiny))
        for a, e in zip(actual, expected)
    ]
    return float(max(deviations))


def assert_close(actual, expected):
    """Every array element within RELATIVE_TOLERANCE (relative) of the expected one."""
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=RELATIVE_TOLERANCE, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_hand_written_optimizer_matches_keras_builtin(name):
    options, make_builtin = CASES[name]
    initial = [variable.numpy() for variable in make_model().trainable_variables]
    expected = train_with_tape(make_builtin())
    actual = train_with_tape(optimizers.get(name, **options))
    # The weights moved (the comparison is not between two untouched models) ...
    assert max(np.max(np.abs(e - i)) for e, i in zip(expected, initial)) > 0.05
    # ... and moved the same way.
    print(f"{name}: hand-written vs Keras, max relative deviation "
          f"{max_relative_deviation(actual, expected):.2e}")
    assert_close(actual, expected)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_optimizer_matches_keras_builtin(name):
    options, make_builtin = CASES[name]
    inputs, targets = make_data()
    # Both sides use numpy_gradients, so only the optimizers' arithmetic can differ. Keras
    # runs eagerly here, one operation at a time like NumPy (a tf.function may fuse or
    # reorder operations, which changes the float32 rounding a little).
    keras_variables = make_model().trainable_variables
    builtin = make_builtin()
    for _ in range(STEPS):
        params = [variable.numpy() for variable in keras_variables]
        builtin.apply_gradients(zip(numpy_gradients(params, inputs, targets), keras_variables))
    expected = [variable.numpy() for variable in keras_variables]

    params = [variable.numpy().copy() for variable in make_model().trainable_variables]
    numpy_optimizer = numpy_optimizers.get_numpy_optimizer(name, **options)
    for _ in range(STEPS):
        numpy_optimizer.step(params, numpy_gradients(params, inputs, targets))
    assert numpy_optimizer.iterations == STEPS
    assert all(param.dtype == np.float32 for param in params)
    print(f"{name}: NumPy vs Keras, max relative deviation "
          f"{max_relative_deviation(params, expected):.2e}")
    assert_close(params, expected)


def test_numpy_step_updates_arrays_in_place():
    params = [np.ones((2, 3), dtype="float32")]
    original = params[0]
    numpy_optimizers.NumpySGD(learning_rate=0.5).step(params, [np.ones((2, 3), "float32")])
    assert params[0] is original
    np.testing.assert_allclose(original, 0.5)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name):
    options, _ = CASES[name]
    optimizer = optimizers.get(name, clipnorm=2.0, **options)
    config = optimizer.get_config()
    rebuilt = type(optimizer).from_config(config)
    assert rebuilt.get_config() == config
    # Every hyper-parameter is in the config and reaches the rebuilt optimizer.
    for key, value in options.items():
        assert config[key] == pytest.approx(value)
        if key != "learning_rate":
            assert getattr(rebuilt, key) == pytest.approx(value)
    assert rebuilt.clipnorm == 2.0
    # The registered name lets Keras rebuild it from a serialized dict alone.
    serialized = keras.optimizers.serialize(optimizer)
    assert serialized["registered_name"].startswith("dlzoo>")
    deserialized = keras.optimizers.deserialize(serialized)
    assert type(deserialized) is type(optimizer)
    assert deserialized.get_config() == config


@pytest.mark.parametrize("name", NAMES)
def test_model_save_and_load_keeps_the_optimizer(name, tmp_path):
    options, _ = CASES[name]
    inputs, targets = make_data()
    model = make_model()
    model.compile(optimizer=optimizers.get(name, **options), loss="mse")
    for _ in range(3):
        grads = tape_gradients(model, inputs, targets)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    path = tmp_path / "model.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    # The optimizer state (step counter, velocities, moments ...) survives the round trip.
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))


def test_model_save_and_load_with_a_schedule(tmp_path):
    schedule = {"schedule": "cosine", "initial": 0.1, "decay_steps": 10}
    model = make_model()
    model.compile(optimizer=optimizers.get("adam", learning_rate=schedule), loss="mse")
    inputs, targets = make_data()
    grads = tape_gradients(model, inputs, targets)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


@pytest.mark.parametrize("clip_option", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_trains_with_every_clipping_option(name, clip_option):
    options, _ = CASES[name]
    initial = [variable.numpy() for variable in make_model().trainable_variables]
    optimizer = optimizers.get(name, **options, **{clip_option: 0.5})
    final = train_with_tape(optimizer, steps=3, compiled=False)
    assert all(np.all(np.isfinite(weights)) for weights in final)
    assert any(np.any(f != i) for f, i in zip(final, initial))


@pytest.mark.parametrize(
    "base_options",
    [{"clipnorm": 0.1}, {"clipvalue": 0.01}, {"global_clipnorm": 0.1}, {"weight_decay": 0.05}],
    ids=lambda options: next(iter(options)),
)
def test_clipping_and_weight_decay_match_keras_builtin(base_options):
    builtin = keras.optimizers.SGD(0.05, momentum=0.9, **base_options)
    ours = optimizers.get("momentum", learning_rate=0.05, **base_options)
    expected = train_with_tape(builtin, steps=10, compiled=False)
    actual = train_with_tape(ours, steps=10, compiled=False)
    assert_close(actual, expected)
    # The option did act: the weights differ from a run without it.
    plain = optimizers.get("momentum", learning_rate=0.05)
    unclipped = train_with_tape(plain, steps=10, compiled=False)
    assert any(np.max(np.abs(a - u)) > 1e-4 for a, u in zip(actual, unclipped))


def one_sgd_step(**clip_options):
    """One SGD step (learning rate 0.1) on targets far away, so gradients are large.

    Returns (change of each weight array, gradient of each weight array).
    """
    inputs, targets = make_data()
    targets = targets + 100.0
    model = make_model()
    before = [variable.numpy() for variable in model.trainable_variables]
    grads = tape_gradients(model, inputs, targets)
    optimizers.get("sgd", learning_rate=0.1, **clip_options).apply_gradients(
        zip(grads, model.trainable_variables)
    )
    changes = [variable.numpy() - old for variable, old in zip(model.trainable_variables, before)]
    return changes, [grad.numpy() for grad in grads]


def test_clipvalue_bounds_every_weight_change():
    changes, grads = one_sgd_step(clipvalue=0.05)
    assert max(np.max(np.abs(grad)) for grad in grads) > 1.0  # so clipping had work to do
    # Each change is at most learning_rate * clipvalue (up to float32 rounding of w + change).
    for change in changes:
        assert np.max(np.abs(change)) <= 0.1 * 0.05 * (1 + 1e-4)
    assert max(np.max(np.abs(change)) for change in changes) > 0.1 * 0.05 * (1 - 1e-4)


def test_clipnorm_bounds_each_weight_arrays_change():
    changes, grads = one_sgd_step(clipnorm=1e-2)
    assert all(np.linalg.norm(grad) > 1.0 for grad in grads)
    for change in changes:
        np.testing.assert_allclose(np.linalg.norm(change), 0.1 * 1e-2, rtol=1e-4)


def test_global_clipnorm_bounds_the_joint_change():
    changes, grads = one_sgd_step(global_clipnorm=1e-2)
    assert np.sqrt(sum(np.sum(grad**2) for grad in grads)) > 1.0
    joint_norm = np.sqrt(sum(np.sum(change**2) for change in changes))
    np.testing.assert_allclose(joint_norm, 0.1 * 1e-2, rtol=1e-4)


def test_get_returns_keras_builtins_with_options():
    adamw = optimizers.get("keras.adamw", learning_rate=0.01, weight_decay=0.1)
    assert isinstance(adamw, keras.optimizers.AdamW)
    assert adamw.weight_decay == 0.1
    # Whole numbers are accepted where Keras insists on floats.
    sgd = optimizers.get("keras.sgd", learning_rate=1, momentum=0)
    assert isinstance(sgd, keras.optimizers.SGD)
    assert float(sgd.learning_rate) == 1.0
    assert isinstance(optimizers.get("keras.RMSprop"), keras.optimizers.RMSprop)


def built_in_names():
    """The zoo's own optimizers (plug-ins that other tests of this process registered left out)."""
    return [name for name in optimizers.names() if name not in optimizers.OPTIMIZERS.replaceable]


def test_names_and_option_names():
    assert built_in_names() == sorted(NAMES)
    assert "keras.adamw" in optimizers.keras_names()
    assert optimizers.option_names("momentum") == [
        "learning_rate", "momentum", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay"
    ]
    assert set(optimizers.option_names("adam")) >= {"beta_1", "beta_2", "epsilon", "clipvalue"}
    assert "initial_accumulator_value" in optimizers.option_names("adagrad")
    assert "amsgrad" in optimizers.option_names("keras.adam")
    assert "name" not in optimizers.option_names("sgd")


def test_build_optimizer_from_a_recipe_section():
    section = {
        "name": "nesterov",
        "learning_rate": {"schedule": "step", "initial": 0.1, "boundaries": [10], "factor": 0.5},
        "momentum": 0.95,
        "global_clipnorm": 1,
    }
    optimizer = optimizers.build_optimizer(section)
    assert isinstance(optimizer, optimizers.Nesterov)
    assert optimizer.momentum == 0.95
    assert optimizer.global_clipnorm == 1.0
    assert section["name"] == "nesterov"  # the caller's table is left as it was


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optimizers.get("adma"), "did you mean 'adam'"),
        (lambda: optimizers.get("adamw"), "keras.adamw"),
        (lambda: optimizers.get("keras.adamm"), "did you mean 'keras.adam"),
        (lambda: optimizers.get("sgd", learning_rate=-0.1), "learning_rate.*-0.1"),
        (lambda: optimizers.get("sgd", learning_rate="0.1"), "learning_rate.*'0.1'"),
        (lambda: optimizers.get("sgd", learning_rate=True), "learning_rate.*True"),
        (lambda: optimizers.get("sgd", learning_rate=float("nan")), "learning_rate.*nan"),
        (lambda: optimizers.get("momentum", momentum=1.0), r"momentum must be in \[0.0, 1.0\)"),
        (lambda: optimizers.get("nesterov", momentum=-0.1), "momentum.*-0.1"),
        (lambda: optimizers.get("sgd", clipnorm=0), "clipnorm.*0"),
        (lambda: optimizers.get("adam", clipvalue=-1.0), "clipvalue.*-1.0"),
        (lambda: optimizers.get("rmsprop", global_clipnorm=0.0), "global_clipnorm.*0.0"),
        (lambda: optimizers.get("sgd", clipnorm=1.0, clipvalue=1.0), "one gradient clipping"),
        (lambda: optimizers.get("adam", beta_1=1.0), "beta_1.*1.0"),
        (lambda: optimizers.get("adam", beta_2=-0.5), "beta_2.*-0.5"),
        (lambda: optimizers.get("adam", epsilon=-1e-7), "epsilon.*-1e-07"),
        (lambda: optimizers.get("rmsprop", rho=1.5), "rho.*1.5"),
        (lambda: optimizers.get("adagrad", initial_accumulator_value=-1), "initial_accumulator"),
        (lambda: optimizers.get("momentum", momentun=0.9), "'momentun'.*did you mean 'momentum'"),
        (lambda: optimizers.get("sgd", momentum=0.9), "unknown option 'momentum'.*valid options"),
        (lambda: optimizers.get("keras.adam", learning_rate=-1.0), "learning_rate.*-1.0"),
        (lambda: optimizers.get("keras.sgd", momentum=2.0), "momentum.*2.0"),
        (lambda: optimizers.get("keras.adam", bet_1=0.9), "did you mean 'beta_1'"),
        (lambda: optimizers.Adam(beta_1=1.5), "beta_1.*1.5"),
        (lambda: optimizers.build_optimizer({"learning_rate": 0.1}), "'name'"),
        (lambda: optimizers.build_optimizer("adam"), "table"),
        (lambda: optimizers.option_names("sdg"), "did you mean 'sgd'"),
    ],
)
def test_bad_input_raises_a_value_error_naming_it(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_name_error_type():
    with pytest.raises(UnknownNameError):
        optimizers.get("sgdd")
    with pytest.raises(UnknownNameError):
        numpy_optimizers.get_numpy_optimizer("adamm")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: numpy_optimizers.get_numpy_optimizer("adam", beta_1=1.0), "beta_1"),
        (lambda: numpy_optimizers.get_numpy_optimizer("sgd", learning_rate=-1), "learning_rate"),
        (lambda: numpy_optimizers.get_numpy_optimizer("rmsprop", rh=0.9), "did you mean 'rho'"),
        (lambda: numpy_optimizers.get_numpy_optimizer("momentum", momentum=1.0), "momentum"),
    ],
)
def test_numpy_bad_options(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_numpy_bad_arrays():
    optimizer = numpy_optimizers.NumpyAdam()
    with pytest.raises(ValueError, match="shape"):
        optimizer.step([np.zeros((2, 3), "float32")], [np.zeros((3, 2), "float32")])
    with pytest.raises(ValueError, match="floating-point"):
        optimizer.step([np.zeros(3, dtype=int)], [np.zeros(3)])
    with pytest.raises(ValueError, match="1 params but 2 grads"):
        optimizer.step([np.zeros(3)], [np.zeros(3), np.zeros(3)])
    optimizer.step([np.zeros(3)], [np.ones(3)])
    with pytest.raises(ValueError, match="changed since the first step"):
        optimizer.step([np.zeros(4)], [np.ones(4)])


def test_optimizers_package_does_not_import_tensorflow():
    package = pathlib.Path(optimizers.__file__).parent
    sources = sorted(package.rglob("*.py"))
    assert len(sources) >= 8
    pattern = re.compile(r"^\s*(import\s+tensorflow|from\s+tensorflow)", re.MULTILINE)
    offenders = [str(path) for path in sources if pattern.search(path.read_text())]
    assert offenders == []
