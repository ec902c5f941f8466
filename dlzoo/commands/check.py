"""Debugging aids: ``dlzoo check RECIPE`` (no training) and ``dlzoo train RECIPE --overfit-batch``.

``check`` looks for the bugs that waste a day of training, each with a one-line verdict:

1. **shapes** through the model, layer by layer (a wrong reshape shows at once);
2. the **initial loss** next to its expected value: a softmax classifier that knows nothing
   predicts 1/C for every class, so its cross-entropy starts at ln(C) (ln 2 for a sigmoid); a
   regression on standardized targets starts near 1. Far above means a too-large initial scale
   or a wrong loss/head pairing. Other tasks give their own value (``Task.training_parts``): an
   autoencoder that outputs the mean image, ln(vocabulary) for a language model or translator;
3. **gradient norms per layer at initialization**: a zero gradient is a disconnected or dead
   layer; a spread of many orders of magnitude means vanishing or exploding gradients;
4. **label balance** per split: a rare class makes accuracy a misleading number;
5. **duplicates** between train (+ validation) and test (exact, or near: much closer to a training example
   than test examples usually are): leakage that makes the test score a lie.

``--overfit-batch`` trains on *one* batch until the loss is near zero. A model that cannot
memorise 32 examples has a bug (a learning rate of zero, a frozen model, labels that do not
reach the loss), whatever its architecture (Karpathy, "A recipe for training neural networks").
"""

import math

import numpy as np

from dlzoo.metrics.initial_loss import LOSS_TOLERANCE
from dlzoo.runs import report
from dlzoo.runs import folders

# A finding is OK / WARNING / PROBLEM; the CLI prints it first on its line.
OK, WARNING, PROBLEM = "ok", "warning", "PROBLEM"
# Max/min gradient norm across layers beyond this: vanishing or exploding gradients.
GRADIENT_SPREAD = 1e3
# A test example closer to a training example than this fraction of the typical distance is a near duplicate.
NEAR_FRACTION = 0.05


def checkable_task(config):
    """The recipe's task, refused (before TensorFlow loads) unless it declares the "check" capability."""
    from dlzoo import tasks

    task = tasks.create(config["task"])
    task.require("check", config["name"])
    return task


# 1. Shapes ---------------------------------------------------------------------------------

def layer_shapes(model):
    """``[(layer name, layer class, output shape, parameters)]`` through the model, nested models expanded."""
    rows = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # a nested model: show its own layers
            rows.extend((f"{layer.name}/{name}", kind, shape, count) for name, kind, shape, count in layer_shapes(layer))
            continue
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = "?"
        rows.append((layer.name, type(layer).__name__, str(shape).replace("None", "batch"), int(layer.count_params())))
    return rows


# 2. Initial loss ---------------------------------------------------------------------------


def loss_finding(loss, expected, explanation, highest_ratio=1.0 + LOSS_TOLERANCE):
    """Verdict on the initial loss compared with its expected value."""
    if expected is None:
        return OK, f"initial loss {loss:.4f} ({explanation})"
    ratio = loss / expected
    line = f"initial loss {loss:.4f}, expected {expected:.4f} ({explanation})"
    if 1.0 - LOSS_TOLERANCE <= ratio <= highest_ratio:
        return OK, line
    if ratio > 1.0:
        return PROBLEM, line + ": too high; the initial outputs are too confident (weights too large, or a wrong loss)"
    return WARNING, line + ": suspiciously low; do the labels leak into the inputs?"


# 3. Gradients ------------------------------------------------------------------------------

def gradient_norms(model, inputs, labels, loss_function=None):
    """``[(variable path, gradient norm)]`` of the loss on one batch at the current weights
    (``loss_function(inputs, labels, training)``; default: the model's compiled loss)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        if loss_function is None:
            loss = model.loss(labels, model(inputs, training=True))
        else:
            loss = loss_function(inputs, labels, True)
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    return [(variable.path, 0.0 if gradient is None else float(tf.norm(gradient)))
            for variable, gradient in zip(variables, gradients)]


def gradient_finding(norms):
    """Verdict on per-variable gradient norms: zeros, and the spread of the kernels' norms."""
    zero = [path for path, norm in norms if norm == 0.0]
    kernels = [norm for path, norm in norms if path.endswith("kernel") and norm > 0]
    if zero:
        return PROBLEM, f"{len(zero)} weights get no gradient at all ({', '.join(zero[:3])}): disconnected or dead"
    if len(kernels) >= 2:
        spread = max(kernels) / min(kernels)
        if spread > GRADIENT_SPREAD:
            return WARNING, (f"kernel gradient norms span {spread:.2g}x across layers: vanishing or exploding "
                             "gradients (try ReLU, He initialization, batch normalization)")
        return OK, f"kernel gradient norms within {spread:.3g}x of each other across {len(kernels)} layers"
    return OK, "every weight gets a gradient"


