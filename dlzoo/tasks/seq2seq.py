"""The sequence-to-sequence task: translate strings (dates, number words, sums) character by character.

Steps of one run:

1. load the string pairs (:class:`~dlzoo.data.sequences.TextPairs`), build the character
   vocabularies and maximum lengths from the training split;
2. build :class:`~dlzoo.models.seq2seq.Seq2Seq` from ``[model]`` (cell, units, embedding_dim,
   attention) and train it with *teacher forcing* through :func:`dlzoo.training.fit` (masked
   cross-entropy of the next character);
3. translate every split with the graph decoder (greedy, or beam search with
   ``seq2seq.beam_width``) and score it: exact match, per-character accuracy, edit distance,
   BLEU (``test_exact_match`` is the headline);
4. save ``model.keras`` and a SavedModel whose ``serve`` takes a batch of strings and returns a
   batch of strings (vocabulary and decoding loop inside the graph), verified string for string;
5. draw attention heatmaps of test inputs (a wrong one first, if any) and a table of examples.

``dlzoo predict RUN "lundi 22 avril 2019"`` prints ``lundi 22 avril 2019 -> 2019-04-22``
(``--beam N``, ``--file``, ``--attention``), one line per input; an input unlike the training
data (characters never seen in training, longer than the longest training input, or an output
that the data could not hold, e.g. a date outside 1900-2099) gets the line's end
``(unlike the training data: ...)``: a translator answers every input, sense or nonsense.
``dlzoo visualize RUN --method attention`` draws the heatmaps.
``[model] name = "transformer"`` switches the RNN for a transformer encoder-decoder
(:mod:`dlzoo.translation.transformer_translation`); everything else is shared.
Reusable functions for other translators: :func:`text_arrays`,
:func:`teacher_forcing_datasets`, :func:`masked_loss`, :func:`evaluate_translator`,
:func:`read_text_inputs`, :func:`check_text_inputs`, :func:`draw_attention`.
"""

import dataclasses
import pathlib
import sys
import time


from dlzoo.plots import figures
from dlzoo.plots import curves
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core.errors import UsageError
from dlzoo.translation import side_by_side, transformer_translation
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

SEQ2SEQ_DEFAULTS = {
    "beam_width": 1,  # decoding used for the reported metrics (1 = greedy)
    "length_penalty": 0.0,
    "evaluate_train_samples": 2000,  # the train split's metrics on its first N pairs (decoding is slow)
    "target_margin": 2,  # decoding steps beyond the longest training target
}
SHOWN_EXAMPLES = 8
# What metrics.json keeps of each split's evaluation (BLEU only for sentence outputs).
HEADLINE_KEYS = ("exact_match", "character_accuracy", "edit_distance", "bleu", "character_bleu")


@dataclasses.dataclass
class PreparedTranslation:
    """What a seq2seq run needs, checked and ready."""

    config: dict
    bundle: object
    model: object
    datasets: dict
    quick: bool


def check_beam_width(beam_width):
    """A beam width is a whole number >= 1."""
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise UsageError(f"beam width must be a whole number >= 1, got {beam_width!r}")
    return beam_width


def text_arrays(texts, vocabulary_of_model, length, start=False, end=False):
    """Ids of ``texts`` for a model's vocabulary (see :func:`dlzoo.translation.vocabulary.encode`)."""
    from dlzoo.translation import vocabulary

    return vocabulary.encode([str(text) for text in texts], vocabulary_of_model, length, start=start, end=end)


def teacher_forcing_datasets(bundle, source_vocabulary, target_vocabulary, max_source_length, max_target_length,
                             batch_size, seed):
    """``{"train", "val"}`` tf.data of ``((source ids, [START] + target ids), target ids + [END])``."""
    import tensorflow as tf

    datasets = {}
    for split in ("train", "val"):
        sources, targets = bundle.arrays(split)
        source_ids = text_arrays(sources, source_vocabulary, max_source_length)
        decoder_inputs = text_arrays(targets, target_vocabulary, max_target_length + 1, start=True)
        decoder_targets = text_arrays(targets, target_vocabulary, max_target_length + 1, end=True)
        dataset = tf.data.Dataset.from_tensor_slices(((source_ids, decoder_inputs), decoder_targets))
        if split == "train":
            dataset = dataset.shuffle(len(source_ids), seed=seed, reshuffle_each_iteration=True)
        datasets[split] = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return datasets


