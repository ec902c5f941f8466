"""Performance pictures of a classifier on its test split, and what the model costs.

Every classification run gets (through :meth:`ClassifyTask.draw`):

* per-class **ROC** and **precision-recall** curves, one-vs-rest, with their AUC / average
  precision (scikit-learn's ``roc_curve``, ``precision_recall_curve``, ``auc``,
  ``average_precision_score``);
* a **reliability diagram**: accuracy against confidence in 10 bins (scikit-learn's
  ``calibration_curve`` on "was the top class right?" vs its probability); a calibrated model
  lies on the diagonal;
* the **most confidently misclassified** test images (image data only): the mistakes to look
  at first (label noise, ambiguous examples, or a systematic confusion);
* a report section with top-k accuracy, the parameter count and the **FLOPs per example**
  (multiply-adds x 2 of every Dense and convolution layer, counted from the layer shapes).
"""

import numpy as np

from dlzoo.plots import figures
from dlzoo.runs import report


def class_probabilities(model, inputs):
    """(n, classes) probabilities (a sigmoid head's one column becomes two)."""
    from dlzoo.metrics.classification import as_class_probabilities
    from dlzoo.training.inference import predict

    return as_class_probabilities(predict(model, inputs))


def curves(labels, probabilities):
    """Per class: ROC (fpr, tpr, auc) and PR (recall, precision, average precision); classes absent from the labels are skipped."""
    from sklearn import metrics

    result = []
    for index in range(probabilities.shape[1]):
        truth = labels == index
        if truth.all() or not truth.any():
            continue
        fpr, tpr, _ = metrics.roc_curve(truth, probabilities[:, index])
        precision, recall, _ = metrics.precision_recall_curve(truth, probabilities[:, index])
        result.append({"class": index, "fpr": fpr, "tpr": tpr, "roc_auc": float(metrics.auc(fpr, tpr)),
                       "precision": precision, "recall": recall,
                       "average_precision": float(metrics.average_precision_score(truth, probabilities[:, index]))})
    return result


def reliability(labels, probabilities, bins=10):
    """``(mean confidence per bin, accuracy per bin, examples per bin)`` of the top-class predictions."""
    from sklearn.calibration import calibration_curve

    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(int)
    if correct.min() == correct.max():  # calibration_curve needs both outcomes
        return np.array([confidence.mean()]), np.array([correct.mean()]), np.array([len(correct)])
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform")
    counts = np.histogram(confidence, bins=np.linspace(0, 1, bins + 1))[0]
    return mean_confidence, accuracy, counts[counts > 0]


