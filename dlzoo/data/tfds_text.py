"""Text datasets of TensorFlow Datasets: reviews to classify, sentence pairs to translate, a corpus.

:func:`dlzoo.data.sources.load_tfds` hands every dataset whose input feature is text to this
module; what comes back depends on the label:

==========================================  ==================================================
``tfds:imdb_reviews`` (label: a class)      :class:`TextSplits`: raw strings and class ids, for
                                            ``classify`` (``rnn`` and ``transformer`` models);
                                            the model starts with ``TextVectorization`` adapted
                                            on the training split, so its SavedModel takes strings
``tfds:ted_hrlr_translate/pt_to_en``        :class:`~dlzoo.data.sequences.TextPairs`: (source,
(label: text)                               target) strings, for ``seq2seq``
==========================================  ==================================================

The ``embed`` task reads the training texts of either as a corpus (:func:`as_corpus`).

Translation pairs stay **character level**, like the generated seq2seq data: the translator's
vocabulary and its decoding loop live inside the exported graph as a character table
(:mod:`dlzoo.translation.vocabulary`), and a character model needs no tokenizer that a client would
have to install. Characters make long sequences (a TED sentence runs to tens or hundreds of
them), so pairs longer than ``data.max_length`` characters on either side are left out of every
split.

Everything is read into memory (IMDB: 50,000 reviews, about 65 MB of text; TED pt-en: 55,000
pairs). Raw strings stay raw: lower-casing and punctuation stripping happen inside the model.
"""

import dataclasses

import numpy as np

from dlzoo.data.sequences import TextPairs, quick_held_out_size
from dlzoo.data.splits import CLASSES, Splits
from dlzoo.core.errors import UsageError

TEXT = "text"

# [data] keys of text sources and their defaults (keras-io's text-classification transformer
# uses a 20,000-word vocabulary and 200 tokens per review).
TEXT_DEFAULTS = {"vocabulary_size": 20000, "sequence_length": 200, "embedding_dim": 64, "max_length": 150}


def text_settings(options):
    """``vocabulary_size``, ``sequence_length``, ``embedding_dim``, ``max_length`` from ``[data]``, checked."""
    settings = {}
    for key, default in TEXT_DEFAULTS.items():
        value = options.get(key, default)
        minimum = 3 if key == "vocabulary_size" else 1  # padding, unknown and one word at least
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise UsageError(f"data.{key} must be a whole number >= {minimum}, got {value!r}")
        settings[key] = value
    return settings


@dataclasses.dataclass
class TextSplits(Splits):
    """Labelled strings (one review per example) split into train / validation / test.

    The inputs are NumPy arrays of Python strings (``dtype=object``); labels are int32 class
    ids. ``text_settings`` says how the model turns a string into vectors: the
    ``vocabulary_size`` most frequent training words, ``sequence_length`` tokens per text
    (longer texts are cut, shorter ones padded), ``embedding_dim`` numbers per token.
    """

    text_settings: dict = dataclasses.field(default_factory=lambda: dict(TEXT_DEFAULTS))

    @property
    def input_dtype(self):
        """Strings, as the SavedModel takes them."""
        return "string"

    def input_statistics(self, max_examples=4096):
        """Strings are not standardized: a neutral mean and variance for the platform."""
        return np.zeros(1, dtype="float32"), np.ones(1, dtype="float32")

    def dataset(self, split, batch_size, training=False, seed=0, augmenter=None):
        """A batched ``tf.data.Dataset`` of ``(strings, labels)``; shuffled (seeded) when training."""
        import tensorflow as tf

        if augmenter is not None:
            raise UsageError(f"data.augment works on images; {self.name} holds text")
        texts, labels = self.split(split)
        dataset = tf.data.Dataset.from_tensor_slices((tf.constant(list(texts), dtype=tf.string), labels))
        if training:
            dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)

    def vocabulary(self):
        """The model's word list, most frequent first: ``["", "[UNK]", "the", ...]``, from the
        training split only (``keras.layers.TextVectorization.adapt``)."""
        import keras
        import tensorflow as tf

        vectorizer = keras.layers.TextVectorization(max_tokens=self.text_settings["vocabulary_size"])
        vectorizer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(list(self.x_train), dtype=tf.string))
                         .batch(1024))
        return [str(word) for word in vectorizer.get_vocabulary()]

    def describe(self):
        """A one-line description: name, classes and split sizes."""
        sizes = self.sizes()
        return (f"{self.name}: strings, {self.num_classes} classes, "
                f"{sizes['train']} train / {sizes['val']} val / {sizes['test']} test")


