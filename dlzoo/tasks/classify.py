"""The classification task: a Keras model trained with ``fit`` on a labelled dataset.

Steps of one run (``prepare`` checks everything that can be wrong before a run folder exists):

1. load and normalize the data, build the model and the optimizer, compile;
2. fit with Keras callbacks (history CSV, TensorBoard, best checkpoint, early stopping,
   TerminateOnNaN, optional gradient statistics);
3. restore the best weights, evaluate every split, save ``model.keras`` and a verified
   SavedModel, draw the pictures.

:func:`finish` (step 3) is shared with tasks that train differently (the NumPy MLP).
"""

import dataclasses
import math
import sys
import time

import numpy as np

from dlzoo import plots, report, runs
from dlzoo.errors import RunFailed, UsageError
from dlzoo.tasks import register


@dataclasses.dataclass
class PreparedRun:
    """Everything a classification run needs, checked and ready."""

    config: dict
    splits: object
    datasets: dict
    model: object
    quick: bool
    gradient_statistics: object = None  # the GradientStatistics callback, when enabled


def load_splits(config, quick):
    """Load the recipe's dataset; in quick mode keep only a few hundred training examples."""
    from dlzoo import data

    data_config = config["data"]
    options = dict(data_config)
    if quick:
        limit = config["train"]["quick_train_samples"]
        options["train_samples"] = min(limit, options.get("train_samples") or limit)
    return data.load(data_config["dataset"], seed=data_config["seed"], options=options,
                     normalize_inputs=data_config["normalize"])


def build_model(config, splits):
    """Build the recipe's model for the data; a shape that does not fit is a usage error."""
    from dlzoo import models

    options = {key: value for key, value in config["model"].items() if key != "name"}
    name = config["model"]["name"]
    try:
        model = models.build(name, splits.input_shape, splits.num_classes, **options)
    except (ValueError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "unexpected keyword" in message or isinstance(error, UsageError):
            raise UsageError(message) from error
        raise UsageError(
            f"dataset {splits.name} (inputs {splits.input_shape}) does not fit model '{name}': {message}"
        ) from error
    expected = tuple(model.input_shape[1:])
    if expected != splits.input_shape:
        raise UsageError(
            f"dataset {splits.name} has inputs of shape {splits.input_shape} but model '{name}' expects {expected}"
        )
    return model


def training_steps(config, splits, quick):
    """Optimizer steps of the whole run: epochs x batches per epoch."""
    epochs = config["train"]["quick_epochs"] if quick else config["train"]["epochs"]
    return epochs * math.ceil(len(splits.y_train) / config["data"]["batch_size"])


def compile_model(model, config, splits, quick=False):
    """Compile with the recipe's optimizer, the task's loss and accuracy."""
    from dlzoo import optimizers
    from dlzoo.optimizers.schedules import fill_auto_steps
    from dlzoo.tasks.losses import accuracy_metric, classification_loss

    section = fill_auto_steps(config["optimizer"], training_steps(config, splits, quick))
    optimizer = optimizers.build_optimizer(section)
    loss = classification_loss(config["train"]["loss"], splits.num_classes)
    model.compile(optimizer=optimizer, loss=loss, metrics=[accuracy_metric(splits.num_classes)])
    return model


def seed_everything(seed):
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    import keras

    keras.utils.set_random_seed(int(seed))


@register("classify")
class ClassifyTask:
    """Supervised classification with ``model.fit``."""

    def prepare(self, config, quick=False):
        """Load data, build and compile the model; raise UsageError when they do not fit."""
        from dlzoo.data.pipeline import make_datasets

        seed_everything(config["train"]["seed"])
        splits = load_splits(config, quick)
        model = compile_model(build_model(config, splits), config, splits, quick)
        datasets = make_datasets(splits, config["data"]["batch_size"], seed=config["data"]["seed"],
                                 augment=config["data"]["augment"])
        return PreparedRun(config=config, splits=splits, datasets=datasets, model=model, quick=quick)

    def run(self, prepared, folder):
        """Fit, then evaluate, save, export and draw; returns the results for metrics.json."""
        config = prepared.config
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        start = time.perf_counter()
        history = fit(prepared, folder, epochs)
        train_seconds = time.perf_counter() - start
        results = finish(prepared.model, prepared.splits, folder, config, history)
        trained_samples = len(prepared.splits.y_train) * len(history.get("loss", []))
        results.update(train_seconds=train_seconds, samples_per_second=trained_samples / max(train_seconds, 1e-9))
        if config["data"]["augment"]:
            draw_augmentation(prepared, folder)
        if prepared.gradient_statistics is not None:
            results["metrics"].update(report_gradient_statistics(prepared.gradient_statistics.records, folder))
        return results


def make_callbacks(prepared, folder):
    """The Keras callbacks of a run (all of them Keras's own but the gradient statistics)."""
    import keras

    train = prepared.config["train"]
    # Gradient statistics come first: they add keys to the epoch logs that CSVLogger records.
    callbacks = []
    if train["gradient_statistics"]:
        prepared.gradient_statistics = gradient_statistics_callback(prepared, folder)
        callbacks.append(prepared.gradient_statistics)
    callbacks += [
        keras.callbacks.CSVLogger(str(folder / "history.csv")),
        keras.callbacks.TensorBoard(log_dir=str(folder / "tensorboard"), write_graph=False),
        keras.callbacks.ModelCheckpoint(
            str(folder / "checkpoints" / "best.weights.h5"), monitor=train["monitor"],
            save_best_only=True, save_weights_only=True, mode="auto",
        ),
        keras.callbacks.TerminateOnNaN(),
    ]
    if train["early_stopping_patience"] > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=train["monitor"],
                                                       patience=train["early_stopping_patience"]))
    return callbacks


