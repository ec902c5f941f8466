"""A pass-through layer that keeps a model's vocabulary inside ``model.keras``.

Models that take token ids (word2vec, the character GPT) are useless without the table that
turns ids back into words or characters. ``Vocabulary(tokens)`` sits on the id input, returns
it unchanged, and stores ``tokens`` in its config, so the saved model carries its own table:
``model.get_layer("vocabulary").tokens``.
"""

import keras


@keras.saving.register_keras_serializable(package="dlzoo")
class Vocabulary(keras.layers.Layer):
    """Identity on token ids; ``tokens[i]`` is the word (or character) of id ``i``."""

    def __init__(self, tokens, **kwargs):
        kwargs.setdefault("name", "vocabulary")
        super().__init__(**kwargs)
        self.tokens = [str(token) for token in tokens]

    def call(self, ids):
        """The ids, unchanged."""
        return ids

    def get_config(self):
        """The tokens, saved with the model."""
        return {**super().get_config(), "tokens": self.tokens}


def tokens_of(model):
    """The token list of a model that has a ``vocabulary`` layer (searched in nested models too)."""
    for layer in model.layers:
        if isinstance(layer, Vocabulary):
            return layer.tokens
        if isinstance(layer, keras.Model):
            found = tokens_of(layer)
            if found is not None:
                return found
    return None
