"""Preprocessing inside the model, so that a saved model takes the dataset's raw values.

A model trained on standardized inputs but saved without its standardization is a trap: fed
raw pixels it answers plausibly and wrongly. dlzoo therefore puts every input transformation
into the model itself:

* :func:`standardization` is a ``keras.layers.Normalization`` layer named ``standardize``
  whose mean and variance come from the training split (never from test data);
* :class:`Resize` upsamples small images inside the model (the 8x8 digits for LeNet-5);
* :func:`with_preprocessing` puts such layers between a built model's input and its first
  layer, keeping the model flat (layer names unchanged for ``dlzoo visualize``);
* :func:`with_target_scaling` makes a regression model answer in the target's own units;
* :func:`with_text_vectorization` puts ``TextVectorization`` (a word list from the training
  split) and a word embedding in front of a sequence model, so that it reads raw strings.

This module imports ``keras`` only (no TensorFlow), like every model module.
"""

import keras
import numpy as np
from keras import layers

STANDARDIZE_LAYER = "standardize"
VECTORIZE_LAYER = "vectorize"
WORD_EMBEDDING_LAYER = "word_embedding"
TARGET_SCALING_LAYER = "to_target_units"


@keras.saving.register_keras_serializable(package="dlzoo")
class Resize(layers.Resizing):
    """``keras.layers.Resizing`` that does not switch the rest of the model to training mode.

    Keras's ``Resizing.call`` declares ``training=True`` as its default. When a model is called
    as ``model(x)`` (no ``training`` argument: how notebooks and other tools call models),
    Keras resolves the training flag from the first layer that declares one, so every layer
    after a ``Resizing`` ran in training mode: dropout was on and batch normalization updated
    its moving averages on inference inputs. Declaring ``training=None`` lets the flag fall
    back to inference, as for every other layer. Resizing itself does not depend on it.
    """

    def call(self, data, training=None):
        """Resize ``data`` (batch, height, width, channels); ``training`` has no effect."""
        return super().call(data, training=False)


def standardization(mean, variance, input_shape):
    """A ``Normalization`` layer computing ``(x - mean) / sqrt(variance)`` with fixed statistics.

    Args:
        mean, variance: statistics of the training inputs, one value per channel (images,
            signals with channels), per feature (tabular data), or a single value.
        input_shape: shape of one input, without the batch axis.
    """
    mean = np.asarray(mean, dtype="float32").reshape(-1)
    variance = np.asarray(variance, dtype="float32").reshape(-1)
    if mean.shape != variance.shape:
        raise ValueError(f"mean and variance must have the same shape, got {mean.shape} and {variance.shape}")
    if mean.size == 1:
        return layers.Normalization(axis=None, mean=float(mean[0]), variance=float(variance[0]),
                                    name=STANDARDIZE_LAYER)
    if mean.size != input_shape[-1]:
        raise ValueError(f"{mean.size} statistics do not match inputs of shape {tuple(input_shape)}")
    return layers.Normalization(axis=-1, mean=mean, variance=variance, name=STANDARDIZE_LAYER)


def with_preprocessing(model, preprocessing_layers, input_dtype="float32"):
    """A flat copy of functional ``model`` with ``preprocessing_layers`` applied to its input first.

    The new model is ``Input -> preprocessing -> model's layers``, with the same layer names and
    weights, so everything stays where a reader expects it.
    """
    if not preprocessing_layers:
        return model
    if len(model.inputs) != 1:
        raise ValueError(f"with_preprocessing needs a model with one input, {model.name} has {len(model.inputs)}")
    raw_inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype=input_dtype, name=model.inputs[0].name)
    features = raw_inputs
    for layer in preprocessing_layers:
        features = layer(features)
    # Calling the functional model's graph on new tensors adds nodes to the same layers ...
    outputs = model.call(features, training=None)
    joined = keras.Model(raw_inputs, outputs, name=model.name)
    # ... and layers with two nodes answer `layer.output` from the old graph. Rebuilding from the
    # configuration gives every layer one node; the weights are copied, so nothing else changes.
    rebuilt = keras.Model.from_config(joined.get_config())
    rebuilt.set_weights(joined.get_weights())
    return rebuilt


def with_text_vectorization(model, vocabulary, sequence_length, embedding_dim):
    """A flat copy of the sequence model ``model`` that reads a batch of raw strings.

    ``Input (batch,) string -> vectorize (batch, sequence_length) word ids -> word_embedding
    (batch, sequence_length, embedding_dim) -> model's layers``. ``vectorize`` is
    ``keras.layers.TextVectorization`` with a fixed word list (``vocabulary``: ``["", "[UNK]",
    most frequent training words...]``, built from the training split only): it lower-cases,
    strips punctuation, splits on whitespace, cuts or pads to ``sequence_length``. Padding is id 0;
    when the model's first layer can take a mask (a recurrent layer), the embedding masks the
    padding (``mask_zero``), so the recurrent layers skip it. (The transformer's first layer cuts
    the sequence into patches, which a mask cannot follow: there the padding is read as a word.)
    The word list is part of the layer's configuration, so
    ``model.keras`` and the SavedModel carry it.

    ``model`` must take ``(sequence_length, embedding_dim)`` float inputs.
    """
    expected = (int(sequence_length), int(embedding_dim))
    if tuple(model.inputs[0].shape[1:]) != expected:
        raise ValueError(f"{model.name} takes inputs {tuple(model.inputs[0].shape[1:])}, not word vectors {expected}")
    texts = keras.Input(shape=(), dtype="string", name="text")
    vectorize = layers.TextVectorization(vocabulary=list(vocabulary), output_sequence_length=int(sequence_length),
                                         name=VECTORIZE_LAYER)
    word_ids = vectorize(texts)  # (batch, sequence_length) int64
    first_layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][:1]
    mask_zero = bool(first_layers) and first_layers[0].supports_masking
    vectors = layers.Embedding(len(vocabulary), int(embedding_dim), mask_zero=mask_zero,
                               name=WORD_EMBEDDING_LAYER)(word_ids)
    outputs = model.call(vectors, training=None)
    joined = keras.Model(texts, outputs, name=model.name)
    # As in with_preprocessing: rebuilding gives every layer one node; weights are copied.
    rebuilt = keras.Model.from_config(joined.get_config())
    rebuilt.set_weights(joined.get_weights())
    return rebuilt


def with_target_scaling(outputs, target_mean, target_std, name=TARGET_SCALING_LAYER):
    """Map standardized predictions back to target units: ``y = mean + std * z``.

    Training a regression on standardized targets keeps the loss near 1 whatever the target's
    units (the diabetes target is 25-346), so the recipe's learning rate works unchanged; this
    last layer makes the model, and its SavedModel, answer in the original units.
    """
    mean = np.asarray(target_mean, dtype="float32").reshape(-1)
    std = np.asarray(target_std, dtype="float32").reshape(-1)
    scale, offset = (float(std[0]), float(mean[0])) if mean.size == 1 else (std.tolist(), mean.tolist())
    return layers.Rescaling(scale=scale, offset=offset, name=name)(outputs)


def has_standardization(model):
    """True when ``model`` standardizes its inputs itself (it has a ``standardize`` layer)."""
    return any(layer.name == STANDARDIZE_LAYER for layer in model.layers)
