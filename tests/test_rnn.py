"""Recurrent models: the hand-written cells against Keras's (oracle), unrolling, the classifier, the data."""

import numpy as np
import pytest

STEPS = 50


def run_cell_pair(hand_cell, keras_cell, seed=0):
    """Outputs and input/weight gradients of both cells over a 50-step sequence, same weights."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    inputs = tf.constant(rng.normal(size=(4, STEPS, 3)).astype("float32"))
    hand_layer = keras.layers.RNN(hand_cell, return_sequences=True)
    keras_layer = keras.layers.RNN(keras_cell, return_sequences=True)
    hand_layer(inputs)
    keras_layer(inputs)
    # Random weights (not the initial zeros / ones), copied from Keras's cell into ours.
    for variable in keras_cell.weights:
        variable.assign(rng.normal(scale=0.4, size=variable.shape).astype("float32"))
    for mine, theirs in zip(hand_cell.weights, keras_cell.weights):
        assert tuple(mine.shape) == tuple(theirs.shape), (mine.path, theirs.path)
        mine.assign(theirs)
    results = []
    for layer in (hand_layer, keras_layer):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs)
            loss = tf.reduce_sum(tf.sin(outputs))  # a loss that weights every step differently
        gradients = tape.gradient(loss, [inputs, *layer.trainable_weights])
        results.append((outputs.numpy(), [gradient.numpy() for gradient in gradients]))
    return results


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_hand_written_cell_equals_keras(kind):
    import keras

    from dlzoo.models import rnn

    hand, keras_cell = (rnn.HandLSTMCell(8), keras.layers.LSTMCell(8)) if kind == "lstm" else \
        (rnn.HandGRUCell(8), keras.layers.GRUCell(8))
    (hand_outputs, hand_gradients), (keras_outputs, keras_gradients) = run_cell_pair(hand, keras_cell)
    assert np.max(np.abs(hand_outputs - keras_outputs)) < 1e-5
    assert np.std(keras_outputs[:, -1]) > 0.05  # the last step still carries signal: a real check
    for mine, theirs in zip(hand_gradients, keras_gradients):
        # Within 1e-5, relative for the large summed weight gradients (float32 rounding of ~90).
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)
        assert np.max(np.abs(theirs)) > 1e-3


def test_hand_written_cell_differs_with_wrong_gate_order():
    """The oracle can fail: swapping two gates' weights changes the outputs."""
    import keras

    from dlzoo.models import rnn

    hand, keras_cell = rnn.HandLSTMCell(8), keras.layers.LSTMCell(8)
    run_cell_pair(hand, keras_cell)
    kernel = hand.kernel.numpy()
    hand.kernel.assign(np.concatenate([kernel[:, 8:16], kernel[:, :8], kernel[:, 16:]], axis=1))
    import tensorflow as tf

    inputs = tf.constant(np.random.default_rng(1).normal(size=(2, STEPS, 3)).astype("float32"))
    hand_outputs = keras.layers.RNN(hand)(inputs).numpy()
    keras_outputs = keras.layers.RNN(keras_cell)(inputs).numpy()
    assert np.max(np.abs(hand_outputs - keras_outputs)) > 1e-3


@pytest.mark.parametrize("cell", ["simple", "gru", "lstm", "lstm_by_hand", "gru_by_hand"])
def test_rnn_classifier_builds_trains_and_reloads(cell, tmp_path):
    import keras

    from dlzoo import models
    from dlzoo.runs.load import load_keras_model

    model = models.build("rnn", (12, 2), 3, cell=cell, units=8, num_layers=2, bidirectional=cell == "gru")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(16, 12, 2)).astype("float32")
    y = np.arange(16) % 3
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.save(tmp_path / "model.keras")
    reloaded = load_keras_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert isinstance(model, keras.Model)


def test_rnn_reads_a_one_dimensional_signal_as_a_sequence():
    from dlzoo import models

    model = models.build("rnn", (40,), 10, units=4)
    assert model.get_layer("as_sequence").output.shape[1:] == (40, 1)


def test_rnn_rejects_bad_options():
    from dlzoo import models

    with pytest.raises(ValueError, match="cell"):
        models.build("rnn", (10, 1), 2, cell="transformer")
    with pytest.raises(ValueError, match="units"):
        models.build("rnn", (10, 1), 2, units=0)
    with pytest.raises(ValueError, match="sequences"):
        models.build("rnn", (8, 8, 1), 2)


