"""Exercise attention: scaled dot-product attention with a mask, in NumPy or keras.ops.

The student writes ``scaled_dot_product_attention(query, key, value, mask=None)`` returning
``(output, weights)``: ``weights = softmax(query key^T / sqrt(d_k))`` over the key positions,
with masked positions (mask False) left out, and ``output = weights value``. The oracle is the
maths of ``keras.layers.MultiHeadAttention``: one head whose four projections are identities
(and whose biases are 0), so what it computes is exactly the attention of the given query,
key and value. Three cases: no mask, a padding mask (some keys are padding), a causal mask.
Every query row keeps at least one key, so how a fully masked row is treated does not matter.
"""

import functools

import numpy as np

from dlzoo import exercises
from dlzoo.exercises import base

BATCH, QUERY_LENGTH, KEY_LENGTH, KEY_DIM, VALUE_DIM = 2, 4, 5, 8, 6


def _place(case):
    return f"case '{case}'"


@functools.lru_cache(maxsize=1)
def _cases():
    """``[(name, query, key, value, mask or None)]``: float32 arrays, boolean masks (True = attend)."""
    generator = np.random.default_rng(7)
    query = generator.normal(size=(BATCH, QUERY_LENGTH, KEY_DIM)).astype("float32")
    key = generator.normal(size=(BATCH, KEY_LENGTH, KEY_DIM)).astype("float32")
    value = generator.normal(size=(BATCH, KEY_LENGTH, VALUE_DIM)).astype("float32")
    padding = np.ones((BATCH, QUERY_LENGTH, KEY_LENGTH), dtype=bool)
    padding[0, :, 3:] = False  # the first sequence has 3 real keys, the second 4
    padding[1, :, 4:] = False
    square_key = key[:, :QUERY_LENGTH]
    square_value = value[:, :QUERY_LENGTH]
    causal = np.broadcast_to(np.tril(np.ones((QUERY_LENGTH, QUERY_LENGTH), dtype=bool)),
                             (BATCH, QUERY_LENGTH, QUERY_LENGTH)).copy()
    return [("no mask", query, key, value, None), ("padding mask", query, key, value, padding),
            ("causal mask", query, square_key, square_value, causal)]


def _keras_attention(query, key, value, mask):
    """keras.layers.MultiHeadAttention with identity projections: (output, weights)."""
    import keras

    layer = keras.layers.MultiHeadAttention(num_heads=1, key_dim=KEY_DIM, value_dim=VALUE_DIM,
                                            output_shape=VALUE_DIM, dtype="float32")
    layer.build(query.shape, value.shape, key.shape)
    identities = []
    for weight in layer.get_weights():  # query, key, value kernels (d, 1, d) + biases; output (1, d, d) + bias
        if weight.ndim == 3:
            identities.append(np.eye(weight.shape[0] * weight.shape[1], weight.shape[2]).reshape(weight.shape)
                              if weight.shape[1] == 1 else np.eye(weight.shape[1], weight.shape[2])[None])
        else:
            identities.append(np.zeros_like(weight))
    layer.set_weights(identities)
    output, scores = layer(query, value, key=key, attention_mask=mask, return_attention_scores=True)
    return output, np.asarray(scores)[:, 0]  # (batch, heads=1, T, S) -> (batch, T, S)


@functools.lru_cache(maxsize=1)
def _keras_record():
    record = base.Record()
    for name, query, key, value, mask in _cases():
        record.place = _place(name)
        output, weights = _keras_attention(query, key, value, mask)
        record.add("weights", weights)
        record.add("output", output)
    return record


def _variant(scale="sqrt", softmax_axis=-1, masking="exclude"):
    """A NumPy attention with one known mistake switched on."""

    def produce(record):
        for name, query, key, value, mask in _cases():
            record.place = _place(name)
            query64, key64, value64 = (np.asarray(array, dtype=np.float64) for array in (query, key, value))
            scores = query64 @ key64.transpose(0, 2, 1)
            scores = scores / {"sqrt": np.sqrt(KEY_DIM), "none": 1.0, "dim": KEY_DIM}[scale]
            if mask is not None and masking == "exclude":
                scores = np.where(mask, scores, -1e9)
            elif mask is not None and masking == "multiply":
                scores = scores * mask
            elif mask is not None and masking == "inverted":
                scores = np.where(mask, -1e9, scores)
            shifted = np.exp(scores - scores.max(axis=softmax_axis, keepdims=True))
            weights = shifted / shifted.sum(axis=softmax_axis, keepdims=True)
            record.add("weights", weights)
            record.add("output", weights @ value64)

    return produce


