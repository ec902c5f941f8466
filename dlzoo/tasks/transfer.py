"""The ``transfer`` task: reuse a CNN's convolutional base on new classes that have few labels.

Yosinski et al. (2014), "How transferable are features in deep neural networks?", found that
the features of a CNN trained on one set of classes help on other classes, most of all when
the new task has little data and the whole network is fine-tuned. A run measures that on the
same few target labels in three ways:

0. **pretrain** (only when ``base = ""``): the recipe's ``[model]`` learns ``source_classes``
   from all their training examples; saved as ``pretrained.keras``;
a. **frozen**: the pretrained base with ``trainable = False`` under a new head; only the head
   learns, at ``frozen_learning_rate`` (default: the recipe's); saved as ``frozen.keras``;
b. **fine-tuned**: the same model goes on with every layer trainable at the lower
   ``fine_tune_learning_rate``, so that the pretrained features are adjusted, not destroyed.
   This is the run's model (``model.keras``, the SavedModel, ``test_accuracy``);
c. **scratch**: the same architecture with fresh random weights, trained on the same labels
   for ``scratch_epochs`` (default: as many epochs as a and b together); ``scratch.keras``.

Where the base comes from (``[transfer] base``):

* ``""``: pretrained in this run (stage 0) from ``[model]``;
* a run folder, or a recipe name (its latest completed run under ``runs/``): the base of
  that run's ``model.keras``; ``[model]`` is then not used;
* ``"keras:mobilenet_v2"`` (names in :data:`KERAS_APPLICATIONS`): an ImageNet network from
  ``keras.applications`` (``include_top=False``). Inside the model, images are resized to
  ``input_size`` (default: the smallest size the application accepts) and grey images are
  repeated into 3 channels. The weights are downloaded once into ``~/.keras/models``; without
  the network that is a usage error. (These applications expect inputs in [-1, 1]; dlzoo's
  standardized inputs are close to that range, not equal to it.)

**The cut.** The base is the model from its input to the *last layer whose output is a feature
map* (batch, height, width, channels): everything before the global average pooling (or the
flatten) of the classifier head. A model that already holds a nested ``base`` (an earlier
transfer run) gives that base. The head is always new: ``gap -> logits -> probabilities``.

The model is nested, so that the base is one layer and can be frozen with one flag::

    inputs (h, w, c) -> [resize -> to_rgb] -> base (a functional keras.Model) -> gap -> logits -> probabilities

``dlzoo visualize`` finds the convolutions inside it (Grad-CAM's default, or ``--layer base.conv2``).

**Batch normalization.** The pretrained base's batch-norm layers stay frozen while fine-tuning
(:func:`unfreeze`; a frozen Keras 3 ``BatchNormalization`` runs in inference mode), so they keep
the source statistics and a few small target batches cannot wreck them (the advice of the Keras
transfer-learning guide). Calling the base with ``training=False`` is not enough in Keras 3:
``fit`` passes ``training=True`` down into nested models. The scratch model trains its batch
normalization as usual.

``prepare`` writes the resolved ``[transfer]`` options and the target data (``data.classes``,
``data.train_samples``) into the run's configuration, so ``config.toml`` repeats the run and
``dlzoo evaluate`` / ``dlzoo visualize`` see the classes the final model was trained on.
"""

import copy
import dataclasses
import numbers
import time
import warnings

import numpy as np

from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core.errors import UsageError
from dlzoo.core.registry import did_you_mean
from dlzoo.core import validation
from dlzoo.core.validation import check_known_keys
from dlzoo.tasks import register
from dlzoo.tasks.base import Task
from dlzoo.tasks.classify import ClassifyTask

# The keys of [transfer] and their defaults; None is resolved in check_transfer_options.
TRANSFER_DEFAULTS = {
    "source_classes": [],
    "target_classes": [],
    "source_train_samples": 0,  # 0: every training example of the source classes
    "target_train_samples": 50,  # the few labels (total, balanced over the target classes); 0: all
    "base": "",
    "pretrain_epochs": 20,
    "frozen_epochs": 30,
    "fine_tune_epochs": 30,
    "scratch_epochs": None,  # default: frozen_epochs + fine_tune_epochs
    "frozen_learning_rate": None,  # default: optimizer.learning_rate
    "fine_tune_learning_rate": None,  # default: optimizer.learning_rate / 10
    "input_size": None,  # keras applications only; default: the application's minimum size
}
EPOCH_KEYS = ("pretrain_epochs", "frozen_epochs", "fine_tune_epochs", "scratch_epochs")
KERAS_PREFIX = "keras:"

