"""Classical baselines: "is deep learning worth it here?"

Every classification and regression run also fits scikit-learn models on **the same split**
and **the same inputs, standardized the same way** as the network sees them (the training
split's mean and variance from ``splits.normalization``, then flattened to one row per
example):

* classification: logistic regression and an RBF-kernel SVM;
* regression: linear (least-squares) regression and a random forest.

On large data (more than :data:`LARGE_TRAINING_SPLIT` training examples: Fashion-MNIST's 53,000)
a kernel SVM is quadratic in the examples and slow to predict with, so the baselines are fitted
on a seeded, stratified subsample of :data:`TRAIN_SAMPLE` training examples and scored on
:data:`EVALUATION_SAMPLE` test examples (not on the validation split), the logistic regression
regularized and stopped after 100 iterations, and the report says so ("fitted on 3,000 of 53,000
training examples"): together they stay near a tenth of the network's training time.

Each baseline reports its validation and test score and its fit time; :func:`verdict` says in
one line whether the network is clearly better than the best of them, about the same, or worse.
The numbers go into ``metrics.json`` (``record["baselines"]`` and the metric
``baseline_best_test_accuracy`` / ``baseline_best_test_r2``) and a report section.

Text (``tfds:imdb_reviews``: raw strings) gets a logistic regression on TF-IDF features of
word unigrams and bigrams (vocabulary from the training split): the classic bag-of-words
baseline a sequence model must beat.

Streamed datasets (image folders, TFDS read batch by batch) are skipped with a note: loading
them whole into memory to fit an SVM is what streaming exists to avoid.
"""

import math
import time
import warnings

import numpy as np
import threadpoolctl

from dlzoo.runs import report

# Above this many training examples the baselines are fitted and scored on subsamples: fitted on all
# 53,000 Fashion-MNIST images (logistic regression, then a random forest) they took over 5.5 minutes,
# longer than the network; on the subsamples 5-10 s on a busy 2-core machine (benchmarks/real_data_scale.py).
LARGE_TRAINING_SPLIT = 10000
TRAIN_SAMPLE = 3000
EVALUATION_SAMPLE = 2000


def standardized_rows(splits, split, count=None, seed=0):
    """Inputs of ``split`` standardized with the training statistics, one flat row per example.

    ``count``: only a seeded subsample of that many rows (stratified by class), chosen before
    the float32 copy is made, so that a large split is never copied whole.
    """
    inputs, targets = splits.arrays(split)
    if count is not None and len(targets) > count:
        rows = subsample_rows(np.asarray(targets), count, seed, splits.targets == "classes")
        inputs, targets = inputs[rows], np.asarray(targets)[rows]
    # A new float32 array (never the split's own), standardized in place: one copy, no temporaries.
    inputs = np.array(inputs, dtype="float32")
    normalization = splits.normalization or {}
    if normalization.get("mean") is not None:
        # The same broadcast as the model's Normalization layer: per channel / per feature.
        inputs -= np.asarray(normalization["mean"], dtype="float32")
        inputs /= np.sqrt(np.asarray(normalization["variance"], dtype="float32"))
    return inputs.reshape(len(inputs), -1), np.asarray(targets)


def candidate_models(targets, train_size, seed, large=False):
    """``[(name, scikit-learn estimator)]`` for ``"classes"`` or ``"values"`` targets.

    ``large``: a subsample of a large split, where an unregularized logistic regression on
    hundreds of pixels needs thousands of slow iterations (12 s on 5,000 Fashion-MNIST images,
    for a worse test accuracy than C = 0.01 reaches in 100 iterations).
    """
    from sklearn import linear_model, svm

    if targets == "classes":
        logistic = linear_model.LogisticRegression(C=0.01, max_iter=100) if large else \
            linear_model.LogisticRegression(max_iter=2000)
        return [("logistic regression", logistic), ("RBF-SVM", svm.SVC(kernel="rbf", C=10.0, gamma="scale"))]
    from sklearn import ensemble  # only regression needs it (its import costs a few MB)

    return [("linear regression", linear_model.LinearRegression()),
            ("random forest", ensemble.RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=-1))]


