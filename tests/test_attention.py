"""Attention written by hand, checked against Keras; positional encodings; transformer blocks.

The oracle: ``keras.layers.MultiHeadAttention`` with its weights copied into
``dlzoo.models.attention.MultiHeadAttention`` must give the same outputs and attention scores,
with padding masks, explicit masks and the causal mask.
"""

import math

import keras
import numpy as np
import pytest

from dlzoo.models import attention, transformer

TOLERANCE = 1e-5


def pair(num_heads, key_dim, query, value, **options):
    """A built Keras layer and ours holding a copy of its weights."""
    theirs = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim, **options)
    theirs(query, value)
    ours = attention.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim, **options)
    ours(query, value)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def both(theirs, ours, *args, **kwargs):
    """Max |difference| of outputs and of attention scores of the two layers on the same call."""
    out_a, scores_a = theirs(*args, return_attention_scores=True, **kwargs)
    out_b, scores_b = ours(*args, return_attention_scores=True, **kwargs)
    assert tuple(scores_a.shape) == tuple(scores_b.shape)
    return (float(np.max(np.abs(np.asarray(out_a) - np.asarray(out_b)))),
            float(np.max(np.abs(np.asarray(scores_a) - np.asarray(scores_b)))), np.asarray(scores_b))


@pytest.fixture
def inputs():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(3, 5, 16)).astype("float32")
    value = rng.normal(size=(3, 7, 12)).astype("float32")
    return rng, query, value


def test_weights_have_keras_order_and_shapes(inputs):
    _, query, value = inputs
    theirs, ours = pair(4, 8, query, value, value_dim=6)
    assert [w.shape for w in ours.get_weights()] == [(16, 4, 8), (4, 8), (12, 4, 8), (4, 8), (12, 4, 6), (4, 6),
                                                     (4, 6, 16), (16,)]


def test_cross_attention_matches_keras(inputs):
    _, query, value = inputs
    theirs, ours = pair(4, 8, query, value)
    out_difference, score_difference, scores = both(theirs, ours, query, value)
    assert out_difference < TOLERANCE and score_difference < TOLERANCE
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, atol=1e-5)
    # The copy is the whole story: a fresh layer of ours (other weights) does not match.
    fresh = attention.MultiHeadAttention(num_heads=4, key_dim=8)
    assert both(theirs, fresh, query, value)[0] > 1e-2


def test_separate_key_matches_keras(inputs):
    rng, query, value = inputs
    key = rng.normal(size=(3, 7, 10)).astype("float32")
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    theirs(query, value, key)
    ours = attention.MultiHeadAttention(num_heads=2, key_dim=4)
    ours(query, value, key)
    ours.set_weights(theirs.get_weights())
    out_difference, score_difference, _ = both(theirs, ours, query, value, key)
    assert out_difference < TOLERANCE and score_difference < TOLERANCE


def test_padding_masks_match_keras(inputs):
    _, query, value = inputs
    theirs, ours = pair(4, 8, query, value)
    value_mask = np.arange(7)[None, :] < np.array([7, 4, 1])[:, None]  # (batch, S): True on real tokens
    query_mask = np.arange(5)[None, :] < np.array([5, 3, 2])[:, None]
    # Keras 3 takes a padding mask from its inputs' Keras masks (query_mask is overwritten by the
    # query's), so it is given the same information as the (batch, T, S) mask they combine into.
    combined = query_mask[:, :, None] & value_mask[:, None, :]
    out_a, scores_a = theirs(query, value, attention_mask=combined, return_attention_scores=True)
    out_b, scores_b = ours(query, value, query_mask=query_mask, value_mask=value_mask, return_attention_scores=True)
    assert np.abs(np.asarray(out_a) - np.asarray(out_b)).max() < TOLERANCE
    assert np.abs(np.asarray(scores_a) - np.asarray(scores_b)).max() < TOLERANCE
    scores = np.asarray(scores_b)
    # Real queries give padded keys no weight at all.
    assert scores[1, :, 0, 4:].max() < 1e-7 and scores[2, :, 0, 1:].max() < 1e-7


