"""The ``generate`` task: classifier-based sample scores, GAN training and export, ``dlzoo sample``, failures."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dlzoo import data
from dlzoo.metrics import samples
from dlzoo.tasks import generate

from helpers import QUICK, only_run, shared_run


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", seed=0)


@pytest.fixture(scope="module")
def scorer(digits):
    return samples.train_scorer(digits, seed=0, epochs=8)


def test_class_scores_detect_a_collapsed_generator():
    balanced = np.eye(10)[np.arange(200) % 10]
    collapsed = np.eye(10)[np.where(np.arange(200) % 4 == 0, 7, 1)]
    good, bad = samples.class_scores(balanced), samples.class_scores(collapsed)
    assert good["classes_covered"] == 10 and good["min_class_fraction"] == pytest.approx(0.1)
    assert bad["classes_covered"] == 2 and bad["missing_classes"] == [0, 2, 3, 4, 5, 6, 8, 9]
    assert samples.class_scores(balanced, requested=np.arange(200) % 10)["conditional_accuracy"] == 1.0


def test_frechet_distance_of_gaussians_matches_the_formula():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 3))
    assert samples.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-4)
    shifted = features + np.array([3.0, 0.0, 0.0])
    assert samples.frechet_distance(features, shifted) == pytest.approx(9.0, rel=1e-3)
    widened = features * 2.0  # covariance 4I vs I: trace(I + 4I - 2*2I) = 3 per dimension... = 3
    assert samples.frechet_distance(features, widened) == pytest.approx(3.0, rel=0.05)


def test_real_digits_score_high_and_noise_scores_low(digits, scorer):
    assert scorer.test_accuracy > 0.9
    real = samples.score_samples(scorer, digits.x_test, digits, requested=digits.y_test)
    assert real["classes_covered"] == 10 and real["mean_confidence"] > 0.8 and real["conditional_accuracy"] > 0.9
    assert real["frechet_position"] < 0.1
    noise = samples.score_samples(
        scorer, samples.noise_images(digits.input_shape, 360, 0, 16, seed=5), digits,
        requested=digits.y_test)
    assert noise["classes_covered"] < 10 and noise["min_class_fraction"] < 0.05
    assert noise["conditional_accuracy"] < 0.3 and noise["frechet_position"] > 0.8
    assert noise["frechet_distance"] > 10 * real["frechet_distance"]


def test_cgan_trains_exports_and_samples_in_the_raw_range(cli_run, tmp_path):
    result = cli_run("train", "cgan", *QUICK, "--set", "train.quick_epochs=2", "--set", "generate.samples=100",
                     "--runs", tmp_path / "runs")
    assert result.exit_code == 0, result.output + result.stderr
    folder = only_run(tmp_path / "runs", "cgan")
    record = json.loads((folder / "metrics.json").read_text())
    header = (folder / "history.csv").read_text().splitlines()[0].split(",")
    assert {"discriminator_loss", "generator_loss", "loss"} <= set(header)
    assert record["export"]["max_abs_difference"] <= 1e-4
    assert record["export"]["signature"] == "serve(noise: float32[None, 32], labels: int32[None])"
    assert 0 <= record["metrics"]["conditional_accuracy"] <= 1 and record["generator_weights"] == "last step"
    for picture in ("samples.png", "progress.png", "progress.gif", "class_fractions.png"):
        assert (folder / "plots" / picture).exists(), picture
    loaded = tf.saved_model.load(str(folder / "saved_model"))
    images = loaded.serve(tf.random.normal((5, 32)), tf.constant([0, 1, 2, 3, 4]))["samples"].numpy()
    assert images.shape == (5, 8, 8, 1) and images.min() >= 0 and images.max() <= 16
    sampled = cli_run("sample", folder, "--n", "7", "--class", "3", "--seed", "1", "--out", tmp_path / "out")
    assert sampled.exit_code == 0, sampled.output + sampled.stderr
    samples, labels = np.load(tmp_path / "out" / "samples.npy"), np.load(tmp_path / "out" / "labels.npy")
    assert samples.shape == (7, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 16 and samples.max() > 1
    assert list(labels) == [3] * 7 and (tmp_path / "out" / "samples.png").exists()
    again = cli_run("sample", folder, "--n", "7", "--class", "3", "--seed", "1", "--out", tmp_path / "out")
    assert again.exit_code == 0 and np.array_equal(np.load(tmp_path / "out" / "samples-2.npy"), samples)
    # Bad requests: one line, exit 2.
    for arguments, message in ((("--n", "0"), "--n must be at least 1"), (("--class", "10"), "between 0 and 9"),
                               (("--class", "-1"), "between 0 and 9")):
        refused = cli_run("sample", folder, *arguments)
        assert refused.exit_code == 2 and message in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_sample_refuses_unconditional_class_and_non_generative_runs(cli_run, tmp_path, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "dcgan", "--quick").copy_into(tmp_path / "runs")  # sample writes into it
    record = json.loads((folder / "metrics.json").read_text())
    assert record["export"]["signature"] == "serve(noise: float32[None, 32])"
    # The recipe's generator optimizer keeps an average (use_ema): samples and export come from it.
    assert record["generator_weights"] == "moving average"
    text = (folder / "report.md").read_text()
    assert "**moving average** of the generator's weights" in text
    assert "| split | loss | accuracy |" not in text  # a GAN has neither: no empty table
    serving = text[text.index("## Use it without dlzoo"):]
    assert "takes noise drawn from N(0, I), 32 numbers" in serving and "dataset's raw values" not in serving
    refused = cli_run("sample", folder, "--class", "2")
    assert refused.exit_code == 2 and "unconditional GAN" in refused.stderr
    sampled = cli_run("sample", folder, "--n", "5")
    assert sampled.exit_code == 0 and np.load(folder / "samples" / "samples.npy").shape == (5, 8, 8, 1)
    refused = cli_run("sample", shared_run(tmp_path_factory, "mlp", "--quick").folder)
    assert refused.exit_code == 2 and "'classify' run" in refused.stderr and "no generator" in refused.stderr


def test_a_gan_whose_discriminator_wins_is_marked_failed_and_not_exported(cli_run, tmp_path):
    result = cli_run("train", "dcgan", *QUICK, "--set", "train.quick_epochs=12",
                     "--set", "generate.generator_optimizer={learning_rate=1e-9}",
                     "--set", "generate.discriminator_optimizer={learning_rate=0.01}",
                     "--set", "generate.label_smoothing=0.0", "--set", "model.dropout_rate=0.0",
                     "--set", "generate.divergence_patience=2", "--runs", tmp_path / "runs")
    assert result.exit_code == 1, result.output + result.stderr
    assert "the GAN diverged: the discriminator won" in result.stderr
    folder = only_run(tmp_path / "runs", "dcgan")
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "failed" and "discriminator won" in record["error"]
    assert not (folder / "saved_model").exists() and not (folder / "model.keras").exists()
    assert (folder / "history.csv").exists()


def test_the_averaged_generator_is_the_moving_average_of_its_weights_after_every_step():
    import keras

    from dlzoo.training import steps as generative
    from dlzoo.models import gan as gan_models

    keras.utils.set_random_seed(0)
    generator, discriminator = gan_models.build("dcgan", (8, 8, 1), 10, (0, 16), generator_filters=(8, 4),
                                                discriminator_filters=(4, 8))
    model = generative.GenerativeAdversarialNetwork(generator, discriminator, latent_dim=32)
    momentum = 0.6
    model.compile(generator_optimizer=keras.optimizers.Adam(0.01, use_ema=True, ema_momentum=momentum),
                  discriminator_optimizer=keras.optimizers.Adam(0.001))
    steps = []  # the generator's trainable weights after each training step

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append([weight.numpy().copy() for weight in generator.trainable_weights])

    images = np.random.default_rng(0).uniform(0, 16, size=(40, 8, 8, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0, callbacks=[Record()])
    assert len(steps) == 5
    statistics = [weight.numpy().copy() for weight in generator.non_trainable_weights]
    # By hand: the average starts at the first step's weights, then average <- m * average + (1 - m) * weights.
    expected = steps[0]
    for weights in steps[1:]:
        expected = [momentum * average + (1 - momentum) * value for average, value in zip(expected, weights)]
    assert model.use_averaged_generator()
    for weight, average, last in zip(generator.trainable_weights, expected, steps[-1]):
        np.testing.assert_allclose(weight.numpy(), average, rtol=1e-5, atol=1e-6)
    assert max(np.abs(average - last).max() for average, last in zip(expected, steps[-1])) > 1e-3
    # Batch-normalization statistics are not averaged: they stay as the last step left them.
    for weight, before in zip(generator.non_trainable_weights, statistics):
        np.testing.assert_array_equal(weight.numpy(), before)
    # Without use_ema nothing is replaced.
    plain = generative.GenerativeAdversarialNetwork(generator, discriminator, latent_dim=32)
    plain.compile(generator_optimizer=keras.optimizers.Adam(0.01), discriminator_optimizer=keras.optimizers.Adam(0.01))
    weights = [weight.numpy().copy() for weight in generator.weights]
    assert not plain.use_averaged_generator()
    assert all(np.array_equal(weight.numpy(), before) for weight, before in zip(generator.weights, weights))


def test_discriminator_won_needs_patience_epochs():
    history = {"discriminator_loss": [0.5, 0.01, 0.01], "generator_loss": [1.0, 8.0, 9.0]}
    assert generate.discriminator_won(history, 2) and not generate.discriminator_won(history, 3)
    assert not generate.discriminator_won({"discriminator_loss": [0.01], "generator_loss": [1.0]}, 1)


def test_generate_bad_input(cli_run, tmp_path):
    result = cli_run("train", "dcgan", *QUICK, "--data", "breast_cancer", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "does not fit GAN 'dcgan'" in result.stderr
    result = cli_run("train", "dcgan", *QUICK, "--set", "generate.generator_loss=wasserstein", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "generator_loss must be one of" in result.stderr
    result = cli_run("train", "cgan", *QUICK, "--data", "diabetes", "--runs", tmp_path / "runs")
    assert result.exit_code == 2