# keras.applications networks that expect inputs in [-1, 1]: name -> (class name, minimum side).
KERAS_APPLICATIONS = {
    "mobilenet": ("MobileNet", 32),
    "mobilenet_v2": ("MobileNetV2", 32),
    "inception_v3": ("InceptionV3", 75),
    "xception": ("Xception", 71),
}


@dataclasses.dataclass
class PreparedTransfer:
    """Everything a transfer run needs, checked and ready.

    Attributes:
        options: the resolved ``[transfer]`` table.
        source_splits, source_model: the pretraining data and model (None unless ``base = ""``).
        target_splits: the target classes with few training labels.
        transfer_model: ``inputs -> base -> head``, trained frozen then fine-tuned.
        scratch_model: the same architecture with fresh weights.
        base_description: where the base comes from, for the report.
    """

    config: dict
    options: dict
    source_splits: object
    source_model: object
    target_splits: object
    transfer_model: object
    scratch_model: object
    base_description: str
    quick: bool


# ---------------------------------------------------------------------------------------------
# 1. Checking [transfer]


def check_transfer_options(table, optimizer):
    """Validate the ``[transfer]`` table and return it with every default filled in.

    Args:
        table: the recipe's ``[transfer]`` section.
        optimizer: the recipe's ``[optimizer]`` section (for the default fine-tuning rate).

    Raises:
        UsageError: an unknown key (with the closest valid one) or a bad value, named.
    """
    check_known_keys("transfer", table, TRANSFER_DEFAULTS)
    options = {**TRANSFER_DEFAULTS, **table}
    if not isinstance(options["base"], str):
        raise UsageError("transfer.base must be a string ('', a run folder, a recipe or keras:<name>), "
                         f"got {options['base']!r}")
    options["target_classes"] = check_classes("transfer.target_classes", options["target_classes"])
    if options["base"] == "" or options["source_classes"]:
        options["source_classes"] = check_classes("transfer.source_classes", options["source_classes"])
    for key in ("source_train_samples", "target_train_samples"):
        options[key] = validation.check_integer(f"transfer.{key}", options[key], minimum=0)
    if options["scratch_epochs"] is None:
        options["scratch_epochs"] = validation.check_integer("transfer.frozen_epochs", options["frozen_epochs"], minimum=1) + \
            validation.check_integer("transfer.fine_tune_epochs", options["fine_tune_epochs"], minimum=1)
    for key in EPOCH_KEYS:
        options[key] = validation.check_integer(f"transfer.{key}", options[key], minimum=1)
    if options["input_size"] is not None:
        options["input_size"] = validation.check_integer("transfer.input_size", options["input_size"], minimum=8)
    options["frozen_learning_rate"] = stage_learning_rate("frozen_learning_rate", options["frozen_learning_rate"],
                                                          optimizer, 1.0)
    options["fine_tune_learning_rate"] = stage_learning_rate("fine_tune_learning_rate",
                                                             options["fine_tune_learning_rate"], optimizer, 0.1)
    return options


def check_classes(argument, classes):
    """A non-empty list of distinct class ids (at least 2 for a classifier)."""
    if not isinstance(classes, list) or len(classes) < 2 or any(
            isinstance(label, bool) or not isinstance(label, numbers.Integral) or label < 0 for label in classes):
        raise UsageError(f"{argument} must be a list of at least 2 class ids like [0, 1, 2, 3, 4], got {classes!r}")
    if len(set(classes)) != len(classes):
        raise UsageError(f"{argument} lists a class twice: {classes!r}")
    return [int(label) for label in classes]


