"""The transformer translator of the seq2seq task: :func:`dlzoo.models.transformer.build_translator`
with the step interface that dlzoo's greedy and beam-search decoders drive.

    source ids ─► embedding · sqrt(d) + positions ─► N encoder blocks ─► memory (batch, S, d)
    [START] y_1 .. y_n ─► embedding · sqrt(d) + positions ─► N decoder blocks
        (causal self-attention, cross-attention to the memory, feed-forward) ─► logits of y_{t+1}

Training (:meth:`TransformerTranslator.call`) is the functional model of ``build_translator``
with teacher forcing: every target position is predicted at once, the causal mask keeping
position t from seeing the tokens after it. Inference reuses the *same layers and weights*,
looked up by name, one token at a time:

* :meth:`~TransformerTranslator.initial_state`: encode the source once, project the memory
  into each decoder block's cross-attention keys and values once, and start empty self-attention
  key/value caches (all batch-first tensors, as the greedy and beam decoders want);
* :meth:`~TransformerTranslator.decode_step`: embed the new token at its position, add its keys
  and values to each block's cache and let its query attend to the cache and to the memory: the
  *key/value cache* of every transformer decoder, so a step costs O(T) instead of re-running the
  decoder over the whole prefix (O(T^2)); it returns the logits of the next token and the last
  block's cross-attention averaged over heads (where the model looked in the source).

:meth:`~TransformerTranslator.cross_attention` runs the decoder teacher-forced on a finished
output to get every head's cross-attention for the pictures.

Token ids are those of :mod:`dlzoo.translation.vocabulary` (0 padding, 1 unknown, 2 start, 3 end,
then one per character). The model keeps its vocabularies and lengths in its config, so
``model.keras`` alone is enough to translate. keras and keras.ops only.
"""

import keras
from keras import ops

from dlzoo.models import attention, register, transformer

PAD, SPECIAL_TOKENS = 0, 4  # padding id; padding, unknown, start, end (dlzoo.translation.vocabulary)


