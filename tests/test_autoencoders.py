"""The ``autoencode`` task: the linear-autoencoder/PCA oracle, denoising measures, the VAE, exports, bad input."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import linalg
from sklearn.decomposition import PCA

from dlzoo import data
from dlzoo.models import autoencoder
from dlzoo.tasks import autoencode

from helpers import QUICK, shared_run


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", seed=0)


def linear_model(splits, latent_dim):
    model, encoder, decoder = autoencoder.build("linear", splits.input_shape, splits.x_train.mean(axis=0),
                                                autoencode.raw_scale(splits.x_train), latent_dim=latent_dim)
    return model, encoder, decoder


def test_the_oracle_sees_a_mixed_pca_basis_as_the_same_subspace(digits):
    # A decoder whose basis images are an invertible mix of PCA's components spans PCA's
    # subspace: angle 0 (up to float32), although no basis image is a component.
    keras.utils.set_random_seed(0)
    model, _, decoder = linear_model(digits, 5)
    pca = PCA(5).fit(digits.x_train.reshape(len(digits.x_train), -1))
    mixing = np.random.default_rng(0).normal(size=(5, 5)) + 3 * np.eye(5)
    decoder.get_layer("decoder_basis").kernel.assign((mixing @ pca.components_).astype("float32"))
    comparison = autoencode.pca_comparison(decoder, model, digits, 5)
    assert comparison["principal_angle_max_degrees"] < 0.05
    # ... while SciPy sees the basis images themselves far from the components (different axes).
    first_basis = autoencode.decoder_basis(decoder)[:1].T
    assert np.degrees(linalg.subspace_angles(first_basis, pca.components_[:1].T)).max() > 10


def test_a_trained_linear_autoencoder_learns_the_pca_subspace(digits):
    keras.utils.set_random_seed(0)
    model, _, decoder = linear_model(digits, 3)
    untrained = autoencode.pca_comparison(decoder, model, digits, 3)
    schedule = keras.optimizers.schedules.CosineDecay(0.01, 40 * 20)
    model.compile(keras.optimizers.Adam(schedule), "mse")
    model.fit(digits.x_train, digits.x_train, batch_size=64, epochs=40, verbose=0)
    trained = autoencode.pca_comparison(decoder, model, digits, 3)
    assert untrained["principal_angle_max_degrees"] > 45  # the test can fail: random weights are far off
    assert trained["principal_angle_max_degrees"] < 5
    assert trained["mse_ratio_to_pca"] < 1.02
    assert trained["mse_ratio_to_pca"] > 0.97  # PCA is optimal on the training split; test MSE is close to it


def test_psnr_and_ssim_come_from_tensorflow_and_rank_noise_levels(digits):
    clean = digits.x_test[:50]
    scale = 16.0
    perfect_psnr, perfect_ssim = autoencode.psnr_and_ssim(clean, clean, scale)
    assert perfect_psnr == 100.0 and perfect_ssim == pytest.approx(1.0, abs=1e-5)
    light = autoencode.psnr_and_ssim(autoencode.corrupt(clean, "gaussian", 0.1, scale), clean, scale)
    heavy = autoencode.psnr_and_ssim(autoencode.corrupt(clean, "gaussian", 0.4, scale), clean, scale)
    assert light[0] > heavy[0] + 6 and light[1] > heavy[1]  # 4x the noise std: 12 dB less before clipping
    expected = float(np.mean(tf.image.psnr(np.clip(autoencode.corrupt(clean, "gaussian", 0.1, scale), 0, 16), clean,
                                           max_val=16.0)))
    assert light[0] == pytest.approx(expected, rel=1e-6)
    masked = autoencode.corrupt(clean, "masking", 0.5, scale)
    assert np.all((masked == clean) | (masked == 0)) and 0.3 < np.mean((masked == 0) & (clean > 0)) / np.mean(clean > 0) < 0.7


def test_masking_noise_layer_is_active_in_training_only():
    layer = autoencoder.RandomMasking(0.5, seed=0)
    inputs = np.ones((4, 8, 8, 1), "float32")
    assert np.array_equal(np.asarray(layer(inputs, training=False)), inputs)
    masked = np.asarray(layer(inputs, training=True))
    assert 0.3 < np.mean(masked == 0) < 0.7


@pytest.mark.parametrize("name, options", [("dense", {"latent_dim": 3}), ("conv", {"latent_dim": 4, "noise": "masking",
                                                                                  "noise_level": 0.2}),
                                           ("linear", {"latent_dim": 2, "noise": "gaussian", "noise_level": 0.3})])
def test_every_autoencoder_runs_forward_and_backward_in_raw_units(digits, name, options):
    keras.utils.set_random_seed(0)
    model, encoder, decoder = autoencoder.build(name, digits.input_shape, digits.x_train.mean(axis=0), 16.0, **options)
    x = digits.x_train[:8]
    with tf.GradientTape() as tape:
        reconstruction = model(x, training=True)
        loss = tf.reduce_mean(tf.square(reconstruction - x))
    gradients = tape.gradient(loss, model.trainable_weights)
    assert reconstruction.shape == x.shape and np.isfinite(float(loss))
    assert all(gradient is not None and np.any(np.asarray(gradient) != 0) for gradient in gradients)
    assert encoder(x).shape == (8, options["latent_dim"])
    # An untrained decoder of code 0 gives the training mean image (the centring is inside the model).
    blank = np.asarray(decoder(np.zeros((1, options["latent_dim"]), "float32")))
    if name == "linear":
        np.testing.assert_allclose(blank[0] - np.asarray(decoder.get_layer("decoder_basis").bias).reshape(x.shape[1:]) * 16,
                                   digits.x_train.mean(axis=0), atol=1e-3)


@pytest.fixture(scope="module")
def quick_vae(tmp_path_factory):
    """``(run, run folder)`` of the session's quick VAE run with the default output, for the tests that read it."""
    run = shared_run(tmp_path_factory, "vae", "--quick")
    return run, run.folder


