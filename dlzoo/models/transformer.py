"""Transformers (Vaswani et al. 2017) from dlzoo's hand-written attention.

Pieces (each a serializable Keras layer, so ``model.keras`` reloads):

* :func:`sinusoidal_encoding` and :class:`PositionalEncoding`: attention itself ignores order,
  so each position gets a vector added to its token: the fixed sinusoids of the paper
  (``kind="sinusoidal"``) or one learned vector per position (``kind="learned"``);
* :class:`TransformerEncoderBlock`: self-attention, then a position-wise feed-forward network,
  each inside a residual connection with layer normalization; ``causal=True`` makes it the
  block of a decoder-only model (GPT);
* :class:`TransformerDecoderBlock`: causal self-attention, cross-attention to the encoder's
  outputs, feed-forward network;
* ``norm_first`` switches between *post-norm* (the paper: ``x = norm(x + sublayer(x))``) and
  *pre-norm* (GPT-2 and most models since: ``x = x + sublayer(norm(x))``), which keeps an
  identity path from input to output and trains deep stacks without warm-up.

Builders: ``transformer`` (a sequence classifier), ``gpt`` (a decoder-only language model:
tokens in, next-token logits out at every position) and :func:`build_translator` (an
encoder-decoder for sequence-to-sequence tasks). Every block answers
``return_attention_scores=True`` with its attention weights, which ``dlzoo visualize --method
attention`` draws.
"""

import math

import keras
import numpy as np
from keras import layers, ops

from dlzoo.core import validation
from dlzoo.models import attention, heads, layers_util, register

POSITIONAL_KINDS = ("sinusoidal", "learned")


def sinusoidal_encoding(length, depth):
    """The (length, depth) table of Vaswani et al. 2017, section 3.5.

    ``PE[pos, 2i] = sin(pos / 10000^(2i / depth))`` and ``PE[pos, 2i + 1] = cos(pos / 10000^(2i / depth))``:
    each pair of columns is a sine and cosine of one frequency, the frequencies falling
    geometrically from 1 to 1/10000, so that ``PE[pos + k]`` is a linear function (a rotation
    per pair) of ``PE[pos]``.
    """
    positions = np.arange(length, dtype="float64")[:, np.newaxis]  # (length, 1)
    pair_index = np.arange(0, depth, 2, dtype="float64")[np.newaxis, :]  # the 2i of each pair
    angles = positions / np.power(10000.0, pair_index / depth)  # (length, ceil(depth / 2))
    table = np.zeros((length, depth))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, :depth // 2])
    return table.astype("float32")


def check_heads(model_dim, num_heads):
    """Each head gets ``model_dim / num_heads`` features: the division must be exact."""
    model_dim = validation.check_integer("model_dim", model_dim, minimum=1)
    num_heads = validation.check_integer("num_heads", num_heads, minimum=1)
    if model_dim % num_heads:
        raise ValueError(f"num_heads {num_heads} does not divide the model width model_dim {model_dim}; "
                         f"choose num_heads among {[h for h in range(1, model_dim + 1) if model_dim % h == 0][:8]}")
    return model_dim // num_heads


def check_positional(kind):
    """``sinusoidal`` or ``learned``."""
    if kind not in POSITIONAL_KINDS:
        raise ValueError(f"positional must be one of {', '.join(POSITIONAL_KINDS)}, got {kind!r}")
    return kind


@keras.saving.register_keras_serializable(package="dlzoo")
class PositionalEncoding(layers.Layer):
    """Adds a position vector to every step of a (batch, time, depth) input.

    Args:
        max_length: the longest sequence the layer accepts.
        kind: ``"sinusoidal"`` (fixed, :func:`sinusoidal_encoding`) or ``"learned"`` (one
            trainable vector per position, as in BERT and GPT).
    """

    def __init__(self, max_length, kind="sinusoidal", **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)
        self.kind = check_positional(kind)

    def build(self, input_shape):
        """The table: a constant (sinusoidal) or a weight (learned)."""
        depth = int(input_shape[-1])
        if self.kind == "learned":
            self.table = self.add_weight(name="positions", shape=(self.max_length, depth),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))
        else:
            self.table = ops.convert_to_tensor(sinusoidal_encoding(self.max_length, depth))
        self.built = True

    def call(self, inputs):
        """``inputs + table[:time]``."""
        length = ops.shape(inputs)[1]
        return inputs + ops.cast(self.table[:length], inputs.dtype)

    def get_config(self):
        """The constructor arguments."""
        return {**super().get_config(), "max_length": self.max_length, "kind": self.kind}


