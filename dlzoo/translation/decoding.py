"""Greedy and beam-search decoding over any step function, in TensorFlow (graph-friendly).

A translator exposes ``step(tokens, state) -> (logits, next_state, attention)``: ``tokens`` are
the previous output ids (batch,), ``state`` a tuple of batch-first tensors (recurrent states,
encoder outputs, masks; a transformer would carry its encoder outputs and the prefix),
``logits`` (batch, vocabulary) score the next token and ``attention`` (batch, source length)
says where it looked. Both decoders run a ``tf.while_loop`` of ``max_length`` steps, so they
work eagerly and inside a SavedModel. Outputs are ids (batch, max_length), padded with 0 after
the end id.

Padding, unknown and start ids are never *chosen*: their logits are set to a very low value
before the choice. A half-trained model can score them highest, and then each of them would be
a decoding step without an output character: Python and in-graph decoders treated them
differently, and attention rows no longer matched the characters they were drawn for. With
them forbidden, every step before the end id writes exactly one character.
"""

import tensorflow as tf

PAD, UNKNOWN, START, END = 0, 1, 2, 3
FORBIDDEN_IDS = (PAD, UNKNOWN, START)
FORBIDDEN_LOGIT = -1e9


def forbid_special_ids(logits, forbidden_ids=FORBIDDEN_IDS):
    """``logits`` (batch, vocabulary) with the ``forbidden_ids`` columns set to a very low value."""
    vocabulary = tf.shape(logits)[-1]
    forbidden = tf.reduce_any(tf.equal(tf.range(vocabulary)[:, tf.newaxis], tf.constant(forbidden_ids)), axis=-1)
    return tf.where(forbidden[tf.newaxis, :], tf.cast(FORBIDDEN_LOGIT, logits.dtype), logits)


def greedy_decode(step, state, batch_size, max_length, start_id=START, end_id=END):
    """The most probable token at each step. Returns ``(ids (batch, max_length), attention
    (batch, max_length, source length))``."""
    tokens = tf.fill([batch_size], tf.constant(start_id, tf.int32))
    finished = tf.zeros([batch_size], tf.bool)
    outputs = tf.TensorArray(tf.int32, size=max_length)
    attentions = tf.TensorArray(tf.float32, size=max_length)

    def body(index, tokens, finished, state, outputs, attentions):
        logits, state, attention = step(tokens, state)
        next_tokens = tf.argmax(forbid_special_ids(tf.cast(logits, tf.float32)), axis=-1, output_type=tf.int32)
        next_tokens = tf.where(finished, PAD, next_tokens)  # nothing after the end
        outputs = outputs.write(index, next_tokens)
        attentions = attentions.write(index, tf.cast(attention, tf.float32))
        return index + 1, next_tokens, finished | tf.equal(next_tokens, end_id), tuple(state), outputs, attentions

    _, _, _, _, outputs, attentions = tf.while_loop(
        lambda index, *rest: index < max_length, body,
        (tf.constant(0), tokens, finished, tuple(state), outputs, attentions))
    return tf.transpose(outputs.stack()), tf.transpose(attentions.stack(), (1, 0, 2))


def beam_search(step, state, batch_size, beam_width, max_length, start_id=START, end_id=END, length_penalty=0.0):
    """Keep the ``beam_width`` best partial outputs at each step (sum of log probabilities).

    A finished beam keeps its score and only extends with padding. ``length_penalty`` alpha
    divides the final scores by ``length ** alpha`` (0: no normalization). Returns the best
    ids (batch, max_length).
    """
    width = beam_width
    # Every tensor of the state gets a beam axis folded into the batch: (batch * width, ...).
    state = tuple(tf.repeat(tensor, width, axis=0) for tensor in state)
    tokens = tf.fill([batch_size * width], tf.constant(start_id, tf.int32))
    # Only the first beam is alive at the start, so the first step does not pick one token k times.
    scores = tf.tile(tf.concat([[0.0], tf.fill([width - 1], -1e9)], axis=0)[tf.newaxis], [batch_size, 1])
    finished = tf.zeros([batch_size, width], tf.bool)
    lengths = tf.zeros([batch_size, width], tf.float32)
    sequences = tf.zeros([batch_size, width, max_length], tf.int32)

    def body(index, tokens, scores, finished, lengths, sequences, state):
        scores_in, finished_in, lengths_in, sequences_in = scores, finished, lengths, sequences
        logits, stepped_state, _ = step(tokens, state)
        # (batch * width, vocabulary); padding/unknown/start are never chosen
        log_probabilities = tf.nn.log_softmax(forbid_special_ids(tf.cast(logits, tf.float32)))
        vocabulary = tf.shape(log_probabilities)[-1]
        log_probabilities = tf.reshape(log_probabilities, [batch_size, width, vocabulary])
        # A finished beam extends only with padding, at no cost.
        pad_only = tf.concat([tf.zeros([1]), tf.fill([vocabulary - 1], -1e9)], axis=0)
        log_probabilities = tf.where(finished[..., tf.newaxis], pad_only, log_probabilities)
        candidates = tf.reshape(scores[..., tf.newaxis] + log_probabilities, [batch_size, -1])
        scores, chosen = tf.math.top_k(candidates, k=width)  # (batch, width)
        origin = chosen // vocabulary
        next_tokens = chosen % vocabulary
        sequences = tf.gather(sequences, origin, batch_dims=1)
        finished = tf.gather(finished, origin, batch_dims=1)
        lengths = tf.gather(lengths, origin, batch_dims=1) + tf.cast(~finished, tf.float32)
        column = tf.one_hot(index, max_length, dtype=tf.int32)
        sequences = sequences * (1 - column) + next_tokens[..., tf.newaxis] * column
        finished = finished | tf.equal(next_tokens, end_id)
        flat_origin = tf.reshape(origin + tf.range(batch_size)[:, tf.newaxis] * width, [-1])
        new_state = tuple(tf.gather(tensor, flat_origin) for tensor in stepped_state)
        results = (tf.reshape(next_tokens, [-1]), scores, finished, lengths, sequences, new_state)
        previous = (tokens, scores_in, finished_in, lengths_in, sequences_in, state)
        # Keep the static shapes the loop started with (reshape and top_k lose the batch size).
        results = tf.nest.map_structure(lambda new, old: tf.ensure_shape(new, old.shape), results, previous)
        return (index + 1, *results)

    _, _, scores, _, lengths, sequences, _ = tf.while_loop(
        lambda index, *rest: index < max_length, body,
        (tf.constant(0), tokens, scores, finished, lengths, sequences, state))
    if length_penalty:
        scores = scores / tf.maximum(lengths, 1.0) ** length_penalty
    best = tf.argmax(scores, axis=-1, output_type=tf.int32)
    return tf.gather(sequences, best, batch_dims=1)