def gradient_statistics_callback(prepared, folder):
    """Per-layer gradient norms and activation statistics on a fixed training batch."""
    from dlzoo.callbacks.gradient_statistics import GradientStatistics

    sample = slice(0, min(256, len(prepared.splits.y_train)))
    return GradientStatistics(
        prepared.splits.x_train[sample], prepared.splits.y_train[sample], prepared.model.loss,
        output_path=str(folder / "gradient_statistics.csv"),
    )


def fit(prepared, folder, epochs):
    """Train with ``model.fit``; a NaN loss is a run failure (nothing gets exported)."""
    (folder / "checkpoints").mkdir(exist_ok=True)
    verbose = prepared.config["train"]["verbose"]
    if verbose == 1 and not sys.stdout.isatty():
        verbose = 2  # a progress bar redrawn per batch fills log files; one line per epoch instead
    keras_history = prepared.model.fit(
        prepared.datasets["train"], validation_data=prepared.datasets["val"], epochs=epochs,
        callbacks=make_callbacks(prepared, folder), verbose=verbose,
        shuffle=False,  # the tf.data pipeline already shuffles, with the recipe's seed
    )
    history = {key: [float(value) for value in values] for key, values in keras_history.history.items()}
    losses = history.get("loss", [])
    if not losses or not all(math.isfinite(value) for value in losses):
        epoch = next((index + 1 for index, value in enumerate(losses) if not math.isfinite(value)), 1)
        raise RunFailed(f"training loss became NaN or infinite at epoch {epoch}; lower optimizer.learning_rate "
                        "or add optimizer.clipnorm")
    checkpoint = folder / "checkpoints" / "best.weights.h5"
    if prepared.config["train"]["restore_best"] and checkpoint.exists():
        prepared.model.load_weights(str(checkpoint))
    return history


def predict(model, inputs):
    """Model outputs for ``inputs`` as a NumPy array, in batches."""
    return np.asarray(model.predict(inputs, batch_size=256, verbose=0))


