"""The ``embed`` task: word vectors learned with word2vec (skip-gram or CBOW, negative sampling).

Steps of one run:

1. tokenize the corpus with ``keras.layers.TextVectorization`` (lower case, punctuation
   stripped, split on white space); the vocabulary is every word seen at least
   ``embed.min_count`` times, most frequent first (id 0 = padding, 1 = unknown word);
2. each epoch, draw fresh training examples (:class:`PairSampler`): *subsampling* drops frequent
   words with probability ``1 - sqrt(t / f) - t / f`` (``t = embed.subsample``, ``f`` the word's
   frequency), a *dynamic window* of 1..``embed.window`` words around each center (near words
   count more), and ``embed.negatives`` negatives per example from unigram^0.75;
3. train :func:`dlzoo.models.word2vec.build_word2vec` with the shared training module;
4. measure the vectors: nearest-neighbour class precision@5 and analogy accuracy (3CosAdd:
   ``b - a + c``, nearest word other than a, b, c) where the corpus knows its words' classes
   (the embedded grammar corpus), and Spearman's rho with human similarity judgements when a
   WordSim-353-style file is given (``embed.similarity``, or ``dlzoo evaluate RUN --similarity FILE``);
5. write ``embeddings/vectors.tsv`` + ``embeddings/metadata.tsv`` (the TensorBoard projector's
   format: load them at projector.tensorflow.org), a 2-D PCA picture of the class words, the
   nearest neighbours of chosen words in the report, and a SavedModel ``serve(words) ->
   {vectors, known}`` that takes strings.
"""

import dataclasses
import itertools
import time

import numpy as np

from dlzoo.plots import figures
from dlzoo.plots import curves
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core.errors import UsageError
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

PADDING, UNKNOWN = 0, 1
METHODS = ("skipgram", "cbow")
# Words whose neighbours the report lists when the recipe names none (those in the vocabulary).
DEFAULT_PROBES = ["paris", "dog", "red", "ate", "france", "drink"]


@dataclasses.dataclass
class PreparedEmbedding:
    """Everything an embed run needs, checked and ready."""

    config: dict
    bundle: object
    vocabulary: list
    sampler: object
    model: object
    quick: bool


def tokenize(lines, min_count, vocabulary=None):
    """Token ids of each line with a ``TextVectorization`` vocabulary of words seen >= ``min_count`` times.

    Returns ``(vocabulary, [ids of each line])``; the vocabulary starts with ``""`` (padding)
    and ``"[UNK]"`` like ``TextVectorization.get_vocabulary()``; unknown words are dropped
    from the id lists.
    """
    import tensorflow as tf
    from keras import layers

    if vocabulary is None:
        counter = layers.TextVectorization(standardize="lower_and_strip_punctuation", split="whitespace")
        counter.adapt(tf.data.Dataset.from_tensor_slices(lines).batch(1024))
        every_word = counter.get_vocabulary()  # by frequency, most frequent first
        counts = np.bincount(np.concatenate([row for row in vectorize(counter, lines) if len(row)] or [[0]]),
                             minlength=len(every_word))
        vocabulary = every_word[:2] + [word for index, word in enumerate(every_word) if index >= 2
                                       and counts[index] >= min_count]
    layer = layers.TextVectorization(standardize="lower_and_strip_punctuation", split="whitespace",
                                     vocabulary=vocabulary[2:])
    ids = [row[row != UNKNOWN] for row in vectorize(layer, lines)]
    return list(layer.get_vocabulary()), ids


def vectorize(layer, lines, batch=4096):
    """The id arrays of ``lines`` (padding removed) through a TextVectorization layer."""
    rows = []
    for start in range(0, len(lines), batch):
        for row in np.asarray(layer(np.array(lines[start:start + batch], dtype=object))):
            rows.append(row[row != PADDING].astype("int32"))
    return rows


MINIMUM_KEPT_WORDS = 20  # words an epoch must keep on average after subsampling