def model_builder(config):
    """``(build, options)`` of the recipe's translator: the registered builder ``[model] name``
    (``"seq2seq"``: the RNN encoder-decoder, ``"transformer"``) and its full options;
    ``build(source vocabulary, target vocabulary, max source length, max target length,
    **options)`` returns a built model."""
    from dlzoo import models

    return models.get(config["model"]["name"], kind="translator"), models.check_options(config["model"],
                                                                                         kind="translator")


def head_pictures(model, texts, folder, stem, targets=None):
    """Transformers only: one picture per text with every cross-attention head of every decoder
    block (:mod:`dlzoo.translation.transformer_translation`); ``[]`` for an RNN translator."""
    if getattr(model, "family", "rnn") != "transformer":
        return []
    return transformer_translation.draw_heads_pictures(model, texts, folder, stem, targets)


def masked_loss():
    """Cross-entropy of the next character, padding (id 0) ignored."""
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)


def evaluate_translator(translate, bundle, split, limit=None):
    """Metrics of ``translate(list of str) -> list of str`` on one split, plus the pairs it got.

    Returns ``{"split", "dataset", "exact_match", "character_accuracy", "edit_distance", "character_bleu",
    "bleu" (sentences only), "examples", "samples": [{"source", "target", "prediction"}, ...]}``.
    """
    from dlzoo.metrics import translation as translation_metrics

    sources, targets = bundle.arrays(split, limit=limit)
    predictions = translate(list(sources))
    result = {"split": split, "dataset": bundle.name, **translation_metrics.all_metrics(predictions, targets)}
    wrong = [index for index, (p, t) in enumerate(zip(predictions, targets)) if p != t]
    shown = (wrong[:SHOWN_EXAMPLES // 2] + list(range(SHOWN_EXAMPLES)))[:SHOWN_EXAMPLES]
    result["samples"] = [{"source": str(sources[index]), "target": str(targets[index]),
                          "prediction": predictions[index]} for index in dict.fromkeys(shown) if index < len(sources)]
    return result


def read_text_inputs(values, file):
    """``dlzoo predict`` strings: the arguments, or one per line of ``--file`` (UTF-8)."""
    if file:
        path = pathlib.Path(file)
        if not path.is_file():
            raise UsageError(f"--file {path}: no such file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--file {path}: cannot read it as UTF-8 text ({type(error).__name__})") from None
        values = list(values) + [line for line in lines if line.strip()]
        if not values:
            raise UsageError(f"--file {path} has no non-empty line to translate")
    if not values:
        raise UsageError('give strings to translate, e.g. dlzoo predict RUN "lundi 22 avril 2019", '
                         'or --file inputs.txt')
    return [str(value) for value in values]


def check_text_inputs(texts, max_length, echo=None):
    """Refuse empty strings; cut strings longer than ``max_length`` with a warning on stderr."""
    echo = echo or (lambda message: print(message, file=sys.stderr))
    checked = []
    for text in texts:
        if not text.strip():
            raise UsageError("an input is empty: give a non-empty string to translate")
        if len(text) > max_length:
            echo(f"warning: input {text[:20]!r}... has {len(text)} characters; the model reads at most "
                 f"{max_length}, the rest is cut")
            text = text[:max_length]
        checked.append(text)
    return checked


def unlike_training(text, translation, model, bundle=None):
    """Why ``text`` and its ``translation`` are unlike the training data ([] when nothing is)."""
    reasons = []
    unknown = sorted(set(text) - set(model.source_vocabulary))
    if unknown:
        shown = " ".join(repr(character) for character in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        reasons.append(f"{len(unknown)} character(s) never seen in training ({shown}), read as unknown")
    if len(text) > model.max_source_length:
        reasons.append(f"{len(text)} characters, longer than any training input: the model reads the first "
                       f"{model.max_source_length}, the rest is cut")
    if len(translation) >= model.max_target_length:
        reasons.append(f"the output stopped at the decoder's limit of {model.max_target_length} characters")
    implausible = getattr(bundle, "implausible", None)
    reason = implausible(translation) if implausible else ""
    if reason:
        reasons.append(f"the output is {reason}")
    return reasons


def draw_attention(pairs, path, title=""):
    """Heatmaps of attention weights: ``pairs`` = ``[(source, translation, weights (T, S), target)]``."""
    pyplot = figures.pyplot_module()
    count = len(pairs)
    columns = min(2, count)
    rows = (count + columns - 1) // columns
    figure, axes = pyplot.subplots(rows, columns, figsize=(7 * columns, 4.5 * rows), squeeze=False,
                                   layout="constrained")
    for axis, (source, translation, weights, target) in zip(axes.flat, pairs):
        image = axis.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
        axis.set_xticks(range(weights.shape[1]))
        axis.set_xticklabels(list(source[:weights.shape[1]]), fontsize=7)
        axis.set_yticks(range(weights.shape[0]))
        axis.set_yticklabels((list(translation) + ["<end>"])[:weights.shape[0]], fontsize=7)
        verdict = "" if target is None else (" (right)" if translation == target else f" (WRONG; expected {target})")
        axis.set_title(f"{source} -> {translation}{verdict}", fontsize=8)
        axis.set_xlabel("input characters")
        axis.set_ylabel("output characters")
    for axis in list(axes.flat)[count:]:
        axis.axis("off")
    figure.colorbar(image, ax=list(axes.flat)[:count], shrink=0.8, label="attention weight")  # one scale: 0 to 1
    if title:
        figure.suptitle(title)
    figures.save_figure(figure, path)
    return path


def attention_pairs(model, sources, targets=None):
    """``[(source, translation, weights, target)]`` of greedy translations of ``sources``."""
    from dlzoo.translation import serving

    maps = serving.attention_maps(model, [str(source) for source in sources])
    return [(str(source), translation, weights, None if targets is None else str(targets[index]))
            for index, (source, (translation, weights)) in enumerate(zip(sources, maps))]


@register("seq2seq")
class Seq2SeqTask(Task):
    """Encoder-decoder translation of strings, trained with teacher forcing."""

    section = "seq2seq"
    model_kind = "translator"
    section_defaults = SEQ2SEQ_DEFAULTS
    description = "sequence-to-sequence translation (strings in, strings out)"
    supports = frozenset({"own-pictures", "check", "lr-find", "tune"})

    # 1. Configuration ------------------------------------------------------------------------

    def metric_names(self, config):
        """:meth:`headline` of every split, and the last training loss."""
        return {f"{split}_{key}" for split in ("train", "val", "test") for key in HEADLINE_KEYS} | {"train_loss"}

    def headline_metrics(self, config):
        """The target, then every headline score on test and ``val_exact_match``, for ``dlzoo compare``."""
        names = [config["expect"]["metric"], "test_exact_match", "val_exact_match"]
        return list(dict.fromkeys(names + [f"test_{key}" for key in HEADLINE_KEYS]))

    def check_config(self, config):
        """``[model]`` names a translator (its options are checked by its registration, see
        :func:`dlzoo.models.check_options`); the beam width is >= 1; the metric is ours."""
        super().check_config(config)
        if "name" not in config.get("model", {}):
            raise UsageError("a seq2seq recipe's [model] needs a name: a translator such as 'seq2seq' (the RNN "
                             "encoder-decoder) or 'transformer'")
        check_beam_width(self.settings(config)["beam_width"])

    def settings(self, config):
        """The ``[seq2seq]`` section with its defaults."""
        return {**SEQ2SEQ_DEFAULTS, **config.get("seq2seq", {})}

    # 2. Training -----------------------------------------------------------------------------

    def load_data(self, config, dataset=None, quick=False):
        """The run's string pairs (generated lazily: nothing is made until a split is read)."""
        from dlzoo.tasks.supervised import load_splits

        bundle = load_splits(config, quick, dataset)
        if getattr(bundle, "kind", None) != "text" or getattr(bundle, "targets", "strings") != "strings":
            raise UsageError(f"dataset {bundle.name} is not made of string pairs; a seq2seq recipe needs one of "
                             "dates, numbers:<src>-<dst>, addition:<digits>")
        return bundle

    def prepare(self, config, quick=False):
        """Load the pairs, build vocabularies and the model, compile it, make the pipelines."""
        from dlzoo.translation import vocabulary
        from dlzoo.tasks.supervised import build_optimizer

        devices.seed_everything(config["train"]["seed"])
        bundle = self.load_data(config, quick=quick)
        sources, targets = bundle.arrays("train")
        build, options = model_builder(config)
        max_source_length = max(len(source) for source in sources)
        max_target_length = max(len(target) for target in targets) + self.settings(config)["target_margin"]
        with devices.distribution_scope(config["train"]):
            model = build(vocabulary.build_vocabulary(sources), vocabulary.build_vocabulary(targets),
                          max_source_length, max_target_length, **options)
            epochs = config["train"]["quick_epochs"] if quick else config["train"]["epochs"]
            steps = epochs * -(-len(sources) // config["data"]["batch_size"])
            model.compile(optimizer=build_optimizer(config, steps), loss=masked_loss())
        datasets = teacher_forcing_datasets(bundle, model.source_vocabulary, model.target_vocabulary,
                                            model.max_source_length, model.max_target_length,
                                            config["data"]["batch_size"], config["data"]["seed"])
        return PreparedTranslation(config=config, bundle=bundle, model=model, datasets=datasets, quick=quick)

    def describe(self, prepared):
        """The data, vocabularies, lengths and model size."""
        model, sizes = prepared.model, prepared.bundle.sizes()
        return (f"data {prepared.bundle.name}: {sizes['train']} train / {sizes['val']} val / {sizes['test']} test "
                f"pairs; {len(model.source_vocabulary)} source and {len(model.target_vocabulary)} target characters, "
                f"at most {model.max_source_length} in / {model.max_target_length} out; "
                f"{model.architecture()}: "
                f"{model.count_params():,} parameters")

    def training_parts(self, prepared):
        """For check / lr-find: the translator, its masked next-character cross-entropy under
        teacher forcing, and ln(target characters) for an untrained decoder."""
        import math

        from dlzoo.tasks.base import TrainingParts

        model, train = prepared.model, prepared.datasets["train"]
        batches = iter(train.repeat())
        first_inputs, _ = next(iter(train))
        count = int(model(first_inputs).shape[-1])  # the decoder's logits: one per target character

        def batch(size):
            """The first ``size`` training pairs, as teacher forcing feeds them."""
            return next(iter(train.unbatch().batch(size)))

        return TrainingParts(
            model=model, loss=lambda inputs, targets, training: model.loss(targets, model(inputs, training=training)),
            batch=batch, next_batch=lambda: next(batches),
            expected_loss=(math.log(count), f"ln({count}) for a decoder that gives each of its {count} output "
                                            f"tokens 1/{count}", 1.5),
            splits=prepared.bundle)  # the leakage check compares the source strings

    def run(self, prepared, folder):
        """Train with teacher forcing, then evaluate, save, export and draw."""
        from dlzoo.runs import export
        from dlzoo.translation import serving

        config, model, bundle = prepared.config, prepared.model, prepared.bundle
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        start = time.perf_counter()
        history = fit.fit(model, prepared.datasets["train"], prepared.datasets["val"], folder, config["train"],
                               epochs)
        train_seconds = time.perf_counter() - start
        settings = self.settings(config)
        metrics, results = {}, {}
        for split in ("train", "val", "test"):
            limit = settings["evaluate_train_samples"] if split == "train" else None
            results[split] = self.evaluate(model, bundle, split, limit=limit, beam_width=settings["beam_width"])
            metrics.update({f"{split}_{key}": value for key, value in self.headline(results[split]).items()})
        metrics["train_loss"] = history["loss"][-1]
        folders.atomic_write_json(folder / "evaluation.json", results["test"])
        export.save_keras_model(model, folder / "model.keras")
        exported = None
        if config["train"]["export"]:
            sample = bundle.arrays("test", limit=32)[0].astype(str)
            exported = export.export_saved_model(model, folder / "saved_model", self.serving_endpoints(model, bundle),
                                                 sample)
            exported["example"] = self.serving_example(bundle)
            exported["takes"] = "strings and returns strings"
            exported["notes"] = [serving.limits_note(model)]
        curves.learning_curves({config["name"]: history}, folder / "plots" / "learning_curves.png", title=config["name"])
        self.draw(model, bundle, folder, results["test"])
        report.write_section(folder, "25-side-by-side", side_by_side.section(folder, config, side_by_side.row_of(
            f"{config['name']} (this run)", config, metrics, int(model.count_params()), len(history["loss"]),
            train_seconds), quick=prepared.quick))
        return {
            "metrics": metrics, "parameters": int(model.count_params()), "epochs_run": len(history["loss"]),
            "export": exported, "train_seconds": train_seconds,
            "samples_per_second": bundle.sizes()["train"] * len(history["loss"]) / max(train_seconds, 1e-9),
            "data": {"dataset": bundle.name, "sizes": bundle.sizes(), "max_source_length": model.max_source_length,
                     "max_target_length": model.max_target_length},
        }

    def draw(self, model, bundle, folder, test_result):
        """Attention heatmaps of test inputs (wrong ones first) and the examples section."""
        samples = test_result["samples"]
        rows = [[sample["source"], sample["target"], sample["prediction"],
                 "yes" if sample["prediction"] == sample["target"] else "**no**"] for sample in samples]
        text = ("## Translations (test split)\n\n"
                f"Exact match {test_result['exact_match']:.4f}, per-character accuracy "
                f"{test_result['character_accuracy']:.4f}, mean edit distance {test_result['edit_distance']:.3f}"
                + (f", BLEU {test_result['bleu']:.1f}" if "bleu" in test_result else "")
                + (f", character BLEU {test_result['character_bleu']:.1f}" if "character_bleu" in test_result
                   else "")
                + f" on {test_result['examples']} unseen inputs.\n\n"
                + report.markdown_table(["input", "expected", "predicted", "right"], rows) + "\n")
        if model.attention != "none":
            shown = samples[:4]
            draw_attention(attention_pairs(model, [s["source"] for s in shown], [s["target"] for s in shown]),
                           folder / "plots" / "attention.png", title=f"{model.attention} attention (test inputs)")
            text += "\n![attention](plots/attention.png)\n"
            for path in head_pictures(model, [s["source"] for s in shown[:1]], folder / "plots", "attention-heads",
                                      [s["target"] for s in shown[:1]]):
                text += f"\nEvery cross-attention head of every decoder block:\n\n![heads](plots/{path.name})\n"
        report.write_section(folder, "20-translations", text)
        if getattr(model, "family", "rnn") == "transformer":
            from dlzoo.visualize import positional_encoding

            positional_encoding.report_section(model, folder)  # the source and target position vectors

    # 3. What the commands ask ----------------------------------------------------------------

    def evaluate(self, model, bundle, split, limit=None, beam_width=1):
        """Exact match, per-character accuracy, edit distance and BLEU of one split."""
        from dlzoo.translation import serving

        return evaluate_translator(lambda texts: serving.translate_texts(model, texts, beam_width), bundle, split,
                                   limit)

    def headline(self, result):
        """The metrics of ``metrics.json`` (``test_exact_match`` first)."""
        return {key: result[key] for key in HEADLINE_KEYS if key in result}

    def evaluation_line(self, result):
        """``test exact match 0.9990 · characters 0.9998 · edit distance 0.002 · BLEU 99.8 · character BLEU
        99.9 on 4000 pairs``."""
        bleu = f" · BLEU {result['bleu']:.1f}" if "bleu" in result else ""
        if "character_bleu" in result:
            bleu += f" · character BLEU {result['character_bleu']:.1f}"
        return (f"{result['split']} exact match {result['exact_match']:.4f} · characters "
                f"{result['character_accuracy']:.4f} · edit distance {result['edit_distance']:.3f}{bleu} "
                f"on {result['examples']} pairs")

    def serving_endpoints(self, model, bundle):
        """``serve(texts: string[None]) -> {"translation": string[None]}``, greedy decoding in the graph."""
        from dlzoo.translation import serving

        return serving.serving_endpoints(model)

    def serving_example(self, bundle):
        """The plain-TensorFlow lines that translate with the SavedModel."""
        example = str(bundle.arrays("test", limit=1)[0][0]) if bundle.sizes()["test"] else "..."
        return ("```python\n"
                "import tensorflow as tf\n"
                "model = tf.saved_model.load(\"saved_model\")\n"
                f"outputs = model.serve(tf.constant([{example!r}]))\n"
                "print(outputs[\"translation\"].numpy()[0].decode(\"utf-8\"))\n"
                "```\n")

    def visualize_methods(self, model):
        """Attention heatmaps, for a model with attention."""
        return ["attention"] if getattr(model, "attention", "none") != "none" else []

    def visualize(self, run, method, samples, out):
        """``dlzoo visualize RUN --method attention``: heatmaps of test inputs, a wrong one first if any."""
        from dlzoo.translation import serving

        if method != "attention":
            raise UsageError(f"a seq2seq run has one visualization method, attention; got {method!r}")
        if run.model.attention == "none":
            raise UsageError("this translator has no attention (model.attention = \"none\"): nothing to draw")
        bundle = run.load_data()
        sources, targets = bundle.arrays("test", limit=max(256, samples))
        predictions = serving.translate_texts(run.model, list(sources))
        wrong = [index for index, (p, t) in enumerate(zip(predictions, targets)) if p != t]
        chosen = list(dict.fromkeys(wrong[:1] + list(range(len(sources)))))[:samples]
        folder = pathlib.Path(out) if out else run.folder / "plots"
        path = figures.new_file_paths(folder / "attention.png")[0]  # never replaces an earlier picture
        draw_attention(attention_pairs(run.model, [sources[i] for i in chosen], [targets[i] for i in chosen]), path,
                       title=f"{run.model.attention} attention (test inputs)")
        heads = head_pictures(run.model, [sources[i] for i in chosen[:2]], path.parent, "attention-heads",
                              [targets[i] for i in chosen[:2]])
        if out is None:
            note = f"{len(wrong)} of {len(sources)} test inputs translated wrongly" + (
                "; the first picture is one of them." if wrong else ".")
            report.write_section(run.folder, "50-visualize-attention",
                                 f"## Visualization: attention\n\nAttention weights of each output character (rows) "
                                 f"over the input characters (columns); {note}\n\n![attention](plots/{path.name})\n"
                                 + "".join(f"\n![every head](plots/{head.name})\n" for head in heads))
            report.write_report(run.folder)
        return [path, *heads]

    def read_inputs(self, values, file):
        """Strings from the command line or one per line of ``--file``."""
        return read_text_inputs(values, file)

    def check_predict_options(self, options):
        """``--beam`` must be >= 1."""
        if options.get("beam") is not None:
            check_beam_width(options["beam"])

    def predict(self, model, bundle, inputs, beam=None, attention=False, folder=None):
        """``input -> translation`` per input, flagged when unlike the training data (:func:`unlike_training`);
        ``attention=True`` also writes each input's heatmap."""
        from dlzoo.translation import serving

        texts = check_text_inputs(inputs, model.max_source_length, echo=lambda message: None)  # flagged below
        beam = check_beam_width(beam) if beam is not None else 1
        translations = serving.translate_texts(model, texts, beam_width=beam)
        lines = []
        for text, translation in zip(inputs, translations):
            reasons = unlike_training(text, translation, model, bundle)
            lines.append(f"{text} -> {translation}" + (f"   (unlike the training data: {'; '.join(reasons)})"
                                                        if reasons else ""))
        if attention:
            if model.attention == "none":
                raise UsageError("--attention: this translator has no attention (model.attention = \"none\")")
            out = pathlib.Path(folder) / "plots"
            for index, pair in enumerate(attention_pairs(model, texts)):
                path = figures.new_file_paths(out / f"predict-attention-{index + 1}.png")[0]
                draw_attention([pair], path)
                print(f"attention of input {index + 1}: {path}", file=sys.stderr)
            for index, path in enumerate(head_pictures(model, texts, out, "predict-attention-heads")):
                print(f"every attention head of input {index + 1}: {path}", file=sys.stderr)
        return lines