# 4. Labels ---------------------------------------------------------------------------------

def label_balance(splits):
    """``{split: counts per class}`` (classification only)."""
    return {split: np.bincount(splits.arrays(split)[1], minlength=splits.num_classes).tolist()
            for split in ("train", "val", "test")}


def balance_finding(balance):
    """Verdict: the ratio of the largest to the smallest class in each split."""
    worst, where = 1.0, "train"
    for split, counts in balance.items():
        present = [count for count in counts if count > 0]
        if len(present) < len(counts):
            return PROBLEM, f"the {split} split lacks {len(counts) - len(present)} classes entirely"
        ratio = max(present) / min(present)
        if ratio > worst:
            worst, where = ratio, split
    if worst > 3:
        return WARNING, (f"imbalanced: the largest class is {worst:.1f}x the smallest ({where}); "
                         "read macro F1 and per-class recall, not just accuracy")
    return OK, f"balanced: largest/smallest class at most {worst:.2f}x in every split"


# 5. Duplicates -----------------------------------------------------------------------------

def duplicates(train_inputs, test_inputs):
    """Exact and near duplicates of test examples in the training split.

    Exact: identical bytes. Near: the distance to the closest training example is below
    ``NEAR_FRACTION`` of the median such distance over the test split (inputs centred and scaled),
    i.e. the example is far closer to one training example than test examples usually are.
    Returns ``{"exact": [test indices], "near": [test indices], "median_distance": d}``.
    """
    from sklearn.neighbors import NearestNeighbors

    train_rows = np.ascontiguousarray(train_inputs.reshape(len(train_inputs), -1), dtype="float32")
    test_rows = np.ascontiguousarray(test_inputs.reshape(len(test_inputs), -1), dtype="float32")
    seen = {row.tobytes() for row in train_rows}
    exact = [index for index, row in enumerate(test_rows) if row.tobytes() in seen]
    # One scale for all features (not per feature): a nearly constant pixel would otherwise turn
    # a tiny difference into a large one.
    mean, scale = train_rows.mean(axis=0), max(float(train_rows.std()), 1e-12)
    neighbours = NearestNeighbors(n_neighbors=1).fit((train_rows - mean) / scale)
    distances = neighbours.kneighbors((test_rows - mean) / scale)[0][:, 0]
    median = float(np.median(distances))
    exact_set = set(exact)
    near = [int(index) for index in np.flatnonzero(distances < NEAR_FRACTION * median) if index not in exact_set]
    return {"exact": exact, "near": near, "median_distance": median}


def duplicate_finding(found, test_size):
    """Verdict on train/test duplicates (leakage)."""
    exact, near = len(found["exact"]), len(found["near"])
    if exact or near:
        return PROBLEM, (f"{exact} test examples also in train/val exactly, {near} more nearly "
                         f"(of {test_size}); the test score overstates generalization")
    return OK, f"no exact or near duplicates of the {test_size} test examples in train/val"


# The check ---------------------------------------------------------------------------------

def check(config, echo=print, batch_size=256):
    """Run every check on the recipe's data and untrained model; returns ``{name: (level, line)}``."""
    from dlzoo.commands import lifecycle
    from dlzoo.training import devices

    task = checkable_task(config)
    prepared = lifecycle.prepare(task, config, quick=False)
    parts = task.training_parts(prepared)  # the task says what its model, loss and data are
    model, splits = parts.model, parts.splits
    findings = {}
    echo(f"== check {config['name']}: {task.describe(prepared)}")
    echo("\nshapes through the model:")
    echo(report.format_table([list(row) for row in layer_shapes(model)], ["layer", "type", "output shape", "params"]))
    inputs, labels = parts.batch(batch_size)
    devices.seed_everything(config["train"]["seed"])
    # training=True: the loss the first step sees (batch norm uses the batch's statistics, not
    # its untrained moving averages, which would make every batch-norm model look broken).
    loss = float(parts.loss(inputs, labels, True))
    findings["initial loss"] = loss_finding(loss, *parts.expected_loss)
    norms = gradient_norms(model, inputs, labels, parts.loss)
    echo("\ngradient norms at initialization (one batch):")
    echo(report.format_table([[path, f"{norm:.3g}"] for path, norm in norms], ["weights", "gradient norm"]))
    findings["gradients"] = gradient_finding(norms)
    if parts.classes:
        balance = label_balance(splits)
        echo("\nexamples per class:")
        echo(report.format_table([[split, *counts] for split, counts in balance.items()],
                                 ["split", *splits.class_names]))
        findings["labels"] = balance_finding(balance)
    if splits is not None:
        # Train and validation together: both are used to fit or select the model.
        seen = [*splits.arrays("train")[0], *splits.arrays("val")[0]]
        test_inputs = splits.arrays("test")[0]
        if len(test_inputs) and isinstance(test_inputs[0], str):  # strings (a translator's sources): exact only
            known = set(seen)
            found = {"exact": [index for index, text in enumerate(test_inputs) if text in known], "near": []}
        else:
            found = duplicates(np.asarray(seen), test_inputs)
        findings["leakage"] = duplicate_finding(found, len(test_inputs))
    else:
        echo("\nleakage: not checked (this task's data are not separate examples: a running text, sampled word pairs)")
    echo("\nverdicts:")
    for name, (level, line) in findings.items():
        echo(f"  [{level}] {name}: {line}")
    return findings