def stage_learning_rate(key, value, optimizer, factor):
    """The learning rate ``transfer.<key>``: ``value``, or ``factor`` times the recipe's learning rate."""
    if value is None:
        learning_rate = optimizer.get("learning_rate", 0.001)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            raise UsageError(f"optimizer.learning_rate is a schedule: set transfer.{key} explicitly")
        return float(learning_rate) * factor
    return validation.check_number(f"transfer.{key}", value, minimum=0, exclusive_minimum=True)


def record_target_data(config, options):
    """Write the target classes and labels into ``[data]`` (refusing a different choice there)."""
    data_config = config["data"]
    chosen = {"classes": options["target_classes"], "train_samples": options["target_train_samples"]}
    for key, value in chosen.items():
        if data_config.get(key) and data_config[key] != value:
            raise UsageError(f"the transfer task takes its data from [transfer] target_classes / target_train_samples; "
                             f"data.{key} = {data_config[key]!r} disagrees with {value!r} (leave data.{key} unset)")
        data_config[key] = value
    config["transfer"] = {key: value for key, value in options.items() if value is not None}


# ---------------------------------------------------------------------------------------------
# 2. Data


def load_classes(config, classes, train_samples, quick):
    """The recipe's dataset restricted to ``classes`` (relabelled 0..n-1), ``train_samples`` labels.

    In quick mode at most ``train.quick_train_samples`` labels, and a generated dataset
    (``shapes``) makes at most that many images in its pool.
    """
    from dlzoo import data

    data_config = config["data"]
    options = dict(data_config, classes=classes, train_samples=train_samples)
    if quick:
        limit = config["train"]["quick_train_samples"]
        options["train_samples"] = min(limit, train_samples or limit)
        if "num_samples" in data.source_options(data_config["dataset"]):
            # A generated source (shapes) would otherwise make its whole pool, twice (source and
            # target classes), to keep a few hundred examples: generate only as many as a quick run uses.
            options["num_samples"] = min(limit, options.get("num_samples") or limit)
    return data.load(data_config["dataset"], seed=data_config["seed"], options=options)


# ---------------------------------------------------------------------------------------------
# 3. The base and the models around it


def extract_base(model):
    """The convolutional base of ``model`` as a functional ``keras.Model`` named ``"base"``.

    A nested layer ``base`` (an earlier transfer model) is returned as it is; otherwise the
    base runs from the model's input to the last layer with a 4-D output (batch, h, w, c),
    i.e. it stops before the global pooling or flatten of the head. It shares its layers and
    weights with ``model``.

    Raises:
        UsageError: the model has no convolutional feature map to reuse.
    """
    import keras

    nested = [layer for layer in model.layers if layer.name == "base" and isinstance(layer, keras.Model)]
    if nested:
        return nested[0]
    feature_maps = [layer for layer in model.layers
                    if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4]
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not feature_maps or not convolutions:
        raise UsageError(f"model '{model.name}' has no 2-D convolutional feature map to reuse as a base")
    return keras.Model(model.input, feature_maps[-1].output, name="base")


def fresh_copy(base):
    """The same architecture as ``base`` with new, randomly initialized weights."""
    import keras

    clone = keras.models.clone_model(base)
    return keras.Model(clone.input, clone.output, name="base")


def base_from_run(argument, input_shape):
    """The base of the model of run ``argument`` (a run folder or a recipe name)."""
    from dlzoo.runs.load import load_run

    run = load_run(argument)
    base = extract_base(run.model)
    expected = tuple(base.input_shape[1:])
    if expected != tuple(input_shape):
        raise UsageError(f"transfer.base {argument!r}: its model takes inputs of shape {expected}, "
                         f"the target data has {tuple(input_shape)}")
    return base, f"the model of run {run.folder}"


