"""The platform every task builds on: task hooks, the shared training module, raw-input exports.

* exports are used the way a client without dlzoo would: a plain TensorFlow subprocess loads
  the SavedModel of ``mlp`` and ``lenet``, feeds ``load_digits()`` images as stored, and gets
  the run's own test accuracy;
* the ``regress`` task (a second kind of learning) trains, evaluates, exports and predicts
  through the same commands;
* a model with its own ``train_step`` and two optimizers trains through
  :func:`dlzoo.training.fit` and exports;
* ``model(x)`` without ``training=False`` is inference (the Keras ``Resizing`` default).
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from dlzoo import data, tasks
from dlzoo.runs import export
from dlzoo.training import fit
from dlzoo.core.errors import RunFailed
from dlzoo.models import preprocessing

from helpers import QUICK, only_run, shared_run


def digits_test_indices(seed=0):
    """Positions in ``load_digits()`` of the run's test images (matched by content)."""
    splits = data.load("digits", seed=seed)
    images = load_digits().images.reshape(len(load_digits().images), -1)
    lookup = {row.tobytes(): index for index, row in enumerate(images.astype("float32"))}
    return np.array([lookup[row.tobytes()] for row in splits.x_test.reshape(len(splits.x_test), -1)])


PLAIN_TENSORFLOW_CLIENT = textwrap.dedent("""
    import sys
    import numpy as np, tensorflow as tf
    from sklearn.datasets import load_digits
    saved_model, indices = sys.argv[1], np.load(sys.argv[2])
    digits = load_digits()
    model = tf.saved_model.load(saved_model)
    outputs = model.serve(tf.constant(digits.images[indices][..., None], tf.float32))  # raw pixels 0-16
    accuracy = float(np.mean(outputs["predicted_class"].numpy() == digits.target[indices]))
    assert "dlzoo" not in sys.modules
    print(accuracy, outputs["probabilities"].shape[1])
""")