@exercises.register
class AttentionExercise(base.FunctionExercise):
    """Scaled dot-product attention with masks."""

    name = "attention"
    order = 60
    topic = "transformers"
    object_name = "scaled_dot_product_attention"
    task = "def scaled_dot_product_attention(query, key, value, mask=None) -> (output, weights)"
    kind = "a function scaled_dot_product_attention(query, key, value, mask=None) returning (output, weights)"
    tolerance = 1e-4

    def expected(self):
        return _keras_record()

    def outputs(self, candidate, record):
        for name, query, key, value, mask in _cases():
            record.place = _place(name)
            result = candidate(query.copy(), key.copy(), value.copy(), mask=None if mask is None else mask.copy())
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise base.InterfaceProblem(f"{_place(name)}: the function returned {type(result).__name__}, "
                                            "expected a pair (output, weights)", "return output, weights")
            output, weights = result
            record.add("weights", weights)
            record.add("output", output)

    def mistakes(self):
        """No scale, 1/d, softmax over queries, mask ignored, masked by multiplying, mask inverted."""
        return [
            base.Mistake("no 1 / sqrt(d_k) scale", "divide the scores query @ key^T by sqrt(d_k) (the key width): "
                         "without it large dot products saturate the softmax", _variant(scale="none")),
            base.Mistake("the scores divided by d_k instead of sqrt(d_k)", "the scale is 1 / sqrt(d_k)",
                         _variant(scale="dim")),
            base.Mistake("the softmax over the query positions", "normalize over the keys: softmax(scores, axis=-1), "
                         "so that each query's weights sum to 1", _variant(softmax_axis=-2)),
            base.Mistake("the mask is ignored", "where mask is False set the score to a large negative number "
                         "(-1e9) before the softmax", _variant(masking="none")),
            base.Mistake("the scores multiplied by the mask", "a score of 0 still gets weight exp(0): set masked "
                         "scores to -1e9 (np.where(mask, scores, -1e9)) instead", _variant(masking="multiply")),
            base.Mistake("the mask inverted", "mask True means attend: keep the scores where mask is True",
                         _variant(masking="inverted")),
        ]

    def pattern_hint(self, difference, expected, got):
        if "shape" in difference.message:
            return ("weights are (batch, query_length, key_length) and output (batch, query_length, value_dim): "
                    "scores = query @ key^T (swap the key's last two axes)")
        if difference.variable == "weights":
            return "weights = softmax(query @ key^T / sqrt(d_k)) over the key axis, masked scores set to -1e9 first"
        return "output = weights @ value"

    def skeleton(self):
        return SKELETON


SKELETON = '''"""Exercise attention: scaled dot-product attention with a mask (Vaswani et al. 2017, eq. 1).

Check it with:

    dlzoo exercise check attention THIS_FILE.py

The checker compares it with the maths of keras.layers.MultiHeadAttention (one head, identity
projections) without a mask, with a padding mask and with a causal mask. NumPy or keras.ops
both work: the inputs are NumPy arrays.
"""

import numpy as np


def scaled_dot_product_attention(query, key, value, mask=None):
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, with masked keys left out.

        scores  = query @ key^T / sqrt(d_k)         (batch, query_length, key_length)
        scores  = -1e9 where mask is False          (so that exp() of it is 0)
        weights = softmax(scores) over the keys      each row sums to 1
        output  = weights @ value                    (batch, query_length, value_dim)

    Args:
        query: (batch, query_length, d_k) array.
        key: (batch, key_length, d_k) array.
        value: (batch, key_length, value_dim) array.
        mask: None, or a boolean (batch, query_length, key_length) array: True = may attend.

    Returns:
        (output, weights): (batch, query_length, value_dim) and (batch, query_length, key_length).
    """
    # TODO: the scores, the mask, a stable softmax over the last axis, the weighted values.
    raise NotImplementedError("scaled_dot_product_attention")
'''