@keras.saving.register_keras_serializable(package="dlzoo")
class PaddingMask(layers.Layer):
    """``tokens != padding_id``: the (batch, time) boolean mask of real tokens."""

    def __init__(self, padding_id=0, **kwargs):
        super().__init__(**kwargs)
        self.padding_id = int(padding_id)

    def call(self, tokens):
        """True where a token is not padding."""
        return ops.not_equal(tokens, self.padding_id)

    def get_config(self):
        """The constructor arguments."""
        return {**super().get_config(), "padding_id": self.padding_id}


def feed_forward(model_dim, feed_forward_dim, name):
    """The position-wise network ``Dense(ff, gelu) -> Dense(model_dim)`` applied at every step."""
    return keras.Sequential([layers.Dense(feed_forward_dim, activation="gelu", name=f"{name}_expand"),
                             layers.Dense(model_dim, name=f"{name}_project")], name=name)


@keras.saving.register_keras_serializable(package="dlzoo")
class TransformerEncoderBlock(layers.Layer):
    """Self-attention + feed-forward, each with a residual connection and layer normalization.

    Args:
        model_dim: width of the inputs and outputs (the residual stream).
        num_heads: attention heads; must divide ``model_dim`` (each head has ``model_dim / num_heads``).
        feed_forward_dim: hidden width of the feed-forward network (usually 2-4 x model_dim).
        dropout_rate: dropout on the attention weights and on each sub-layer's output.
        norm_first: True = pre-norm ``x + f(norm(x))``; False = post-norm ``norm(x + f(x))``.
        causal: True = each position attends only to itself and earlier ones (a GPT block).

    Call: ``block(inputs, padding_mask=None, training=None, return_attention_scores=False)``
    with ``inputs`` (batch, time, model_dim) and ``padding_mask`` (batch, time), True on real
    tokens; returns (batch, time, model_dim), and the weights (batch, heads, time, time) when asked.
    """

    def __init__(self, model_dim, num_heads, feed_forward_dim, dropout_rate=0.1, norm_first=True, causal=False,
                 **kwargs):
        super().__init__(**kwargs)
        key_dim = check_heads(model_dim, num_heads)
        self.model_dim, self.num_heads = int(model_dim), int(num_heads)
        self.feed_forward_dim = int(feed_forward_dim)
        self.dropout_rate = float(dropout_rate)
        self.norm_first, self.causal = bool(norm_first), bool(causal)
        self.attention = attention.MultiHeadAttention(num_heads, key_dim, dropout=dropout_rate, name="attention")
        self.attention_norm = layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.feed_forward = feed_forward(model_dim, feed_forward_dim, "feed_forward")
        self.feed_forward_norm = layers.LayerNormalization(epsilon=1e-6, name="feed_forward_norm")
        self.dropout = layers.Dropout(dropout_rate)

    def build(self, inputs_shape):
        """Build every sub-layer (so that saved weights load into a fresh block)."""
        self.attention.build(inputs_shape, inputs_shape)
        self.attention_norm.build(inputs_shape)
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None, return_attention_scores=False):
        """One block; see the class docstring."""
        def attend(x):
            return self.attention(x, x, query_mask=padding_mask, value_mask=padding_mask,
                                  use_causal_mask=self.causal, return_attention_scores=True, training=training)

        if self.norm_first:
            attended, weights = attend(self.attention_norm(inputs))
            x = inputs + self.dropout(attended, training=training)
            x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)), training=training)
        else:
            attended, weights = attend(inputs)
            x = self.attention_norm(inputs + self.dropout(attended, training=training))
            x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x), training=training))
        return (x, weights) if return_attention_scores else x

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        """Same shape as the inputs."""
        return inputs_shape

    def get_config(self):
        """The constructor arguments."""
        return {**super().get_config(), "model_dim": self.model_dim, "num_heads": self.num_heads,
                "feed_forward_dim": self.feed_forward_dim, "dropout_rate": self.dropout_rate,
                "norm_first": self.norm_first, "causal": self.causal}


