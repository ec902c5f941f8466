"""The ``numpy-mlp`` task: an MLP whose forward and backward passes are written in NumPy.

The network trains without any framework; its gradients are checked against central finite
differences and against ``tf.GradientTape``; then its weights are copied into the equivalent
Keras model, so the run folder is the same as any other run (SavedModel, evaluate, visualize).
"""

import dataclasses
import time

import numpy as np

from dlzoo.runs import report
from dlzoo.training import fit
from dlzoo.training import state as checkpoint_state  # "state" names the arrays it reads
from dlzoo.core.validation import check_known_keys
from dlzoo.tasks import register
from dlzoo.tasks.classify import ClassifyTask

MODEL_OPTIONS = ("name", "hidden_units", "activation", "l2", "dropout_rate")
GRADIENT_CHECK_SAMPLES = 8


@dataclasses.dataclass
class PreparedScratchRun:
    """A NumPy network, its optimizer and its (standardized) data, checked and ready."""

    config: dict
    splits: object
    standardized: dict  # {"train": (x, y), "val": ..., "test": ...}: inputs as the network sees them
    network: object
    optimizer: object
    quick: bool


def build_numpy_optimizer(optimizer_config):
    """The NumPy twin of the recipe's optimizer (same names and options as the Keras ones)."""
    from dlzoo.optimizers.numpy_optimizers import get_numpy_optimizer

    options = dict(optimizer_config)
    name = options.pop("name")
    return get_numpy_optimizer(name, **options)


def standardize(splits):
    """Every split's inputs standardized with the training statistics, as the NumPy network needs.

    The Keras copy of the network does the same inside the model (its ``standardize`` layer),
    so the exported model takes raw inputs.
    """
    # One statistic per channel or feature: the last axis, so they broadcast over the batch.
    mean = np.asarray(splits.normalization["mean"], dtype="float32")
    std = np.sqrt(np.asarray(splits.normalization["variance"], dtype="float32"))
    arrays = {name: splits.arrays(name) for name in ("train", "val", "test")}
    return {name: (((x - mean) / std).astype("float32"), y) for name, (x, y) in arrays.items()}


class ScratchCheckpoint:
    """Everything one epoch of a NumPy run changes, for :func:`dlzoo.training.fit.run_epochs`'s
    checkpoints (and so ``dlzoo train --resume``).

    ``state()`` gives the network's parameters (``model/0``, ``model/1``, ... in the order of
    ``network.parameters()``), the optimizer's step count and per-parameter slots (momentum
    velocities, Adam moments, ...: every list of arrays it keeps), and the states of the
    random generators (the shuffling one and the network's dropout one) as JSON text.
    ``restore(state)`` puts them back, in place, so that the next epoch is the one an
    uninterrupted run would have trained.
    """

    def __init__(self, network, optimizer, shuffle_rng):
        self.network, self.optimizer, self.shuffle_rng = network, optimizer, shuffle_rng

    def optimizer_slots(self):
        """``{attribute: [arrays]}``: the optimizer's per-parameter state (empty before its first step)."""
        return {name: value for name, value in vars(self.optimizer).items()
                if isinstance(value, list) and value and all(isinstance(item, np.ndarray) for item in value)}

    def state(self):
        """The arrays to save after an epoch."""
        import json

        state = {f"model/{index}": np.array(parameter) for index, parameter in enumerate(self.network.parameters())}
        state["numpy_optimizer/iterations"] = np.asarray(self.optimizer.iterations)
        for name, arrays in self.optimizer_slots().items():
            state.update({f"numpy_optimizer/{name}/{index}": np.array(array) for index, array in enumerate(arrays)})
        state["random_states"] = np.asarray(json.dumps({
            "shuffle": self.shuffle_rng.bit_generator.state,
            "dropout": self.network._dropout_rng.bit_generator.state}))
        return state

    def restore(self, state):
        """Put a saved state back; a usage error when it belongs to another network or optimizer."""
        import json

        from dlzoo.core.errors import UsageError

        parameters = self.network.parameters()
        saved = checkpoint_state.numbered(state, "model")
        if [value.shape for value in saved] != [parameter.shape for parameter in parameters]:
            raise UsageError(f"the checkpoint holds another network ({len(saved)} arrays of shapes "
                             f"{[value.shape for value in saved]}): it cannot be resumed here")
        for parameter, value in zip(parameters, saved):
            parameter[...] = value  # in place: the optimizer and the network share these arrays
        iterations = int(state.get("numpy_optimizer/iterations", 0))
        if iterations:
            # The first step builds the slots; build them now, then overwrite them with the saved ones.
            self.optimizer.parameter_shapes = [parameter.shape for parameter in parameters]
            self.optimizer.build(parameters)
            for name, arrays in self.optimizer_slots().items():
                values = checkpoint_state.numbered(state, f"numpy_optimizer/{name}")
                if [value.shape for value in values] != [array.shape for array in arrays]:
                    raise UsageError(f"the checkpoint's optimizer state '{name}' belongs to another optimizer: "
                                     "it cannot be resumed here")
                for array, value in zip(arrays, values):
                    array[...] = value
        self.optimizer.iterations = iterations
        random_states = json.loads(str(state["random_states"]))
        self.shuffle_rng.bit_generator.state = random_states["shuffle"]
        self.network._dropout_rng.bit_generator.state = random_states["dropout"]