def test_vae_trains_logs_both_terms_exports_three_endpoints_and_samples(quick_vae, cli_run, tmp_path):
    folder = quick_vae[1]
    header = (folder / "history.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "reconstruction_loss", "kl_loss", "val_kl_loss", "val_reconstruction_loss"} <= set(header)
    record = json.loads((folder / "metrics.json").read_text())
    metrics = record["metrics"]
    assert metrics["test_vae_loss"] == pytest.approx(metrics["test_reconstruction_loss"] + metrics["test_kl_loss"],
                                                     rel=1e-5)
    assert metrics["test_kl_loss"] >= 0
    assert record["export"]["max_abs_difference"] <= 1e-4
    assert set(record["export"]["endpoint_differences"]) == {"encode", "decode"}
    loaded = tf.saved_model.load(str(folder / "saved_model"))
    images = data.load("digits").x_test[:3]
    codes = loaded.encode(tf.constant(images))
    assert set(codes) == {"latent", "latent_log_variance"} and codes["latent"].shape == (3, 2)
    decoded = loaded.decode(codes["latent"])["reconstruction"].numpy()
    served = loaded.serve(tf.constant(images))
    np.testing.assert_allclose(decoded, served["reconstruction"].numpy(), atol=1e-4)
    sampled = cli_run("sample", folder, "--n", "12", "--seed", "3", "--out", tmp_path / "samples")
    assert sampled.exit_code == 0, sampled.output + sampled.stderr
    samples = np.load(tmp_path / "samples" / "samples.npy")
    assert samples.shape == (12, 8, 8, 1) and (tmp_path / "samples" / "samples.png").exists()
    assert -4 < samples.min() and samples.max() < 20  # raw ink counts (a linear output can overshoot 0-16 a bit)
    assert "kl" in (folder / "report.md").read_text().lower()
    exported = cli_run("export", folder, "--out", tmp_path / "delivery")
    assert exported.exit_code == 0, exported.output + exported.stderr
    assert hasattr(tf.saved_model.load(str(tmp_path / "delivery" / "saved_model")), "decode")


def test_denoising_run_reports_the_sweep_and_baselines(tmp_path_factory):
    folder = shared_run(tmp_path_factory, "denoising-ae", "--quick").folder
    metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
    for key in ("noisy_psnr", "denoised_psnr", "median_psnr", "pca_psnr", "psnr_gain_db", "psnr_margin_over_baseline_db",
                "denoised_ssim"):
        assert np.isfinite(metrics[key]), key
    assert metrics["psnr_gain_db"] == pytest.approx(metrics["denoised_psnr"] - metrics["noisy_psnr"])
    assert (folder / "plots" / "denoising.png").exists() and "## Denoising" in (folder / "report.md").read_text()


def test_autoencoder_bad_input(cli_run, tmp_path):
    # A convolutional autoencoder on tabular data: its decoder cannot produce those inputs.
    result = cli_run("train", "autoencoder-deep", *QUICK, "--data", "breast_cancer", "--runs", tmp_path / "runs")
    assert result.exit_code == 2
    assert "does not fit autoencoder 'conv'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))
    result = cli_run("train", "autoencoder-deep", *QUICK, "--set", "model.latent_dims=3", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "model.latent_dims" in result.stderr
    result = cli_run("train", "autoencoder-deep", *QUICK, "--set", "model.name=resnet", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "not an autoencoder" in result.stderr
    result = cli_run("train", "denoising-ae", *QUICK, "--set", "model.noise=salt", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "noise must be one of" in result.stderr
    result = cli_run("train", "vae", *QUICK, "--set", "autoencode.decoder_std=0", "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "decoder_std" in result.stderr
    # The decoder mirrors exactly two stride-2 stages: three filter counts would decode 28x28
    # images to 56x56, so the VAE refuses them like the plain convolutional autoencoder does.
    for filters in ("[16, 32, 64]", "[16, 0]"):
        result = cli_run("train", "vae", *QUICK, "--set", f"model.filters={filters}", "--runs", tmp_path / "runs")
        assert result.exit_code == 2 and "filters" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_vae_summary_and_report_say_what_each_number_is(quick_vae, cli_run):
    result, folder = quick_vae  # trained with the default output
    metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
    assert "test_negative_elbo" not in metrics  # the old name sat beside test_elbo with another value
    # The loss leaves out the Gaussian's constant D/2 log(2 pi std^2): ELBO = -(loss + constant).
    constant = 0.5 * 64 * np.log(2 * np.pi * 0.15 ** 2)
    assert metrics["test_elbo"] == pytest.approx(-(metrics["test_vae_loss"] + constant), rel=1e-4, abs=1e-3)
    summary = result.output[result.output.index("== vae"):]
    for key in ("test_elbo", "test_vae_loss"):
        assert f"   {key}: " in summary  # printed with what it is, next to its value
    assert "log-density" in summary and "uniform distribution" in summary and "constant" in summary
    text = (folder / "report.md").read_text()
    assert "| split | loss | accuracy |" not in text  # no empty per-split table
    kl_rows = [line for line in text.splitlines() if line.startswith("| KL(q(z")]
    assert kl_rows and all(line.count("|") - line.count("\\|") == 5 for line in kl_rows)  # 4 cells, escaped bar
    assert "can be positive" in text and "the Gaussian's constant" in text
    sampled = cli_run("sample", folder, "--n", "64")
    assert sampled.exit_code == 0, sampled.output + sampled.stderr
    samples = np.load(folder / "samples" / "samples.npy")
    outside = samples.min() < -0.02 or samples.max() > 16.02  # the decoder's mean is not bounded to 0-16
    assert ("note: the samples range from" in sampled.output) == outside


def test_sample_notes_only_samples_outside_the_data_range():
    from dlzoo.commands import sample

    assert sample.range_note(np.array([0.0, 8.0, 16.0]), 0.0, 16.0) == ""
    note = sample.range_note(np.array([-1.33, 8.0, 17.56]), 0.0, 16.0)
    assert "-1.33 to 17.6" in note and "np.clip(samples, 0, 16)" in note


def test_a_mixture_fitted_to_the_codes_samples_where_the_codes_are():
    # Codes in three clusters away from the origin, one three times heavier than the others: the
    # prior N(0, I) puts almost no sample near any cluster, the fitted mixture nearly all, with
    # the clusters' own proportions. An identity "decoder" shows the codes themselves.
    rng = np.random.default_rng(0)
    centres = np.array([[6.0, 0.0], [-6.0, 0.0], [0.0, 6.0]])
    codes = np.concatenate([centre + 0.3 * rng.normal(size=(size, 2)) for centre, size in zip(centres, (600, 200, 200))])
    identity = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    mixture = autoencode.fit_code_mixture(codes.astype("float32"), components=3, seed=0)
    samples = autoencode.mixture_samples(identity, mixture, 3000, seed=1)
    distances = np.linalg.norm(samples[:, None, :] - centres[None], axis=-1)
    nearest, closest = distances.argmin(axis=1), distances.min(axis=1)
    assert np.mean(closest < 1.5) > 0.97
    assert np.bincount(nearest, minlength=3) / len(samples) == pytest.approx([0.6, 0.2, 0.2], abs=0.04)
    assert nearest[:100].min() != nearest[:100].max()  # shuffled, not grouped by component
    prior = autoencode.prior_samples(identity, 3000, seed=1)
    assert np.mean(np.linalg.norm(prior[:, None, :] - centres[None], axis=-1).min(axis=1) < 1.5) < 0.05
    description = autoencode.mixture_description(mixture, len(codes))
    assert description["components"] == 3 and description["fitted_codes"] == 1000 and description["converged"]
    assert description["smallest_weight"] == pytest.approx(0.2, abs=0.02)


def test_mixture_components_are_checked_before_training(cli_run, tmp_path):
    runs = tmp_path / "runs"
    result = cli_run("train", "vae", *QUICK, "--set", "autoencode.mixture_components=-1", "--runs", runs)
    assert result.exit_code == 2 and "autoencode.mixture_components" in result.stderr
    # The vae recipe judges no samples (autoencode.samples = 0): a mixture alone has nothing beside it.
    result = cli_run("train", "vae", *QUICK, "--set", "autoencode.mixture_components=10", "--runs", runs)
    assert result.exit_code == 2 and "set autoencode.samples too" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not runs.exists()


def test_a_small_dataset_gets_fewer_mixture_components_not_an_error():
    codes = np.random.default_rng(0).normal(size=(120, 4)).astype("float32")
    assert autoencode.fit_code_mixture(codes, components=100, seed=0).n_components == 12