class PairSampler:
    """Fresh word2vec examples every epoch, in a fixed number of batches.

    Produces ``({"center": ..., "candidates": ...}, labels)`` batches; see the module docstring
    for subsampling, the dynamic window and the negative distribution.
    """

    def __init__(self, sentences, vocabulary_size, method, window, negatives, subsample, batch_size, seed):
        self.sentences = [ids for ids in sentences if len(ids) >= 2]
        self.method, self.window, self.negatives = method, int(window), int(negatives)
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)
        counts = np.bincount(np.concatenate(self.sentences), minlength=vocabulary_size).astype("float64")
        counts[:2] = 0.0
        frequency = counts / counts.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(frequency > 0, subsample / frequency, 1.0)
        self.keep_probability = np.minimum(1.0, np.sqrt(ratio) + ratio) if subsample > 0 else np.ones_like(frequency)
        # Subsampling is made for large corpora, where every word is rare; in a tiny corpus every
        # word is "frequent" and an epoch could keep almost nothing: say so before training.
        expected = sum(float(self.keep_probability[ids].sum()) for ids in self.sentences)
        if expected < MINIMUM_KEPT_WORDS:
            total = sum(len(ids) for ids in self.sentences)
            raise UsageError(f"subsampling (embed.subsample = {subsample:g}) keeps about {expected:.0f} of the "
                             f"corpus's {total} words per epoch: too few to learn from; give more text, or set "
                             "embed.subsample = 0 (keep every word) for a corpus this small")
        noise = counts ** 0.75
        self.noise = noise / noise.sum()
        self.examples = self.draw()
        self.steps = max(1, len(self.examples[1]) // self.batch_size)

    def draw(self):
        """One epoch of ``(center, candidates)`` id arrays."""
        kept = []
        while not kept:  # at least MINIMUM_KEPT_WORDS words are kept on average: an empty draw is rare
            kept = [ids[self.rng.random(len(ids)) < self.keep_probability[ids]] for ids in self.sentences]
            kept = [ids for ids in kept if len(ids) >= 2]
        tokens = np.concatenate(kept)
        sentence = np.concatenate([np.full(len(ids), index) for index, ids in enumerate(kept)])
        reach = self.rng.integers(1, self.window + 1, size=len(tokens))  # the dynamic window of each center
        if self.method == "skipgram":
            centers, contexts = [], []
            for offset in range(1, self.window + 1):
                for sign in (1, -1):
                    positions = np.arange(len(tokens))
                    other = positions + sign * offset
                    valid = (other >= 0) & (other < len(tokens)) & (offset <= reach)
                    valid[valid] &= sentence[other[valid]] == sentence[positions[valid]]
                    centers.append(tokens[positions[valid]])
                    contexts.append(tokens[other[valid]])
            center = np.concatenate(centers)[:, None]
            true = np.concatenate(contexts)
        else:  # CBOW: the window's words (0 where outside the reach or the sentence) predict the middle
            center = np.zeros((len(tokens), 2 * self.window), "int32")
            for slot, offset in enumerate([*range(-self.window, 0), *range(1, self.window + 1)]):
                other = np.arange(len(tokens)) + offset
                valid = (other >= 0) & (other < len(tokens)) & (abs(offset) <= reach)
                valid[valid] &= sentence[other[valid]] == sentence[valid.nonzero()[0]]
                center[valid, slot] = tokens[other[valid]]
            true = tokens
        negatives = self.rng.choice(len(self.noise), size=(len(true), self.negatives), p=self.noise)
        candidates = np.concatenate([true[:, None], negatives], axis=1).astype("int32")
        order = self.rng.permutation(len(true))
        return center[order].astype("int32"), candidates[order]

    def dataset(self):
        """A ``keras.utils.PyDataset`` over this sampler (redrawn at the end of every epoch)."""
        import keras

        sampler = self

        class Batches(keras.utils.PyDataset):
            """``steps`` batches of the current epoch's examples."""

            def __len__(self):
                return sampler.steps

            def __getitem__(self, index):
                center, candidates = sampler.examples
                count = len(candidates)
                rows = np.arange(index * sampler.batch_size, (index + 1) * sampler.batch_size) % count
                labels = np.zeros(candidates[rows].shape, "float32")
                labels[:, 0] = 1.0
                return {"center": center[rows], "candidates": candidates[rows]}, labels

            def on_epoch_end(self):
                sampler.examples = sampler.draw()

        return Batches()


# ---------------------------------------------------------------------------------------------
# Measuring word vectors (pure NumPy)


def unit_rows(vectors):
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def nearest(vectors, vocabulary, query_vector, count=5, exclude=()):
    """The ``count`` words whose vectors have the highest cosine with ``query_vector``."""
    similarities = unit_rows(vectors) @ (query_vector / max(np.linalg.norm(query_vector), 1e-12))
    similarities[:2] = -np.inf  # padding and unknown are not words
    for index in exclude:
        similarities[index] = -np.inf
    best = np.argsort(-similarities)[:count]
    return [(vocabulary[index], float(similarities[index])) for index in best]


def neighbour_precision(vectors, vocabulary, classes, k=5):
    """Mean over the class words of the fraction of their ``k`` nearest neighbours in the same class."""
    index_of = {word: index for index, word in enumerate(vocabulary)}
    words = [word for word in classes if word in index_of]
    if not words:
        return None
    unit = unit_rows(vectors)
    precisions = []
    for word in words:
        similarities = unit @ unit[index_of[word]]
        similarities[[0, 1, index_of[word]]] = -np.inf
        neighbours = np.argsort(-similarities)[:k]
        precisions.append(np.mean([classes.get(vocabulary[index]) == classes[word] for index in neighbours]))
    return float(np.mean(precisions))


def analogy_accuracy(vectors, vocabulary, questions):
    """Fraction of ``(a, b, c, d)`` where the nearest word to ``b - a + c`` (not a, b, c) is ``d`` (3CosAdd)."""
    index_of = {word: index for index, word in enumerate(vocabulary)}
    usable = [question for question in questions if all(word in index_of for word in question)]
    if not usable:
        return None, 0
    unit = unit_rows(vectors)
    correct = 0
    for a, b, c, d in usable:
        target = unit[index_of[b]] - unit[index_of[a]] + unit[index_of[c]]
        similarities = unit @ target
        similarities[[0, 1, index_of[a], index_of[b], index_of[c]]] = -np.inf
        correct += int(np.argmax(similarities) == index_of[d])
    return correct / len(usable), len(usable)


def read_similarity_file(path):
    """``[(word1, word2, score)]`` from a WordSim-353-style file (tab or space separated; a header is skipped)."""
    import pathlib

    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"--similarity {path}: no such file")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        fields = line.split("\t") if "\t" in line else line.split()
        if not line.strip() or line.startswith("#"):
            continue
        try:
            pairs.append((fields[0].strip().lower(), fields[1].strip().lower(), float(fields[2])))
        except (IndexError, ValueError):
            if pairs:  # only a first line may be a header
                raise UsageError(f"{path}:{number}: expected word1<TAB>word2<TAB>score, got {line[:60]!r}") from None
    if not pairs:
        raise UsageError(f"{path} holds no word1<TAB>word2<TAB>score line")
    return pairs


