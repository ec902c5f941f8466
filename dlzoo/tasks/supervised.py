"""What supervised tasks share: a Keras model trained with ``fit`` on (inputs, targets) arrays.

:class:`SupervisedTask` is the base of ``classify`` and ``regress`` (and the stages of
``transfer``). A subclass says only what differs between kinds of targets:

* ``build_model(config, splits)``: the model for its targets (a classifier, a regressor);
* ``loss_and_metrics(config, splits)``: what ``compile`` gets;
* ``evaluate(model, splits, split)``: its metrics of one split;
* ``serving_outputs(outputs)``: the named outputs of the exported ``serve`` endpoint;
* ``draw(model, splits, folder, config, test_result)``: its pictures.

Steps of one run (``prepare`` checks everything that can be wrong before a run folder exists):

1. load the raw data, build the model with its ``standardize`` layer, compile;
2. train through :func:`dlzoo.training.fit` (history, checkpoints, guards, early stopping);
3. evaluate every split, save ``model.keras`` and a verified SavedModel that takes raw
   inputs, draw the pictures.
"""

import dataclasses
import math
import pathlib
import time

import numpy as np

from dlzoo.plots import curves
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core.errors import UsageError
from dlzoo.tasks.base import Task


@dataclasses.dataclass
class PreparedRun:
    """Everything a supervised run needs, checked and ready."""

    config: dict
    splits: object
    datasets: dict
    model: object
    quick: bool
    callbacks: list = dataclasses.field(default_factory=list)  # the task's own, before the platform's


def load_splits(config, quick, dataset=None):
    """Load the recipe's dataset (raw values); in quick mode keep only a few hundred training examples."""
    from dlzoo import data

    data_config = config["data"]
    options = dict(data_config)
    if quick:
        limit = config["train"]["quick_train_samples"]
        options["train_samples"] = min(limit, options.get("train_samples") or limit)
    return data.load(dataset or data_config["dataset"], seed=data_config["seed"], options=options)


