"""Attention written by hand with ``keras.ops``: scaled dot-product and multi-head attention.

Scaled dot-product attention (Vaswani et al. 2017, eq. 1)::

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Each query position ``t`` gets a weighted average of the value vectors; the weights are a
softmax over the key positions ``s`` of the similarity ``q_t . k_s / sqrt(d_k)``. Dividing by
``sqrt(d_k)`` keeps the scores' variance near 1 whatever the key width, so the softmax does not
saturate at initialization. A mask removes positions: padding (keys that are not real tokens)
and the causal mask (position ``t`` may not look at ``s > t``, so a decoder cannot read the
answer it is asked to predict).

:class:`MultiHeadAttention` runs ``num_heads`` such attentions side by side on learned
projections of the inputs and mixes their outputs with one more projection::

    head_i = Attention(query W_i^Q, key W_i^K, value W_i^V)        W^Q: (features, heads, key_dim)
    MultiHead(query, key, value) = concat(head_1..head_h) W^O       W^O: (heads, value_dim, features)

It is called like ``keras.layers.MultiHeadAttention`` and its ``get_weights()`` come in the
same order with the same shapes (query kernel and bias, key, value, output), so
``ours.set_weights(keras_layer.get_weights())`` copies a Keras layer: the tests check that both
give the same outputs and attention scores.

This module imports ``keras`` only (no TensorFlow): it runs on every Keras backend.
"""

import math

import keras
from keras import ops

# What a masked score becomes before the softmax: exp(-1e9) is 0 in float32 (the number Keras's
# Softmax layer uses).
MASKED_SCORE = -1e9


def causal_mask(query_length, key_length):
    """The (query_length, key_length) boolean mask where position ``t`` sees keys ``s <= t``.

    When the key sequence is longer (a cached prefix), the last query is aligned with the last
    key, as in ``keras.layers.MultiHeadAttention``.
    """
    rows = ops.expand_dims(ops.arange(query_length), 1)
    columns = ops.expand_dims(ops.arange(key_length), 0)
    return ops.greater_equal(rows + (key_length - query_length), columns)


def scaled_dot_product_attention(query, key, value, mask=None, dropout=None, training=None):
    """Softmax(Q K^T / sqrt(d_k)) V for inputs split in heads.

    Args:
        query: (batch, query_length, heads, key_dim).
        key: (batch, key_length, heads, key_dim).
        value: (batch, key_length, heads, value_dim).
        mask: boolean, broadcastable to (batch, heads, query_length, key_length); True = attend.
        dropout: an optional ``keras.layers.Dropout`` applied to the attention weights.
        training: passed to ``dropout``.

    Returns:
        ``(outputs, weights)``: (batch, query_length, heads, value_dim) and the attention
        weights (batch, heads, query_length, key_length), each row summing to 1 (0 for a row
        whose keys are all masked).
    """
    key_dim = query.shape[-1]
    # Scale the queries (not the scores): the same order of operations as Keras, so the two
    # implementations agree to float32 rounding.
    query = ops.multiply(query, ops.cast(1.0 / math.sqrt(float(key_dim)), query.dtype))
    scores = ops.einsum("bthd,bshd->bhts", query, key)  # (batch, heads, query_length, key_length)
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.cast(MASKED_SCORE, scores.dtype))
    weights = ops.softmax(scores, axis=-1)
    if mask is not None:
        # A row whose keys are all masked (a padding query) would get uniform weights from the
        # softmax; zero them instead, as Keras does, so padding attends to nothing.
        weights = ops.where(ops.cast(mask, "bool"), weights, ops.cast(0.0, weights.dtype))
    dropped = dropout(weights, training=training) if dropout is not None else weights
    outputs = ops.einsum("bhts,bshd->bthd", dropped, value)
    return outputs, weights