@keras.saving.register_keras_serializable(package="dlzoo")
class TransformerTranslator(keras.Model):
    """An encoder-decoder transformer over character ids; see the module docstring.

    Args:
        source_vocabulary, target_vocabulary: the characters (id = 4 + position).
        max_source_length: source ids per example (longer inputs are cut by the caller).
        max_target_length: decoding steps at most; the decoder reads ``max_target_length + 1``
            tokens ([START] and the target) in training.
        model_dim, num_heads, feed_forward_dim, num_layers, dropout_rate, norm_first, positional:
            those of :func:`dlzoo.models.transformer.build_translator`.

    Attributes read by the seq2seq task: ``family`` ("transformer"), ``cell_type`` and
    ``attention`` (for its one-line description and picture titles), the vocabularies and lengths.
    """

    family = "transformer"

    def __init__(self, source_vocabulary, target_vocabulary, max_source_length, max_target_length, model_dim=128,
                 num_heads=4, feed_forward_dim=256, num_layers=2, dropout_rate=0.1, norm_first=True,
                 positional="sinusoidal", **kwargs):
        super().__init__(**kwargs)
        self.source_vocabulary = list(source_vocabulary)
        self.target_vocabulary = list(target_vocabulary)
        self.max_source_length = int(max_source_length)
        self.max_target_length = int(max_target_length)
        self.options = {"model_dim": model_dim, "num_heads": num_heads, "feed_forward_dim": feed_forward_dim,
                        "num_layers": num_layers, "dropout_rate": dropout_rate, "norm_first": norm_first,
                        "positional": positional}
        self.num_layers, self.norm_first = int(num_layers), bool(norm_first)
        self.cell_type = "transformer"
        self.attention = f"{num_heads}-head cross"  # the seq2seq task's pictures: "4-head cross attention"
        self.decoder_length = self.max_target_length + 1  # [START] + up to max_target_length tokens
        self.target_size = SPECIAL_TOKENS + len(self.target_vocabulary)
        self.network = transformer.build_translator(SPECIAL_TOKENS + len(self.source_vocabulary), self.target_size,
                                                    self.max_source_length, self.decoder_length, **self.options)

    def architecture(self):
        """One line for the run's description: layers, heads and widths."""
        options = self.options
        return (f"transformer encoder-decoder, {self.num_layers} layers, {options['num_heads']} heads, "
                f"model_dim {options['model_dim']}, feed-forward {options['feed_forward_dim']}")

    def build(self, input_shape=None):
        """The functional network holds every weight and is built already."""
        self.built = True

    # 1. Training: teacher forcing --------------------------------------------------------------

    def call(self, inputs, training=False):
        """``(source ids (batch, S), decoder input ids (batch, T + 1))`` -> logits (batch, T + 1, vocabulary)."""
        source, decoder_input = inputs
        return self.network({"source_tokens": source, "target_tokens": decoder_input}, training=training)

    # 2. The same layers, in two pieces ---------------------------------------------------------

    def encode(self, source):
        """Source ids (batch, S) -> (memory (batch, S, model_dim), source mask (batch, S) bool)."""
        layer = self.network.get_layer
        mask = layer("source_mask")(source)
        x = layer("source_positions")(layer("source_scale")(layer("source_embedding")(source)))
        x = layer("source_dropout")(x, training=False)
        for index in range(1, self.num_layers + 1):
            x = layer(f"encoder_block{index}")(x, padding_mask=mask, training=False)
        if self.norm_first:
            x = layer("encoder_final_norm")(x)
        return x, mask

    def decode(self, target, memory, source_mask):
        """Decoder input ids (batch, T) -> (logits (batch, T, vocabulary), [cross-attention of each block
        (batch, heads, T, S)])."""
        layer = self.network.get_layer
        target_mask = layer("target_mask")(target)
        x = layer("target_positions")(layer("target_scale")(layer("target_embedding")(target)))
        x = layer("target_dropout")(x, training=False)
        cross = []
        for index in range(1, self.num_layers + 1):
            x, weights = layer(f"decoder_block{index}")(x, memory, padding_mask=target_mask, context_mask=source_mask,
                                                        training=False, return_attention_scores=True)
            cross.append(weights["cross"])
        if self.norm_first:
            x = layer("decoder_final_norm")(x)
        return layer("logits")(x), cross

    def cross_attention(self, source, decoder_input):
        """Every decoder block's cross-attention for teacher-forced ``decoder_input``: a list of
        (batch, heads, T, S) arrays (rows: output positions, columns: source characters)."""
        memory, mask = self.encode(source)
        return self.decode(decoder_input, memory, mask)[1]

    # 3. Inference: one step at a time, with a key/value cache ----------------------------------

    def initial_state(self, source):
        """The decoding state for ``source`` ids, a tuple of batch-first tensors:

        ``(source mask (batch, S), position (batch,), real tokens so far (batch, T + 1),
        then per decoder block its cross-attention keys and values of the memory
        (batch, S, heads, key_dim) (computed once here), then per block its self-attention
        key and value cache (batch, T + 1, heads, key_dim), empty)``.
        """
        memory, mask = self.encode(source)
        batch = ops.shape(source)[0]
        cross, cache = [], []
        for block in self.decoder_blocks():
            layer = block.cross_attention
            cross += [layer.project(memory, layer.key_kernel, layer.key_bias),
                      layer.project(memory, layer.value_kernel, layer.value_bias)]
            heads, width = block.self_attention.num_heads, block.self_attention.key_dim
            cache += [ops.zeros((batch, self.decoder_length, heads, width)) for _ in range(2)]
        position = ops.zeros((batch,), "int32")
        real = ops.zeros((batch, self.decoder_length), "bool")
        return (mask, position, real, *cross, *cache)

    def decode_step(self, tokens, state):
        """``tokens`` (batch,) and a state -> (logits (batch, vocabulary), next state, attention (batch, S)).

        Only the new token goes through the decoder: its keys and values join each block's
        cache at ``position`` and its query attends to the cache (the positions written so far,
        as the causal mask allows in training) and to the memory's precomputed keys and values.
        The numbers are those of the teacher-forced :meth:`call` (tested to 1e-5).
        """
        count = self.num_layers
        mask, position, real = state[:3]
        cross, cache = state[3:3 + 2 * count], list(state[3 + 2 * count:])
        layer = self.network.get_layer
        tokens = ops.cast(tokens, "int32")
        here = ops.one_hot(position, self.decoder_length)  # (batch, T + 1): 1.0 at this step
        token_is_real = ops.not_equal(tokens, PAD)  # a padding token attends to nothing, as in training
        real = ops.logical_or(ops.logical_and(real, ops.equal(here, 0.0)),
                              ops.logical_and(ops.expand_dims(token_is_real, 1), ops.equal(here, 1.0)))
        seen = ops.less_equal(ops.expand_dims(ops.arange(self.decoder_length), 0), ops.expand_dims(position, 1))
        self_mask = ops.logical_and(ops.logical_and(real, seen), ops.expand_dims(token_is_real, 1))
        self_mask = ops.expand_dims(ops.expand_dims(self_mask, 1), 1)  # (batch, 1 head, 1 query, T + 1)
        cross_mask = ops.logical_and(ops.cast(mask, "bool"), ops.expand_dims(token_is_real, 1))
        cross_mask = ops.expand_dims(ops.expand_dims(cross_mask, 1), 1)  # (batch, 1, 1, S)
        write = ops.expand_dims(ops.expand_dims(here, -1), -1)  # (batch, T + 1, 1, 1)

        # The token at its position: embedding * sqrt(d) + the position's vector.
        x = layer("target_scale")(layer("target_embedding")(ops.expand_dims(tokens, 1)))  # (batch, 1, d)
        table = ops.cast(layer("target_positions").table, x.dtype)
        x = x + ops.expand_dims(ops.take(table, position, axis=0), 1)
        for index, block in enumerate(self.decoder_blocks()):
            keys, values = cache[2 * index], cache[2 * index + 1]

            def self_attention(h, block=block, index=index):
                attention_layer = block.self_attention
                new_keys = attention_layer.project(h, attention_layer.key_kernel, attention_layer.key_bias)
                new_values = attention_layer.project(h, attention_layer.value_kernel, attention_layer.value_bias)
                cache[2 * index] = keys * (1.0 - write) + new_keys * write  # (batch, T + 1, heads, key_dim)
                cache[2 * index + 1] = values * (1.0 - write) + new_values * write
                return attend(attention_layer, h, cache[2 * index], cache[2 * index + 1], self_mask)[0]

            def cross_attention(h, block=block, index=index):
                out, weights = attend(block.cross_attention, h, cross[2 * index], cross[2 * index + 1], cross_mask)
                cross_weights.append(weights)
                return out

            cross_weights = []
            x = residual(block, x, block.self_attention_norm, self_attention)
            x = residual(block, x, block.cross_attention_norm, cross_attention)
            x = residual(block, x, block.feed_forward_norm, block.feed_forward)
        if self.norm_first:
            x = layer("decoder_final_norm")(x)
        logits = layer("logits")(x)[:, 0]
        # Where this step looked: the last block's cross-attention, averaged over its heads.
        weights = ops.mean(cross_weights[-1][:, :, 0], axis=1)  # (batch, S)
        return logits, (mask, position + 1, real, *cross, *cache), weights

    def decoder_blocks(self):
        """The decoder blocks, first to last."""
        return [self.network.get_layer(f"decoder_block{index}") for index in range(1, self.num_layers + 1)]

    def get_config(self):
        """Everything needed to rebuild the model, vocabularies included."""
        return {**super().get_config(), "source_vocabulary": self.source_vocabulary,
                "target_vocabulary": self.target_vocabulary, "max_source_length": self.max_source_length,
                "max_target_length": self.max_target_length, **self.options}


