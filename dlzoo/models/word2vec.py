"""word2vec with negative sampling (Mikolov et al. 2013) as a Keras model.

Two embedding tables: ``word_vectors`` (the vectors we keep, one per word as a *center*) and
``context_vectors`` (one per word as a *context* or *candidate*). One training example is a
center and ``1 + negatives`` candidates: the true one first, then words drawn from the unigram
distribution raised to 0.75. The model scores each candidate by a dot product, and the loss is
binary cross-entropy with labels ``[1, 0, ..., 0]``: push the true pair's score up and the
sampled pairs' scores down (eq. 4 of the paper), much cheaper than a softmax over the vocabulary.

* skip-gram: the center is one word, the true candidate one word of its window;
* CBOW: the center is the mean of the window's words (padding id 0 left out), the true
  candidate the word in the middle.
"""

import keras
from keras import layers, ops

from dlzoo.core import validation
from dlzoo.models import vocabulary as vocabulary_layer


@keras.saving.register_keras_serializable(package="dlzoo")
class MaskedMean(layers.Layer):
    """Mean of (batch, window, dim) vectors over the window, leaving out positions whose id is 0."""

    def call(self, vectors, ids):
        """``sum(vectors * real) / max(1, count(real))`` per example."""
        real = ops.cast(ops.not_equal(ids, 0), vectors.dtype)[..., None]  # (batch, window, 1)
        return ops.sum(vectors * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)


def build_word2vec(vocabulary, embedding_dim=50, window=2, negatives=5, method="skipgram"):
    """The word2vec scoring model.

    Args:
        vocabulary: the words, by id (0 = padding, 1 = unknown word); kept in the model's
            ``vocabulary`` layer.
        embedding_dim: width of the word vectors.
        window: context words on each side (CBOW's center has ``2 * window`` slots).
        negatives: sampled negative candidates per example.
        method: ``"skipgram"`` or ``"cbow"``.

    Returns:
        A model ``{"center": (batch, 1 or 2 * window), "candidates": (batch, 1 + negatives)}`` ->
        (batch, 1 + negatives) logits; its ``word_vectors`` layer holds the embeddings.
    """
    validation.check_integer("embedding_dim", embedding_dim, minimum=1)
    validation.check_choice("method", method, ("skipgram", "cbow"))
    center_width = 1 if method == "skipgram" else 2 * int(window)
    vocabulary_size = len(vocabulary)
    center = keras.Input((center_width,), dtype="int32", name="center")
    candidates = keras.Input((1 + int(negatives),), dtype="int32", name="candidates")
    bound = 0.5 / embedding_dim  # the word2vec C code's initialization of the word vectors
    word_vectors = layers.Embedding(vocabulary_size, embedding_dim, name="word_vectors",
                                    embeddings_initializer=keras.initializers.RandomUniform(-bound, bound))
    context_vectors = layers.Embedding(vocabulary_size, embedding_dim, name="context_vectors",
                                       embeddings_initializer=keras.initializers.RandomUniform(-bound, bound))
    center_ids = vocabulary_layer.Vocabulary(vocabulary)(center)
    centered = MaskedMean(name="center_mean")(word_vectors(center_ids), center_ids)  # (batch, dim)
    scores = layers.Dot(axes=(1, 2), name="scores")([centered, context_vectors(candidates)])  # (batch, 1 + k)
    return keras.Model({"center": center, "candidates": candidates}, scores, name=f"word2vec_{method}")
