"""The ``numpy-mlp`` task: an MLP whose forward and backward passes are written in NumPy.

The network trains without any framework; its gradients are checked against central finite
differences and against ``tf.GradientTape``; then its weights are copied into the equivalent
Keras model, so the run folder is the same as any other run (SavedModel, evaluate, visualize).
"""

import dataclasses
import time

import numpy as np

from dlzoo import report, runs
from dlzoo.compare import history_csv
from dlzoo.config import check_known_keys
from dlzoo.tasks import register

MODEL_OPTIONS = ("name", "hidden_units", "activation", "l2", "dropout_rate")
GRADIENT_CHECK_SAMPLES = 8


@dataclasses.dataclass
class PreparedScratchRun:
    """A NumPy network, its optimizer and its data, checked and ready."""

    config: dict
    splits: object
    network: object
    optimizer: object
    quick: bool


def build_numpy_optimizer(optimizer_config):
    """The NumPy twin of the recipe's optimizer (same names and options as the Keras ones)."""
    from dlzoo.optimizers.numpy_optimizers import get_numpy_optimizer

    options = dict(optimizer_config)
    name = options.pop("name")
    return get_numpy_optimizer(name, **options)


@register("numpy-mlp")
class NumpyMLPTask:
    """Train :class:`dlzoo.scratch.NumpyMLP`, check its gradients, export it through Keras."""

    def prepare(self, config, quick=False):
        """Load the data, build the NumPy network and optimizer; bad options are usage errors."""
        from dlzoo.scratch import NumpyMLP
        from dlzoo.tasks.classify import load_splits

        check_known_keys("model", config["model"], MODEL_OPTIONS)
        splits = load_splits(config, quick)
        model = config["model"]
        features = int(np.prod(splits.input_shape))
        network = NumpyMLP(
            [features, *model.get("hidden_units", [128]), splits.num_classes],
            activation=model.get("activation", "relu"), l2=model.get("l2", 0.0),
            dropout_rate=model.get("dropout_rate", 0.0), seed=config["train"]["seed"],
        )
        optimizer = build_numpy_optimizer(config["optimizer"])
        return PreparedScratchRun(config, splits, network, optimizer, quick)

    def run(self, prepared, folder):
        """Train, check gradients, copy into Keras and finish like a Keras run."""
        from dlzoo.scratch import train
        from dlzoo.scratch.to_keras import to_keras_model
        from dlzoo.tasks.classify import finish

        config, splits = prepared.config, prepared.splits
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        start = time.perf_counter()
        history = train(prepared.network, splits.x_train, splits.y_train, splits.x_val, splits.y_val,
                        prepared.optimizer, epochs=epochs, batch_size=config["data"]["batch_size"],
                        seed=config["train"]["seed"])
        train_seconds = time.perf_counter() - start
        runs.atomic_write_text(folder / "history.csv", history_csv(history))  # same columns as Keras's CSVLogger
        if not np.all(np.isfinite(history["loss"])):
            from dlzoo.errors import RunFailed

            raise RunFailed("training loss became NaN or infinite; lower optimizer.learning_rate")
        checks = gradient_checks(prepared.network, splits)
        keras_model = to_keras_model(prepared.network, splits.input_shape)
        keras_model.compile(loss="sparse_categorical_crossentropy")  # for model.evaluate in finish()
        results = finish(keras_model, splits, folder, config, history)
        report.write_section(folder, "20-gradient-check", gradient_check_section(checks, prepared.network))
        results.update(
            gradient_check=checks, train_seconds=train_seconds,
            samples_per_second=len(splits.y_train) * epochs / max(train_seconds, 1e-9),
            epoch_seconds_median=float(np.median(history["epoch_seconds"])),
        )
        results["metrics"]["gradient_check_max_relative_error"] = checks["finite_differences"]
        results["metrics"]["tape_check_max_relative_error"] = checks["gradient_tape"]
        return results


def gradient_checks(network, splits):
    """Hand-written gradients vs finite differences and vs ``tf.GradientTape``, in float64."""
    from dlzoo.scratch.gradient_check import gradient_check, tape_check

    x = splits.x_train[:GRADIENT_CHECK_SAMPLES]
    y = splits.y_train[:GRADIENT_CHECK_SAMPLES]
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