@register("numpy-mlp")
class NumpyMLPTask(ClassifyTask):
    """Train :class:`dlzoo.scratch.NumpyMLP`, check its gradients, export it through Keras.

    After training it is a classifier like any other (evaluate, export, visualize, predict
    are the classification task's), because its weights are copied into a Keras model.
    """

    description = "an MLP trained with backpropagation written in NumPy"
    supports = frozenset()
    unsupported_reasons = dict.fromkeys(("check", "lr-find", "tune"), (
        "it is trained by NumPy code, not by a Keras model and optimizer"))
    model_kind = None  # [model] holds the NumPy network's options, checked by check_config

    def check_config(self, config):
        """Only the NumPy network's options are valid in ``[model]``."""
        super().check_config(config)
        check_known_keys("model", config["model"], MODEL_OPTIONS)

    def prepare(self, config, quick=False):
        """Load the data, build the NumPy network and optimizer; bad options are usage errors."""
        from dlzoo.scratch import NumpyMLP

        self.check_config(config)
        splits = self.load_data(config, quick=quick)
        model = config["model"]
        features = int(np.prod(splits.input_shape))
        network = NumpyMLP(
            [features, *model.get("hidden_units", [128]), splits.num_classes],
            activation=model.get("activation", "relu"), l2=model.get("l2", 0.0),
            dropout_rate=model.get("dropout_rate", 0.0), seed=config["train"]["seed"],
        )
        optimizer = build_numpy_optimizer(config["optimizer"])
        return PreparedScratchRun(config, splits, standardize(splits), network, optimizer, quick)

    def metric_names(self, config):
        """The classifier's names and the two gradient checks."""
        return super().metric_names(config) | {"gradient_check_max_relative_error", "tape_check_max_relative_error"}

    def check_resume(self, prepared, folder):
        """Refuse, before anything is written, a checkpoint of another network."""
        from dlzoo.core.errors import UsageError

        saved = [value.shape for value in checkpoint_state.numbered(checkpoint_state.read_state(folder), "model")]
        expected = [parameter.shape for parameter in prepared.network.parameters()]
        if saved != expected:
            raise UsageError(f"the checkpoint in {folder} belongs to another model ({len(saved)} arrays, this recipe's "
                             f"NumPy network has {len(expected)} of other shapes): it cannot be resumed here")

    def describe(self, prepared):
        """What is about to be trained, printed before epoch 1."""
        sizes = prepared.splits.sizes()
        parameters = sum(weights.size for weights in prepared.network.parameters())
        return (f"data {prepared.splits.name}: {sizes['train']} train / {sizes['val']} val / {sizes['test']} test; "
                f"NumPy MLP {list(prepared.network.layer_sizes)}: {parameters:,} parameters")

    def run(self, prepared, folder):
        """Train through the shared loop, check gradients, copy into Keras and finish like a Keras run."""
        from dlzoo.scratch.to_keras import to_keras_model
        from dlzoo.tasks.supervised import with_standardization

        config, splits = prepared.config, prepared.splits
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        (x_train, y_train), (x_val, y_val) = prepared.standardized["train"], prepared.standardized["val"]
        rng = np.random.default_rng(config["train"]["seed"])  # shuffles every epoch

        def one_epoch(epoch):
            """One pass of hand-written backpropagation over the training split."""
            start = time.perf_counter()
            loss, accuracy = prepared.network.train_epoch(x_train, y_train, prepared.optimizer,
                                                          config["data"]["batch_size"], rng)
            seconds = time.perf_counter() - start
            val_loss, val_accuracy = prepared.network.evaluate(x_val, y_val)
            return {"loss": loss, "accuracy": accuracy, "val_loss": val_loss, "val_accuracy": val_accuracy,
                    "epoch_seconds": seconds}

        start = time.perf_counter()
        history = fit.run_epochs(one_epoch, epochs, folder, config["train"],
                                      checkpoint=ScratchCheckpoint(prepared.network, prepared.optimizer, rng))
        train_seconds = time.perf_counter() - start
        checks = gradient_checks(prepared.network, prepared.standardized)
        keras_model = with_standardization(to_keras_model(prepared.network, splits.input_shape), config, splits)
        keras_model.compile(loss="sparse_categorical_crossentropy")
        results = self.finish(keras_model, splits, folder, config, history)
        report.write_section(folder, "20-gradient-check", gradient_check_section(checks, prepared.network))
        results.update(
            gradient_check=checks, train_seconds=train_seconds,
            samples_per_second=splits.sizes()["train"] * len(history["loss"]) / max(train_seconds, 1e-9),
            epoch_seconds_median=float(np.median(history["epoch_seconds"])),
        )
        results["metrics"]["gradient_check_max_relative_error"] = checks["finite_differences"]
        results["metrics"]["tape_check_max_relative_error"] = checks["gradient_tape"]
        return results


def gradient_checks(network, standardized):
    """Hand-written gradients vs finite differences and vs ``tf.GradientTape``, in float64."""
    from dlzoo.scratch.gradient_check import gradient_check, tape_check

    x, y = (values[:GRADIENT_CHECK_SAMPLES] for values in standardized["train"])
    finite = gradient_check(network, x, y)
    return {"finite_differences": float(finite["max_relative_error"]),
            "gradient_tape": float(tape_check(network, x, y)),
            "samples": GRADIENT_CHECK_SAMPLES,
            "per_parameter": finite["per_parameter"]}


def gradient_check_section(checks, network):
    """The report section with both gradient checks."""
    rows = [[entry["name"], "x".join(str(size) for size in entry["shape"]), entry["relative_error"]]
            for entry in checks["per_parameter"]]
    return (
        "## Gradient check\n\n"
        f"The hand-written backward pass of `{network!r}` on {checks['samples']} training samples, in float64:\n\n"
        f"- against central finite differences: max relative error **{checks['finite_differences']:.2e}** (must be < 1e-6)\n"
        f"- against `tf.GradientTape` on the same weights: max relative error **{checks['gradient_tape']:.2e}**\n\n"
        + report.markdown_table(["parameter", "shape", "relative error vs finite differences"], rows) + "\n"
    )