def attend(layer, query, keys, values, mask):
    """``layer`` (a :class:`dlzoo.models.attention.MultiHeadAttention`) with its own weights, for
    queries (batch, T, d) against keys and values already projected (batch, S, heads, key_dim):
    (outputs (batch, T, d), weights (batch, heads, T, S))."""
    queries = layer.project(query, layer.query_kernel, layer.query_bias)
    attended, weights = attention.scaled_dot_product_attention(queries, keys, values, mask)
    outputs = ops.einsum("bthd,hdf->btf", attended, layer.output_kernel)  # concat(heads) W^O
    if layer.output_bias is not None:
        outputs = outputs + layer.output_bias
    return outputs, weights


def residual(block, x, norm, sublayer):
    """A decoder block's residual connection: pre-norm ``x + f(norm(x))`` or post-norm ``norm(x + f(x))``."""
    if block.norm_first:
        return x + sublayer(norm(x))
    return norm(x + sublayer(x))


def check_options(options):
    """The value checks of :func:`build_transformer_translator`'s options (``ValueError``)."""
    from dlzoo.core import validation

    for key in ("model_dim", "num_heads", "feed_forward_dim", "num_layers"):
        validation.check_integer(f"model.{key}", options[key], minimum=1)
    validation.check_number("model.dropout_rate", options["dropout_rate"], minimum=0.0, maximum=0.99)
    validation.check_choice("model.positional", options["positional"], transformer.POSITIONAL_KINDS)
    if options["model_dim"] % options["num_heads"]:
        raise ValueError(f"num_heads {options['num_heads']} does not divide the model width model_dim "
                         f"{options['model_dim']}: each head gets model_dim / num_heads features")


@register("transformer", kind="translator", check=check_options)
def build_transformer_translator(source_vocabulary, target_vocabulary, max_source_length, max_target_length, *,
                                 model_dim=128, num_heads=4, feed_forward_dim=256, num_layers=2, dropout_rate=0.1,
                                 norm_first=True, positional="sinusoidal"):
    """A built :class:`TransformerTranslator`; the keyword options are a recipe's ``[model]`` keys."""
    model = TransformerTranslator(source_vocabulary, target_vocabulary, max_source_length, max_target_length,
                                  model_dim=model_dim, num_heads=num_heads, feed_forward_dim=feed_forward_dim,
                                  num_layers=num_layers, dropout_rate=dropout_rate, norm_first=norm_first,
                                  positional=positional)
    model.build()
    return model