def base_from_application(name, input_size):
    """An ImageNet-pretrained ``keras.applications`` network without its top, named ``"base"``.

    Returns ``(base, side)``: the base and the image side its inputs are resized to.

    Raises:
        UsageError: an unknown name, or weights that cannot be loaded (offline: no download).
    """
    import keras

    if name not in KERAS_APPLICATIONS:
        hint = did_you_mean(name, KERAS_APPLICATIONS)
        raise UsageError(f"unknown keras application 'keras:{name}'" + (f"; {hint}" if hint else "")
                         + f" (available: {', '.join(KERAS_PREFIX + known for known in KERAS_APPLICATIONS)})")
    class_name, minimum = KERAS_APPLICATIONS[name]
    side = input_size or minimum
    if side < minimum:
        raise UsageError(f"transfer.input_size must be at least {minimum} for keras:{name}, got {side}")
    constructor = getattr(keras.applications, class_name)
    try:
        with warnings.catch_warnings():
            # Below 96x96 Keras loads the 224x224 ImageNet weights and says so: that is what we want.
            warnings.simplefilter("ignore", UserWarning)
            application = constructor(input_shape=(side, side, 3), include_top=False, weights="imagenet")
    except Exception as error:  # keras.utils.get_file raises a bare Exception when a download fails
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise UsageError(f"cannot load the ImageNet weights of keras:{name} ({reason}); they are downloaded "
                         f"once into ~/.keras/models, which needs the network (or use transfer.base = \"\")") from error
    base = keras.Model(application.input, application.output, name="base")
    return base, side


def assemble(base, input_shape, num_classes, resize_to=None, name="transfer", standardize=None):
    """The outer model: ``inputs -> [standardize -> resize -> to_rgb] -> base -> gap -> logits -> probabilities``.

    Args:
        base: a functional model giving a feature map (batch, h, w, channels).
        input_shape: shape of one input image, e.g. (8, 8, 1).
        resize_to: resize images to this side first, and repeat grey images to 3 channels
            when the base wants colour (keras.applications bases).
        standardize: a ``standardize`` layer for bases that do not standardize raw inputs
            themselves (keras.applications); a dlzoo base carries its own.
    """
    import keras
    from keras import layers

    from dlzoo.models import heads, layers_util, preprocessing

    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    images = layers_util.as_image(inputs)  # (batch, h, w, c)
    if standardize is not None:
        images = standardize(images)
    if resize_to:
        images = preprocessing.Resize(resize_to, resize_to, interpolation="bilinear", name="resize")(images)
    wanted, have = base.input_shape[-1], images.shape[-1]
    if wanted == 3 and have == 1:
        images = layers.Concatenate(name="to_rgb")([images, images, images])  # grey -> (batch, h, w, 3)
    elif wanted != have:
        raise UsageError(f"the base takes images with {wanted} channels; the data has {have}")
    features = base(images)  # (batch, h', w', channels)
    features = layers.GlobalAveragePooling2D(name="gap")(features)  # (batch, channels)
    outputs = heads.classifier_head(features, num_classes)
    return keras.Model(inputs, outputs, name=name)


def unfreeze(base):
    """Make every layer of ``base`` trainable again, except batch normalization.

    A frozen ``BatchNormalization`` layer normalizes with its moving statistics (inference
    mode) and does not update them; fine-tuning on a few target batches keeps the source
    statistics that the pretrained convolutions were trained with.
    """
    from keras import layers

    base.trainable = True
    for layer in nested_layers(base):
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def nested_layers(model):
    """Every layer of ``model``, looking inside nested models."""
    import keras

    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from nested_layers(layer)


# ---------------------------------------------------------------------------------------------
# 4. Training one stage


@dataclasses.dataclass
class StageResult:
    """What one training stage produced."""

    name: str
    history: dict
    seconds: float
    epochs: int
    learning_rate: object
    trainable_parameters: int
    test_accuracy: float


def with_learning_rate(config, learning_rate):
    """A copy of ``config`` whose optimizer uses ``learning_rate`` (None: unchanged)."""
    staged = copy.deepcopy(config)
    if learning_rate is not None:
        staged["optimizer"]["learning_rate"] = learning_rate
    return staged


def trainable_parameters(model):
    """Number of trainable parameters of ``model`` right now."""
    return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))


def test_accuracy(model, splits):
    """Accuracy of ``model`` on the test split of ``splits``."""
    from dlzoo.metrics.classification import classification_metrics
    from dlzoo.training.inference import predict

    inputs, labels = splits.arrays("test")
    return float(classification_metrics(labels, predict(model, inputs), splits.class_names)["accuracy"])