def similarity_correlation(vectors, vocabulary, path):
    """Spearman's rho between the file's human scores and the vectors' cosines, on the pairs in the vocabulary.

    Returns ``{"spearman", "pairs_found", "pairs_total", "file"}``; no pair in the vocabulary is
    a usage error that says how many pairs the file has.
    """
    from scipy import stats

    pairs = read_similarity_file(path)
    index_of = {word: index for index, word in enumerate(vocabulary)}
    unit = unit_rows(vectors)
    found = [(unit[index_of[a]] @ unit[index_of[b]], score) for a, b, score in pairs
             if a in index_of and b in index_of]
    if not found:
        raise UsageError(f"{path}: none of its {len(pairs)} pairs has both words in the vocabulary "
                         f"({len(vocabulary) - 2} words); 0 pairs found")
    if len(found) < 3:
        raise UsageError(f"{path}: only {len(found)} of its {len(pairs)} pairs are in the vocabulary; "
                         "Spearman's rho needs at least 3")
    rho = stats.spearmanr([model for model, _ in found], [human for _, human in found]).statistic
    return {"spearman": float(rho), "pairs_found": len(found), "pairs_total": len(pairs), "file": str(path)}


def pca_2d(vectors):
    """The first two principal-component coordinates of ``vectors`` (rows)."""
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    return centered @ components[:2].T