@keras.saving.register_keras_serializable(package="dlzoo")
class TransformerDecoderBlock(layers.Layer):
    """Causal self-attention, cross-attention to the encoder, feed-forward: one decoder block.

    Arguments as :class:`TransformerEncoderBlock`. Call:
    ``block(inputs, context, padding_mask=None, context_mask=None, training=None,
    return_attention_scores=False)``: ``inputs`` (batch, T, model_dim) are the target tokens so
    far, ``context`` (batch, S, model_dim) the encoder's outputs, the masks True on real tokens.
    With ``return_attention_scores`` it also returns ``{"self": (batch, heads, T, T),
    "cross": (batch, heads, T, S)}``.
    """

    def __init__(self, model_dim, num_heads, feed_forward_dim, dropout_rate=0.1, norm_first=True, **kwargs):
        super().__init__(**kwargs)
        key_dim = check_heads(model_dim, num_heads)
        self.model_dim, self.num_heads = int(model_dim), int(num_heads)
        self.feed_forward_dim = int(feed_forward_dim)
        self.dropout_rate = float(dropout_rate)
        self.norm_first = bool(norm_first)
        self.self_attention = attention.MultiHeadAttention(num_heads, key_dim, dropout=dropout_rate,
                                                           name="self_attention")
        self.self_attention_norm = layers.LayerNormalization(epsilon=1e-6, name="self_attention_norm")
        self.cross_attention = attention.MultiHeadAttention(num_heads, key_dim, dropout=dropout_rate,
                                                            name="cross_attention")
        self.cross_attention_norm = layers.LayerNormalization(epsilon=1e-6, name="cross_attention_norm")
        self.feed_forward = feed_forward(model_dim, feed_forward_dim, "feed_forward")
        self.feed_forward_norm = layers.LayerNormalization(epsilon=1e-6, name="feed_forward_norm")
        self.dropout = layers.Dropout(dropout_rate)

    def build(self, inputs_shape, context_shape):
        """Build every sub-layer (so that saved weights load into a fresh block)."""
        self.self_attention.build(inputs_shape, inputs_shape)
        self.self_attention_norm.build(inputs_shape)
        self.cross_attention.build(inputs_shape, context_shape)
        self.cross_attention_norm.build(inputs_shape)
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm.build(inputs_shape)
        self.built = True

    def call(self, inputs, context, padding_mask=None, context_mask=None, training=None,
             return_attention_scores=False):
        """One block; see the class docstring."""
        def residual(x, norm, sublayer):
            """Pre-norm ``x + f(norm(x))`` or post-norm ``norm(x + f(x))``; f returns (out, weights)."""
            if self.norm_first:
                out, weights = sublayer(norm(x))
                return x + self.dropout(out, training=training), weights
            out, weights = sublayer(x)
            return norm(x + self.dropout(out, training=training)), weights

        x, self_weights = residual(inputs, self.self_attention_norm, lambda h: self.self_attention(
            h, h, query_mask=padding_mask, value_mask=padding_mask, use_causal_mask=True,
            return_attention_scores=True, training=training))
        x, cross_weights = residual(x, self.cross_attention_norm, lambda h: self.cross_attention(
            h, context, query_mask=padding_mask, value_mask=context_mask, return_attention_scores=True,
            training=training))
        x, _ = residual(x, self.feed_forward_norm, lambda h: (self.feed_forward(h), None))
        return (x, {"self": self_weights, "cross": cross_weights}) if return_attention_scores else x

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        """Same shape as the target inputs."""
        return inputs_shape

    def get_config(self):
        """The constructor arguments."""
        return {**super().get_config(), "model_dim": self.model_dim, "num_heads": self.num_heads,
                "feed_forward_dim": self.feed_forward_dim, "dropout_rate": self.dropout_rate,
                "norm_first": self.norm_first}