def test_keras_masks_of_the_inputs_match_keras():
    """Padding that travels as Keras masks (Embedding(mask_zero=True)) in a functional model."""
    tokens = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0], [1, 2, 3, 4, 5]], "int32")
    outputs = {}
    for name, layer_class in (("keras", keras.layers.MultiHeadAttention), ("ours", attention.MultiHeadAttention)):
        inputs = keras.Input((5,), dtype="int32")
        embedded = keras.layers.Embedding(10, 8, mask_zero=True, name="embedding")(inputs)
        attended = layer_class(num_heads=2, key_dim=4, name="attention")(embedded, embedded)
        outputs[name] = keras.Model(inputs, attended)
    outputs["ours"].set_weights(outputs["keras"].get_weights())
    expected, actual = (np.asarray(outputs[name](tokens)) for name in ("keras", "ours"))
    # Padded query rows are free in Keras; compare the rows of real tokens.
    real = tokens != 0
    assert np.abs(expected[real] - actual[real]).max() < TOLERANCE


def test_explicit_attention_mask_matches_keras(inputs):
    rng, query, value = inputs
    theirs, ours = pair(4, 8, query, value)
    mask = rng.random((3, 5, 7)) > 0.4
    mask[:, :, 0] = True  # every query sees at least one key
    out_difference, score_difference, scores = both(theirs, ours, query, value, attention_mask=mask)
    assert out_difference < TOLERANCE and score_difference < TOLERANCE
    assert np.all(scores[np.broadcast_to(~mask[:, None], scores.shape)] < 1e-7)


def test_causal_mask_matches_keras(inputs):
    rng, query, _ = inputs
    theirs, ours = pair(2, 8, query, query)
    out_difference, score_difference, scores = both(theirs, ours, query, query, use_causal_mask=True)
    assert out_difference < TOLERANCE and score_difference < TOLERANCE
    assert np.all(np.triu(np.ones((5, 5)), k=1)[None, None] * scores < 1e-7)  # nothing from the future
    # Causal and padding together, as a decoder with padded targets uses them.
    padding = np.arange(5)[None, :] < np.array([5, 3, 4])[:, None]
    out_a, scores_a = theirs(query, query, attention_mask=padding[:, :, None] & padding[:, None, :],
                             use_causal_mask=True, return_attention_scores=True)
    out_b, scores_b = ours(query, query, query_mask=padding, value_mask=padding, use_causal_mask=True,
                           return_attention_scores=True)
    assert np.abs(np.asarray(out_a) - np.asarray(out_b)).max() < TOLERANCE
    assert np.abs(np.asarray(scores_a) - np.asarray(scores_b)).max() < TOLERANCE


def test_scaled_dot_product_attention_formula():
    rng = np.random.default_rng(1)
    query, key, value = (rng.normal(size=(2, 3, 1, 4)), rng.normal(size=(2, 6, 1, 4)), rng.normal(size=(2, 6, 1, 5)))
    outputs, weights = attention.scaled_dot_product_attention(*(x.astype("float32") for x in (query, key, value)))
    scores = query[:, :, 0] @ key[:, :, 0].transpose(0, 2, 1) / math.sqrt(4)  # (batch, 3, 6)
    expected_weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(weights)[:, 0], expected_weights, atol=1e-5)
    np.testing.assert_allclose(np.asarray(outputs)[:, :, 0], expected_weights @ value[:, :, 0], atol=1e-5)