# Overfitting one batch ---------------------------------------------------------------------

def overfit_batch(config, out=None, steps=300, echo=print):
    """Train on one batch until the loss is near zero; write a small run folder with the verdict.

    Passes when the loss falls below 5% of its first value (or below 0.01) within ``steps``
    steps; the task may ask for another fraction (``TrainingParts.overfit_fraction``: a VAE's
    loss keeps its KL term). Returns ``(folder, record)``.
    """
    import keras

    from dlzoo.config import recipes
    from dlzoo.commands import lifecycle
    from dlzoo.training import devices

    task = checkable_task(config)
    prepared = lifecycle.prepare(task, config, quick=False)
    parts = task.training_parts(prepared)
    model = parts.model
    inputs, labels = parts.batch(config["data"]["batch_size"])
    size = len(labels)  # the inputs may be a tuple (a translator's source and decoder inputs)
    folder = folders.new_run_folder(f"{config['name']}-overfit-batch", out)
    folders.atomic_write_text(folder / folders.CONFIG_FILE, recipes.to_toml(config))
    losses = []

    class Record(keras.callbacks.Callback):
        """Keep every step's loss; stop once it is near zero."""

        def on_epoch_end(self, epoch, logs=None):
            losses.append(float(logs["loss"]))
            if losses[-1] < 0.01 or losses[-1] < parts.overfit_fraction * losses[0]:
                self.model.stop_training = True

    devices.seed_everything(config["train"]["seed"])
    # One "epoch" = one step on the same batch (batch_size = the whole batch), no shuffling needed.
    model.fit(inputs, labels, batch_size=size, epochs=steps, verbose=0, shuffle=False, callbacks=[Record()])
    final = losses[-1] if losses else float("nan")
    passed = bool(losses) and math.isfinite(final) and (final < 0.01 or final < parts.overfit_fraction * losses[0])
    if passed:
        verdict = (f"the model overfits one batch of {size}: loss {losses[0]:.4f} -> {final:.4f} in "
                   f"{len(losses)} steps (it can learn; now regularize and train on all the data)")
    else:
        verdict = (f"the model CANNOT overfit one batch of {size}: loss {losses[0]:.4f} -> {final:.4f} after "
                   f"{len(losses)} steps. That is a bug, not a lack of data: check the learning rate (is it 0?), "
                   "frozen layers, the loss/label pairing and the data pipeline")
    from dlzoo.plots import figures

    figure, axes = figures.pyplot_module().subplots(figsize=(6, 4))
    axes.plot(range(1, len(losses) + 1), losses)
    axes.set_yscale("log")
    axes.set_xlabel("step on the same batch")
    axes.set_ylabel("loss")
    axes.set_title(f"{config['name']}: overfitting one batch")
    figures.save_figure(figure, folder / "plots" / "overfit_batch.png")
    record = {"recipe": f"{config['name']}-overfit-batch", "task": config["task"], "status": "completed",
              "overfit_batch": {"passed": passed, "steps": len(losses), "first_loss": losses[0] if losses else None,
                                "final_loss": final, "batch_size": size, "verdict": verdict},
              "metrics": {"overfit_first_loss": losses[0] if losses else None, "overfit_final_loss": final}}
    folders.atomic_write_json(folder / folders.METRICS_FILE, record)
    report.write_section(folder, "10-overfit-batch", (
        "## Overfitting one batch\n\n"
        f"**{'passed' if passed else 'FAILED'}:** {verdict}.\n\n![loss on one batch](plots/overfit_batch.png)\n"))
    report.write_report(folder)
    echo(("ok: " if passed else "PROBLEM: ") + verdict)
    echo(f"report: {folder / 'report.md'}")
    return folder, record