def block_options(model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate):
    """Check the options every builder shares; returns them as numbers."""
    check_heads(model_dim, num_heads)
    validation.check_integer("feed_forward_dim", feed_forward_dim, minimum=1)
    validation.check_integer("num_layers", num_layers, minimum=1)
    validation.check_number("dropout_rate", dropout_rate, minimum=0.0, maximum=0.99)


def encoder_blocks(x, num_layers, model_dim, num_heads, feed_forward_dim, dropout_rate, norm_first, causal=False,
                   padding_mask=None, prefix="encoder"):
    """``num_layers`` blocks named ``<prefix>_block1..N``, then a final norm in pre-norm stacks."""
    for index in range(1, num_layers + 1):
        x = TransformerEncoderBlock(model_dim, num_heads, feed_forward_dim, dropout_rate, norm_first, causal,
                                    name=f"{prefix}_block{index}")(x, padding_mask=padding_mask)
    if norm_first:  # pre-norm leaves the residual stream unnormalized: normalize it once at the end
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_final_norm")(x)
    return x


@register("transformer")
def build_transformer_classifier(input_shape, num_classes, *, model_dim=64, num_heads=4, feed_forward_dim=128,
                                 num_layers=2, dropout_rate=0.1, norm_first=True, positional="sinusoidal",
                                 patch_size=1, pooling="average"):
    """A transformer encoder that classifies a sequence (a signal of MNIST-1D, one vector per step).

    Steps: the input (time,) or (time, features) is cut into patches of ``patch_size`` steps
    (``patch_size = 4`` turns 40 samples into 10 tokens of 4 values), each patch is projected to
    ``model_dim`` (the token embedding), positions are added, ``num_layers`` encoder blocks
    mix the tokens, and the tokens are pooled (``average``, or ``max``) into the classifier head.

    Args:
        input_shape: (time,) or (time, features).
        num_classes: classes of the head.
        model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate, norm_first: the blocks'.
        positional: ``"sinusoidal"`` or ``"learned"`` position vectors.
        patch_size: steps per token; must divide the length.
        pooling: ``"average"`` or ``"max"`` over the tokens.
    """
    block_options(model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate)
    check_positional(positional)
    if pooling not in ("average", "max"):
        raise ValueError(f"pooling must be average or max, got {pooling!r}")
    if len(input_shape) not in (1, 2):
        raise ValueError(f"the transformer classifier takes sequences (time,) or (time, features), got {input_shape}")
    steps = int(input_shape[0])
    features = int(input_shape[1]) if len(input_shape) == 2 else 1
    patch_size = validation.check_integer("patch_size", patch_size, minimum=1)
    if steps % patch_size:
        raise ValueError(f"patch_size {patch_size} does not divide the sequence length {steps}")
    tokens = steps // patch_size
    inputs = layers_util.inputs_for(input_shape)
    x = layers.Reshape((tokens, patch_size * features), name="patches")(inputs)  # (batch, tokens, patch values)
    x = layers.Dense(model_dim, name="token_embedding")(x)
    x = PositionalEncoding(tokens, positional, name="positional_encoding")(x)
    x = layers.Dropout(dropout_rate, name="embedding_dropout")(x)
    x = encoder_blocks(x, num_layers, model_dim, num_heads, feed_forward_dim, dropout_rate, norm_first)
    pool = layers.GlobalAveragePooling1D if pooling == "average" else layers.GlobalMaxPooling1D
    x = pool(name="pool")(x)
    outputs = heads.classifier_head(x, num_classes)
    return keras.Model(inputs, outputs, name="transformer")