def test_sinusoidal_encoding_formula():
    table = transformer.sinusoidal_encoding(50, 16)
    assert table.shape == (50, 16)
    for position in (0, 1, 7, 49):
        for i in range(8):
            angle = position / 10000 ** (2 * i / 16)
            assert table[position, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[position, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)
    odd = transformer.sinusoidal_encoding(4, 5)  # an odd width keeps its last sine column
    assert odd.shape == (4, 5) and odd[1, 4] == pytest.approx(math.sin(1 / 10000 ** (4 / 5)), abs=1e-6)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_positional_encoding_layer_adds_positions(kind):
    layer = transformer.PositionalEncoding(10, kind)
    zeros = np.zeros((2, 6, 8), "float32")
    added = np.asarray(layer(zeros))
    assert added.shape == (2, 6, 8)
    assert np.abs(added[0, 1] - added[0, 2]).max() > 1e-3  # positions differ
    if kind == "sinusoidal":
        np.testing.assert_allclose(added[1], transformer.sinusoidal_encoding(10, 8)[:6], atol=1e-6)
        assert not layer.trainable_weights
    else:
        assert [w.shape for w in layer.trainable_weights] == [(10, 8)]
    with pytest.raises(ValueError, match="positional"):
        transformer.PositionalEncoding(10, "rotary")


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_residual_structure(norm_first):
    block = transformer.TransformerEncoderBlock(16, 4, 32, dropout_rate=0.0, norm_first=norm_first)
    x = np.random.default_rng(2).normal(size=(2, 5, 16)).astype("float32")
    outputs, weights = block(x, return_attention_scores=True)
    assert outputs.shape == (2, 5, 16) and weights.shape == (2, 4, 5, 5)
    outputs = np.asarray(outputs)
    if norm_first:  # no norm at the end: the residual stream keeps the input's scale
        assert np.abs(outputs.std(-1) - 1.0).max() > 1e-2
    else:  # post-norm ends with a layer norm: each position has mean 0 and std 1
        np.testing.assert_allclose(outputs.mean(-1), 0.0, atol=1e-4)
        np.testing.assert_allclose(outputs.std(-1), 1.0, atol=1e-2)


def test_causal_encoder_block_ignores_the_future():
    block = transformer.TransformerEncoderBlock(16, 2, 32, dropout_rate=0.0, causal=True)
    x = np.random.default_rng(3).normal(size=(1, 6, 16)).astype("float32")
    changed = x.copy()
    changed[0, 4] += 1.0
    first, second = np.asarray(block(x)), np.asarray(block(changed))
    assert np.abs(first[0, :4] - second[0, :4]).max() < 1e-6
    assert np.abs(first[0, 4:] - second[0, 4:]).max() > 1e-3


def test_decoder_block_attends_to_the_context():
    block = transformer.TransformerDecoderBlock(16, 4, 32, dropout_rate=0.0, norm_first=False)
    rng = np.random.default_rng(4)
    x, context = rng.normal(size=(2, 5, 16)).astype("float32"), rng.normal(size=(2, 9, 16)).astype("float32")
    context_mask = np.arange(9)[None, :] < np.array([9, 3])[:, None]
    outputs, weights = block(x, context, context_mask=context_mask, return_attention_scores=True)
    assert outputs.shape == (2, 5, 16)
    assert weights["self"].shape == (2, 4, 5, 5) and weights["cross"].shape == (2, 4, 5, 9)
    assert np.asarray(weights["cross"])[1, :, :, 3:].max() < 1e-7  # source padding gets no weight
    assert np.asarray(weights["self"])[0, :, 0, 1:].max() < 1e-7  # causal


@pytest.mark.parametrize("builder", ["transformer", "block", "decoder"])
def test_num_heads_must_divide_the_width(builder):
    with pytest.raises(ValueError, match="num_heads 3 does not divide"):
        if builder == "transformer":
            transformer.build_transformer_classifier((40,), 10, model_dim=64, num_heads=3)
        elif builder == "block":
            transformer.TransformerEncoderBlock(64, 3, 128)
        else:
            transformer.TransformerDecoderBlock(64, 3, 128)


def test_translator_builds_trains_a_step_and_reloads(tmp_path):
    model = transformer.build_translator(30, 20, 12, 10, model_dim=32, num_heads=4, feed_forward_dim=64,
                                         num_layers=1, dropout_rate=0.0)
    rng = np.random.default_rng(5)
    source = rng.integers(1, 30, (8, 12)).astype("int32")
    source[:, 9:] = 0
    target = rng.integers(1, 20, (8, 10)).astype("int32")
    inputs = {"source_tokens": source, "target_tokens": target}
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(inputs, np.roll(target, -1, axis=1), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "translator.keras")
    reloaded = keras.saving.load_model(tmp_path / "translator.keras")
    np.testing.assert_allclose(reloaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-5)
    # Causal decoder: the logits at step t do not depend on target tokens after t.
    changed = dict(inputs, target_tokens=target.copy())
    changed["target_tokens"][:, 6] = (changed["target_tokens"][:, 6] % 19) + 1
    before, after = model.predict(inputs, verbose=0), model.predict(changed, verbose=0)
    assert np.abs(before[:, :6] - after[:, :6]).max() < 1e-5 and np.abs(before[:, 6:] - after[:, 6:]).max() > 1e-4