def evaluate_splits(model, splits):
    """Loss and accuracy on every split, plus the full metrics of the test split."""
    from dlzoo.evaluate import classification_metrics

    results, test_details = {}, None
    for split in ("train", "val", "test"):
        x, y = splits.split(split)
        scores = model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
        details = classification_metrics(y, predict(model, x), splits.class_names)
        results[f"{split}_loss"] = float(scores["loss"])
        results[f"{split}_accuracy"] = details["accuracy"]
        if split == "test":
            test_details = details
            results["test_macro_f1"] = details["macro_f1"]
            results["test_expected_calibration_error"] = details["expected_calibration_error"]
            if "roc_auc" in details:
                results["test_roc_auc"] = details["roc_auc"]
    return results, test_details


def finish(model, splits, folder, config, history):
    """Evaluate, save ``model.keras``, export a verified SavedModel and draw the plots.

    Returns the results for ``metrics.json``: the metrics, parameter count and export check.
    """
    from dlzoo import export

    metrics, test_details = evaluate_splits(model, splits)
    runs.atomic_write_json(folder / "evaluation.json", {"split": "test", "dataset": splits.name, **test_details})
    export.save_keras_model(model, folder / "model.keras")
    exported = None
    if config["train"]["export"]:
        exported = export.export_saved_model(model, folder / "saved_model", splits.x_test[:64])
    plots_folder = folder / "plots"
    if history.get("loss"):
        plots.learning_curves({config["name"]: history}, plots_folder / "learning_curves.png", title=config["name"])
    plots.confusion_matrix(test_details["confusion_matrix"], splits.class_names, plots_folder / "confusion_matrix.png")
    if splits.input_shape == (2,):
        plots.decision_boundary(lambda inputs: predict(model, inputs), splits.x_test, splits.y_test,
                                plots_folder / "decision_boundary.png", title=f"{config['name']} (test points)")
    return {
        "metrics": metrics,
        "parameters": int(model.count_params()),
        "epochs_run": len(history.get("loss", [])),
        "export": exported,
        "data": {"dataset": splits.name, "input_shape": list(splits.input_shape), "classes": splits.class_names,
                 "sizes": splits.sizes(), "normalization": splits.normalization},
    }


def draw_augmentation(prepared, folder):
    """A grid of augmented training images, to check that the augmentation looks sensible."""
    for images, labels in prepared.datasets["train"].take(1):
        shown = np.asarray(images)[:32]
        names = [prepared.splits.class_names[int(label)] for label in np.asarray(labels)[:32]]
        plots.image_grid(shown, folder / "plots" / "augmentation.png", titles=names, title="augmented training samples")


def report_gradient_statistics(records, folder):
    """Plot the per-layer gradient statistics, add a report section, return summary metrics.

    The summary is the ratio of the first to the last kernel layer's gradient norm at
    initialization and after training: far below 1 means vanishing gradients.
    """
    from dlzoo.callbacks.gradient_plots import plot_gradient_statistics
    from dlzoo.callbacks.gradient_statistics import gradient_ratio

    if not records:
        return {}
    plot_gradient_statistics(records, folder / "plots" / "gradient_statistics.png")
    final_epoch = max(record["epoch"] for record in records)
    summary = {"gradient_ratio_init": float(gradient_ratio(records, 0)),
               "gradient_ratio_final": float(gradient_ratio(records, final_epoch))}
    layers_at = {epoch: [r for r in records if r["epoch"] == epoch] for epoch in (0, final_epoch)}
    rows = [[first["layer"], first["gradient_norm"], last["gradient_norm"], first["dead_fraction"],
             first["saturated_fraction"]] for first, last in zip(layers_at[0], layers_at[final_epoch])]
    report.write_section(folder, "30-gradient-statistics", (
        "## Gradient statistics\n\n"
        f"First-layer / last-layer gradient norm: **{summary['gradient_ratio_init']:.3g}** at initialization, "
        f"**{summary['gradient_ratio_final']:.3g}** after {final_epoch} epochs "
        "(far below 1: vanishing gradients; far above 1: exploding).\n\n"
        + report.markdown_table(["layer", "gradient norm (init)", f"gradient norm (epoch {final_epoch})",
                                 "dead ReLU fraction (init)", "saturated fraction (init)"], rows)
        + "\n\n![gradient statistics](plots/gradient_statistics.png)\n"))
    return summary
