"""Studies of recurrent networks that are not one model's fit: the lessons ``lstm-cell``,
``rnn-vanishing`` and ``rnn-unrolling`` (``[study] kind = "cells" | "vanishing" | "unrolling"``).

* ``cells``: the hand-written LSTM and GRU cells of :mod:`dlzoo.models.rnn` get the weights of
  ``keras.layers.LSTMCell`` / ``GRUCell``; outputs and gradients over a ``steps``-long sequence
  must agree (metric ``max_difference``).
* ``vanishing``: the adding problem at each length of ``lengths`` for each cell of ``cells``,
  same budget: test MSE table (the mean predictor scores 0.167), and the norm of the gradient of
  the loss with respect to the input at each time step (log scale), at initialization. Then an
  exploding setting (Pascanu et al. 2013): a SimpleRNN whose recurrent matrix is orthogonal times
  a gain above 1, trained with plain SGD at a high rate without and with gradient clipping.
* ``unrolling``: the same LSTM with ``unroll=True`` (static) and as a symbolic loop (dynamic):
  output difference, and step time against sequence length for both.
"""

import dataclasses
import time

import numpy as np

from dlzoo.plots import figures
from dlzoo.runs import report
from dlzoo.training import fit
from dlzoo.training import devices
from dlzoo.core.errors import UsageError
from dlzoo.tasks import register
from dlzoo.tasks.base import Task

KINDS = ("cells", "vanishing", "unrolling")
QUICK_UNROLLING_LENGTHS = [5, 10]  # the unrolling study of a --quick run: two short sequences
STUDY_DEFAULTS = {
    "kind": "cells",
    "steps": 50,
    "lengths": [50, 100, 200],
    "cells": ["simple", "gru", "lstm"],
    "units": 64,
    "num_samples": 30000,
    # The exploding setting: recurrent matrix = orthogonal x gain (> 1: gradients grow through
    # time), plain SGD at a rate that survives only with clipping; measured at gain 1.2, rate
    # 0.05, T = 20: unclipped NaN in the first epoch, clipped test MSE 0.117 after 6 epochs.
    "exploding_recurrent_gain": 1.2,
    "exploding_learning_rate": 0.05,
    "exploding_length": 20,
    "clipnorm": 1.0,
}


@dataclasses.dataclass
class PreparedStudy:
    """What a study run needs."""

    config: dict
    study: dict
    quick: bool


def cell_differences(steps, units=16, seed=0):
    """``{"lstm": (output difference, gradient difference), "gru": ...}`` of the hand-written
    cells against Keras's, with Keras's (random) weights copied into ours."""
    import keras
    import tensorflow as tf

    from dlzoo.models import rnn

    rng = np.random.default_rng(seed)
    inputs = tf.constant(rng.normal(size=(4, steps, 3)).astype("float32"))
    results = {}
    for kind, hand_cell, keras_cell in (("lstm", rnn.HandLSTMCell(units), keras.layers.LSTMCell(units)),
                                        ("gru", rnn.HandGRUCell(units), keras.layers.GRUCell(units))):
        hand_layer, keras_layer = keras.layers.RNN(hand_cell), keras.layers.RNN(keras_cell)
        hand_layer(inputs)
        keras_layer(inputs)
        for variable in keras_cell.weights:
            variable.assign(rng.normal(scale=0.3, size=variable.shape).astype("float32"))
        for mine, theirs in zip(hand_cell.weights, keras_cell.weights):
            mine.assign(theirs)
        outputs, gradients = [], []
        for layer in (hand_layer, keras_layer):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                output = layer(inputs)
                loss = tf.reduce_sum(tf.sin(output))
            outputs.append(output.numpy())
            gradients.append([gradient.numpy() for gradient in tape.gradient(loss, [inputs, *layer.trainable_weights])])
        output_difference = float(np.max(np.abs(outputs[0] - outputs[1])))
        # Relative to the gradient's size (weight gradients are sums over batch and time).
        gradient_difference = max(float(np.max(np.abs(mine - theirs)) / max(1.0, np.max(np.abs(theirs))))
                                  for mine, theirs in zip(*gradients))
        results[kind] = (output_difference, gradient_difference)
    return results


