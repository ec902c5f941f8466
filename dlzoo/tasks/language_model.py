"""The ``language-model`` task: a character-level GPT trained to predict the next character.

Steps of one run:

1. read the corpus (``grammar`` by default, or ``text:<path>``); its lines are split by position
   into train / val / test text, so the test text was never read in training; the vocabulary is
   every character of the corpus, kept in the model's ``vocabulary`` layer;
2. each epoch, draw random windows of ``context_length + 1`` characters from the training text:
   the model reads characters 0..n-1 and is scored on characters 1..n at every position at once
   (causal self-attention stops position t from seeing t + 1);
3. measure the per-character perplexity ``exp(mean cross-entropy)`` on the held-out text (and
   the perplexity of the unigram baseline, which ignores context, for comparison);
4. sample text at temperatures 0.5 and 1.0 (``p ~ softmax(logits / T)``: a low temperature
   sharpens the distribution, 1.0 samples from the model as it is).

``dlzoo predict RUN --prompt "the dog" --length 100 [--temperature 0.8]`` continues a prompt.
"""

import dataclasses
import itertools
import math
import time

import numpy as np

from dlzoo.plots import curves
from dlzoo.runs import report
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core.errors import UsageError
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

DEFAULT_LENGTH = 200
QUICK_STEPS, QUICK_SAMPLE_LENGTH = 10, 40  # --quick: a smoke test of every step, not of the model


@dataclasses.dataclass
class PreparedLanguageModel:
    """Everything a language-model run needs."""

    config: dict
    bundle: object
    characters: list
    train_ids: np.ndarray
    val_ids: np.ndarray
    model: object
    quick: bool


def encode(text, characters):
    """Character ids of ``text`` (every character must be in ``characters``)."""
    index = {character: position for position, character in enumerate(characters)}
    return np.array([index[character] for character in text], dtype="int32")


def windows(ids, length):
    """Non-overlapping ``(inputs, targets)`` windows: targets are the inputs shifted by one character."""
    count = (len(ids) - 1) // length
    if count < 1:
        return None
    inputs = ids[:count * length].reshape(count, length)
    targets = ids[1:count * length + 1].reshape(count, length)
    return inputs, targets


def perplexity(model, ids, length, batch_size=256):
    """``exp`` of the mean next-character cross-entropy over non-overlapping windows of ``ids``."""
    import keras

    pairs = windows(ids, length)
    if pairs is None:
        return float("nan")
    logits = model.predict(pairs[0], batch_size=batch_size, verbose=0)
    losses = keras.losses.sparse_categorical_crossentropy(pairs[1], logits, from_logits=True)
    return float(math.exp(float(np.mean(np.asarray(losses)))))


def unigram_perplexity(train_ids, test_ids, vocabulary_size):
    """Perplexity of predicting every character by its training frequency (add-one smoothing)."""
    counts = np.bincount(train_ids, minlength=vocabulary_size) + 1.0
    log_probabilities = np.log(counts / counts.sum())
    return float(math.exp(-np.mean(log_probabilities[test_ids])))


def generate(model, characters, prompt, length, temperature, seed=0):
    """``prompt`` followed by ``length`` sampled characters (``temperature`` 0 = the most likely one)."""
    rng = np.random.default_rng(seed)
    context_length = int(model.input_shape[1])
    ids = list(encode(prompt, characters)) if prompt else [int(rng.integers(len(characters)))]
    for _ in range(int(length)):
        window = ids[-context_length:]
        tokens = np.zeros((1, context_length), "int32")
        tokens[0, :len(window)] = window  # causal: the zeros after the window do not change its logits
        logits = np.asarray(model(tokens, training=False))[0, len(window) - 1].astype("float64")
        if temperature <= 0:
            ids.append(int(np.argmax(logits)))
            continue
        scaled = logits / temperature
        probabilities = np.exp(scaled - scaled.max())
        ids.append(int(rng.choice(len(characters), p=probabilities / probabilities.sum())))
    text = "".join(characters[index] for index in ids)
    return text if prompt else text[1:]