@register("gpt")
def build_gpt(input_shape, num_classes, *, model_dim=128, num_heads=4, feed_forward_dim=512, num_layers=4,
              dropout_rate=0.1, norm_first=True, positional="learned"):
    """A decoder-only transformer language model (GPT, Radford et al. 2018): tokens -> next-token logits.

    Args:
        input_shape: ``(context_length,)``: integer token ids.
        num_classes: the vocabulary size (one logit per token at every position).
        model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate, norm_first: the blocks'.
        positional: ``"learned"`` (GPT's) or ``"sinusoidal"``.

    Returns:
        A model (batch, context_length) int -> (batch, context_length, vocabulary) logits: the
        logits at position t predict token t + 1 from tokens 0..t (causal self-attention).
    """
    block_options(model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate)
    check_positional(positional)
    context_length = int(input_shape[0])
    inputs = keras.Input(shape=(context_length,), dtype="int32", name="tokens")
    x = layers.Embedding(num_classes, model_dim, name="token_embedding")(inputs)
    x = PositionalEncoding(context_length, positional, name="positional_encoding")(x)
    x = layers.Dropout(dropout_rate, name="embedding_dropout")(x)
    x = encoder_blocks(x, num_layers, model_dim, num_heads, feed_forward_dim, dropout_rate, norm_first, causal=True,
                       prefix="decoder")
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="gpt")


def build_translator(source_vocabulary, target_vocabulary, source_length, target_length, *, model_dim=128,
                     num_heads=4, feed_forward_dim=256, num_layers=2, dropout_rate=0.1, norm_first=True,
                     positional="sinusoidal", padding_id=0):
    """An encoder-decoder transformer for sequence-to-sequence translation (teacher forcing).

    Inputs ``source_tokens`` (batch, source_length) and ``target_tokens`` (batch, target_length)
    (the target shifted right: start token first), integer ids with ``padding_id`` as padding;
    output (batch, target_length, target_vocabulary) logits of the next target token. The
    encoder's self-attention and the decoder's cross-attention ignore source padding; the
    decoder's self-attention is causal, so at inference the model decodes greedily or with beam
    search one token at a time, feeding its own outputs back.

    Layer names: ``encoder_block1..N``, ``decoder_block1..N`` (their attention weights are drawn
    by ``dlzoo visualize --method attention``), ``logits``.
    """
    block_options(model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate)
    check_positional(positional)
    source = keras.Input(shape=(source_length,), dtype="int32", name="source_tokens")
    target = keras.Input(shape=(target_length,), dtype="int32", name="target_tokens")
    source_mask = PaddingMask(padding_id, name="source_mask")(source)  # (batch, S), True on real tokens
    target_mask = PaddingMask(padding_id, name="target_mask")(target)
    scale = math.sqrt(model_dim)  # the paper multiplies embeddings by sqrt(d_model) before adding positions

    encoded = layers.Embedding(source_vocabulary, model_dim, name="source_embedding")(source)
    encoded = layers.Rescaling(scale, name="source_scale")(encoded)
    encoded = PositionalEncoding(source_length, positional, name="source_positions")(encoded)
    encoded = layers.Dropout(dropout_rate, name="source_dropout")(encoded)
    encoded = encoder_blocks(encoded, num_layers, model_dim, num_heads, feed_forward_dim, dropout_rate, norm_first,
                             padding_mask=source_mask, prefix="encoder")

    x = layers.Embedding(target_vocabulary, model_dim, name="target_embedding")(target)
    x = layers.Rescaling(scale, name="target_scale")(x)
    x = PositionalEncoding(target_length, positional, name="target_positions")(x)
    x = layers.Dropout(dropout_rate, name="target_dropout")(x)
    for index in range(1, num_layers + 1):
        x = TransformerDecoderBlock(model_dim, num_heads, feed_forward_dim, dropout_rate, norm_first,
                                    name=f"decoder_block{index}")(x, encoded, padding_mask=target_mask,
                                                                  context_mask=source_mask)
    if norm_first:
        x = layers.LayerNormalization(epsilon=1e-6, name="decoder_final_norm")(x)
    logits = layers.Dense(target_vocabulary, name="logits")(x)
    return keras.Model({"source_tokens": source, "target_tokens": target}, logits, name="transformer_translator")
