"""The classification task: a Keras model with the classifier head, trained with ``fit``.

Everything a supervised run does (data, standardization inside the model, the shared training
module, SavedModel export) comes from :class:`~dlzoo.tasks.supervised.SupervisedTask`; this
module adds what is specific to class labels: the head and loss, accuracy and the other
classification metrics, the confusion matrix, decision boundaries, augmentation pictures,
gradient statistics, and ``dlzoo predict`` output as class names with probabilities.
"""

import numpy as np

from dlzoo.plots import figures
from dlzoo.runs import report
from dlzoo.core.errors import UsageError
from dlzoo.tasks import register
from dlzoo.tasks.supervised import ImageInputs, SupervisedTask, image_batch
from dlzoo.training.inference import predict, predict_split

LOSSES = ("auto", "crossentropy", "mse")


@register("classify")
class ClassifyTask(SupervisedTask):
    """Supervised classification with ``model.fit``."""

    description = "classification (class probabilities from inputs)"
    supports = frozenset({"check", "lr-find", "tune"})

    def check_config(self, config):
        """``train.loss`` must be one the classification head supports; ``[model]`` keys are the builder's."""
        if config["train"]["loss"] not in LOSSES:
            raise UsageError(f"train.loss must be one of {', '.join(LOSSES)}, got {config['train']['loss']!r}")

    def check_targets(self, splits):
        """A classifier needs class labels."""
        if splits.targets == "strings":
            raise UsageError(f"dataset {splits.name} is made of string pairs; use a seq2seq recipe "
                             "(e.g. dlzoo train seq2seq-dates --data ...)")
        if splits.targets != "classes":
            raise UsageError(f"dataset {splits.name} has real-valued targets; use task = \"regress\"")

    def build_model(self, config, splits):
        """The recipe's builder, which ends with the classifier head, behind ``standardize``."""
        return self.build_standardized(config, splits, splits.num_classes)

    def loss_and_metrics(self, config, splits):
        """Cross-entropy (or squared error as a lesson) and accuracy matching the head."""
        from dlzoo.models.losses import accuracy_metric, classification_loss

        return classification_loss(config["train"]["loss"], splits.num_classes), [accuracy_metric(splits.num_classes)]

    def prepare(self, config, quick=False):
        """The supervised preparation, plus the gradient-statistics callback when asked for."""
        prepared = super().prepare(config, quick)
        if config["train"]["gradient_statistics"]:
            prepared.callbacks.append(gradient_statistics_callback(prepared))
        return prepared

    def run(self, prepared, folder):
        """Train and finish as every supervised task; add augmentation and gradient pictures."""
        if prepared.callbacks:
            prepared.callbacks[0].output_path = str(folder / "gradient_statistics.csv")
        from dlzoo.metrics import performance

        results = super().run(prepared, folder)
        results["flops_per_example"] = performance.flops_per_example(prepared.model)
        if prepared.config["data"]["augment"]:
            draw_augmentation(prepared.datasets["train"], prepared.splits.class_names, folder)
        if prepared.callbacks:
            results["metrics"].update(report_gradient_statistics(prepared.callbacks[0].records, folder))
        return results

    def evaluate(self, model, splits, split):
        """Accuracy, top-k, per-class precision/recall/F1, confusion matrix, ECE (and ROC-AUC)."""
        from dlzoo.metrics.classification import classification_metrics

        outputs, labels = predict_split(model, splits, split)
        if split == "test":
            self.keep_test_outputs(model, splits, outputs, labels)  # the performance pictures show them
        result = classification_metrics(labels, outputs, splits.class_names)
        return {"split": split, "dataset": splits.name, "loss": result["log_loss"], **result}

    def headline_keys(self, split):
        """Loss and accuracy of every split; macro F1, ECE and ROC-AUC (two classes) of the test split too."""
        return ("loss", "accuracy") if split != "test" else \
            ("loss", "accuracy", "macro_f1", "expected_calibration_error", "roc_auc")

    def headline(self, result):
        """Loss and accuracy of every split; macro F1, ECE and ROC-AUC of the test split too."""
        return {key: result[key] for key in self.headline_keys(result["split"]) if key in result}

    def metric_names(self, config):
        """The supervised names, and the gradient ratios with ``train.gradient_statistics``."""
        names = super().metric_names(config)
        if config["train"].get("gradient_statistics"):
            names |= {"gradient_ratio_init", "gradient_ratio_final"}
        return names

    def evaluation_line(self, result):
        """``test accuracy 0.9861 · macro F1 0.9860 · ECE 0.0123 on 360 examples``."""
        return (f"{result['split']} accuracy {result['accuracy']:.4f} · macro F1 {result['macro_f1']:.4f} · "
                f"ECE {result['expected_calibration_error']:.4f} on {result['examples']} examples")

    def draw(self, model, splits, folder, config, test_result):
        """The confusion matrix; ROC / PR curves, reliability, confident mistakes (:mod:`dlzoo.metrics.performance`);
        the decision boundary for 2-D inputs; Grad-CAM and integrated gradients of a few test images
        with ``train.explain_samples``."""
        from dlzoo.metrics import performance

        figures.confusion_matrix(test_result["confusion_matrix"], splits.class_names,
                               folder / "plots" / "confusion_matrix.png")
        performance.draw(model, splits, folder, config, test_result, self.kept_test_outputs(model, splits))
        if splits.input_shape == (2,):
            figures.decision_boundary(lambda inputs: predict(model, inputs), *splits.arrays("test"),
                                    folder / "plots" / "decision_boundary.png", title=f"{config['name']} (test points)")
        if config["train"]["explain_samples"] and len(model.input_shape) == 4:  # image classifiers
            from dlzoo.plots.visualizations import explain_in_report

            explain_in_report(model, splits, folder, config["train"]["explain_samples"])
        from dlzoo.visualize import positional_encoding

        positional_encoding.report_section(model, folder)  # transformers: their position vectors (else nothing)

    def output_names(self):
        """``probabilities`` (one column per class) and ``predicted_class`` (an int32 id)."""
        return ("probabilities", "predicted_class")

    def serving_outputs(self, outputs):
        """Class probabilities (a sigmoid head's one column becomes two) and the predicted class."""
        import tensorflow as tf

        if outputs.shape[-1] == 1:
            outputs = tf.concat([1.0 - outputs, outputs], axis=-1)
        return {"probabilities": outputs, "predicted_class": tf.argmax(outputs, axis=-1, output_type=tf.int32)}

    def visualize_methods(self, model):
        """Every attribution and activation method that applies to the model (image classifiers)."""
        from dlzoo import visualize

        return visualize.applicable_methods(model) if len(model.input_shape) == 4 else []

    def predict(self, model, splits, inputs):
        """``"7  (p = 0.981; next: 9 0.012)"`` for each input, after its name for files
        (``"shoe.png: Sneaker  (p = ...)"``)."""
        from dlzoo.metrics.classification import as_class_probabilities

        labels = None
        if isinstance(inputs, ImageInputs):
            inputs, names = image_batch(inputs, splits.input_shape)
            labels = [label for label, _ in names]
        probabilities = as_class_probabilities(predict(model, self.fit_inputs(inputs, splits)))
        lines = []
        for row in probabilities:
            best, second = np.argsort(-row)[:2]
            lines.append(f"{splits.class_names[best]}  (p = {row[best]:.3f}; next: {splits.class_names[second]} "
                         f"{row[second]:.3f})")
        return [f"{label}: {line}" for label, line in zip(labels, lines)] if labels else lines


def gradient_statistics_callback(prepared):
    """Per-layer gradient norms and activation statistics on a fixed training batch."""
    from dlzoo.training.callbacks.gradient_statistics import GradientStatistics

    inputs, labels = prepared.splits.arrays("train", limit=256)
    return GradientStatistics(inputs, labels, prepared.model.loss)


def draw_augmentation(train_dataset, class_names, folder):
    """A grid of augmented training images, to check that the augmentation looks sensible."""
    for images, labels in train_dataset.take(1):
        shown = np.asarray(images)[:32]
        names = [class_names[int(label)] for label in np.asarray(labels)[:32]]
        figures.image_grid(shown, folder / "plots" / "augmentation.png", titles=names, title="augmented training samples")


def report_gradient_statistics(records, folder):
    """Plot the per-layer gradient statistics, add a report section, return summary metrics.

    The summary is the ratio of the first to the last kernel layer's gradient norm at
    initialization and after training: far below 1 means vanishing gradients.
    """
    from dlzoo.training.callbacks.gradient_plots import plot_gradient_statistics
    from dlzoo.training.callbacks.gradient_statistics import gradient_ratio

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
