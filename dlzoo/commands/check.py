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
   than test examples usually are): leakage that makes the test score a lie. Exact copies are
   looked for among all test examples, near ones among at most 2,000 of them (a seeded sample;
   the line says so), so that 70,000 images take seconds.

``dlzoo check DATASET`` (a dataset spec that is not a recipe: ``fashion_mnist``, ``idx:FOLDER``)
runs the checks of the data alone: split sizes, the inputs' shape, type and range, label balance
and duplicates; the model checks (1-3) are not applicable and say so.

``--overfit-batch`` trains on *one* batch until the loss is near zero. A model that cannot
memorise 32 examples has a bug (a learning rate of zero, a frozen model, labels that do not
reach the loss), whatever its architecture (Karpathy, "A recipe for training neural networks").
"""

import difflib
import math
import pathlib

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
# Test examples searched for near duplicates at most (a seeded sample beyond): the search costs
# test x train distances, 6e8 of 784 pixels for Fashion-MNIST; 2,000 keep it to seconds.
NEAR_SAMPLE = 2000
# Duplicates of at least this fraction of the test split make the leakage a problem (below: a warning).
LEAKAGE_PROBLEM_FRACTION = 0.01


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

def duplicates(train_inputs, test_inputs, sample=NEAR_SAMPLE, seed=0):
    """Exact and near duplicates of test examples in the training split.

    Exact: identical values, for every test example (a hash of each example: linear time).
    Near: the distance to the closest training example is below ``NEAR_FRACTION`` of the median
    such distance over the test examples compared, i.e. the example is far closer to one
    training example than test examples usually are. The nearest-neighbour search costs
    test x train distances (10,000 x 60,000 for Fashion-MNIST), so beyond ``sample`` test
    examples it runs on a seeded sample of ``sample`` of them (a ratio of distances is the same
    in any units, so the raw values are compared as they are).

    Returns ``{"exact": [test indices], "near": [test indices], "median_distance": d,
    "closest_ratio": smallest distance / median, "compared": test examples searched for near
    duplicates, "test_size": all test examples}``.
    """
    train_rows = train_inputs.reshape(len(train_inputs), -1)
    test_rows = test_inputs.reshape(len(test_inputs), -1).astype(train_rows.dtype, copy=False)
    seen = {row.tobytes() for row in np.ascontiguousarray(train_rows)}
    exact = [index for index, row in enumerate(np.ascontiguousarray(test_rows)) if row.tobytes() in seen]
    compared = np.arange(len(test_rows))
    if len(compared) > sample:
        compared = np.sort(np.random.default_rng(seed).choice(len(test_rows), sample, replace=False))
    distances = nearest_distances(train_rows, test_rows[compared])
    median = float(np.median(distances)) if len(distances) else 0.0
    exact_set = set(exact)
    near = [int(compared[position]) for position in np.flatnonzero(distances < NEAR_FRACTION * median)
            if int(compared[position]) not in exact_set]
    inexact = [distance for index, distance in zip(compared, distances) if int(index) not in exact_set]
    closest = float(min(inexact) / median) if inexact and median > 0 else float("nan")
    return {"exact": exact, "near": near, "median_distance": median, "closest_ratio": closest,
            "compared": int(len(compared)), "test_size": int(len(test_rows))}


def nearest_distances(train_rows, test_rows, chunk=8192):
    """Euclidean distance from each test row to its closest training row: (test,) float32.

    Blocks of ``chunk`` training rows at a time, as ``|a|^2 + |b|^2 - 2 a.b`` (one matrix
    product), so memory stays a few blocks whatever the data size (no float copy of the whole
    training split). Values are centred on the first block's mean first: smaller numbers lose
    less precision in float32.
    """
    if not len(test_rows) or not len(train_rows):
        return np.zeros(len(test_rows), dtype="float32")
    centre = np.asarray(train_rows[:chunk], dtype="float32").mean(axis=0)
    queries = np.asarray(test_rows, dtype="float32") - centre
    query_norms = np.square(queries).sum(axis=1)
    best = np.full(len(queries), np.inf, dtype="float32")
    for start in range(0, len(train_rows), chunk):
        block = np.asarray(train_rows[start:start + chunk], dtype="float32") - centre
        # (test, block) squared distances; rounding can make a zero slightly negative.
        squared = query_norms[:, None] + np.square(block).sum(axis=1)[None, :] - 2.0 * (queries @ block.T)
        best = np.minimum(best, squared.min(axis=1))
    return np.sqrt(np.maximum(best, 0.0))


def duplicate_finding(found, test_size):
    """Verdict on train/test duplicates (leakage): a problem when they are at least
    ``LEAKAGE_PROBLEM_FRACTION`` of the test split, a warning for fewer (they barely move the score)."""
    exact, near = len(found["exact"]), len(found["near"])
    compared = found.get("compared", test_size)
    sampled = compared < test_size
    near_text = (f"{near} more nearly among {compared} sampled test examples (seeded; about "
                 f"{round(near * test_size / max(compared, 1))} in all)" if sampled else f"{near} more nearly")
    closest = found.get("closest_ratio")
    closest_text = (f"; the closest other test example is {closest:.2f}x the median nearest-neighbour distance "
                    f"from its nearest training example (near: below {NEAR_FRACTION})"
                    if closest is not None and math.isfinite(closest) else "")
    fraction = (exact + near * test_size / max(compared, 1)) / max(test_size, 1)
    if fraction >= LEAKAGE_PROBLEM_FRACTION:
        return PROBLEM, (f"{exact} test examples also in train/val exactly, {near_text} (of {test_size}); "
                         "the test score overstates generalization")
    if exact or near:
        return WARNING, (f"{exact} test examples also in train/val exactly, {near_text} (of {test_size}): "
                         f"{100 * fraction:.2g}% of the test split, too few to move the test score much"
                         + closest_text)
    where = f" (near duplicates searched for {compared} sampled test examples)" if sampled else ""
    return OK, f"no exact or near duplicates of the {test_size} test examples in train/val{where}{closest_text}"


def leakage_finding(splits, seed):
    """Verdict on test examples duplicated in train + validation (both are used to fit or select
    the model): exact and near copies of arrays, exact ones of strings (a translator's sources)."""
    train_inputs, val_inputs = splits.arrays("train")[0], splits.arrays("val")[0]
    test_inputs = splits.arrays("test")[0]
    if len(test_inputs) and isinstance(test_inputs[0], str):
        known = {*train_inputs, *val_inputs}
        found = {"exact": [index for index, text in enumerate(test_inputs) if text in known], "near": []}
    else:
        found = duplicates(np.concatenate([np.asarray(train_inputs), np.asarray(val_inputs)]), test_inputs, seed=seed)
    return duplicate_finding(found, len(test_inputs))


# 6. The data alone (dlzoo check DATASET) ---------------------------------------------------

# Sources whose loaders import TensorFlow (the CLI then imports it quietly first); the others are NumPy.
TENSORFLOW_SOURCES = ("keras", "tfds", "folder")
# A test input outside the training range by more than this fraction of that range is a warning:
# the model sees values it never trained on (a different scaling of the test files, say).
RANGE_TOLERANCE = 0.1


def loader_imports_tensorflow(spec):
    """Whether loading dataset ``spec`` imports TensorFlow (see :data:`TENSORFLOW_SOURCES`)."""
    from dlzoo import data

    return data.parse_spec(spec)[0] in TENSORFLOW_SOURCES


def target_kind(name):
    """``"recipe"`` or ``"dataset"``: what ``dlzoo check NAME`` checks (no TensorFlow).

    A recipe file or packaged recipe name wins; otherwise a spec whose source is a dataset
    source (``fashion_mnist``, ``idx:FOLDER``, ``npz:FILE``). Anything else is a usage error
    naming both kinds, with the closest of each.
    """
    from dlzoo import data
    from dlzoo.config import recipes
    from dlzoo.core.errors import UsageError

    candidate = pathlib.Path(name)
    if candidate.suffix == ".toml" or candidate.exists() or name in recipes.recipe_names():
        return "recipe"
    source, _ = data.parse_spec(name)
    if source in data.names():
        return "dataset"
    closest = [f"the recipe '{match}'" for match in difflib.get_close_matches(name, recipes.recipe_names(), n=2)] + \
        [f"the dataset '{match}'" for match in difflib.get_close_matches(source, data.names(), n=2)]
    raise UsageError(f"'{name}' is neither a recipe nor a dataset"
                     + (f"; did you mean {' or '.join(closest)}?" if closest else "")
                     + f" (recipes: 'dlzoo list'; dataset sources: {', '.join(data.names())})")


def dataset_options(spec, overrides=()):
    """The ``[data]`` table for checking dataset ``spec``: the defaults, then ``--set data.*``,
    checked like a recipe's (keys of the source, files on disk) before TensorFlow loads."""
    from dlzoo.config import recipes, resolve
    from dlzoo.core.errors import UsageError

    config = recipes.defaults()
    config["data"]["dataset"] = spec
    for assignment in overrides:
        keys, value = recipes.parse_override(assignment)
        if keys[0] != "data":
            raise UsageError(f"--set {assignment}: checking a dataset takes data.* keys only (there is no model "
                             "or training to set)")
        recipes.apply_override(config, keys, value)
    resolve.check_data_section(config["data"])
    recipes.check_integer_sizes(config)
    return config["data"]


def split_size_finding(sizes):
    """Verdict on the number of examples of each split: an empty train or test split is a problem."""
    line = f"{sizes['train']} train / {sizes['val']} val / {sizes['test']} test"
    empty = [split for split in ("train", "test") if not sizes[split]]
    if empty:
        return PROBLEM, f"{line}: the {' and '.join(empty)} split is empty"
    if not sizes["val"]:
        return WARNING, f"{line}: no validation split (early stopping and model selection would use the test split)"
    return OK, line


def input_finding(splits):
    """Verdict on the inputs: shape, stored type, range per split; constant inputs are a problem,
    test values far outside the training range a warning. Strings (texts) are described only."""
    arrays = {split: np.asarray(splits.arrays(split)[0]) for split in ("train", "val", "test")}
    shape, dtype = tuple(splits.input_shape), arrays["train"].dtype
    if not np.issubdtype(dtype, np.number):
        kind = "strings" if dtype == object else f"{dtype} values"
        return OK, f"{kind} of shape {shape} (not numbers: no range to check)"
    ranges = {split: (float(values.min()), float(values.max())) for split, values in arrays.items() if values.size}
    low, high = ranges.get("train", (0.0, 0.0))
    line = f"shape {shape}, stored as {dtype}, values " + ", ".join(
        f"{split} [{minimum:g}, {maximum:g}]" for split, (minimum, maximum) in ranges.items())
    if high == low:
        return PROBLEM, line + ": the training inputs are all the same value"
    margin = RANGE_TOLERANCE * (high - low)
    outside = [split for split, (minimum, maximum) in ranges.items() if minimum < low - margin or maximum > high + margin]
    if outside:
        return WARNING, line + f": the {', '.join(outside)} values go beyond the training range (another scaling?)"
    return OK, line


def check_dataset(spec, options, echo=print):
    """``dlzoo check DATASET``: the data checks alone; returns ``{name: (level, line)}``.

    Split sizes, the inputs (shape, type, range), examples per class (labelled data) and
    duplicates between train/val and test (leakage); the model checks are not applicable.
    """
    from dlzoo import data

    splits = data.load(spec, seed=options["seed"], options=options)
    # Text corpora and sentence pairs have no describe(): their kind and sizes say enough.
    description = splits.describe() if hasattr(splits, "describe") else f"{splits.kind} data"
    echo(f"== check {spec}: {description}")
    findings = {"splits": split_size_finding(splits.sizes())}
    if hasattr(splits, "arrays"):
        findings["inputs"] = input_finding(splits)
    if getattr(splits, "targets", None) == "classes":
        balance = label_balance(splits)
        echo("\nexamples per class:")
        echo(report.format_table([[split, *counts] for split, counts in balance.items()],
                                 ["split", *splits.class_names]))
        findings["labels"] = balance_finding(balance)
    if hasattr(splits, "arrays"):
        findings["leakage"] = leakage_finding(splits, options["seed"])
    else:
        echo("\nleakage: not checked (this dataset is not separate examples: a running text)")
    echo("\nverdicts:")
    for name, (level, line) in findings.items():
        echo(f"  [{level}] {name}: {line}")
    echo("  [n/a] model: shapes, initial loss and gradients need a model: "
         f"'dlzoo check RECIPE --data {spec}' runs them on this data")
    return findings


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
        findings["leakage"] = leakage_finding(splits, config["data"]["seed"])
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
    import tensorflow as tf

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
    # One "epoch" = one step on the same batch, so that each step's own loss reaches the callback.
    # The batch is one repeated tf.data element: given arrays, Keras would build a new input
    # pipeline every epoch (300 of them took ~11 s for a small MLP; this takes well under 1 s).
    the_batch = tf.data.Dataset.from_tensors((inputs, labels)).repeat()
    model.fit(the_batch, epochs=steps, steps_per_epoch=1, verbose=0, shuffle=False, callbacks=[Record()])
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