@keras.saving.register_keras_serializable(package="dlzoo")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention (Vaswani et al. 2017) written with ``keras.ops``.

    Args:
        num_heads: number of attention heads.
        key_dim: width of each head's queries and keys.
        value_dim: width of each head's values (default ``key_dim``).
        dropout: dropout rate on the attention weights.
        use_bias: whether the four projections have biases.
        output_shape: width of the output (default: the query's feature width).
        kernel_initializer, bias_initializer: initializers of the projections.

    Call arguments are those of ``keras.layers.MultiHeadAttention``: ``query`` (batch, T, dq),
    ``value`` (batch, S, dv), ``key`` (default ``value``), ``query_mask`` (batch, T),
    ``value_mask`` / ``key_mask`` (batch, S) (True = a real token), ``attention_mask``
    (batch, T, S), ``use_causal_mask``, ``return_attention_scores``, ``training``.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) < 1 or int(key_dim) < 1:
            raise ValueError(f"num_heads and key_dim must be >= 1, got {num_heads} and {key_dim}")
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout_rate = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_width = output_shape
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.attention_dropout = keras.layers.Dropout(self.dropout_rate)
        self.supports_masking = True

    def build(self, query_shape, value_shape, key_shape=None):
        """Create the projections in Keras's order: query, key, value, output (kernel, then bias)."""
        key_shape = key_shape or value_shape
        heads = self.num_heads
        output_width = self.output_width or query_shape[-1]

        def projection(name, kernel_shape, bias_shape):
            kernel = self.add_weight(name=f"{name}_kernel", shape=kernel_shape, initializer=self.kernel_initializer)
            bias = self.add_weight(name=f"{name}_bias", shape=bias_shape,
                                   initializer=self.bias_initializer) if self.use_bias else None
            return kernel, bias

        self.query_kernel, self.query_bias = projection("query", (query_shape[-1], heads, self.key_dim),
                                                        (heads, self.key_dim))
        self.key_kernel, self.key_bias = projection("key", (key_shape[-1], heads, self.key_dim), (heads, self.key_dim))
        self.value_kernel, self.value_bias = projection("value", (value_shape[-1], heads, self.value_dim),
                                                        (heads, self.value_dim))
        self.output_kernel, self.output_bias = projection("output", (heads, self.value_dim, output_width),
                                                          (output_width,))
        self.built = True

    @staticmethod
    def project(inputs, kernel, bias):
        """(batch, length, features) -> (batch, length, heads, width) with one kernel per head."""
        projected = ops.einsum("btf,fhd->bthd", inputs, kernel)
        return projected + bias if bias is not None else projected

    def combined_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """One (batch, T, S) boolean mask from the padding masks, the explicit mask and causality.

        As in Keras: a query position that is padding, or a key/value position that is padding,
        gets no attention; None when nothing is masked.
        """
        mask = None

        def both(first, second):
            return second if first is None else ops.logical_and(first, second)

        if query_mask is not None:
            mask = both(mask, ops.expand_dims(ops.cast(query_mask, "bool"), -1))  # (batch, T, 1)
        if value_mask is not None:
            mask = both(mask, ops.expand_dims(ops.cast(value_mask, "bool"), -2))  # (batch, 1, S)
        if key_mask is not None:
            mask = both(mask, ops.expand_dims(ops.cast(key_mask, "bool"), -2))
        if use_causal_mask:
            mask = both(mask, ops.expand_dims(causal_mask(ops.shape(query)[1], ops.shape(value)[1]), 0))
        if attention_mask is not None:
            mask = both(mask, ops.cast(attention_mask, "bool"))
        return mask

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        """Attend from ``query`` to ``key``/``value``; see the class docstring for the arguments."""
        key = value if key is None else key
        mask = self.combined_mask(query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask)
        if mask is not None:
            mask = ops.expand_dims(mask, 1)  # (batch, 1, T, S): the same mask for every head
        queries = self.project(query, self.query_kernel, self.query_bias)  # (batch, T, heads, key_dim)
        keys = self.project(key, self.key_kernel, self.key_bias)  # (batch, S, heads, key_dim)
        values = self.project(value, self.value_kernel, self.value_bias)  # (batch, S, heads, value_dim)
        attended, weights = scaled_dot_product_attention(queries, keys, values, mask, self.attention_dropout,
                                                         training)
        outputs = ops.einsum("bthd,hdf->btf", attended, self.output_kernel)  # concat(heads) W^O
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return (outputs, weights) if return_attention_scores else outputs

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        """(batch, T, output width)."""
        return (*query_shape[:-1], self.output_width or query_shape[-1])

    def compute_mask(self, query, value, key=None, **kwargs):
        """Masks are handled inside the layer; the output carries none."""
        return None

    def get_config(self):
        """The constructor arguments, for ``model.keras``."""
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim,
                      dropout=self.dropout_rate, use_bias=self.use_bias, output_shape=self.output_width,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config
