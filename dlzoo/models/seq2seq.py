"""A recurrent encoder-decoder (Sutskever et al. 2014) for character sequences, with attention.

    source ids ─► Embedding ─► encoder GRU/LSTM ─► outputs (batch, S, units), final state(s)
        forward:        one left-to-right layer (Sutskever et al.)
        bidirectional:  a left-to-right and a right-to-left layer of units/2 each, concatenated
                        (Bahdanau et al. 2015): the output at a character also knows what follows
    [START] y_1 .. y_{n} ─► Embedding ─► decoder GRU/LSTM (initial state = encoder's) ─► h_t
        luong:     c_t = attention(h_t, encoder outputs), score(h, e) = h W e   (Luong et al. 2015)
                   a_t = tanh(W_c [h_t; c_t])
        bahdanau:  c_t = attention(s_{t-1}, encoder outputs), score = v . tanh(W1 e + W2 s)
                   (Bahdanau et al. 2015); the decoder cell reads [embedding(y_{t-1}); c_t]
        none:      a_t = h_t   (the whole source must fit in the encoder's final state)
    a_t ─► Dense(target vocabulary) ─► logits of the next character

Training uses *teacher forcing*: the decoder reads the true previous characters
(:meth:`Seq2Seq.call`). At inference it reads its own outputs, one step at a time:
:meth:`Seq2Seq.initial_state` once, then :meth:`Seq2Seq.decode_step` (greedy and beam search in
:mod:`dlzoo.translation.decoding` drive it). Both paths use the same layers, so they agree.

Why a bidirectional encoder: with a left-to-right encoder the output at the "3" of
"jueves, 3 de noviembre" cannot know whether a second digit follows, so writing the "0" of
"-03" needs attention on the character *after* the day. Some initializations never find that
and copy the digit ("-33"): seq2seq-dates with train.seed 0 stayed at 0.91 exact match, while
seeds 1 and 2 reached 1.000 after one epoch. Reading both directions puts the answer at the
digit itself.

Token ids: 0 padding, 1 unknown, 2 start, 3 end, then one per character of the vocabulary
(:mod:`dlzoo.translation.vocabulary`). The model keeps its vocabularies and maximum lengths in its
config, so ``model.keras`` alone is enough to translate. keras and keras.ops only.
"""

import keras
from keras import layers, ops

from dlzoo.models import register

CELLS = ("gru", "lstm")
ATTENTIONS = ("luong", "bahdanau", "none")
ENCODERS = ("forward", "bidirectional")
PAD, UNKNOWN, START, END = 0, 1, 2, 3
SPECIAL_TOKENS = 4
MASKED_SCORE = -1e9


def recurrent_layer(cell, units, name):
    """A GRU or LSTM layer returning its sequence of outputs and its final state(s)."""
    layer_class = layers.GRU if cell == "gru" else layers.LSTM
    return layer_class(units, return_sequences=True, return_state=True, name=name)