@pytest.mark.parametrize("recipe", ["mlp", "lenet"])
def test_exported_saved_model_takes_raw_digits_in_plain_tensorflow(cli_run, tmp_path, recipe):
    result = cli_run("train", recipe, "--epochs", "2", "--set", "train.verbose=0", "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = only_run(tmp_path / "runs", recipe)
    record = json.loads((folder / "metrics.json").read_text())
    np.save(tmp_path / "indices.npy", digits_test_indices())
    client = tmp_path / "client.py"
    client.write_text(PLAIN_TENSORFLOW_CLIENT)
    completed = subprocess.run([sys.executable, str(client), str(folder / "saved_model"), str(tmp_path / "indices.npy")],
                               capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert completed.returncode == 0, completed.stderr
    accuracy, classes = completed.stdout.split()
    assert int(classes) == 10
    # The same test images, raw, give the run's own test accuracy (exactly: same model, same inputs).
    assert abs(float(accuracy) - record["metrics"]["test_accuracy"]) < 1e-9
    assert record["metrics"]["test_accuracy"] > 0.5  # and the model learned something in two epochs
    assert "## Use it without dlzoo" in (folder / "report.md").read_text()


def test_calling_a_model_without_training_flag_is_inference():
    """Keras's Resizing declares training=True; dlzoo's Resize must not leak it to batch norm."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    features = preprocessing.Resize(16, 16)(inputs)
    features = keras.layers.Conv2D(4, 3)(features)
    features = keras.layers.BatchNormalization(name="bn")(features)
    features = keras.layers.Dropout(0.5)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, keras.layers.Dense(3)(features))
    images = np.random.default_rng(0).uniform(0, 16, size=(6, 8, 8, 1)).astype("float32")
    before = model.get_layer("bn").moving_mean.numpy().copy()
    first, second = model(images), model(images)
    np.testing.assert_array_equal(model.get_layer("bn").moving_mean.numpy(), before)
    np.testing.assert_allclose(first, second)  # dropout off
    np.testing.assert_allclose(first, model(images, training=False), atol=1e-6)
    # The same model with Keras's own Resizing moves the statistics: the reason for Resize.
    leaky = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Resizing(16, 16), keras.layers.BatchNormalization()])
    statistics = leaky.layers[-1].moving_mean.numpy().copy()
    leaky(images)
    assert np.abs(leaky.layers[-1].moving_mean.numpy() - statistics).max() > 1e-3


def test_linear_neuron_regression_through_every_command(cli_run, tmp_path):
    result = cli_run("train", "linear-neuron", "--epochs", "30", "--set", "train.verbose=0", "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = only_run(tmp_path / "runs", "linear-neuron")
    record = json.loads((folder / "metrics.json").read_text())
    assert set(record["metrics"]) >= {"test_r2", "test_mae", "test_rmse", "train_r2"}
    assert record["metrics"]["test_r2"] > 0.3  # a linear fit of diabetes: about 0.5 at convergence
    assert (folder / "plots" / "predicted_vs_true.png").exists()
    # The SavedModel answers in target units from raw features, like the Keras model.
    splits = data.load("diabetes", seed=5, options={"test_fraction": 0.3})
    outputs = export.load_saved_model(folder / "saved_model")(splits.x_test)
    assert set(outputs) == {"prediction"}
    assert 50 < float(np.mean(outputs["prediction"])) < 250  # disease progression units, not standardized
    evaluated = cli_run("evaluate", folder)
    assert evaluated.exit_code == 0 and "R²" in evaluated.output
    features = ",".join(str(value) for value in splits.x_test[0])
    predicted = cli_run("predict", folder, features)
    assert predicted.exit_code == 0, predicted.stderr
    assert abs(float(predicted.output.split()[0]) - float(outputs["prediction"][0, 0])) < 1e-2
    refused = cli_run("visualize", folder, "--method", "saliency")
    assert refused.exit_code == 2 and "regress" in refused.stderr


def test_predict_with_a_classifier_and_bad_inputs(cli_run, tmp_path, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "mlp", "--quick").folder  # predict only reads the run
    np.save(tmp_path / "three.npy", load_digits().images[:3, ..., None].astype("float32"))
    result = cli_run("predict", folder, "--file", tmp_path / "three.npy")
    assert result.exit_code == 0, result.stderr
    assert len(result.output.strip().splitlines()) == 3 and "p = " in result.output
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5), "float32"))
    wrong = cli_run("predict", folder, "--file", tmp_path / "wrong.npy")
    assert wrong.exit_code == 2 and "do not fit" in wrong.stderr
    missing = cli_run("predict", folder, "--file", tmp_path / "nowhere.npy")
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_a_task_without_a_model_says_what_it_is(cli_run, tmp_path, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "optimizers-2d", "--quick").copy_into(tmp_path / "runs")
    for command in (("evaluate", folder), ("export", folder, "--out", tmp_path / "delivery"), ("predict", folder, "1")):
        result = cli_run(*command)
        assert result.exit_code == 2, command
        assert "optimizer-paths" in result.stderr, result.stderr


def test_tasks_register_themselves_and_declare_their_sections():
    assert {"classify", "regress", "numpy-mlp", "transfer", "optimizer-paths"} <= set(tasks.names())
    assert tasks.create("transfer").section == "transfer"
    with pytest.raises(ValueError, match="did you mean 'regress'"):
        tasks.get("regres")


class TwoOptimizerModel(keras.Model):
    """A tiny GAN on 1-D data: its own ``train_step`` with a generator and a critic optimizer."""

    def __init__(self):
        super().__init__()
        self.generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                           keras.layers.Dense(1)], name="generator")
        self.critic = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="relu"),
                                        keras.layers.Dense(1)], name="critic")
        self.seed_generator = keras.random.SeedGenerator(0)

    def compile(self, generator_optimizer, critic_optimizer):
        super().compile()
        self.generator_optimizer, self.critic_optimizer = generator_optimizer, critic_optimizer
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, noise):
        return self.generator(noise)

    def train_step(self, real):
        noise = keras.random.normal((tf.shape(real)[0], 2), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(noise)
            real_scores, fake_scores = self.critic(real), self.critic(fake)
            critic_loss = self.cross_entropy(tf.ones_like(real_scores), real_scores) + \
                self.cross_entropy(tf.zeros_like(fake_scores), fake_scores)
        self.critic_optimizer.apply_gradients(zip(tape.gradient(critic_loss, self.critic.trainable_weights),
                                                  self.critic.trainable_weights))
        with tf.GradientTape() as tape:
            fake_scores = self.critic(self.generator(noise))
            generator_loss = self.cross_entropy(tf.ones_like(fake_scores), fake_scores)
        self.generator_optimizer.apply_gradients(zip(tape.gradient(generator_loss, self.generator.trainable_weights),
                                                     self.generator.trainable_weights))
        return {"loss": generator_loss + critic_loss, "critic_loss": critic_loss, "generator_loss": generator_loss}


def test_a_custom_train_step_with_two_optimizers_trains_and_exports(tmp_path):
    keras.utils.set_random_seed(0)
    model = TwoOptimizerModel()
    model.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    model(np.zeros((1, 2), "float32"))  # build
    generator_before = [weight.numpy().copy() for weight in model.generator.weights]
    critic_before = [weight.numpy().copy() for weight in model.critic.weights]
    real = np.random.default_rng(0).normal(3.0, 0.5, size=(512, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(real).batch(64)
    settings = {"monitor": "loss", "restore_best": False, "early_stopping_patience": 0, "verbose": 0}
    history = fit.fit(model, dataset, None, tmp_path, settings, epochs=3)
    assert set(history) >= {"loss", "critic_loss", "generator_loss"} and len(history["loss"]) == 3
    assert (tmp_path / "history.csv").exists() and (tmp_path / "checkpoints" / "last.weights.h5").exists()
    assert any(np.abs(after.numpy() - before).max() > 0 for after, before in zip(model.generator.weights, generator_before))
    assert any(np.abs(after.numpy() - before).max() > 0 for after, before in zip(model.critic.weights, critic_before))
    # Export the generator as a named endpoint and check it with the platform's verifier.
    signature = [tf.TensorSpec((None, 2), tf.float32, name="noise")]
    endpoints = {"serve": (lambda noise: {"samples": model.generator(noise, training=False)}, signature)}
    noise = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    check = export.export_saved_model(model, tmp_path / "saved_model", endpoints, noise)
    assert check["max_abs_difference"] <= 1e-5 and "serve(noise: float32[None, 2])" == check["signature"]


def test_divergence_guard_fails_a_finite_but_exploding_run(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=5.0), loss="mse")  # far too large: it explodes
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(256, 4)).astype("float32") * 10
    dataset = tf.data.Dataset.from_tensor_slices((inputs, inputs.sum(axis=1))).batch(32)
    settings = {"monitor": "loss", "restore_best": True, "early_stopping_patience": 0, "verbose": 0}
    with pytest.raises(RunFailed, match="diverged|NaN or infinite"):
        fit.fit(model, dataset, None, tmp_path, settings, epochs=20)


def epoch_column(path):
    """The ``epoch`` column of a history CSV file, as integers."""
    import csv

    with open(path) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_history_csv_counts_epochs_from_one_like_the_console(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    inputs = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((inputs, inputs.sum(axis=1))).batch(32)
    settings = {"monitor": "loss", "restore_best": False, "early_stopping_patience": 0, "verbose": 0}
    fit.fit(model, dataset, None, tmp_path / "fit", settings, epochs=3)
    assert epoch_column(tmp_path / "fit" / "history.csv") == [1, 2, 3]  # Keras's CSVLogger wrote 0, 1, 2
    fit.run_epochs(lambda epoch: {"loss": 1.0 / (epoch + 1)}, 3, tmp_path, {"verbose": 0})
    assert epoch_column(tmp_path / "history.csv") == [1, 2, 3]
    assert fit.history_csv({"loss": [0.5, 0.25]}).splitlines()[1:] == ["1,0.5", "2,0.25"]


def test_run_epochs_writes_history_and_stops_on_nan(tmp_path):
    settings = {"verbose": 0}
    history = fit.run_epochs(lambda epoch: {"loss": 1.0 / (epoch + 1), "accuracy": 0.5}, 3, tmp_path, settings)
    assert history["loss"] == [1.0, 0.5, 1.0 / 3]
    assert (tmp_path / "history.csv").read_text().splitlines()[0] == "epoch,loss,accuracy"
    with pytest.raises(RunFailed, match="NaN or infinite at epoch 2"):
        fit.run_epochs(lambda epoch: {"loss": [1.0, float("nan")][epoch]}, 5, tmp_path / "nan", settings)


def test_training_prints_what_it_trains_before_epoch_1(tmp_path_factory):
    run = shared_run(tmp_path_factory, "mlp", "--quick")
    output, folder = run.output, run.folder
    header = output.split("Epoch 1/")[0] if "Epoch 1/" in output else output.split("\n16/16")[0]
    for expected in ("data digits", "train /", "val /", "test", "parameters", "CPU", f"run folder: {folder}"):
        assert expected in header, (expected, header)


def test_ctrl_c_marks_the_run_interrupted_and_prints_its_folder(cli_run, tmp_path, monkeypatch):
    from dlzoo.tasks.classify import ClassifyTask

    def interrupted_run(self, prepared, folder):
        raise KeyboardInterrupt

    monkeypatch.setattr(ClassifyTask, "run", interrupted_run)
    result = cli_run("train", "mlp", *QUICK, "--runs", tmp_path / "runs")
    folder = only_run(tmp_path / "runs", "mlp")
    assert result.exit_code == 130
    assert str(folder.relative_to(tmp_path)) in result.stderr and "interrupted" in result.stderr
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "interrupted" and (folder / "report.md").exists()