def build_trunk(config, splits, num_classes, input_shape=None):
    """The recipe's model for the data (from :mod:`dlzoo.models`); a shape that does not fit is a usage error.

    ``input_shape`` replaces the data's input shape (text: the word vectors the model reads).
    """
    from dlzoo import models

    options = {key: value for key, value in config["model"].items() if key != "name"}
    name = config["model"]["name"]
    input_shape = tuple(input_shape or splits.input_shape)
    try:
        model = models.build(name, input_shape, num_classes, **options)
    except (ValueError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "unexpected keyword" in message or isinstance(error, UsageError):
            raise UsageError(message) from error
        raise UsageError(
            f"dataset {splits.name} (inputs {input_shape}) does not fit model '{name}': {message}"
        ) from error
    expected = tuple(model.input_shape[1:])
    if expected != input_shape:
        raise UsageError(
            f"dataset {splits.name} has inputs of shape {input_shape} but model '{name}' expects {expected}"
        )
    return model


def is_text(splits):
    """True when the inputs are raw strings (``tfds:imdb_reviews``): the model vectorizes them itself."""
    return getattr(splits, "input_dtype", None) == "string"


def build_text_model(config, splits, num_classes):
    """Strings in: ``TextVectorization`` (word list of the training split), a word embedding, then
    the recipe's sequence model (``rnn``, ``transformer``) reading ``(sequence_length, embedding_dim)``."""
    from dlzoo.models import preprocessing

    settings = splits.text_settings
    shape = (settings["sequence_length"], settings["embedding_dim"])
    trunk = build_trunk(config, splits, num_classes, input_shape=shape)
    return preprocessing.with_text_vectorization(trunk, splits.vocabulary(), *shape)


def with_standardization(model, config, splits):
    """Put the ``standardize`` layer (training-split statistics) in front of ``model``.

    With ``data.normalize = false`` the model sees the raw values as they are.
    """
    from dlzoo.models import preprocessing

    if not config["data"].get("normalize", True):
        return model
    layer = preprocessing.standardization(splits.normalization["mean"], splits.normalization["variance"],
                                          splits.input_shape)
    return preprocessing.with_preprocessing(model, [layer])


def training_steps(config, splits, quick):
    """Optimizer steps of the whole run: epochs x batches per epoch."""
    epochs = config["train"]["quick_epochs"] if quick else config["train"]["epochs"]
    return epochs * math.ceil(splits.sizes()["train"] / config["data"]["batch_size"])


def build_optimizer(config, steps):
    """The recipe's optimizer, with ``decay_steps = "auto"`` schedules spanning ``steps``."""
    from dlzoo import optimizers
    from dlzoo.optimizers.schedules import fill_auto_steps

    return optimizers.build_optimizer(fill_auto_steps(config["optimizer"], steps))


def value_range(splits):
    """The smallest and largest raw training input value, for the "use it without dlzoo" snippet
    (text: the shortest and longest training string's length in characters)."""
    inputs, _ = splits.arrays("train", limit=1024)
    if is_text(splits):
        lengths = [len(str(text)) for text in inputs] or [0]
        return float(min(lengths)), float(max(lengths))
    return float(np.min(inputs)), float(np.max(inputs))


class SupervisedTask(Task):
    """A Keras model trained with ``fit`` on the recipe's inputs and targets."""

    model_kind = "classifier"

    # 1. Building ---------------------------------------------------------------------------

    def load_data(self, config, dataset=None, quick=False):
        """The run's data (raw values, same spec and seed), or ``dataset`` instead."""
        splits = load_splits(config, quick, dataset)
        self.check_targets(splits)
        return splits

    def check_targets(self, splits):
        """Refuse data whose targets this task cannot learn (a regression set for a classifier)."""

    def build_model(self, config, splits):
        """The model for ``splits``: standardization, the recipe's model, this task's head."""
        raise NotImplementedError

    def build_standardized(self, config, splits, num_classes):
        """The recipe's model (with its classifier head) behind the ``standardize`` layer (text:
        behind ``TextVectorization`` and a word embedding)."""
        if is_text(splits):
            return build_text_model(config, splits, num_classes)
        return with_standardization(build_trunk(config, splits, num_classes), config, splits)

    def loss_and_metrics(self, config, splits):
        """``(loss, [metrics])`` for ``model.compile``."""
        raise NotImplementedError

    # What ``metrics.json`` gets for each split (``headline``) and the baselines' metric.
    baseline_metric = "accuracy"

    def headline_keys(self, split):
        """The keys of :meth:`headline` for ``split`` (``"train"``, ``"val"``, ``"test"``)."""
        return ()

    def metric_names(self, config):
        """``<split>_<headline key>`` for every split, and the best baseline's test score."""
        names = {f"{split}_{key}" for split in ("train", "val", "test") for key in self.headline_keys(split)}
        if config["train"].get("baselines", True):
            names.add(f"baseline_best_test_{self.baseline_metric}")
        return names

    def compile_model(self, model, config, splits, quick=False):
        """Compile ``model`` with the recipe's optimizer and this task's loss and metrics."""
        loss, metrics = self.loss_and_metrics(config, splits)
        model.compile(optimizer=build_optimizer(config, training_steps(config, splits, quick)), loss=loss,
                      metrics=metrics)
        return model

    def prepare(self, config, quick=False):
        """Load data, build and compile the model; raise UsageError when they do not fit."""
        from dlzoo.data.pipeline import make_datasets

        devices.seed_everything(config["train"]["seed"])
        splits = self.load_data(config, quick=quick)
        with devices.distribution_scope(config["train"]):
            model = self.compile_model(self.build_model(config, splits), config, splits, quick)
        datasets = make_datasets(splits, config["data"]["batch_size"], seed=config["data"]["seed"],
                                 augment=config["data"]["augment"])
        return PreparedRun(config=config, splits=splits, datasets=datasets, model=model, quick=quick)

    def describe(self, prepared):
        """What is about to be trained, printed before epoch 1."""
        splits, model = prepared.splits, prepared.model
        sizes = splits.sizes()
        return (f"data {splits.name}: inputs {splits.input_shape}, {sizes['train']} train / {sizes['val']} val / "
                f"{sizes['test']} test; model {prepared.config['model']['name']}: "
                f"{model.count_params():,} parameters")

    # 2. Training ---------------------------------------------------------------------------

    def run(self, prepared, folder):
        """Fit, then evaluate, save, export and draw; returns the results for metrics.json."""
        config = prepared.config
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        start = time.perf_counter()
        history = fit.fit(prepared.model, prepared.datasets["train"], prepared.datasets["val"], folder,
                               config["train"], epochs, extra_callbacks=prepared.callbacks)
        train_seconds = time.perf_counter() - start
        results = self.finish(prepared.model, prepared.splits, folder, config, history)
        trained_samples = prepared.splits.sizes()["train"] * len(history.get("loss", []))
        results.update(train_seconds=train_seconds, samples_per_second=trained_samples / max(train_seconds, 1e-9))
        return results

    def finish(self, model, splits, folder, config, history):
        """Evaluate every split, save ``model.keras``, export a verified SavedModel and draw.

        Returns the results for ``metrics.json``: the metrics, parameter count, export check and
        (``train.baselines``) the scikit-learn baselines on the same split (:mod:`dlzoo.metrics.baselines`).
        """
        from dlzoo.runs import export

        metrics, test_result = {}, None
        for split in ("train", "val", "test"):
            result = self.evaluate(model, splits, split)
            metrics.update({f"{split}_{key}": value for key, value in self.headline(result).items()})
            if split == "test":
                test_result = result
        folders.atomic_write_json(folder / "evaluation.json", test_result)
        export.save_keras_model(model, folder / "model.keras")
        exported = None
        if config["train"]["export"]:
            exported = self.export(model, splits, folder / "saved_model")
        if history.get("loss"):
            curves.learning_curves({config["name"]: history}, folder / "plots" / "learning_curves.png",
                                  title=config["name"])
        self.draw(model, splits, folder, config, test_result)
        results = {
            "metrics": metrics,
            "parameters": int(model.count_params()),
            "epochs_run": len(history.get("loss", [])),
            "export": exported,
            "data": {"dataset": splits.name, "input_shape": list(splits.input_shape), "classes": splits.class_names,
                     "sizes": splits.sizes(), "normalization": splits.normalization,
                     "raw_value_range": list(value_range(splits))},
        }
        if config["train"].get("baselines", True):
            # "Is deep learning worth it here?": scikit-learn models on the same split and inputs.
            from dlzoo.metrics import baselines

            baselines.attach(results, splits, folder, seed=config["train"]["seed"])
        return results

    # 3. What the commands ask --------------------------------------------------------------

    def headline(self, result):
        """The few numbers of an evaluation that go into ``metrics.json`` as ``<split>_<name>``."""
        raise NotImplementedError

    def draw(self, model, splits, folder, config, test_result):
        """The task's pictures after training (learning curves are drawn for every task)."""

    def keep_test_outputs(self, model, splits, outputs, targets):
        """Keep the test split's outputs of :meth:`evaluate` for :meth:`draw`, which runs right
        after it: the pictures show these same outputs, so 10,000 test images do not go through
        the model a second time."""
        self.test_outputs = (model, splits, outputs, targets)

    def kept_test_outputs(self, model, splits):
        """``(outputs, targets)`` that :meth:`keep_test_outputs` kept for this ``model`` and
        ``splits``, or None (another model, other splits, or nothing kept)."""
        kept = getattr(self, "test_outputs", None)
        if kept is None or kept[0] is not model or kept[1] is not splits:
            return None
        return kept[2], kept[3]

    def serving_outputs(self, outputs):
        """The exported endpoint's named outputs, from the model's outputs (TensorFlow tensors)."""
        raise NotImplementedError

    def serving_endpoints(self, model, splits):
        """One ``serve`` endpoint: raw inputs (the dataset's dtype and values) in, named outputs out."""
        import tensorflow as tf

        signature = tf.TensorSpec(shape=(None, *splits.input_shape), dtype=splits.input_dtype, name="inputs")

        def serve(inputs):
            """The model in inference mode on a batch of raw inputs (uint8 pixels become float32)."""
            return self.serving_outputs(model(inputs if inputs.dtype == tf.string else tf.cast(inputs, tf.float32),
                                              training=False))

        return {"serve": (serve, [signature])}

    def serving_example(self, splits):
        """Markdown: the plain TensorFlow lines that call the SavedModel, with shape, dtype and range."""
        if is_text(splits):
            example = str(splits.arrays("test", limit=1)[0][0])[:60] if splits.sizes()["test"] else "..."
            return ("```python\n"
                    "import tensorflow as tf\n"
                    "model = tf.saved_model.load(\"saved_model\")\n"
                    f"outputs = model.serve(tf.constant([{example!r}]))  # raw {splits.name} strings\n"
                    f"print({{name: value.numpy() for name, value in outputs.items()}})  # {', '.join(self.output_names())}\n"
                    "```\n")
        low, high = value_range(splits)
        shape = ", ".join(str(side) for side in splits.input_shape)
        return (
            "```python\n"
            "import numpy as np, tensorflow as tf\n"
            "model = tf.saved_model.load(\"saved_model\")\n"
            f"inputs = np.zeros((1, {shape}), np.{splits.input_dtype})  # raw {splits.name} inputs, values {low:g} to {high:g}\n"
            "outputs = model.serve(tf.constant(inputs))\n"
            f"print({{name: value.numpy() for name, value in outputs.items()}})  # {', '.join(self.output_names())}\n"
            "```\n"
        )

    def output_names(self):
        """Names of the ``serve`` endpoint's outputs."""
        raise NotImplementedError

    def read_inputs(self, values, file):
        """``dlzoo predict`` inputs: ``--file`` (``.npy``, ``.npz`` with ``x``, or text with one string per
        line), image or array files as arguments (:class:`ImageInputs`), or one input per argument,
        kept as :class:`TextInputs` (strings, and their numbers when they are numbers): whether the
        model reads numbers or strings is known once its data is."""
        if file and str(file).lower().endswith((".npy", ".npz")):
            return read_array_file(file)
        if file:
            return TextInputs([*values, *read_text_lines(file)])
        if values and all(str(value).lower().endswith((*PREDICT_IMAGE_SUFFIXES, ".npy", ".npz")) for value in values):
            # Files as arguments (dlzoo predict RUN shoe.png boot.jpg): each keeps its name.
            return ImageInputs(read_source(value) for value in values)
        if not values:
            raise UsageError("give inputs to predict: numbers separated by commas (strings for a text model), "
                             "or --file inputs.npy")
        inputs = TextInputs(str(value) for value in values)
        try:
            inputs.numbers = np.asarray([[float(number) for number in value.replace(",", " ").split()]
                                         for value in values], dtype="float32")
        except ValueError:
            pass  # strings: fine for a text model, refused by fit_inputs for the others
        if inputs.numbers is not None:
            check_finite_inputs(inputs.numbers, "the inputs")
        return inputs

    def fit_inputs(self, inputs, splits):
        """``inputs`` as a batch of the model's input shape, or a usage error saying why they do not fit.

        Accepted: a batch ``(n, *input_shape)``, one example ``input_shape``, or flat rows
        ``(n, size)`` (numbers typed on the command line).
        """
        if is_text(splits):
            if not isinstance(inputs, TextInputs):
                raise UsageError("this model reads strings: give them as arguments or --file with one per line")
            return np.asarray(list(inputs), dtype=object)
        if isinstance(inputs, ImageInputs):
            return image_batch(inputs, splits.input_shape)[0]
        if isinstance(inputs, TextInputs):
            if inputs.numbers is None:
                raise UsageError("each input must be numbers separated by commas, e.g. \"0.1,2,3\", or an image "
                                 "or array file (.png, .jpg, ..., .npy, .npz); or --file inputs.npy")
            inputs = inputs.numbers
        shape = tuple(splits.input_shape)
        size = int(np.prod(shape))
        if inputs.shape == shape:
            return inputs[np.newaxis]
        if inputs.shape[1:] == shape:
            return inputs
        if shape[-1:] == (1,) and inputs.shape[1:] == shape[:-1]:  # grey images without their channel axis
            return inputs[..., np.newaxis]
        if inputs.ndim == 2 and inputs.shape[1] == size:
            return inputs.reshape((-1, *shape))
        raise UsageError(f"inputs of shape {inputs.shape} do not fit the model, which takes {shape} per example "
                         f"({size} numbers)")


class TextInputs(list):
    """``dlzoo predict`` arguments as typed (strings); ``numbers`` holds them parsed as rows of
    numbers, or ``None`` when they are not numbers."""

    numbers = None


def read_text_lines(path):
    """The non-empty lines of a UTF-8 text file (``dlzoo predict --file`` for a text model)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"--file {path}: no such file")
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--file {path}: not a .npy/.npz file and not UTF-8 text ({type(error).__name__})") from None
    if not lines:
        raise UsageError(f"--file {path} has no non-empty line")
    return lines


def read_array_file(path):
    """An array from ``.npy`` or ``.npz`` (array ``x``); a clear usage error otherwise."""
    import zipfile

    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"--file {path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if "x" not in loaded.files:
                    raise UsageError(f"{path} has no array 'x'; it has: {', '.join(loaded.files) or 'nothing'}")
                array = np.asarray(loaded["x"], dtype="float32")
        else:
            array = np.asarray(loaded, dtype="float32")
    except UsageError:  # a UsageError is a ValueError: keep its own message
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path} is not a readable .npy/.npz file ({type(error).__name__})") from error
    if array.size == 0:
        raise UsageError(f"--file {path} holds no inputs (an array of shape {array.shape})")
    return check_finite_inputs(array, f"--file {path}")


# Image files ``dlzoo predict`` reads (PIL opens them all). Folder datasets take fewer
# (FOLDER_IMAGE_SUFFIXES in dlzoo/data/sources.py): their images stream through TensorFlow.
PREDICT_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageInputs(list):
    """``dlzoo predict`` inputs: ``(label, array)`` pairs, one image file or one array file each."""


def read_image_file(path):
    """An image file as an array: (height, width) for grey images, (height, width, 3) otherwise (0-255)."""
    from PIL import Image, UnidentifiedImageError

    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if image.mode in ("1", "L", "I", "I;16", "F") else "RGB")
            return np.asarray(image, dtype="float32")
    except (UnidentifiedImageError, OSError) as error:
        raise UsageError(f"{path} is not an image file PIL can read ({type(error).__name__})") from None


def read_source(path):
    """``(label, array)`` of one input file: ``.npy``/``.npz`` (array ``x``) or an image file."""
    if str(path).lower().endswith((".npy", ".npz")):
        return str(path), read_array_file(path)
    if not str(path).lower().endswith(PREDICT_IMAGE_SUFFIXES):
        raise UsageError(f"{path}: give images (.png, .jpg, ...) or an array file (.npy, .npz)")
    return str(path), read_image_file(path)


def as_image_batch(array, input_shape, label):
    """``(images (n, *input_shape), names)`` from one image or a batch of them; ``names`` are
    ``(label, file stem)`` of each image. Grey images without a channel axis are fine (a colour
    model gets the grey channel repeated, a grey model a colour image's mean of its channels);
    any other shape is a usage error."""
    shape, stem = tuple(input_shape), pathlib.Path(label).stem
    if shape[-1:] == (1,) and array.shape[-1:] == (3,) and array.shape[-3:-1] == shape[:-1]:
        array = array.mean(axis=-1)  # a colour image for a grey model: its grey levels
    for images, is_batch in ((array, True), (array[np.newaxis], False)):
        if images.shape[1:] == shape[:-1]:  # no channel axis: grey
            images = np.repeat(images[..., np.newaxis], shape[-1], axis=-1)
        if images.shape[1:] == shape:
            names = [(f"{label}[{index}]", f"{stem}-{index}") for index in range(len(images))] if is_batch else \
                [(label, stem)]
            return images, names
    raise UsageError(f"{label}: inputs of shape {array.shape} do not fit the model, which takes images of shape "
                     f"{shape} (or a batch of them)")


def image_batch(inputs, input_shape):
    """``(images, names)`` of :class:`ImageInputs`: the images of every file in one batch, and the
    ``(label, file stem)`` of each image (``("batch.npy[3]", "batch-3")``, see :func:`as_image_batch`)."""
    batches, names = [], []
    for label, array in inputs:
        images, image_names = as_image_batch(np.asarray(array, dtype="float32"), input_shape, label)
        batches.append(images)
        names += image_names
    return np.concatenate(batches), names


def check_finite_inputs(array, what):
    """Refuse NaN and infinite inputs: the model would answer them with a meaningless prediction."""
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise UsageError(f"{what}: {bad} non-finite value{'s' if bad > 1 else ''} (NaN or infinity); "
                         "a prediction from them would mean nothing")
    return array