def labelled_points(coordinates, spacing=0.05):
    """Indices of the points of a scatter that get a text label, so that labels do not pile up.

    Greedy, in order: a point is labelled when it is at least ``spacing`` (a fraction of the
    plot's width and height) away from every point labelled before it. Isolated points always
    get their label; in a dense cluster only some do (the rest are still drawn as dots).
    """
    coordinates = np.asarray(coordinates, dtype="float64")
    if len(coordinates) == 0:
        return []
    extent = np.ptp(coordinates, axis=0)
    scaled = (coordinates - coordinates.min(axis=0)) / np.where(extent > 0, extent, 1.0)
    chosen = []
    for index, point in enumerate(scaled):
        if not chosen or np.min(np.linalg.norm(scaled[chosen] - point, axis=1)) >= spacing:
            chosen.append(index)
    return chosen


def draw_pca(words, coordinates, classes, path, title):
    """A 2-D scatter of ``words`` at ``coordinates``, coloured by class, labelled where labels fit."""
    return figures.save_figure(pca_figure(words, coordinates, classes, title), path)


def pca_figure(words, coordinates, classes, title):
    """The figure of :func:`draw_pca` (not saved)."""
    pyplot = figures.pyplot_module()
    figure, axes = pyplot.subplots(figsize=(9, 7))
    names = sorted({classes.get(word, "other") for word in words})
    colours = pyplot.get_cmap("tab10")
    for position, name in enumerate(names):
        chosen = [index for index, word in enumerate(words) if classes.get(word, "other") == name]
        axes.scatter(coordinates[chosen, 0], coordinates[chosen, 1], color=colours(position % 10), label=name, s=18)
    labelled = labelled_points(coordinates)
    for index in labelled:
        axes.annotate(words[index], coordinates[index], fontsize=7, xytext=(2, 2), textcoords="offset points")
    axes.legend(fontsize=8)
    hidden = len(words) - len(labelled)
    axes.set_title(title + (f"\n({hidden} of {len(words)} labels left out where points crowd)" if hidden else ""))
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    return figure


def word_vectors(model):
    """The (vocabulary, dim) table of the model's ``word_vectors`` embedding."""
    return np.asarray(model.get_layer("word_vectors").embeddings)


def write_projector_files(folder, vectors, vocabulary):
    """``embeddings/vectors.tsv`` and ``embeddings/metadata.tsv`` (one word per line, no header), padding and [UNK] left out."""
    rows = "\n".join("\t".join(f"{value:.6g}" for value in row) for row in vectors[2:]) + "\n"
    folders.atomic_write_text(folder / "embeddings" / "vectors.tsv", rows)
    folders.atomic_write_text(folder / "embeddings" / "metadata.tsv", "\n".join(vocabulary[2:]) + "\n")


# ---------------------------------------------------------------------------------------------


