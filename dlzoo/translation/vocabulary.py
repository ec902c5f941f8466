"""Character vocabularies: ids 0 padding, 1 unknown, 2 start, 3 end, then one per character.

NumPy functions prepare training arrays; :func:`graph_encode` / :func:`graph_decode` do the same
inside a TensorFlow graph (for the SavedModel that takes and returns strings). Unknown
characters become the unknown id, never an error.
"""

import numpy as np

PAD, UNKNOWN, START, END = 0, 1, 2, 3
SPECIAL_TOKENS = 4


def build_vocabulary(texts):
    """The sorted distinct characters of ``texts``."""
    return sorted(set("".join(texts)))


def encode(texts, vocabulary, length, start=False, end=False):
    """Ids (len(texts), length) int32 of ``texts``, cut to ``length``, padded with 0.

    ``start`` puts the start id first, ``end`` the end id after the last character.
    """
    index = {character: SPECIAL_TOKENS + position for position, character in enumerate(vocabulary)}
    ids = np.zeros((len(texts), length), dtype="int32")
    for row, text in enumerate(texts):
        tokens = ([START] if start else []) + [index.get(character, UNKNOWN) for character in text] + \
            ([END] if end else [])
        tokens = tokens[:length]
        ids[row, :len(tokens)] = tokens
    return ids


def decode(ids, vocabulary):
    """The text of one row of ids: stops at the end id, skips padding/start, unknown is ``?``."""
    characters = []
    for token in np.asarray(ids).tolist():
        if token == END:
            break
        if token >= SPECIAL_TOKENS:
            characters.append(vocabulary[token - SPECIAL_TOKENS])
        elif token == UNKNOWN:
            characters.append("?")
    return "".join(characters)


def codepoint_table(vocabulary):
    """A lookup array: Unicode code point -> id (unknown id for characters not in ``vocabulary``)."""
    size = max(ord(character) for character in vocabulary) + 1
    table = np.full(size, UNKNOWN, dtype="int32")
    for position, character in enumerate(vocabulary):
        table[ord(character)] = SPECIAL_TOKENS + position
    return table


def graph_encode(texts, vocabulary, length):
    """TensorFlow: a batch of strings (batch,) -> ids (batch, length), cut and padded, in the graph."""
    import tensorflow as tf

    table = codepoint_table(vocabulary)
    size = len(table)
    codepoints = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")[:, :length]  # ragged int32
    points = codepoints.flat_values
    # Characters beyond the table (or not in the vocabulary) get the unknown id.
    ids = tf.where(points < size, tf.gather(tf.constant(table), tf.minimum(points, size - 1)), UNKNOWN)
    return codepoints.with_flat_values(ids).to_tensor(default_value=PAD, shape=[None, length])


def graph_decode(ids, vocabulary):
    """TensorFlow: ids (batch, T) -> strings (batch,), stopping at the first end id."""
    import tensorflow as tf

    characters = tf.constant(["", "?", "", ""] + list(vocabulary))
    finished = tf.cumsum(tf.cast(tf.equal(ids, END), tf.int32), axis=1) > 0  # at and after the first end
    ids = tf.where(finished, PAD, ids)
    return tf.strings.reduce_join(tf.gather(characters, ids), axis=1)