def read_split(builder, split, input_key, label_key, limit=None):
    """``(inputs, labels)`` of a TFDS split string: strings (decoded from UTF-8) and labels (class ids, or
    strings for a text label)."""
    import tensorflow_datasets as tfds

    dataset = builder.as_dataset(split=split, shuffle_files=False)
    if limit is not None:
        dataset = dataset.take(int(limit))
    inputs, labels = [], []
    for batch in tfds.as_numpy(dataset.batch(1024)):
        inputs.extend(as_text(value) for value in batch[input_key])
        labels.extend(as_text(value) if isinstance(value, bytes) else value for value in batch[label_key].tolist())
    return np.asarray(inputs, dtype=object), labels


def as_text(value):
    """A TFDS string value (bytes) as a Python string; undecodable bytes become U+FFFD."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def load_text_classes(name, builder, split_names, input_key, class_names, label_key, seed, options):
    """A :class:`TextSplits` of labelled strings (``split_names``: ``{split: (tfds split, size)}``)."""
    settings = text_settings(options)
    # A quick run (data.train_samples) reads a few hundred held-out examples, not all 25,000.
    train_limit = int(options.get("train_samples") or 0)
    held_out_limit = quick_held_out_size(train_limit) if train_limit else None
    arrays = {}
    for split, (tfds_split, _) in split_names.items():
        texts, labels = read_split(builder, tfds_split, input_key, label_key,
                                   limit=None if split == "train" else held_out_limit)
        arrays[split] = (texts, np.asarray(labels, dtype="int32").reshape(-1))
    if not len(arrays["train"][0]):
        raise UsageError(f"{name} has no training examples")
    return TextSplits(name=name, kind=TEXT, class_names=list(class_names),
                      x_train=arrays["train"][0], y_train=arrays["train"][1],
                      x_val=arrays["val"][0], y_val=arrays["val"][1],
                      x_test=arrays["test"][0], y_test=arrays["test"][1],
                      targets=CLASSES, text_settings=settings)


def load_text_pairs(name, builder, split_names, source_key, target_key, options):
    """A :class:`~dlzoo.data.sequences.TextPairs` of ``(source, target)`` strings, read on first use.

    Pairs with more than ``data.max_length`` characters on either side are left out (in every
    split, so that test pairs are like training pairs). With ``data.train_samples`` (quick runs)
    only that many training pairs are read, and at most 256 of each held-out split.
    """
    settings = text_settings(options)
    max_length = settings["max_length"]
    train_limit = int(options.get("train_samples") or 0) or None
    held_out_limit = quick_held_out_size(train_limit) if train_limit else None

    def generate():
        pairs = {}
        for split, (tfds_split, _) in split_names.items():
            limit = train_limit if split == "train" else held_out_limit
            sources, targets = read_split(builder, tfds_split, source_key, target_key)
            kept = [(source, target) for source, target in zip(sources, targets)
                    if 0 < len(source) <= max_length and 0 < len(target) <= max_length]
            kept = kept[:limit] if limit else kept
            if split == "train" and not kept:
                raise UsageError(f"{name}: no training pair has at most data.max_length = {max_length} characters "
                                 "on both sides; raise data.max_length")
            pairs[split] = ([source for source, _ in kept], [target for _, target in kept])
        return pairs

    return TextPairs(name, generate, description=f"{source_key} -> {target_key} sentence pairs (TFDS), "
                                                 f"at most {max_length} characters")


def as_corpus(bundle, options=None):
    """A TFDS text bundle as a :class:`~dlzoo.data.text.TextBundle` for the ``embed`` task, or ``None``
    when ``bundle`` is not one.

    Each training text is one line: a review (HTML line breaks such as IMDB's ``<br />``
    removed), or the source side of a translation pair. The corpus has no known word classes or
    analogies, so an embed run on it reports nearest neighbours and, with ``--similarity``, the
    correlation with human judgements. ``options`` (``[data]``) may give ``test_fraction`` and
    ``val_fraction`` of the lines, as for ``text:`` files.
    """
    import re

    from dlzoo.data.text import TextBundle

    if isinstance(bundle, TextSplits):
        texts = bundle.x_train
    elif isinstance(bundle, TextPairs) and str(bundle.name).startswith("tfds:"):
        texts = bundle.arrays("train")[0]
    else:
        return None
    lines = [re.sub(r"<[^>]{0,20}>", " ", str(text)).strip() for text in texts]
    lines = [line for line in lines if line]
    if not lines:
        raise UsageError(f"{bundle.name} has no text in its training split")
    options = options or {}
    return TextBundle(bundle.name, lines, test_fraction=float(options.get("test_fraction", 0.1)),
                      val_fraction=float(options.get("val_fraction", 0.1)))