@register("language-model")
class LanguageModelTask(Task):
    """A decoder-only transformer that predicts the next character."""

    section = "language_model"
    section_defaults = {
        "context_length": 64,  # characters the model sees at once
        "sample_length": 300,  # characters of each sample in the report
        "temperatures": [0.5, 1.0],
        "sample_prompt": "",  # the report's samples start with this text (default: a random character)
        "steps_per_epoch": 0,  # 0: as many batches as windows fit in the training text
        "quick_lines": 400,  # corpus lines used by --quick
    }
    description = "character-level language model (GPT)"
    supports = frozenset({"text-generation", "check", "lr-find", "tune"})
    model_kind = "classifier"

    def settings(self, config):
        """The ``[language_model]`` table with defaults filled in."""
        return {**self.section_defaults, **config.get(self.section, {})}

    def metric_names(self, config):
        """Perplexities of the model (test, validation) and of the unigram baseline."""
        return {"test_perplexity", "val_perplexity", "unigram_test_perplexity"}

    def headline_metrics(self, config):
        """The perplexities (test, validation, unigram baseline), for ``dlzoo compare``."""
        return list(dict.fromkeys([config["expect"]["metric"], "test_perplexity", "val_perplexity",
                                   "unigram_test_perplexity"]))

    def check_config(self, config):
        """Known keys and sensible values."""
        super().check_config(config)
        settings = self.settings(config)
        for key in ("context_length", "sample_length", "quick_lines"):
            if isinstance(settings[key], bool) or not isinstance(settings[key], int) or settings[key] < 1:
                raise UsageError(f"language_model.{key} must be an integer >= 1, got {settings[key]!r}")
        if not all(isinstance(value, (int, float)) and value >= 0 for value in settings["temperatures"]):
            raise UsageError(f"language_model.temperatures must be numbers >= 0, got {settings['temperatures']!r}")

    def load_data(self, config, dataset=None, quick=False):
        """The corpus; ``--quick`` keeps its first ``language_model.quick_lines`` lines."""
        from dlzoo import data

        bundle = data.load(dataset or config["data"]["dataset"], seed=config["data"]["seed"], options=config["data"])
        if not hasattr(bundle, "split_lines"):
            raise UsageError(f"dataset {bundle.name} is not text: the language model reads text:<file> or grammar")
        if quick:
            bundle.lines = bundle.lines[:self.settings(config)["quick_lines"]]
        return bundle

    def prepare(self, config, quick=False):
        """Characters, ids of each split, the GPT behind its vocabulary layer, compiled."""
        import keras

        from dlzoo import models
        from dlzoo.models.vocabulary import Vocabulary
        from dlzoo.tasks.supervised import build_optimizer

        settings = self.settings(config)
        devices.seed_everything(config["train"]["seed"])
        bundle = self.load_data(config, quick=quick)
        characters = sorted(set(bundle.text("all")))
        train_ids, val_ids = encode(bundle.text("train"), characters), encode(bundle.text("val"), characters)
        length = settings["context_length"]
        if len(train_ids) <= length + 1:
            raise UsageError(f"the training text of {bundle.name} has {len(train_ids)} characters: fewer than "
                             f"language_model.context_length + 2 = {length + 2}")
        options = {key: value for key, value in config["model"].items() if key != "name"}
        try:
            gpt = models.build(config["model"]["name"], (length,), len(characters), **options)
        except ValueError as error:
            raise UsageError(str(error).splitlines()[0]) from error
        tokens = keras.Input((length,), dtype="int32", name="tokens")
        model = keras.Model(tokens, gpt(Vocabulary(characters)(tokens)), name="char_gpt")
        model.compile(optimizer=build_optimizer(config, self.epochs(config, quick) * self.steps(config, train_ids, quick)),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return PreparedLanguageModel(config, bundle, characters, train_ids, val_ids, model, quick)

    def epochs(self, config, quick):
        """Epochs of the run (``--quick``: ``train.quick_epochs``)."""
        return config["train"]["quick_epochs"] if quick else config["train"]["epochs"]

    def steps(self, config, train_ids, quick=False):
        """Batches per epoch (at most ``QUICK_STEPS`` with ``--quick``)."""
        settings = self.settings(config)
        steps = int(settings["steps_per_epoch"]) or \
            max(1, len(train_ids) // (settings["context_length"] * config["data"]["batch_size"]))
        return min(steps, QUICK_STEPS) if quick else steps

    def describe(self, prepared):
        """Corpus, characters and model size."""
        return (f"data {prepared.bundle.name}: {len(prepared.train_ids):,} training characters, "
                f"{len(prepared.characters)} distinct; model gpt: {prepared.model.count_params():,} parameters")

    def training_batches(self, prepared):
        """Random windows of the training text, drawn afresh for every batch."""
        import keras

        config = prepared.config
        length, batch_size = self.settings(config)["context_length"], config["data"]["batch_size"]
        ids, steps = prepared.train_ids, self.steps(config, prepared.train_ids, prepared.quick)
        rng = np.random.default_rng(config["data"]["seed"])

        class Windows(keras.utils.PyDataset):
            """``steps`` batches of (characters, next characters)."""

            def __len__(self):
                return steps

            def __getitem__(self, index):
                starts = rng.integers(0, len(ids) - length - 1, size=batch_size)
                rows = starts[:, None] + np.arange(length + 1)[None, :]
                chunk = ids[rows]
                return chunk[:, :-1], chunk[:, 1:]

        return Windows()

    def training_parts(self, prepared):
        """For check / lr-find: the GPT, its next-character cross-entropy, windows of the training
        text, and ln(characters) for an untrained model (no leakage check: one running text)."""
        from dlzoo.tasks.base import TrainingParts

        model, batches = prepared.model, self.training_batches(prepared)
        length = self.settings(prepared.config)["context_length"]
        drawn = iter(batches[index % len(batches)] for index in itertools.count())
        count = len(prepared.characters)
        return TrainingParts(
            model=model, loss=lambda inputs, targets, training: model.loss(targets, model(inputs, training=training)),
            batch=lambda size: tuple(part[:size] for part in windows(prepared.train_ids, length)),
            next_batch=lambda: next(drawn),
            expected_loss=(math.log(count), f"ln({count}) for a model that gives each of the {count} characters "
                                            f"1/{count}", 1.5))

    def run(self, prepared, folder):
        """Train, measure perplexity, sample, export."""
        from dlzoo.runs import export

        config, settings = prepared.config, self.settings(prepared.config)
        length = settings["context_length"]
        validation = windows(prepared.val_ids, length)
        start = time.perf_counter()
        history = fit.fit(prepared.model, self.training_batches(prepared), validation, folder, config["train"],
                               self.epochs(config, prepared.quick))
        train_seconds = time.perf_counter() - start
        test_ids = encode(prepared.bundle.text("test"), prepared.characters)
        metrics = {"test_perplexity": perplexity(prepared.model, test_ids, length),
                   "val_perplexity": perplexity(prepared.model, prepared.val_ids, length),
                   "unigram_test_perplexity": unigram_perplexity(prepared.train_ids, test_ids,
                                                                 len(prepared.characters))}
        export.save_keras_model(prepared.model, folder / "model.keras")
        exported = None
        if config["train"]["export"]:
            sample = windows(test_ids if len(test_ids) > length + 1 else prepared.train_ids, length)[0][:16]
            exported = export.export_saved_model(prepared.model, folder / "saved_model",
                                                 self.serving_endpoints(prepared.model, None), sample)
            exported["example"] = self.serving_example(prepared.bundle)
            exported["takes"] = "windows of character ids (not text)"
        curves.learning_curves({config["name"]: history}, folder / "plots" / "learning_curves.png", title=config["name"])
        sample_length = min(settings["sample_length"], QUICK_SAMPLE_LENGTH) if prepared.quick else \
            settings["sample_length"]
        samples = {temperature: generate(prepared.model, prepared.characters, settings["sample_prompt"],
                                         sample_length, temperature, seed=config["train"]["seed"])
                   for temperature in settings["temperatures"]}
        self.write_report(folder, metrics, samples)
        from dlzoo.visualize import positional_encoding

        positional_encoding.report_section(prepared.model, folder)  # the GPT's position vectors
        steps = self.steps(config, prepared.train_ids, prepared.quick)
        characters = steps * config["data"]["batch_size"] * length * len(history["loss"])
        return {"metrics": metrics, "parameters": int(prepared.model.count_params()),
                "epochs_run": len(history["loss"]), "export": exported, "train_seconds": train_seconds,
                "samples_per_second": characters / max(train_seconds, 1e-9),
                "samples": {str(temperature): text for temperature, text in samples.items()},
                "data": {"dataset": prepared.bundle.name, "characters": len(prepared.characters),
                         "train_characters": int(len(prepared.train_ids))}}

    def write_report(self, folder, metrics, samples):
        """Perplexities and the samples."""
        lines = ["## Language model", "",
                 f"Per-character perplexity on held-out text: **{metrics['test_perplexity']:.3f}** (test), "
                 f"{metrics['val_perplexity']:.3f} (validation); a unigram model (character frequencies, no "
                 f"context) scores {metrics['unigram_test_perplexity']:.2f}. Perplexity p means the model is as "
                 "unsure as a fair choice among p characters.", ""]
        for temperature, text in samples.items():
            lines += [f"Sample at temperature {temperature}:", "", "```text", text, "```", ""]
        report.write_section(folder, "20-language-model", "\n".join(lines))

    # What the commands ask --------------------------------------------------------------

    def serving_endpoints(self, model, bundle):
        """``serve(tokens: int32[None, context]) -> {"logits"}`` (next-character logits at every position)."""
        import tensorflow as tf

        def serve(tokens):
            """Logits of the next character at every position."""
            return {"logits": model(tokens, training=False)}

        return {"serve": (serve, [tf.TensorSpec([None, int(model.input_shape[1])], tf.int32, name="tokens")])}

    def serving_example(self, bundle):
        """Plain TensorFlow: next-character logits for a window of character ids."""
        return ("```python\nimport numpy as np, tensorflow as tf\nmodel = tf.saved_model.load(\"saved_model\")\n"
                "tokens = np.zeros((1, 64), np.int32)  # character ids (the vocabulary is in model.keras)\n"
                "print(model.serve(tf.constant(tokens))[\"logits\"].shape)  # (1, 64, characters)\n```\n")

    def check_fits(self, model, bundle):
        """Any text fits a character model: characters it does not know are left out by :meth:`evaluate`."""

    def evaluate(self, model, bundle, split):
        """Per-character perplexity of ``split``'s text (windows of the model's context length), and
        the characters of the text the model does not know (left out)."""
        from dlzoo.models.vocabulary import tokens_of

        characters, length = tokens_of(model), int(model.input_shape[1])
        text = bundle.text(split)
        known = "".join(character for character in text if character in set(characters))
        ids = encode(known, characters)
        if len(ids) <= length + 1:
            raise UsageError(f"the {split} text of {bundle.name} has {len(ids)} known characters: fewer than the "
                             f"model's context length + 2 = {length + 2}")
        return {"split": split, "dataset": bundle.name, "examples": int(len(windows(ids, length)[0])),
                "characters": int(len(ids)), "unknown_characters": int(len(text) - len(known)),
                "perplexity": perplexity(model, ids, length)}

    def evaluation_line(self, result):
        """``test perplexity 3.21 per character on 12,345 characters``."""
        unknown = f" ({result['unknown_characters']} unknown characters left out)" if result["unknown_characters"] else ""
        return (f"{result['split']} perplexity {result['perplexity']:.4g} per character on {result['characters']:,} "
                f"characters ({result['examples']} windows){unknown}")

    def attention_inputs(self, model, bundle, samples):
        """The first test windows and their characters, for ``dlzoo visualize --method attention``."""
        from dlzoo.models.vocabulary import tokens_of

        characters = tokens_of(model)
        length = int(model.input_shape[1])
        test = bundle.text("test")
        text = test if len(test) > length + 1 else bundle.text("train")
        inputs = windows(encode("".join(c for c in text if c in characters), characters), length)[0][:samples]
        return inputs, [[characters[index] for index in row] for row in inputs]

    def read_generation_request(self, prompt, length, temperature):
        """``dlzoo predict --prompt --length --temperature`` as a request; length < 1 is refused."""
        length = DEFAULT_LENGTH if length is None else length
        if length < 1:
            raise UsageError(f"--length must be at least 1, got {length}")
        temperature = 1.0 if temperature is None else temperature
        if temperature < 0:
            raise UsageError(f"--temperature must be >= 0 (0 = always the most likely character), got {temperature}")
        return {"prompt": prompt or "", "length": int(length), "temperature": float(temperature)}

    def read_inputs(self, values, file):
        """Positional inputs are prompts (one sample each)."""
        if file or not values:
            return self.read_generation_request(None, None, None) if not file else \
                {"prompts": [line for line in open(file, encoding="utf-8").read().splitlines() if line]}
        return {"prompts": list(values)}

    def predict(self, model, bundle, request):
        """Generated text: the prompt and its continuation."""
        from dlzoo.models.vocabulary import tokens_of

        characters = tokens_of(model)
        prompts = request.get("prompts") or [request.get("prompt", "")]
        length = request.get("length", DEFAULT_LENGTH)
        temperature = request.get("temperature", 1.0)
        for prompt in prompts:
            unknown = sorted(set(prompt) - set(characters))
            if unknown:
                raise UsageError(f"the prompt has characters outside the model's vocabulary: "
                                 f"{''.join(unknown)!r} (it knows {len(characters)}: {''.join(characters)!r})")
        return [generate(model, characters, prompt, length, temperature, seed=index)
                for index, prompt in enumerate(prompts)]