def train_stage(name, model, splits, config, folder, epochs, quick, learning_rate=None):
    """Compile and fit ``model`` as stage ``name`` through the shared training module.

    The stage gets the platform's files with its name (``history-<name>.csv``,
    ``checkpoints/<name>-best.weights.h5``), callbacks and guards; with ``train.restore_best``
    the best weights by ``train.monitor`` are restored at the end.
    """
    from dlzoo.data.pipeline import make_datasets

    stage_config = with_learning_rate(config, learning_rate)
    stage_config["train"]["epochs"] = epochs  # so that a schedule's decay_steps = "auto" spans this stage
    ClassifyTask().compile_model(model, stage_config, splits)  # after any change of `trainable`: it takes effect at compile
    datasets = make_datasets(splits, config["data"]["batch_size"], seed=config["data"]["seed"],
                             augment=config["data"]["augment"])
    trainable = trainable_parameters(model)
    start = time.perf_counter()
    history = fit.fit(model, datasets["train"], datasets["val"], folder, stage_config["train"], epochs, stage=name)
    seconds = time.perf_counter() - start
    return StageResult(name, history, seconds, len(history["loss"]), stage_config["optimizer"]["learning_rate"],
                       trainable, test_accuracy(model, splits))


# ---------------------------------------------------------------------------------------------
# 5. The task