def confident_mistakes(labels, probabilities, count=16):
    """Indices of the wrong predictions with the highest confidence, most confident first."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    order = np.argsort(-probabilities[wrong].max(axis=1))
    return wrong[order][:count]


def flops_per_example(model):
    """Floating-point operations of one forward pass: 2 x multiply-adds of Dense and convolution layers.

    Counted from each layer's kernel and output shapes (nested models included); activations,
    normalization and pooling are cheap next to these and left out.
    """
    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            total += flops_per_example(layer)
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        kind = type(layer).__name__
        try:
            output_shape = tuple(layer.output.shape[1:])
        except (AttributeError, ValueError):
            continue
        kernel_size = int(np.prod(kernel.shape))
        if kind == "Dense":
            positions = int(np.prod(output_shape[:-1])) if len(output_shape) > 1 else 1
            total += 2 * kernel_size * positions
        elif kind.startswith("Conv") or kind.startswith("DepthwiseConv") or kind.startswith("SeparableConv"):
            positions = int(np.prod(output_shape[:-1]))  # output pixels (or time steps)
            total += 2 * kernel_size * positions
    return int(total)


def draw(model, splits, folder, config, test_result, test_outputs=None):
    """Write the pictures and the report section; returns ``{"flops_per_example": n}``.

    ``test_outputs``: ``(outputs, labels)`` of the test split that the evaluation already
    computed; they are used when their labels are the test split's, in its order (else the
    model predicts the test split here).
    """
    inputs, labels = splits.arrays("test")
    labels = np.asarray(labels).astype(int)
    if test_outputs is not None and np.array_equal(np.asarray(test_outputs[1]).reshape(-1), labels):
        from dlzoo.metrics.classification import as_class_probabilities

        probabilities = as_class_probabilities(test_outputs[0])
    else:
        probabilities = class_probabilities(model, inputs)
    names = splits.class_names
    pictures = []
    found = curves(labels, probabilities)
    if found:
        draw_curves(found, names, folder / "plots" / "roc_pr_curves.png", config["name"])
        pictures.append(("roc_pr_curves.png", "Per-class ROC and precision-recall curves (test, one-vs-rest)"))
    confidence, accuracy, counts = reliability(labels, probabilities)
    draw_reliability(confidence, accuracy, counts, test_result.get("expected_calibration_error"),
                     folder / "plots" / "reliability.png", config["name"])
    pictures.append(("reliability.png", "Reliability diagram (test): accuracy vs confidence"))
    mistakes = confident_mistakes(labels, probabilities)
    if len(mistakes) and len(inputs.shape) == 4:
        titles = [f"{names[labels[i]]}→{names[probabilities[i].argmax()]} {probabilities[i].max():.2f}"
                  for i in mistakes]
        shown = inputs[mistakes]
        low, high = float(shown.min()), float(shown.max())
        figures.image_grid((shown - low) / max(high - low, 1e-9), folder / "plots" / "confident_mistakes.png",
                         titles=titles, title="most confidently misclassified (true→predicted, confidence)")
        pictures.append(("confident_mistakes.png", "Most confidently misclassified test examples"))
    flops = flops_per_example(model)
    rows = [["parameters", int(model.count_params())], ["FLOPs per example (forward)", flops],
            ["test accuracy (top-1)", test_result["accuracy"]]]
    rows += [[f"top-{k} accuracy", value] for k, value in test_result.get("top_k_accuracy", {}).items()]
    if found:
        rows.append(["mean one-vs-rest ROC-AUC", float(np.mean([curve["roc_auc"] for curve in found]))])
        rows.append(["mean average precision", float(np.mean([curve["average_precision"] for curve in found]))])
    text = "## Performance\n\n" + report.markdown_table(["", "value"], rows) + "\n\n" + "\n".join(
        f"**{caption}**\n\n![{caption}](plots/{name})\n" for name, caption in pictures)
    report.write_section(folder, "20-performance", text)
    return {"flops_per_example": flops}


def draw_curves(found, names, path, title):
    """ROC (left) and precision-recall (right), one line per class."""
    pyplot = figures.pyplot_module()
    figure, (roc_axes, pr_axes) = pyplot.subplots(1, 2, figsize=(11, 4.8))
    for curve in found:
        name = names[curve["class"]]
        roc_axes.plot(curve["fpr"], curve["tpr"], linewidth=1, label=f"{name} ({curve['roc_auc']:.3f})")
        pr_axes.plot(curve["recall"], curve["precision"], linewidth=1, label=f"{name} ({curve['average_precision']:.3f})")
    roc_axes.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8)
    roc_axes.set(xlabel="false positive rate", ylabel="true positive rate", title=f"{title}: ROC (AUC)")
    pr_axes.set(xlabel="recall", ylabel="precision", title="precision-recall (average precision)")
    for axes in (roc_axes, pr_axes):
        axes.legend(fontsize=7, loc="lower right" if axes is roc_axes else "lower left")
    figures.save_figure(figure, path)


def draw_reliability(confidence, accuracy, counts, ece, path, title):
    """Accuracy vs confidence per bin, the diagonal, and how many examples each bin holds."""
    pyplot = figures.pyplot_module()
    figure, axes = pyplot.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfectly calibrated")
    axes.plot(confidence, accuracy, marker="o", label="model")
    for x, y, count in zip(confidence, accuracy, counts):
        axes.annotate(str(int(count)), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ece_text = f" (ECE {ece:.3f})" if ece is not None else ""
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence (top-class probability)", ylabel="accuracy",
             title=f"{title}: reliability{ece_text}")
    axes.legend()
    figures.save_figure(figure, path)