def test_static_and_dynamic_unrolling_agree():
    from dlzoo.tasks.rnn_study import unrolling_difference

    assert unrolling_difference(length=30, units=8) < 1e-5


# ---------------------------------------------------------------------------------------------
# Data


def test_adding_problem_targets_and_baseline():
    from dlzoo.data import sequences

    inputs, targets = sequences.make_adding_problem(2000, 20, seed=0)
    assert inputs.shape == (2000, 20, 2)
    assert np.all(inputs[..., 1].sum(axis=1) == 2)
    np.testing.assert_allclose((inputs[..., 0] * inputs[..., 1]).sum(axis=1), targets, atol=1e-6)
    baseline = np.mean((targets - 1.0) ** 2)  # always predicting the mean
    assert 0.14 < baseline < 0.19


@pytest.mark.parametrize("spec", ["dates", "numbers:en-fr", "numbers:fr-de", "addition:3"])
def test_text_pairs_hold_out_their_items(spec):
    from dlzoo import data

    bundle = data.load(spec, seed=3, options={"num_samples": 3000})
    sizes = bundle.sizes()
    assert sizes["train"] == 3000 and sizes["test"] > 0 and sizes["val"] > 0
    train_sources, train_targets = bundle.arrays("train")
    test_sources, test_targets = bundle.arrays("test")
    # The held-out *items*: a test date / number / operand pair never occurs in training.
    held_out = test_targets if spec != "addition:3" else test_sources
    seen = set(train_targets if spec != "addition:3" else train_sources)
    assert not any(item in seen for item in held_out)
    # Seeded: the same spec and seed give the same pairs.
    again = data.load(spec, seed=3, options={"num_samples": 3000})
    assert list(again.arrays("test")[0]) == list(test_sources)


def test_dates_are_multilingual_and_iso():
    import re

    from dlzoo import data

    sources, targets = data.load("dates", seed=0, options={"num_samples": 2000}).arrays("train")
    assert all(re.fullmatch(r"(19|20)\d\d-\d\d-\d\d", target) for target in targets)
    text = " ".join(sources)
    assert any(word in text for word in ("janvier", "février", "mars", "avril", "mai", "juin"))
    assert any(word in text for word in ("Januar", "Februar", "März", "Juni", "Juli", "Dezember"))


def test_number_words_examples():
    from dlzoo.data import sequences

    sources, targets = sequences.make_number_pairs([71, 342], "en", "fr")
    assert sources == ["seventy-one", "three hundred and forty-two"]
    assert targets == ["soixante et onze", "trois cent quarante-deux"]


@pytest.mark.parametrize("spec, message", [("numbers:en-xx", "unknown language"), ("numbers:en-en", "same"),
                                           ("addition:abc", "whole number"), ("adding:1", "at least"),
                                           ("dates:foo", "no argument")])
def test_bad_sequence_specs(spec, message):
    from dlzoo import data
    from dlzoo.core.errors import UsageError

    with pytest.raises(UsageError, match=message):
        data.load(spec, seed=0, options={}).sizes()


def test_clipping_keeps_an_exploding_recurrent_network_trainable():
    """Pascanu et al. 2013 on the adding problem: orthogonal x 1.2 recurrent weights and SGD at
    rate 0.05 blow up without clipping (NaN: the task reports infinity), and learn with it."""
    import math

    from dlzoo.config import resolve
    from dlzoo import tasks

    config = resolve.load_config("rnn-vanishing")
    task = tasks.create("rnn_study")
    prepared = task.prepare(config, quick=True)
    results = task.exploding_demo(prepared, folder=None)
    # Quick mode: 4 steps. Seeds 0-2 gave unclipped 3.3 / 15.2 / 14.5, clipped 0.40 / 0.39 / 0.36
    # (the full budget: unclipped NaN in the first epoch, clipped 0.117).
    assert results["exploding_initial_gradient_norm"] > 5
    clipped, unclipped = results["exploding_loss_clipped"], results["exploding_loss_unclipped"]
    assert math.isfinite(clipped) and clipped < 0.6
    assert math.isinf(unclipped) or unclipped > max(1.0, 4 * clipped)


def test_exploding_settings_are_checked():
    from dlzoo.config import resolve
    from dlzoo.core.errors import UsageError

    for override, message in (("study.exploding_recurrent_gain=0", "exploding_recurrent_gain"),
                              ("study.exploding_length=1", "exploding_length")):
        with pytest.raises(UsageError, match=message):
            resolve.load_config("rnn-vanishing", [override])