@register("transfer")
class TransferTask(ClassifyTask):
    """Pretrain (or load) a convolutional base, then frozen / fine-tuned / from-scratch on few labels.

    The run's model is the fine-tuned classifier: evaluate, export, visualize and predict are
    the classification task's.
    """

    supports = frozenset()
    unsupported_reasons = dict.fromkeys(("check", "lr-find", "tune"), (
        "it trains in stages (pretraining, frozen base, fine-tuning), each with its own optimizer and learning rate"))

    section = "transfer"
    section_defaults = TRANSFER_DEFAULTS
    description = "transfer learning (a pretrained base on new classes with few labels)"
    resume_unsupported = "it trains several models in stages (pretraining, frozen, fine-tuned, from scratch)"

    def metric_names(self, config):
        """The fine-tuned classifier's names and every stage's test accuracy (:func:`stage_metrics`)."""
        return super().metric_names(config) | {"frozen_test_accuracy", "fine_tuned_test_accuracy",
                                               "scratch_test_accuracy", "transfer_gain", "source_test_accuracy"}

    def check_config(self, config):
        """Check ``[transfer]`` (unknown keys, values) as well as the classification settings."""
        super().check_config(config)
        Task.check_config(self, config)
        check_transfer_options(config.get("transfer", {}), config["optimizer"])

    def prepare(self, config, quick=False):
        """Check ``[transfer]``, load source and target data, build the base and the models."""
        from dlzoo.models import preprocessing

        devices.seed_everything(config["train"]["seed"])
        options = check_transfer_options(config.get("transfer", {}), config["optimizer"])
        record_target_data(config, options)
        target = load_classes(config, options["target_classes"], options["target_train_samples"], quick)
        source_splits = source_model = resize_to = standardize = None
        base_argument = options["base"]
        if base_argument == "":
            source_splits = load_classes(config, options["source_classes"], options["source_train_samples"], quick)
            source_model = self.build_model(config, source_splits)
            base = extract_base(source_model)  # starts with the source's standardize layer
            description = (f"pretrained in this run: model '{config['model']['name']}' on classes "
                           f"{options['source_classes']} ({source_splits.sizes()['train']} training examples)")
        elif base_argument.startswith(KERAS_PREFIX):
            name = base_argument[len(KERAS_PREFIX):]
            base, resize_to = base_from_application(name, options["input_size"])
            standardize = preprocessing.standardization(target.normalization["mean"], target.normalization["variance"],
                                                        target.input_shape)
            description = f"keras.applications {KERAS_APPLICATIONS[name][0]} (ImageNet), inputs resized to {resize_to}"
        else:
            base, description = base_from_run(base_argument, target.input_shape)
        num_classes = target.num_classes
        transfer_model = assemble(base, target.input_shape, num_classes, resize_to, name="transfer",
                                  standardize=standardize)
        scratch_model = assemble(fresh_copy(base), target.input_shape, num_classes, resize_to, name="scratch",
                                 standardize=standardize)
        return PreparedTransfer(config, options, source_splits, source_model, target, transfer_model, scratch_model,
                                description, quick)

    def describe(self, prepared):
        """What is about to be trained, printed before the first stage."""
        sizes = prepared.target_splits.sizes()
        return (f"base: {prepared.base_description}; target data {prepared.target_splits.name} classes "
                f"{prepared.options['target_classes']}: {sizes['train']} train / {sizes['val']} val / "
                f"{sizes['test']} test")

    def run(self, prepared, folder):
        """Pretrain, train frozen, fine-tune, train from scratch; finish with the fine-tuned model."""
        from dlzoo.runs import export
        from dlzoo.data.pipeline import make_datasets
        from dlzoo.tasks.classify import draw_augmentation

        config, options, target = prepared.config, prepared.options, prepared.target_splits
        epochs = {key: (config["train"]["quick_epochs"] if prepared.quick else options[key]) for key in EPOCH_KEYS}
        stages = {}
        # 0. Pretraining on the source classes (only when the base is built here).
        if prepared.source_model is not None:
            stages["pretrain"] = train_stage("pretrain", prepared.source_model, prepared.source_splits, config,
                                             folder, epochs["pretrain_epochs"], prepared.quick)
            export.save_keras_model(prepared.source_model, folder / "pretrained.keras")
        # a. Frozen base: only the new head learns.
        model = prepared.transfer_model
        base = model.get_layer("base")
        base.trainable = False
        stages["frozen"] = train_stage("frozen", model, target, config, folder, epochs["frozen_epochs"], prepared.quick,
                                       learning_rate=options["frozen_learning_rate"])
        export.save_keras_model(model, folder / "frozen.keras")
        # b. Fine-tuning everything but batch normalization, with a lower learning rate.
        unfreeze(base)
        stages["fine_tuned"] = train_stage("fine_tuned", model, target, config, folder, epochs["fine_tune_epochs"],
                                           prepared.quick, learning_rate=options["fine_tune_learning_rate"])
        # c. The same architecture from scratch on the same labels.
        stages["scratch"] = train_stage("scratch", prepared.scratch_model, target, config, folder,
                                        epochs["scratch_epochs"], prepared.quick)
        export.save_keras_model(prepared.scratch_model, folder / "scratch.keras")

        history = joined_history(stages["frozen"].history, stages["fine_tuned"].history)
        folders.atomic_write_text(folder / "history.csv", fit.history_csv(history))
        results = self.finish(model, target, folder, config, history)
        results["metrics"].update(stage_metrics(stages))
        train_seconds = sum(stage.seconds for stage in stages.values())
        target_epochs = sum(stages[name].epochs for name in ("frozen", "fine_tuned", "scratch"))
        results.update(
            train_seconds=train_seconds,
            samples_per_second=target.sizes()["train"] * target_epochs / max(train_seconds, 1e-9),
            base=prepared.base_description,
            stages={name: stage_record(stage) for name, stage in stages.items()},
        )
        draw_stage_curves(stages, folder / "plots" / "transfer_curves.png", title=f"{config['name']}: target classes")
        report.write_section(folder, "10-transfer", transfer_section(prepared, stages))
        if config["data"]["augment"]:
            datasets = make_datasets(target, config["data"]["batch_size"], seed=config["data"]["seed"],
                                     augment=config["data"]["augment"])
            draw_augmentation(datasets["train"], target.class_names, folder)
        return results


# ---------------------------------------------------------------------------------------------
# 6. Results: metrics, history, pictures, report


def stage_metrics(stages):
    """The headline metrics of the stages: test accuracy of each, and the gain over scratch."""
    metrics = {
        "frozen_test_accuracy": stages["frozen"].test_accuracy,
        "fine_tuned_test_accuracy": stages["fine_tuned"].test_accuracy,
        "scratch_test_accuracy": stages["scratch"].test_accuracy,
        "transfer_gain": stages["fine_tuned"].test_accuracy - stages["scratch"].test_accuracy,
    }
    if "pretrain" in stages:
        metrics["source_test_accuracy"] = stages["pretrain"].test_accuracy
    return metrics


