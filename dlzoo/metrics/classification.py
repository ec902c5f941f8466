"""Classification metrics from predicted probabilities, and evaluation of a model on a split.

The metric functions are pure NumPy / scikit-learn: they take labels and probabilities and
return JSON-ready dicts, so the same numbers appear in ``metrics.json`` after training, in
``evaluation.json`` after ``dlzoo evaluate``, and in the report.
"""

import numpy as np

CALIBRATION_BINS = 15


def as_class_probabilities(outputs):
    """Turn head outputs into one column per class: a sigmoid (n, 1) becomes (n, 2)."""
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.ndim == 1:
        outputs = outputs[:, np.newaxis]
    if outputs.shape[1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=1)
    # float32 softmax rows sum to 1 only up to rounding; scikit-learn checks the sum.
    return outputs / outputs.sum(axis=1, keepdims=True)


def expected_calibration_error(labels, probabilities, bins=CALIBRATION_BINS):
    """Expected calibration error: the confidence-weighted gap between confidence and accuracy.

    Predictions are grouped into ``bins`` equal-width confidence bins; ECE is the average over
    bins of |accuracy - mean confidence|, weighted by the share of predictions in the bin
    (Guo et al. 2017, "On Calibration of Modern Neural Networks").
    """
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for lower, upper in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lower) & (confidence <= upper)
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def top_k_accuracy(labels, probabilities, k):
    """Fraction of examples whose true class is among the ``k`` most probable."""
    top = np.argsort(-probabilities, axis=1)[:, :k]
    return float(np.mean([label in row for label, row in zip(labels, top)]))


def classification_metrics(labels, outputs, class_names):
    """Every classification metric dlzoo reports, as a JSON-ready dict.

    Args:
        labels: integer class ids, shape (n,).
        outputs: model outputs, (n, classes) probabilities or (n, 1) sigmoid probabilities.
        class_names: one name per class.

    Returns:
        ``accuracy``, ``top_k_accuracy`` (k = 3 and 5 where k < classes), ``macro_f1``,
        ``per_class`` (precision, recall, F1, support), ``confusion_matrix`` (rows: true class),
        ``expected_calibration_error``, ``log_loss`` and, for two classes, ``roc_auc``.
    """
    from sklearn import metrics

    labels = np.asarray(labels).astype("int64").reshape(-1)
    probabilities = as_class_probabilities(outputs)
    class_count = len(class_names)
    predictions = probabilities.argmax(axis=1)
    class_ids = list(range(class_count))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predictions, labels=class_ids, zero_division=0
    )
    result = {
        "accuracy": float(np.mean(predictions == labels)),
        "macro_f1": float(np.mean(f1)),
        "log_loss": float(metrics.log_loss(labels, probabilities, labels=class_ids)),
        "expected_calibration_error": expected_calibration_error(labels, probabilities),
        "top_k_accuracy": {
            str(k): top_k_accuracy(labels, probabilities, k) for k in (3, 5) if k < class_count
        },
        "per_class": {
            name: {
                "precision": float(precision[index]),
                "recall": float(recall[index]),
                "f1": float(f1[index]),
                "support": int(support[index]),
            }
            for index, name in enumerate(class_names)
        },
        "confusion_matrix": metrics.confusion_matrix(labels, predictions, labels=class_ids).tolist(),
        "examples": int(len(labels)),
    }
    if class_count == 2 and len(np.unique(labels)) == 2:
        result["roc_auc"] = float(metrics.roc_auc_score(labels, probabilities[:, 1]))
    return result


def headline(metrics_of_split):
    """The few numbers worth a table column: accuracy, macro F1, ECE (and ROC-AUC when binary)."""
    keys = ("accuracy", "macro_f1", "expected_calibration_error", "roc_auc")
    return {key: metrics_of_split[key] for key in keys if key in metrics_of_split}