@register("embed")
class EmbedTask(Task):
    """Word vectors with word2vec (skip-gram or CBOW, negative sampling)."""

    section = "embed"
    section_defaults = {
        "method": "skipgram",  # or "cbow"
        "embedding_dim": 50,
        "window": 3,  # words on each side (the dynamic window draws 1..window per center)
        "negatives": 5,  # sampled negatives per example
        "subsample": 1e-3,  # t of the subsampling of frequent words (0: keep every word)
        "min_count": 2,  # words seen fewer times are left out of the vocabulary
        "probes": [],  # words whose nearest neighbours the report lists (default: DEFAULT_PROBES)
        "similarity": "",  # a word1<TAB>word2<TAB>score file (WordSim-353 format) for Spearman's rho
        "quick_sentences": 2000,  # corpus lines used by --quick
    }
    description = "word embeddings (word2vec skip-gram / CBOW with negative sampling)"
    supports = frozenset({"similarity", "check", "lr-find"})
    unsupported_reasons = {"tune": ("word vectors have no validation split: their scores (analogies, neighbours, "
                                    "similarity) are the held-out test, and choosing by them would make it optimistic")}

    def settings(self, config):
        """The ``[embed]`` table with defaults filled in."""
        return {**self.section_defaults, **config.get(self.section, {})}

    def metric_names(self, config):
        """What :meth:`measure` can find (it depends on the corpus and files), and the final loss."""
        return {"neighbour_precision_at_5", "analogy_accuracy", "analogy_questions", "similarity_spearman",
                "similarity_pairs_found", "loss"}

    def headline_metrics(self, config):
        """The target and the word-vector scores (neighbours, analogies, similarity), for ``dlzoo compare``."""
        names = [config["expect"]["metric"], "neighbour_precision_at_5", "analogy_accuracy", "similarity_spearman"]
        return list(dict.fromkeys(names))

    def check_config(self, config):
        """Known keys, and values in range (no TensorFlow)."""
        super().check_config(config)
        settings = self.settings(config)
        if settings["method"] not in METHODS:
            raise UsageError(f"embed.method must be skipgram or cbow, got {settings['method']!r}")
        for key in ("embedding_dim", "window", "negatives", "min_count", "quick_sentences"):
            value = settings[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"embed.{key} must be an integer >= 1, got {value!r}")
        if not isinstance(settings["subsample"], (int, float)) or settings["subsample"] < 0:
            raise UsageError(f"embed.subsample must be a number >= 0, got {settings['subsample']!r}")
        if config["expect"]["metric"].endswith("accuracy") and config["expect"]["metric"] != "analogy_accuracy":
            raise UsageError(f"expect.metric {config['expect']['metric']!r}: an embed run reports "
                             "neighbour_precision_at_5, analogy_accuracy and similarity_spearman")

    def load_data(self, config, dataset=None, quick=False):
        """The corpus (raw lines); ``--quick`` keeps its first ``embed.quick_sentences`` lines."""
        from dlzoo import data

        bundle = data.load(dataset or config["data"]["dataset"], seed=config["data"]["seed"], options=config["data"])
        if not hasattr(bundle, "split_lines"):
            from dlzoo.data import tfds_text

            bundle = tfds_text.as_corpus(bundle, config["data"]) or bundle  # tfds:imdb_reviews: the reviews as lines
        if not hasattr(bundle, "split_lines"):
            raise UsageError(f"dataset {bundle.name} is not text: the embed task reads text:<file> or grammar")
        if quick:
            bundle.lines = bundle.lines[:self.settings(config)["quick_sentences"]]
        return bundle

    def prepare(self, config, quick=False):
        """Tokenize, check the vocabulary against the window and the negatives, build the model."""
        import keras

        from dlzoo.models.word2vec import build_word2vec
        from dlzoo.tasks.supervised import build_optimizer

        settings = self.settings(config)
        devices.seed_everything(config["train"]["seed"])
        bundle = self.load_data(config, quick=quick)
        vocabulary, sentences = tokenize(bundle.split_lines("all"), settings["min_count"])
        words = len(vocabulary) - 2
        smallest = max(settings["window"] * 2, settings["negatives"]) + 1
        if words < smallest:
            raise UsageError(f"the vocabulary of {bundle.name} has {words} words (seen >= embed.min_count = "
                             f"{settings['min_count']} times): too few for a window of {settings['window']} and "
                             f"{settings['negatives']} negatives (it needs at least {smallest}); give more text or "
                             "lower embed.min_count, embed.window or embed.negatives")
        if sum(len(ids) >= 2 for ids in sentences) == 0:
            raise UsageError(f"{bundle.name} has no line of two or more known words: nothing to learn from")
        sampler = PairSampler(sentences, len(vocabulary), settings["method"], settings["window"],
                              settings["negatives"], settings["subsample"], config["data"]["batch_size"],
                              config["train"]["seed"])
        model = build_word2vec(vocabulary, settings["embedding_dim"], settings["window"], settings["negatives"],
                               settings["method"])
        epochs = config["train"]["quick_epochs"] if quick else config["train"]["epochs"]
        model.compile(optimizer=build_optimizer(config, epochs * sampler.steps),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        return PreparedEmbedding(config, bundle, vocabulary, sampler, model, quick)

    def training_parts(self, prepared):
        """For check / lr-find: word2vec and its binary cross-entropy on (center, true + sampled
        candidates) batches; ln 2 for untrained vectors, whose dot products are near 0."""
        import math

        from dlzoo.tasks.base import TrainingParts

        model, batches = prepared.model, prepared.sampler.dataset()
        drawn = iter(batches[index % len(batches)] for index in itertools.count())

        def batch(size):
            """The first ``size`` examples of the epoch's draw (the sampler's batches, joined)."""
            parts = [batches[index % len(batches)] for index in range(-(-size // prepared.sampler.batch_size))]
            inputs = {key: np.concatenate([part[0][key] for part in parts])[:size] for key in parts[0][0]}
            return inputs, np.concatenate([part[1] for part in parts])[:size]

        return TrainingParts(
            model=model, loss=lambda inputs, labels, training: model.loss(labels, model(inputs, training=training)),
            batch=batch, next_batch=lambda: next(drawn),
            expected_loss=(math.log(2.0), "ln 2: untrained word vectors score every candidate near 1/2", 1.5),
            # One vector per word serves every pair of the word in the batch, and a sampled negative can be
            # a true context in another pair: a batch is not memorised to zero; below 15% of ln 2 it learns.
            overfit_fraction=0.15)

    def describe(self, prepared):
        """Corpus, vocabulary and examples per epoch."""
        settings = self.settings(prepared.config)
        return (f"data {prepared.bundle.name}: {len(prepared.bundle.lines)} lines, {len(prepared.vocabulary) - 2} words "
                f"in the vocabulary, {prepared.sampler.steps * prepared.sampler.batch_size} examples per epoch; "
                f"model word2vec {settings['method']}: {prepared.model.count_params():,} parameters")

    def run(self, prepared, folder):
        """Train, measure, write the projector files, the picture, the report and the SavedModel."""
        from dlzoo.runs import export

        config, settings = prepared.config, self.settings(prepared.config)
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        start = time.perf_counter()
        history = fit.fit(prepared.model, prepared.sampler.dataset(), None, folder, config["train"], epochs)
        train_seconds = time.perf_counter() - start
        vectors, vocabulary = word_vectors(prepared.model), prepared.vocabulary
        metrics = self.measure(vectors, vocabulary, prepared.bundle, settings)
        metrics["loss"] = history["loss"][-1]
        write_projector_files(folder, vectors, vocabulary)
        export.save_keras_model(prepared.model, folder / "model.keras")
        exported = None
        if config["train"]["export"]:
            exported = export.export_saved_model(prepared.model, folder / "saved_model",
                                                 self.serving_endpoints(prepared.model, vocabulary),
                                                 np.array(vocabulary[2:66] + ["no-such-word"], dtype=object))
            exported["example"] = self.serving_example(prepared.bundle)
            exported["takes"] = "words (strings, lower-cased inside; an unknown word gets known = False)"
        curves.learning_curves({config["name"]: history}, folder / "plots" / "learning_curves.png", title=config["name"])
        self.draw_and_report(folder, vectors, vocabulary, prepared.bundle, settings, metrics)
        examples = prepared.sampler.steps * prepared.sampler.batch_size * len(history["loss"])
        return {"metrics": metrics, "parameters": int(prepared.model.count_params()),
                "epochs_run": len(history["loss"]), "export": exported, "train_seconds": train_seconds,
                "samples_per_second": examples / max(train_seconds, 1e-9),
                "data": {"dataset": prepared.bundle.name, "lines": len(prepared.bundle.lines),
                         "vocabulary_size": len(vocabulary) - 2}}

    def measure(self, vectors, vocabulary, bundle, settings):
        """Neighbour precision@5, analogy accuracy (known classes), Spearman's rho (a similarity file)."""
        metrics = {}
        precision = neighbour_precision(vectors, vocabulary, bundle.classes) if bundle.classes else None
        if precision is not None:
            metrics["neighbour_precision_at_5"] = precision
        if bundle.analogies:
            accuracy, questions = analogy_accuracy(vectors, vocabulary, bundle.analogies)
            if accuracy is not None:
                metrics["analogy_accuracy"] = accuracy
                metrics["analogy_questions"] = questions
        if settings["similarity"]:
            result = similarity_correlation(vectors, vocabulary, settings["similarity"])
            metrics["similarity_spearman"] = result["spearman"]
            metrics["similarity_pairs_found"] = result["pairs_found"]
        return metrics

    def draw_and_report(self, folder, vectors, vocabulary, bundle, settings, metrics):
        """The PCA picture of the class words and the report section with nearest neighbours."""
        index_of = {word: index for index, word in enumerate(vocabulary)}
        shown = [word for word in bundle.classes if word in index_of] or vocabulary[2:62]
        coordinates = pca_2d(vectors[[index_of[word] for word in shown]])
        draw_pca(shown, coordinates, bundle.classes, folder / "plots" / "embedding_pca.png",
                 f"word vectors of {bundle.name}, first two principal components")
        probes = [word for word in (settings["probes"] or DEFAULT_PROBES) if word in index_of] or vocabulary[2:8]
        rows = [[word, ", ".join(f"{other} ({similarity:.2f})" for other, similarity in
                                 nearest(vectors, vocabulary, vectors[index_of[word]], 5, [index_of[word]]))]
                for word in probes]
        lines = ["## Word vectors", "",
                 f"{len(vocabulary) - 2} words, {vectors.shape[1]} dimensions. "
                 + ", ".join(f"{key.replace('_', ' ')} **{report.format_number(value)}**"
                             for key, value in metrics.items() if key != "loss"),
                 "", "Nearest neighbours (cosine similarity):", "",
                 report.markdown_table(["word", "5 nearest words"], rows), "",
                 "Projector files: `embeddings/vectors.tsv` and `embeddings/metadata.tsv` (load both at "
                 "https://projector.tensorflow.org or in TensorBoard's projector).", "",
                 "![word vectors, PCA](plots/embedding_pca.png)"]
        report.write_section(folder, "20-word-vectors", "\n".join(lines) + "\n")

    # What the commands ask --------------------------------------------------------------

    def check_fits(self, model, bundle):
        """Any corpus fits: the scores ask about the words the run knows (unknown words are skipped)."""

    def evaluate_run(self, run, bundle, split):
        """The word vectors' scores as training measured them (neighbour precision@5 on the corpus's
        word classes, analogy accuracy, the similarity file's Spearman's rho). Word vectors have no
        held-out split: ``split`` only names the evaluation."""
        settings = self.settings(run.config)
        metrics = self.measure(word_vectors(run.model), vocabulary_of(run.model), bundle, settings)
        if not metrics:
            raise UsageError(f"dataset {bundle.name} has no word classes or analogies and the recipe no similarity "
                             "file: nothing to score these word vectors on (dlzoo evaluate RUN --similarity FILE)")
        return {"split": split, "dataset": bundle.name, "examples": int(metrics.get("analogy_questions", 0)),
                **{key: float(value) for key, value in metrics.items()}}

    def evaluation_line(self, result):
        """The scores found, in one line."""
        names = {"neighbour_precision_at_5": "neighbour precision@5", "analogy_accuracy": "analogy accuracy",
                 "similarity_spearman": "similarity Spearman's rho"}
        scores = [f"{label} {result[key]:.4f}" for key, label in names.items() if key in result]
        questions = f" ({result['analogy_questions']:.0f} analogy questions)" if "analogy_questions" in result else ""
        return f"word vectors of {result['dataset']}: " + ", ".join(scores) + questions

    def check_similarity_file(self, path):
        """A missing or malformed word1<TAB>word2<TAB>score file is refused (no TensorFlow needed)."""
        read_similarity_file(path)

    def evaluate_similarity(self, run, path, root=None):
        """Spearman's rho of the run's cosine similarities with the file's human scores."""
        return evaluate_similarity(run, path, root)

    def serving_endpoints(self, model, vocabulary):
        """``serve(words: string[None]) -> {"vectors": float32[None, dim], "known": bool[None]}``."""
        import tensorflow as tf

        table = model.get_layer("word_vectors").embeddings
        # The word -> id lookup is a comparison with a constant list (no lookup-table resource to
        # track in the SavedModel): (batch, vocabulary) booleans, fine for vocabularies of this size.
        words_by_id = tf.constant(list(vocabulary))

        def serve(words):
            """Vectors of a batch of words (lower-cased); an unknown word gets the [UNK] row and known = False."""
            matches = tf.equal(tf.strings.lower(tf.strings.strip(words))[:, None], words_by_id[2:][None, :])
            known = tf.reduce_any(matches, axis=1)
            rows = tf.where(known, tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32) + 2, UNKNOWN)
            return {"vectors": tf.gather(table, rows), "known": known}

        return {"serve": (serve, [tf.TensorSpec([None], tf.string, name="words")])}

    def serving_example(self, bundle):
        """Plain TensorFlow: the vectors of two words."""
        return ("```python\nimport tensorflow as tf\nmodel = tf.saved_model.load(\"saved_model\")\n"
                "outputs = model.serve(tf.constant([\"paris\", \"rome\"]))\n"
                "print(outputs[\"vectors\"].shape, outputs[\"known\"].numpy())  # (2, dim) [ True  True]\n```\n")

    def read_inputs(self, values, file):
        """Words (nearest neighbours) or analogies ``"paris - france + italy"``; none: list the vocabulary."""
        if file:
            import pathlib

            values = [line.strip() for line in pathlib.Path(file).read_text(encoding="utf-8").splitlines()
                      if line.strip()]
            if not values:
                raise UsageError(f"--file {file} has no word to look up")
        return list(values)  # [] asks for the vocabulary (see predict)

    def predict(self, model, bundle, inputs):
        """The 5 nearest words of each word, or of ``b - a + c`` for ``"b - a + c"``; the vocabulary
        when no input is given (``dlzoo predict word2vec``)."""
        import re

        vocabulary = vocabulary_of(model)
        if not inputs:
            return vocabulary_lines(vocabulary)
        index_of = {word: index for index, word in enumerate(vocabulary)}
        vectors = unit_rows(word_vectors(model))
        lines = []
        for text in inputs:
            terms = re.findall(r"([+-]?)\s*([^\s+-]+)", text.lower())
            missing = [word for _, word in terms if word not in index_of]
            if missing:
                lines.append(unknown_words_line(text, missing, vocabulary, bundle))
                continue
            query = sum((-1 if sign == "-" else 1) * vectors[index_of[word]] for sign, word in terms)
            found = nearest(vectors, vocabulary, query, 5, [index_of[word] for _, word in terms])
            lines.append(f"{text}: " + ", ".join(f"{word} {similarity:.3f}" for word, similarity in found))
        return lines


def vocabulary_lines(vocabulary, width=100):
    """``dlzoo predict`` without words: how many words there are, then all of them, most frequent first."""
    import textwrap

    words = vocabulary[2:]  # padding and [UNK] are not words
    return ([f"{len(words)} words in the vocabulary, most frequent first (one per line in the run's "
             "embeddings/metadata.tsv):"] + textwrap.wrap(", ".join(words), width))


def unknown_words_line(text, missing, vocabulary, bundle=None):
    """Which words of ``text`` are unknown, the closest known words to each, and how to see them all."""
    import difflib

    words = vocabulary[2:]
    hints = []
    for word in dict.fromkeys(missing):
        close = difflib.get_close_matches(word, words, n=3, cutoff=0.6)
        hints.append(f"{word} (closest: {', '.join(close)})" if close else f"{word} (no close word)")
    line = (f"{text}: not in the vocabulary: {'; '.join(hints)}. This run knows {len(words)} words of its own "
            "corpus: 'dlzoo predict RUN' with no words lists them")
    analogies = getattr(bundle, "analogies", None)
    if analogies:  # the grammar corpus: an analogy its words can answer
        a, b, c, _ = analogies[0]
        line += f"; an analogy this corpus answers: \"{b} - {a} + {c}\""
    return line


def vocabulary_of(model):
    """The words of a word2vec model, by id (kept in its ``vocabulary`` layer)."""
    from dlzoo.models.vocabulary import tokens_of

    return tokens_of(model)


def evaluate_similarity(argument, path, root=None):
    """``dlzoo evaluate RUN --similarity FILE``: Spearman's rho of a trained embed run; returns (result, line, written)."""
    from dlzoo.runs.load import load_run

    run = load_run(argument, root)
    if run.task.name != "embed":
        raise UsageError(f"--similarity needs a run of the embed task; {run.folder} is a '{run.task.name}' run")
    result = similarity_correlation(word_vectors(run.model), vocabulary_of(run.model), path)
    (json_path,) = figures.new_file_paths(run.folder / "evaluation-similarity.json")
    written = folders.atomic_write_json(json_path, result)
    line = (f"Spearman's rho {result['spearman']:.4f} on {result['pairs_found']} of {result['pairs_total']} pairs "
            f"(the others have a word outside the vocabulary)")
    return result, line, written