def stage_record(stage):
    """One stage for metrics.json."""
    learning_rate = stage.learning_rate if isinstance(stage.learning_rate, (int, float)) else str(stage.learning_rate)
    return {"epochs": stage.epochs, "learning_rate": learning_rate, "trainable_parameters": stage.trainable_parameters,
            "seconds": stage.seconds, "test_accuracy": stage.test_accuracy}


def joined_history(first, second):
    """Two histories one after the other (the keys they share)."""
    return {key: first[key] + second[key] for key in first if key in second}


def draw_stage_curves(stages, path, title=""):
    """Overlaid curves on the target data: frozen then fine-tuned (one path), and scratch.

    The fine-tuned curve continues where the frozen one stops; a dotted line marks the unfreezing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    from dlzoo.plots import figures
    from dlzoo.plots import curves

    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4), layout="constrained")
    offsets = {"frozen": 0, "fine_tuned": stages["frozen"].epochs, "scratch": 0}
    last_epoch = max(offset + len(stages[name].history.get("loss", [])) for name, offset in offsets.items())
    for axis, metric in zip(axes, ("accuracy", "loss")):
        for name, offset in offsets.items():
            history = stages[name].history
            if metric not in history:
                continue
            epochs = offset + np.arange(1, len(history[metric]) + 1)
            marker = "o" if len(epochs) <= curves.MARKER_EPOCHS else None  # a one-epoch stage is one point
            line = axis.plot(epochs, history[metric], marker=marker, markersize=4, label=f"{name} train")[0]
            if f"val_{metric}" in history:
                axis.plot(epochs, history[f"val_{metric}"], linestyle="--", marker=marker, markersize=4,
                          color=line.get_color(), label=f"{name} val")
        axis.axvline(stages["frozen"].epochs + 0.5, color="gray", linestyle=":", linewidth=1)
        axis.set_xlabel("epoch on the target classes")
        axis.set_ylabel(metric)
        axis.set_xticks(curves.epoch_ticks(last_epoch))
        histories = {name: stage.history for name, stage in stages.items()}
        if metric == "loss" and curves.all_positive(histories, ["loss"]):
            curves.log_scale_with_labels(axis, curves.finite_values(histories, ["loss"]))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title)
    return figures.save_figure(figure, path)


def verdict(gain, margin=0.01):
    """One sentence on what the fine-tuned-minus-scratch accuracy ``gain`` says."""
    if gain > margin:
        return ("the pretrained features helped: with few labels, starting from features learned on other "
                "classes beats learning them from these labels alone (Yosinski et al. 2014).")
    if gain < -margin:
        return ("training from scratch did better: features of the source classes did not transfer to these "
                "classes (Yosinski et al. 2014: the top layers are specific to the task they learned).")
    return "no clear difference at this budget; compare several seeds before concluding."


def transfer_section(prepared, stages):
    """The report section: where the base comes from, the stage table, the overlaid curves."""
    options, target = prepared.options, prepared.target_splits
    sizes = target.sizes()
    labels = {"pretrain": f"0. pretrain on source classes {options['source_classes']}",
              "frozen": "a. frozen base, new head", "fine_tuned": "b. fine-tuned, all but batch norm",
              "scratch": "c. same architecture from scratch"}
    rows = [[labels[name], stage.epochs, stage_record(stage)["learning_rate"], stage.trainable_parameters,
             stage.test_accuracy, stage.seconds] for name, stage in stages.items()]
    gain = stages["fine_tuned"].test_accuracy - stages["scratch"].test_accuracy
    return (
        "## Transfer learning\n\n"
        f"Base: {prepared.base_description}. Target classes {options['target_classes']} with "
        f"{sizes['train']} training labels ({sizes['train'] // max(target.num_classes, 1)} per class); "
        f"every accuracy is on the same {sizes['test']} target test images "
        "(the pretraining row: on the source classes' test images).\n\n"
        + report.markdown_table(["stage", "epochs", "learning rate", "trainable parameters", "test accuracy",
                                 "seconds"], rows)
        + f"\n\nFine-tuned minus scratch: **{gain:+.3f}**: {verdict(gain)}\n\n"
        "**Learning curves on the target classes** (the dotted line: the base is unfrozen)\n\n"
        "![transfer curves](plots/transfer_curves.png)\n"
    )