def encoder_layer(cell, units, encoder):
    """The encoder: one forward layer of ``units``, or two directions of ``units // 2`` concatenated
    (so that its outputs and states have the decoder's size ``units`` either way)."""
    if encoder == "forward":
        return recurrent_layer(cell, units, "encoder")
    return layers.Bidirectional(recurrent_layer(cell, units // 2, "encoder"), merge_mode="concat", name="encoder")


@keras.saving.register_keras_serializable(package="dlzoo")
class Seq2Seq(keras.Model):
    """Encoder-decoder over character ids; see the module docstring for the equations.

    Args:
        source_vocabulary, target_vocabulary: the characters (id = 4 + position).
        max_source_length: source ids per example (longer inputs are cut by the caller).
        max_target_length: decoding steps at most (the longest training target + a margin).
        cell: ``gru`` or ``lstm``. units: state size. embedding_dim: character embedding size.
        attention: ``luong``, ``bahdanau`` or ``none``.
        encoder: ``forward`` (the default, so that models saved before this option load
            unchanged) or ``bidirectional`` (``units`` must then be even).
    """

    def __init__(self, source_vocabulary, target_vocabulary, max_source_length, max_target_length, cell="gru",
                 units=128, embedding_dim=32, attention="luong", encoder="forward", **kwargs):
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"model.cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"model.attention must be one of {', '.join(ATTENTIONS)}, got {attention!r}")
        if encoder not in ENCODERS:
            raise ValueError(f"model.encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        for name, value in (("units", units), ("embedding_dim", embedding_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"model.{name} must be a whole number >= 1, got {value!r}")
        if encoder == "bidirectional" and units % 2:
            raise ValueError(f"model.units must be even with a bidirectional encoder (units/2 per direction), "
                             f"got {units}")
        self.source_vocabulary = list(source_vocabulary)
        self.target_vocabulary = list(target_vocabulary)
        self.max_source_length = int(max_source_length)
        self.max_target_length = int(max_target_length)
        self.cell_type, self.units, self.embedding_dim, self.attention = cell, units, embedding_dim, attention
        self.encoder_type = encoder
        self.target_size = SPECIAL_TOKENS + len(self.target_vocabulary)
        self.source_embedding = layers.Embedding(SPECIAL_TOKENS + len(self.source_vocabulary), embedding_dim,
                                                 name="source_embedding")
        self.target_embedding = layers.Embedding(self.target_size, embedding_dim, name="target_embedding")
        self.encoder = encoder_layer(cell, units, encoder)
        self.decoder = recurrent_layer(cell, units, "decoder")
        if attention == "luong":
            self.score_weights = layers.Dense(units, use_bias=False, name="luong_score")  # W in h W e
        elif attention == "bahdanau":
            self.query_weights = layers.Dense(units, use_bias=False, name="bahdanau_query")  # W2 s
            self.key_weights = layers.Dense(units, use_bias=False, name="bahdanau_keys")  # W1 e
            self.score_vector = layers.Dense(1, use_bias=False, name="bahdanau_score")  # v
        if attention != "none":
            self.combine = layers.Dense(units, activation="tanh", name="attention_combine")  # W_c [h; c]
        self.output_layer = layers.Dense(self.target_size, name="next_character_logits")

    def architecture(self):
        """One line for the run's description: cell, encoder and attention."""
        return f"{self.cell_type} encoder-decoder ({self.encoder_type} encoder), attention {self.attention}"

    def build(self, input_shape=None):
        """Create every weight by one call on zeros (a subclassed model learns its shapes by running)."""
        if self.built:
            return
        if self.attention == "bahdanau":  # its decoder cell is called directly: build the layer first
            self.decoder.build((None, None, self.embedding_dim + self.units))
        self.call((ops.zeros((1, self.max_source_length), "int32"), ops.zeros((1, 2), "int32")))
        self.built = True

    # 1. Encoder and attention ------------------------------------------------------------------

    def encode(self, source, training=False):
        """``source`` ids (batch, S) -> (encoder outputs (batch, S, units), [final states], mask (batch, S))."""
        mask = ops.not_equal(source, PAD)
        encoded = self.encoder(self.source_embedding(source), mask=mask, training=training)
        states = list(encoded[1:])
        if self.encoder_type == "bidirectional":
            # [forward h (, c), backward h (, c)] -> the decoder's [h (, c)] = [forward; backward]
            count = len(states) // 2
            states = [ops.concatenate([forward, backward], axis=-1)
                      for forward, backward in zip(states[:count], states[count:])]
        return encoded[0], states, ops.cast(mask, "float32")

    def attend(self, query, memory, keys, mask):
        """Attention weights (batch, T, S) and contexts (batch, T, units) for queries (batch, T, units)."""
        if self.attention == "luong":
            scores = ops.matmul(self.score_weights(query), ops.transpose(memory, (0, 2, 1)))  # (batch, T, S)
        else:
            # v . tanh(W1 e_s + W2 q_t) for every (t, s): (batch, T, 1, units) + (batch, 1, S, units)
            summed = ops.expand_dims(self.query_weights(query), 2) + ops.expand_dims(keys, 1)
            scores = ops.squeeze(self.score_vector(ops.tanh(summed)), -1)
        scores = ops.where(ops.expand_dims(mask, 1) > 0, scores, MASKED_SCORE)  # padding gets no weight
        weights = ops.softmax(scores, axis=-1)
        return weights, ops.matmul(weights, memory)

    def memory_keys(self, memory):
        """Bahdanau's ``W1 e`` for every encoder output (computed once per source); else the memory."""
        return self.key_weights(memory) if self.attention == "bahdanau" else memory

    # 2. Training: teacher forcing --------------------------------------------------------------

    def call(self, inputs, training=False):
        """``(source ids (batch, S), decoder input ids (batch, T))`` -> logits (batch, T, target vocabulary)."""
        source, decoder_input = inputs
        memory, states, mask = self.encode(source, training)
        embedded = self.target_embedding(decoder_input)  # (batch, T, embedding)
        if self.attention == "bahdanau":
            # The query of step t is the state before it: a loop over the (short) target length.
            keys = self.memory_keys(memory)
            outputs = []
            for step in range(decoder_input.shape[1]):
                output, states, _ = self.bahdanau_step(embedded[:, step], states, memory, keys, mask)
                outputs.append(output)
            return self.output_layer(ops.stack(outputs, axis=1))
        decoded = self.decoder(embedded, initial_state=states, training=training)[0]  # (batch, T, units)
        if self.attention == "none":
            return self.output_layer(decoded)
        _, context = self.attend(decoded, memory, memory, mask)
        return self.output_layer(self.combine(ops.concatenate([decoded, context], axis=-1)))

    def bahdanau_step(self, embedded, states, memory, keys, mask):
        """One Bahdanau step: attend with the previous state, feed [embedding; context] to the cell."""
        attention_weights, context = self.attend(ops.expand_dims(states[0], 1), memory, keys, mask)
        context = context[:, 0]
        output, new_states = self.decoder.cell(ops.concatenate([embedded, context], axis=-1), states)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        combined = self.combine(ops.concatenate([output, context], axis=-1))
        return combined, new_states, attention_weights[:, 0]

    # 3. Inference: one step at a time ----------------------------------------------------------

    def initial_state(self, source):
        """The decoding state for ``source`` ids: a tuple of batch-first tensors
        ``(decoder states..., encoder outputs, attention keys, source mask)``."""
        memory, states, mask = self.encode(source)
        return (*states, memory, self.memory_keys(memory), mask)

    def decode_step(self, tokens, state):
        """``tokens`` (batch,) and a state -> (logits (batch, vocabulary), next state, attention (batch, S))."""
        count = len(state) - 3
        states, (memory, keys, mask) = list(state[:count]), state[count:]
        embedded = self.target_embedding(tokens)  # (batch, embedding)
        if self.attention == "bahdanau":
            combined, states, weights = self.bahdanau_step(embedded, states, memory, keys, mask)
            return self.output_layer(combined), (*states, memory, keys, mask), weights
        output, new_states = self.decoder.cell(embedded, states)
        states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        if self.attention == "none":
            weights = ops.zeros_like(mask)
            return self.output_layer(output), (*states, memory, keys, mask), weights
        weights, context = self.attend(ops.expand_dims(output, 1), memory, memory, mask)
        combined = self.combine(ops.concatenate([output, context[:, 0]], axis=-1))
        return self.output_layer(combined), (*states, memory, keys, mask), weights[:, 0]

    def get_config(self):
        """Everything needed to rebuild the model, vocabularies included."""
        return {**super().get_config(), "source_vocabulary": self.source_vocabulary,
                "target_vocabulary": self.target_vocabulary, "max_source_length": self.max_source_length,
                "max_target_length": self.max_target_length, "cell": self.cell_type, "units": self.units,
                "embedding_dim": self.embedding_dim, "attention": self.attention,
                "encoder": self.encoder_type}


def check_options(options):
    """The value checks of :func:`build_seq2seq`'s options (``ValueError``), before anything is built."""
    if options["cell"] not in CELLS:
        raise ValueError(f"model.cell must be one of {', '.join(CELLS)}, got {options['cell']!r}")
    if options["attention"] not in ATTENTIONS:
        raise ValueError(f"model.attention must be one of {', '.join(ATTENTIONS)}, got {options['attention']!r}")
    if options["encoder"] not in ENCODERS:
        raise ValueError(f"model.encoder must be one of {', '.join(ENCODERS)}, got {options['encoder']!r}")
    for key in ("units", "embedding_dim"):
        if options[key] < 1:
            raise ValueError(f"model.{key} must be a whole number >= 1, got {options[key]!r}")
    if options["encoder"] == "bidirectional" and options["units"] % 2:
        raise ValueError(f"model.units must be even with a bidirectional encoder (units/2 per direction), "
                         f"got {options['units']}")


@register("seq2seq", kind="translator", check=check_options)
def build_seq2seq(source_vocabulary, target_vocabulary, max_source_length, max_target_length, *, cell="gru",
                  units=128, embedding_dim=32, attention="luong", encoder="bidirectional"):
    """A built :class:`Seq2Seq` (its weights exist: it has been called once on zeros).

    The keyword options are a seq2seq recipe's ``[model]`` keys; a recipe's default encoder is
    bidirectional (the class keeps ``forward`` so that older saved models load unchanged).
    """
    model = Seq2Seq(source_vocabulary, target_vocabulary, max_source_length, max_target_length, cell=cell,
                    units=units, embedding_dim=embedding_dim, attention=attention, encoder=encoder)
    model.build()
    return model