def adding_regressor(cell, length, units, recurrent_initializer="default"):
    """A recurrent layer reading (length, 2) adding-problem inputs, then one linear output."""
    import keras

    from dlzoo.models import rnn

    inputs = keras.Input(shape=(length, 2), name="inputs")
    features = rnn.recurrent_layer(cell, units, return_sequences=False, name="recurrent1",
                                   recurrent_initializer=recurrent_initializer)(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="prediction")(features), name=f"{cell}_adding")


def input_gradient_norms(model, inputs, targets):
    """The norm of d loss / d x_t for each time step t, averaged over the batch: shape (time,)."""
    import tensorflow as tf

    inputs = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_mean((model(inputs)[:, 0] - targets) ** 2)
    gradient = tape.gradient(loss, inputs).numpy()  # (batch, time, 2)
    return np.linalg.norm(gradient, axis=-1).mean(axis=0)


@register("rnn_study")
class RNNStudyTask(Task):
    """The lessons on recurrent cells, vanishing gradients and unrolling."""

    section = "study"
    section_defaults = STUDY_DEFAULTS
    description = "studies of recurrent cells (oracle check, vanishing gradients, unrolling)"
    resume_unsupported = "a study trains several small models of its own and keeps no checkpoints"

    def metric_names(self, config):
        """The names of the chosen study (lengths of full and of ``--quick`` runs)."""
        study = {**STUDY_DEFAULTS, **config.get("study", {})}
        if study["kind"] == "cells":
            return {"max_difference"} | {f"{cell}_{what}_difference" for cell in ("lstm", "gru")
                                         for what in ("output", "gradient")}
        if study["kind"] == "vanishing":
            return ({f"test_mse_{cell}_T{length}" for cell in study["cells"] for length in [10, *study["lengths"]]}
                    | {"exploding_initial_gradient_norm", "exploding_loss_unclipped", "exploding_loss_clipped"})
        if study["kind"] == "unrolling":
            return {"max_difference"} | {f"step_ms_{kind}_T{length}" for kind in ("static", "dynamic")
                                         for length in [5, 10, *study["lengths"]]}
        return None

    def check_config(self, config):
        """``study.kind`` must be a known study; lengths and cells must make sense."""
        super().check_config(config)
        study = {**STUDY_DEFAULTS, **config.get("study", {})}
        if study["kind"] not in KINDS:
            raise UsageError(f"study.kind must be one of {', '.join(KINDS)}, got {study['kind']!r}")
        if not study["lengths"] or any(not isinstance(value, int) or value < 2 for value in study["lengths"]):
            raise UsageError(f"study.lengths must be whole numbers >= 2, got {study['lengths']!r}")
        unknown = [cell for cell in study["cells"] if cell not in ("simple", "gru", "lstm")]
        if unknown:
            raise UsageError(f"study.cells: unknown cell(s) {unknown}; choose among simple, gru, lstm")
        for key in ("exploding_recurrent_gain", "exploding_learning_rate", "clipnorm"):
            if not study[key] > 0:
                raise UsageError(f"study.{key} must be > 0, got {study[key]!r}")
        if study["exploding_length"] < 2:
            raise UsageError(f"study.exploding_length must be at least 2, got {study['exploding_length']!r}")

    def prepare(self, config, quick=False):
        """Nothing to load up front: each study makes its own small data."""
        devices.seed_everything(config["train"]["seed"])
        return PreparedStudy(config=config, study={**STUDY_DEFAULTS, **config.get("study", {})}, quick=quick)

    def describe(self, prepared):
        """The study about to run, with its sizes."""
        study = prepared.study
        if study["kind"] == "cells":
            return (f"study cells: the hand-written LSTM and GRU cells against Keras's, same weights, "
                    f"{study['steps']}-step sequences")
        if study["kind"] == "unrolling":
            lengths = QUICK_UNROLLING_LENGTHS if prepared.quick else study["lengths"]
            return (f"study unrolling: an LSTM unrolled (static) against its loop (dynamic), outputs and step "
                    f"times at lengths {', '.join(map(str, lengths))}")
        return (f"study vanishing: the adding problem at lengths {', '.join(map(str, study['lengths']))} for cells "
                f"{', '.join(study['cells'])} ({study['units']} units), then gradient clipping at length "
                f"{study['exploding_length']}")

    def run(self, prepared, folder):
        """Run the chosen study; returns its metrics."""
        return {"cells": self.run_cells, "vanishing": self.run_vanishing,
                "unrolling": self.run_unrolling}[prepared.study["kind"]](prepared, folder)

    # 1. The oracle check of the hand-written cells --------------------------------------------

    def run_cells(self, prepared, folder):
        """Compare the hand-written cells with Keras's; a report table."""
        differences = cell_differences(prepared.study["steps"])
        rows = [[kind, output, gradient] for kind, (output, gradient) in differences.items()]
        report.write_section(folder, "10-cells", (
            "## Hand-written cells against Keras\n\n"
            f"Same weights, a {prepared.study['steps']}-step sequence; maximal differences (gradients relative to "
            "their size):\n\n" + report.markdown_table(["cell", "output difference", "gradient difference"], rows)))
        maximum = max(max(pair) for pair in differences.values())
        return {"metrics": {"max_difference": maximum,
                            **{f"{kind}_output_difference": pair[0] for kind, pair in differences.items()},
                            **{f"{kind}_gradient_difference": pair[1] for kind, pair in differences.items()}}}

    # 2. Vanishing and exploding gradients -------------------------------------------------------

    def run_vanishing(self, prepared, folder):
        """Every cell at every length on the adding problem; MSE table and gradient-norm plot."""
        import keras

        from dlzoo.data import sequences

        study, config = prepared.study, prepared.config
        count = config["train"]["quick_train_samples"] if prepared.quick else study["num_samples"]
        epochs = config["train"]["quick_epochs"] if prepared.quick else config["train"]["epochs"]
        lengths = [10] if prepared.quick else study["lengths"]  # quick: a smoke test of every step
        metrics, rows, gradient_curves = {}, [], {}
        for length in lengths:
            inputs, targets = sequences.make_adding_problem(count, length, config["data"]["seed"])
            test_inputs, test_targets = sequences.make_adding_problem(max(500, count // 5), length,
                                                                      config["data"]["seed"] + 1)
            row = [length]
            for cell in study["cells"]:
                devices.seed_everything(config["train"]["seed"])
                model = adding_regressor(cell, length, 8 if prepared.quick else study["units"])
                if length == max(lengths):
                    gradient_curves[f"{cell} (init)"] = input_gradient_norms(model, test_inputs[:256],
                                                                             test_targets[:256])
                rate = config["optimizer"].get("learning_rate", 0.001)
                rate = float(rate) if isinstance(rate, (int, float)) else 0.001  # a plain rate: same for all
                model.compile(optimizer=keras.optimizers.Adam(rate, clipnorm=1.0), loss="mse")
                model.fit(inputs, targets, batch_size=config["data"]["batch_size"], epochs=epochs,
                          verbose=fit.keras_verbosity(config["train"]["verbose"]), validation_split=0.1)
                if length == max(lengths):  # after training: the gated cells learn to keep the path open
                    gradient_curves[f"{cell} (trained)"] = input_gradient_norms(model, test_inputs[:256],
                                                                                test_targets[:256])
                mse = float(np.mean((model.predict(test_inputs, verbose=0)[:, 0] - test_targets) ** 2))
                metrics[f"test_mse_{cell}_T{length}"] = mse
                row.append(mse)
            rows.append(row)
        plot_gradient_norms(gradient_curves, folder / "plots" / "input_gradient_norms.png", max(lengths))
        exploding = self.exploding_demo(prepared, folder)
        metrics.update(exploding)
        report.write_section(folder, "10-vanishing", (
            "## Vanishing gradients through time: the adding problem\n\n"
            "Test MSE after the same budget (predicting the mean gives 0.167):\n\n"
            + report.markdown_table(["T", *study["cells"]], rows)
            + f"\n\n![gradient norms](plots/input_gradient_norms.png)\n\nNorm of d loss / d x_t at initialization "
              f"(dashed) and after training (solid), T = {max(lengths)}: how much each time step's input can still "
              "move the loss. At initialization a gate half open multiplies the gradient by about 0.5 per step; "
              "trained GRU/LSTM cells learn to keep their additive path open, a SimpleRNN cannot.\n\n"
            f"Exploding setting (SimpleRNN, recurrent matrix orthogonal x {study['exploding_recurrent_gain']}, "
            f"T = {study['exploding_length']}, plain SGD at rate {study['exploding_learning_rate']}): the first "
            f"gradient has norm {exploding['exploding_initial_gradient_norm']:.3g}. Test MSE without clipping "
            f"{exploding['exploding_loss_unclipped']:.4g} (inf: the loss became NaN), with clipnorm "
            f"{study['clipnorm']}: {exploding['exploding_loss_clipped']:.4g} (the mean predictor: 0.167). "
            "Clipping rescales a step whose gradient is huge and keeps its direction, so one cliff in the "
            "loss surface no longer throws the weights away.\n"))
        return {"metrics": metrics, "epochs_run": epochs}

    def exploding_demo(self, prepared, folder):
        """A SimpleRNN with an expanding recurrent matrix, trained by SGD without and with clipnorm.

        Returns the first gradient's norm and each run's test MSE (infinity when the unclipped
        run's loss became NaN: one huge step threw the weights where tanh saturates or overflows).
        """
        import keras

        from dlzoo.data import sequences

        study, config = prepared.study, prepared.config
        length = study["exploding_length"]
        inputs, targets = sequences.make_adding_problem(256 if prepared.quick else 4096, length, 0)
        test_inputs, test_targets = sequences.make_adding_problem(256 if prepared.quick else 1024, length, 1)
        results = {}
        for label, clipnorm in (("unclipped", None), ("clipped", study["clipnorm"])):
            devices.seed_everything(config["train"]["seed"])
            initializer = keras.initializers.Orthogonal(gain=study["exploding_recurrent_gain"])
            model = adding_regressor("simple", length, study["units"], recurrent_initializer=initializer)
            if clipnorm is None:  # the size of the first gradient: what an unclipped step multiplies by the rate
                results["exploding_initial_gradient_norm"] = weight_gradient_norm(model, inputs[:256], targets[:256])
            model.compile(optimizer=keras.optimizers.SGD(study["exploding_learning_rate"], clipnorm=clipnorm),
                          loss="mse")
            model.fit(inputs, targets, batch_size=64, epochs=1 if prepared.quick else 6, verbose=0)
            mse = float(np.mean((model.predict(test_inputs, verbose=0)[:, 0] - test_targets) ** 2))
            results[f"exploding_loss_{label}"] = mse if np.isfinite(mse) else float("inf")
        return results

    # 3. Static vs dynamic unrolling -------------------------------------------------------------

    def run_unrolling(self, prepared, folder):
        """Output equality and step time against sequence length, static vs dynamic."""
        import keras

        lengths = QUICK_UNROLLING_LENGTHS if prepared.quick else prepared.study["lengths"]
        units = 8 if prepared.quick else prepared.study["units"]
        difference = unrolling_difference(length=max(lengths), units=units)
        timings = {"static (unroll=True)": [], "dynamic (symbolic loop)": []}
        for length in lengths:
            inputs = np.random.default_rng(0).normal(size=(64, length, 8)).astype("float32")
            targets = np.zeros((64, 1), "float32")
            for label, unroll in (("static (unroll=True)", True), ("dynamic (symbolic loop)", False)):
                model = keras.Sequential([keras.Input((length, 8)),
                                          keras.layers.LSTM(units, unroll=unroll),
                                          keras.layers.Dense(1)])
                model.compile(optimizer="sgd", loss="mse")
                model.train_on_batch(inputs, targets)  # trace and compile first
                start = time.perf_counter()
                for _ in range(3):
                    model.train_on_batch(inputs, targets)
                timings[label].append((time.perf_counter() - start) / 3 * 1000)
        plot_step_times(lengths, timings, folder / "plots" / "unrolling_step_time.png")
        rows = [[length, *(timings[label][index] for label in timings)] for index, length in enumerate(lengths)]
        report.write_section(folder, "10-unrolling", (
            "## Static vs dynamic unrolling\n\n"
            f"Same LSTM weights, outputs differ by at most {difference:.2g}.\n\n"
            + report.markdown_table(["length", *(f"{label} ms/step" for label in timings)], rows)
            + "\n\n![step time](plots/unrolling_step_time.png)\n"))
        return {"metrics": {"max_difference": difference,
                            **{f"step_ms_{'static' if 'static' in label else 'dynamic'}_T{length}": value
                               for label, values in timings.items() for length, value in zip(lengths, values)}}}


def weight_gradient_norm(model, inputs, targets):
    """The global norm of d loss / d weights (all weights together) on one batch."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(tf.constant(inputs))[:, 0] - targets) ** 2)
    gradients = tape.gradient(loss, model.trainable_weights)
    return float(tf.linalg.global_norm(gradients).numpy())


def plot_gradient_norms(curves, path, length):
    """One line per cell: |d loss / d x_t| against t, log scale."""
    pyplot = figures.pyplot_module()
    figure, axis = pyplot.subplots(figsize=(7, 4))
    colors = {}
    for label, norms in curves.items():
        cell = label.split()[0]
        color = colors.setdefault(cell, f"C{len(colors)}")
        axis.semilogy(np.arange(1, len(norms) + 1), np.maximum(norms, 1e-30), label=label, color=color,
                      linestyle="--" if "init" in label else "-")
    axis.set_xlabel("time step t")
    axis.set_ylabel("|d loss / d x_t| (log)")
    axis.set_title(f"gradient reaching each input (dashed: initialization, solid: trained), T = {length}")
    axis.legend()
    figures.save_figure(figure, path)


def plot_step_times(lengths, timings, path):
    """Training step time against sequence length, one line per unrolling mode."""
    pyplot = figures.pyplot_module()
    figure, axis = pyplot.subplots(figsize=(6, 4))
    for label, values in timings.items():
        axis.plot(lengths, values, marker="o", label=label)
    axis.set_xlabel("sequence length")
    axis.set_ylabel("ms per training step (batch 64)")
    axis.legend()
    figures.save_figure(figure, path)


def unrolling_difference(length=50, units=16, features=3, batch=4, seed=0):
    """Max |difference| between one LSTM run with ``unroll=True`` (static) and as a loop (dynamic).

    Both layers get the same weights; static unrolling copies the cell ``length`` times into the
    graph, the dynamic one runs a symbolic loop: the arithmetic is the same.
    """
    import keras

    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(batch, length, features)).astype("float32")
    static = keras.layers.LSTM(units, return_sequences=True, unroll=True)
    dynamic = keras.layers.LSTM(units, return_sequences=True, unroll=False)
    static_outputs = static(inputs)
    dynamic(inputs)
    dynamic.set_weights(static.get_weights())
    return float(np.max(np.abs(np.asarray(static_outputs) - np.asarray(dynamic(inputs)))))