def fit_quietly(estimator, inputs, labels):
    """Fit ``estimator``; False when scikit-learn says it stopped before converging.

    That warning is eight lines in the middle of a run's output, about a baseline that is capped
    on purpose (100 iterations on large data): the report says it in a word instead. Other
    warnings pass through unchanged.
    """
    from sklearn.exceptions import ConvergenceWarning

    # One BLAS thread: next to TensorFlow's thread pools, OpenBLAS threads spin against each
    # other and made logistic regression on 3072 pixels 30x slower on a busy 2-core machine.
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(inputs, labels)
    for warning in caught:
        if not issubclass(warning.category, ConvergenceWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return not any(issubclass(warning.category, ConvergenceWarning) for warning in caught)


def score(estimator, targets, inputs, labels):
    """Accuracy for classes, R² for values (the headline metric of each task)."""
    from sklearn import metrics

    predictions = estimator.predict(inputs)
    if targets == "classes":
        return float(metrics.accuracy_score(labels, predictions))
    return float(metrics.r2_score(labels, predictions))


def fit_baselines(splits, seed=0):
    """Fit every candidate on the training split; returns ``{"metric", "models": [...]}`` or ``None``.

    Returns ``None`` for data that is not held in memory (a streamed bundle) and explains why in
    ``{"skipped": reason}`` instead.
    """
    from dlzoo.data.splits import Splits

    if not isinstance(splits, Splits):
        return {"skipped": f"{splits.name} is streamed from disk; classical baselines need the data in memory "
                           "(set data.stream = false to get them)"}
    targets = splits.targets
    metric = "accuracy" if targets == "classes" else "r2"
    if getattr(splits, "input_dtype", None) == "string":
        return fit_text_baseline(splits)
    sizes = splits.sizes()
    large = sizes["train"] > LARGE_TRAINING_SPLIT
    train_inputs, train_labels = standardized_rows(splits, "train", TRAIN_SAMPLE if large else None, seed)
    if targets == "classes" and len(np.unique(train_labels)) < 2:
        return {"skipped": "the training split has a single class"}
    # Large data: the test split only (a kernel SVM's predictions cost as much as its fit).
    evaluated = {split: standardized_rows(splits, split, EVALUATION_SAMPLE if large else None, seed + 1)
                 for split in (("test",) if large else ("val", "test"))}
    sample = None
    if large:
        sample = {"train": [len(train_labels), sizes["train"]], "test": [len(evaluated["test"][1]), sizes["test"]]}
    models = []
    for name, estimator in candidate_models(targets, len(train_labels), seed, large):
        start = time.perf_counter()
        converged = fit_quietly(estimator, train_inputs, train_labels)
        fit_seconds = time.perf_counter() - start
        row = {"name": name, "fit_seconds": fit_seconds}
        if not converged:
            row["converged"] = False
        for split, (inputs, labels) in evaluated.items():
            if len(labels):
                row[f"{split}_{metric}"] = score(estimator, targets, inputs, labels)
        models.append(row)
    result = {"metric": metric, "models": models, "test_examples": len(evaluated["test"][1])}
    if sample:
        result["sample"] = sample
        result["inputs"] = (f"the same standardized inputs (flattened), fitted on {sample['train'][0]:,} of "
                            f"{sample['train'][1]:,} training examples and scored on {sample['test'][0]:,} of "
                            f"{sample['test'][1]:,} test examples (seeded, stratified subsamples; logistic "
                            "regression with C = 0.01, 100 iterations: a kernel SVM on all of them would take "
                            "longer than training the network)")
    return result


def subsample_rows(labels, count, seed, stratify):
    """Sorted indices of a seeded subsample of ``count`` of ``labels`` (stratified by class for classes)."""
    from sklearn.model_selection import train_test_split

    # Stratifying needs two examples of every class; a rare class falls back to a plain sample.
    stratify = stratify and np.unique(labels, return_counts=True)[1].min() >= 2
    chosen, _ = train_test_split(np.arange(len(labels)), train_size=count, random_state=seed,
                                 stratify=labels if stratify else None)
    return np.sort(chosen)


def fit_text_baseline(splits):
    """Logistic regression on TF-IDF word unigrams and bigrams of raw strings (classes only)."""
    from sklearn import feature_extraction, linear_model

    texts, labels = splits.arrays("train")
    if len(np.unique(labels)) < 2:
        return {"skipped": "the training split has a single class"}
    start = time.perf_counter()
    # min_df = 2 drops words seen once (typos, names), except on toy data where it would drop all.
    vectorizer = feature_extraction.text.TfidfVectorizer(ngram_range=(1, 2), min_df=2 if len(texts) >= 1000 else 1,
                                                         max_features=200000, sublinear_tf=True)
    estimator = linear_model.LogisticRegression(max_iter=1000)
    converged = fit_quietly(estimator, vectorizer.fit_transform([str(text) for text in texts]), labels)
    row = {"name": "TF-IDF + logistic regression", "fit_seconds": time.perf_counter() - start}
    if not converged:
        row["converged"] = False
    for split in ("val", "test"):
        split_texts, split_labels = splits.arrays(split)
        if len(split_labels):
            row[f"{split}_accuracy"] = score(estimator, "classes", vectorizer.transform([str(t) for t in split_texts]),
                                             split_labels)
    return {"metric": "accuracy", "models": [row],
            "inputs": "TF-IDF of word unigrams and bigrams (vocabulary of the training split)"}


def best_model(result):
    """The baseline with the best test score (``None`` when there is none)."""
    metric = result.get("metric")
    scored = [model for model in result.get("models", []) if f"test_{metric}" in model]
    return max(scored, key=lambda model: model[f"test_{metric}"]) if scored else None


def margin(metric, value, test_size):
    """How far apart two test scores must be to call one better.

    For accuracy: two standard errors of a proportion on the test split (about 0.02 on 360
    digits); for R² a fixed 0.02. Smaller differences are noise of the split and the seed.
    """
    if metric == "accuracy":
        p = min(max(value, 0.01), 0.99)
        return 2.0 * math.sqrt(p * (1.0 - p) / max(test_size, 1))
    return 0.02


def verdict(network_value, result, test_size):
    """One line: is the network clearly better than the best classical baseline?"""
    best = best_model(result)
    if best is None or network_value is None:
        return "no baseline to compare with"
    metric = result["metric"]
    baseline_value = best[f"test_{metric}"]
    gap = network_value - baseline_value
    allowed = margin(metric, max(network_value, baseline_value), test_size)
    name = "accuracy" if metric == "accuracy" else "R²"
    numbers = f"test {name} {network_value:.4f} vs {baseline_value:.4f} ({best['name']}, fit in {best['fit_seconds']:.2g} s)"
    if gap > allowed:
        return f"the network beats the best classical baseline: {numbers}; deep learning pays off here"
    if gap < -allowed:
        return f"the classical baseline is better: {numbers}; a network is not worth it here (or is undertrained)"
    return (f"the network and the best classical baseline are within noise (±{allowed:.3f}): {numbers}; "
            "the simpler model is the better choice")


def model_label(model):
    """A baseline's name in the report, saying when it stopped at its iteration cap."""
    return model["name"] + (" (stopped at its iteration cap, not converged)" if model.get("converged") is False else "")


def markdown_section(network_value, result, test_size, network_val=None):
    """The report section: a table of baselines next to the network, and the verdict."""
    if "skipped" in result:
        return f"## Classical baselines\n\nSkipped: {result['skipped']}.\n"
    metric = result["metric"]
    name = "accuracy" if metric == "accuracy" else "R²"
    rows = [[model_label(model), model.get(f"val_{metric}", "—"), model.get(f"test_{metric}", "—"), model["fit_seconds"]]
            for model in result["models"]]
    rows.append(["**the network**", "—" if network_val is None else network_val, network_value, "(see above)"])
    return ("## Classical baselines\n\n"
            f"scikit-learn models on the same split and {result.get('inputs', 'the same standardized inputs (flattened)')}:\n\n"
            + report.markdown_table(["model", f"val {name}", f"test {name}", "fit time (s)"], rows)
            + f"\n\n**Verdict:** {verdict(network_value, result, test_size)}.\n")


def attach(results, splits, folder, seed=0):
    """Fit the baselines for a finished run and add them to ``results`` (for metrics.json) and the report.

    ``results`` is what :meth:`SupervisedTask.finish` returns; its ``metrics`` gain
    ``baseline_best_test_<metric>`` and ``results["baselines"]`` holds every model's scores,
    fit times and the verdict.
    """
    result = fit_baselines(splits, seed)
    metrics = results.setdefault("metrics", {})
    if "skipped" not in result:
        metric = result["metric"]
        network_value = metrics.get(f"test_{metric}")
        best = best_model(result)
        if best is not None:
            metrics[f"baseline_best_test_{metric}"] = best[f"test_{metric}"]
        # The margin of "within noise" comes from the test examples the baselines were scored on.
        test_size = result.get("test_examples", splits.sizes()["test"])
        result["verdict"] = verdict(network_value, result, test_size)
        report.write_section(folder, "15-baselines", markdown_section(network_value, result, test_size,
                                                                      metrics.get(f"val_{metric}")))
    else:
        report.write_section(folder, "15-baselines", markdown_section(None, result, 0))
    results["baselines"] = result
    return result
