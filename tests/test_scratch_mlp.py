"""Tests of the from-scratch NumPy MLP: backprop oracles, dropout, training, Keras twin, errors."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn import datasets, model_selection  # noqa: E402

from dlzoo.scratch import gradient_check, mlp  # noqa: E402
from dlzoo.scratch.mlp import ACTIVATIONS, HISTORY_KEYS, NumpyMLP, train  # noqa: E402


class PlainSGD:
    """The smallest optimizer with the ``step(params, grads)`` interface: w <- w - lr * g."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def step(self, params, grads):
        for param, grad in zip(params, grads):
            param -= self.learning_rate * grad


def small_problem(samples=6, features=5, classes=3, seed=0):
    """A few random samples with integer labels, for the gradient oracles."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(samples, features)), rng.integers(0, classes, size=samples)


@pytest.fixture(scope="module")
def digits():
    """Standardized digits, 64 features, stratified 80/20 split (statistics from train only)."""
    data = datasets.load_digits()
    features = (data.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        features, data.target, test_size=0.2, stratify=data.target, random_state=0)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


# -- backprop oracles ----------------------------------------------------------------------------


@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_check_agrees_with_finite_differences(activation, l2):
    x, y = small_problem()
    model = NumpyMLP([5, 7, 6, 3], activation=activation, l2=l2, dropout_rate=0.3, seed=1)
    result = gradient_check.gradient_check(model, x, y)
    assert result["max_relative_error"] < 1e-6, result
    assert [entry["name"] for entry in result["per_parameter"]] == model.parameter_names()


def test_gradient_check_catches_a_wrong_backward_pass(monkeypatch):
    x, y = small_problem()
    # A backward pass that "forgets" the derivative of tanh (the check copies the model, so
    # the bug goes into the table the copy reads its activation from).
    monkeypatch.setitem(mlp._ACTIVATION_FUNCTIONS, "tanh", (mlp._tanh, np.ones_like))
    model = NumpyMLP([5, 7, 3], activation="tanh", seed=1)
    assert gradient_check.gradient_check(model, x, y)["max_relative_error"] > 1e-3


def test_backward_through_dropout_matches_finite_differences_with_fixed_masks():
    x, y = small_problem()
    # tanh, not ReLU: with zero biases, a sample whose inputs are all dropped sits exactly on
    # the ReLU kink (z = 0), where finite differences and the derivative legitimately differ.
    model = NumpyMLP([5, 7, 6, 3], activation="tanh", l2=0.01, dropout_rate=0.4, seed=2,
                     dtype=np.float64)
    rng_state = model._dropout_rng.bit_generator.state

    def loss_with_same_masks():
        model._dropout_rng.bit_generator.state = rng_state  # redraw exactly the same masks
        return model.loss(x, y, training=True)

    loss_with_same_masks()
    analytic = [gradient.copy() for gradient in model.backward()]
    numerical = gradient_check.numerical_gradients(loss_with_same_masks, model.parameters())
    for mine, theirs in zip(analytic, numerical):
        assert gradient_check.relative_error(mine, theirs) < 1e-6


@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_tape_check_agrees_with_tensorflow(activation, l2):
    x, y = small_problem(samples=16, features=8, classes=4, seed=3)
    model = NumpyMLP([8, 10, 9, 4], activation=activation, l2=l2, seed=4)
    assert gradient_check.tape_check(model, x, y) < 1e-6


def test_checks_leave_the_model_unchanged():
    x, y = small_problem()
    model = NumpyMLP([5, 4, 3], seed=5)
    before = [parameter.copy() for parameter in model.parameters()]
    gradient_check.gradient_check(model, x, y)
    for parameter, original in zip(model.parameters(), before):
        assert parameter.dtype == np.float32
        np.testing.assert_array_equal(parameter, original)


def test_backward_before_loss_raises():
    with pytest.raises(RuntimeError, match="loss"):
        NumpyMLP([5, 4, 3]).backward()


# -- forward, dropout, softmax -------------------------------------------------------------------


def test_dropout_only_while_training():
    x, _ = small_problem(samples=200, features=5)
    model = NumpyMLP([5, 50, 3], dropout_rate=0.5, seed=0)
    inference = model.forward(x)
    np.testing.assert_array_equal(model.forward(x, training=False), inference)
    assert not model._cache["masks"]
    training = model.forward(x, training=True)
    assert not np.allclose(training, inference)
    (mask,) = model._cache["masks"]
    # Inverted dropout: units are dropped with the rate, the others scaled by 1 / (1 - rate).
    assert set(np.unique(mask)) == {0.0, 2.0}
    assert abs(np.mean(mask == 0) - 0.5) < 0.05
    no_dropout = NumpyMLP([5, 50, 3], dropout_rate=0.0, seed=0)
    np.testing.assert_array_equal(no_dropout.forward(x, training=True), no_dropout.forward(x))


def test_softmax_is_stable_for_huge_logits():
    model = NumpyMLP([2, 3], seed=0)
    model.weights[0][...] = [[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]]
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    probabilities = model.forward(x)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    loss = model.loss(x, np.array([1, 1]))
    assert np.isfinite(loss) and loss > 100  # a confident wrong answer costs ~1000, not inf
    assert all(np.all(np.isfinite(gradient)) for gradient in model.backward())


def test_float32_in_float32_out():
    model = NumpyMLP([5, 4, 3])
    x, y = small_problem()
    assert model.forward(x).dtype == np.float32
    model.loss(x, y)
    assert all(gradient.dtype == np.float32 for gradient in model.backward())


def test_initialization_follows_the_activation():
    relu = NumpyMLP([400, 300, 10], activation="relu", seed=0)
    tanh = NumpyMLP([400, 300, 10], activation="tanh", seed=0)
    np.testing.assert_allclose(relu.weights[0].std(), np.sqrt(2 / 400), rtol=0.05)  # He
    np.testing.assert_allclose(tanh.weights[0].std(), np.sqrt(2 / 700), rtol=0.05)  # Glorot
    assert not np.any(relu.biases[0])


# -- training ------------------------------------------------------------------------------------


def test_loss_decreases_on_digits(digits):
    x_train, y_train, x_test, y_test = digits
    model = NumpyMLP([64, 32, 10], seed=0)
    initial_loss, _ = model.evaluate(x_test, y_test)
    history = train(model, x_train, y_train, x_test, y_test, PlainSGD(0.1), epochs=3,
                    batch_size=32, seed=0)
    assert set(history) == set(HISTORY_KEYS)
    assert all(len(values) == 3 for values in history.values())
    assert history["val_loss"][-1] < 0.5 * initial_loss
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85


def test_train_calls_back_and_can_stop_early(digits):
    x_train, y_train, _, _ = digits
    seen = []

    def stop_after_two(epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch == 1

    history = train(NumpyMLP([64, 8, 10]), x_train[:200], y_train[:200], None, None,
                    PlainSGD(0.1), epochs=5, batch_size=50, seed=0, on_epoch_end=stop_after_two)
    assert [epoch for epoch, _ in seen] == [0, 1]
    assert seen[0][1] == ["accuracy", "epoch_seconds", "loss"]
    assert len(history["loss"]) == 2 and "val_loss" not in history


def test_training_is_reproducible_with_a_seed(digits):
    x_train, y_train, _, _ = digits
    results = []
    for _ in range(2):
        model = NumpyMLP([64, 16, 10], dropout_rate=0.2, seed=3)
        model.train_epoch(x_train[:300], y_train[:300], PlainSGD(0.1), 32, np.random.default_rng(7))
        results.append(model.parameters())
    for first, second in zip(*results):
        np.testing.assert_array_equal(first, second)


def test_trains_with_the_numpy_adam_of_dlzoo_optimizers(digits):
    numpy_optimizers = pytest.importorskip("dlzoo.optimizers.numpy_optimizers")
    x_train, y_train, x_test, y_test = digits
    model = NumpyMLP([64, 64, 10], seed=0)
    optimizer = numpy_optimizers.get_numpy_optimizer("adam", learning_rate=0.003)
    train(model, x_train, y_train, None, None, optimizer, epochs=4, batch_size=32, seed=0)
    assert optimizer.iterations == 4 * 45  # 1437 samples / 32 = 45 steps per epoch
    assert all(parameter.dtype == np.float32 for parameter in model.parameters())
    assert model.evaluate(x_test, y_test)[1] > 0.93


# -- the Keras twin ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_classes, activation, dropout_rate, input_shape",
    [(10, "relu", 0.0, (8, 8)), (2, "sigmoid", 0.3, (64,)), (3, "tanh", 0.2, (4, 16))],
)
def test_keras_model_predicts_the_same(num_classes, activation, dropout_rate, input_shape):
    from dlzoo.models import heads
    from dlzoo.scratch.to_keras import to_keras_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, *input_shape)).astype("float32")
    model = NumpyMLP([64, 16, 12, num_classes], activation=activation, l2=0.01,
                     dropout_rate=dropout_rate, seed=1)
    model.train_epoch(x, rng.integers(0, num_classes, 32), PlainSGD(0.1), 8, rng)
    keras_model = to_keras_model(model, input_shape)
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), model.predict_proba(x), atol=1e-5)
    names = [layer.name for layer in keras_model.layers]
    assert names[-2:] == [heads.LOGITS_LAYER, heads.PROBABILITIES_LAYER]
    assert ("flatten" in names) == (len(input_shape) > 1)
    assert sum(name.startswith("dropout") for name in names) == (2 if dropout_rate else 0)
    assert keras_model.output_shape == (None, num_classes)


def test_keras_model_has_the_same_loss_with_l2(digits):
    from dlzoo.scratch.to_keras import to_keras_model

    x_train, y_train, _, _ = digits
    model = NumpyMLP([64, 16, 10], l2=0.001, seed=0)
    keras_model = to_keras_model(model, (64,))
    keras_model.compile(loss="sparse_categorical_crossentropy")
    keras_loss = keras_model.evaluate(x_train[:256], y_train[:256], batch_size=256, verbose=0)
    numpy_loss, _ = model.evaluate(x_train[:256], y_train[:256])
    np.testing.assert_allclose(keras_loss, numpy_loss, rtol=1e-5)


def test_to_keras_rejects_a_wrong_input_shape():
    from dlzoo.scratch.to_keras import to_keras_model

    with pytest.raises(ValueError, match="input_shape"):
        to_keras_model(NumpyMLP([64, 10]), (8, 7))


# -- bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, argument",
    [
        ({"layer_sizes": [64]}, "layer_sizes"),
        ({"layer_sizes": [64, 0, 10]}, "layer_sizes"),
        ({"layer_sizes": [64, 32, 1]}, "layer_sizes"),
        ({"activation": "relux"}, "activation"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"dropout_rate": -0.1}, "dropout_rate"),
        ({"l2": -1.0}, "l2"),
        ({"dtype": np.int32}, "dtype"),
    ],
)
def test_bad_constructor_arguments_name_the_argument(options, argument):
    settings = {"layer_sizes": [64, 32, 10], **options}
    with pytest.raises(ValueError, match=argument):
        NumpyMLP(**settings)


def test_bad_data_and_training_arguments_name_the_argument():
    model = NumpyMLP([5, 4, 3])
    x, y = small_problem()
    with pytest.raises(ValueError, match="x must"):
        model.forward(np.zeros((6, 4)))
    with pytest.raises(ValueError, match="y must"):
        model.loss(x, np.full(6, 3))
    with pytest.raises(ValueError, match="batch_size"):
        model.train_epoch(x, y, PlainSGD(0.1), 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="optimizer"):
        model.train_epoch(x, y, object(), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="epochs"):
        train(model, x, y, x, y, PlainSGD(0.1), epochs=0, batch_size=2, seed=0)
