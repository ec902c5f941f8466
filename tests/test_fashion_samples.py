"""Sample quality at Fashion-MNIST's scale (28x28): ``fashion-vae`` and ``fashion-dcgan`` judge their
samples with a classifier trained in the run, set by the recipe (``scorer_model``,
``scorer_epochs``, ``scorer_batch_size``). The data is the small IDX fixture of the real format
that ``$DLZOO_DATA`` points at (tests/conftest.py), never the real files."""

import json

import pytest

from dlzoo.metrics import samples as sample_quality

from helpers import QUICK, assert_usage_error, shared_run


@pytest.fixture(scope="module")
def quick_fashion_vae(tmp_path_factory):
    """``(run, run folder)`` of the session's quick fashion-vae run, with the default output."""
    run = shared_run(tmp_path_factory, "fashion-vae", "--quick")
    return run, run.folder


def judge_described_as_the_recipe_says(scores):
    """The judge's description names the recipe's flatten head and batch size, and what it trained on."""
    assert "filters [32, 64, 128]" in scores["scorer"] and "dense_units 128" in scores["scorer"]
    assert "a cosine learning rate from 0.003" in scores["scorer"]
    assert "at batch 128" in scores["scorer"] and "training images" in scores["scorer"]
    return True


def test_fashion_vae_judges_the_samples_of_its_prior(quick_fashion_vae):
    result, folder = quick_fashion_vae
    record = json.loads((folder / "metrics.json").read_text())
    metrics = record["metrics"]
    assert set(sample_quality.SAMPLE_METRICS) <= set(metrics)
    assert 0 <= metrics["min_class_fraction"] <= 0.1 and 0 <= metrics["classes_covered"] <= 10
    assert 0 <= metrics["scorer_test_accuracy"] <= 1
    # The two ends of the Fréchet scale: real training images are nearer the test images than noise.
    assert metrics["frechet_real_train"] < metrics["frechet_noise"]
    scores = json.loads((folder / "sample_quality.json").read_text())
    assert judge_described_as_the_recipe_says(scores)
    assert scores["frechet_real_train_images"] == record["data"]["sizes"]["train"]  # a small split: all of it
    assert len(scores["class_fractions"]) == 10 and (folder / "plots" / "class_fractions.png").exists()
    report = (folder / "report.md").read_text()
    assert "## Samples of the prior, judged" in report and "The judge: cnn (" in report
    assert "Fréchet distance: real training vs test images" in report
    summary = result.output[result.output.index("== fashion-vae (quick)"):]
    assert "min_class_fraction" in summary  # the target's verdict, on the default output
    # Beside the prior's samples: the mixture fitted to the codes, and reconstructions (the ceiling).
    for name in ("mixture", "reconstruction"):
        assert 0 <= metrics[f"{name}_min_class_fraction"] <= 0.1 and metrics[f"{name}_frechet_distance"] >= 0
        assert (folder / f"{name}_sample_quality.json").exists()
    mixture = json.loads((folder / "mixture_sample_quality.json").read_text())["mixture"]
    assert 1 <= mixture["components"] <= 100 and mixture["fitted_codes"] == record["data"]["sizes"]["train"]
    assert "| measure | prior N(0, I) | mixture fitted to the codes | reconstructions of training images |" in report
    assert (folder / "plots" / "mixture_samples.png").exists() and "mixture_min_class_fraction" in summary


def test_fashion_dcgan_is_conditional_and_its_judge_follows_the_recipe(tmp_path_factory):
    result = shared_run(tmp_path_factory, "fashion-dcgan", "--quick")
    folder = result.folder
    record = json.loads((folder / "metrics.json").read_text())
    assert 0 <= record["metrics"]["conditional_accuracy"] <= 1
    assert record["export"]["signature"] == "serve(noise: float32[None, 32], labels: int32[None])"
    scores = json.loads((folder / "sample_quality.json").read_text())
    assert judge_described_as_the_recipe_says(scores)
    assert "The judge: cnn (" in (folder / "report.md").read_text()
    assert "conditional_accuracy" in result.output[result.output.index("== fashion-dcgan (quick)"):]


def test_the_real_training_reference_is_a_bounded_seeded_subsample(monkeypatch):
    from dlzoo import data

    digits = data.load("digits", seed=0)
    scorer = sample_quality.train_scorer(digits, seed=0, epochs=2)
    whole = sample_quality.score_samples(scorer, digits.x_test, digits)
    assert whole["frechet_real_train_images"] == len(digits.x_train)  # under the limit: every training image
    monkeypatch.setattr(sample_quality, "REFERENCE_LIMIT", 300)
    first = sample_quality.score_samples(scorer, digits.x_test, digits)
    again = sample_quality.score_samples(scorer, digits.x_test, digits)
    assert first["frechet_real_train_images"] == 300
    assert first["frechet_real_train"] == again["frechet_real_train"]  # seeded: the same subsample
    assert first["frechet_real_train"] < first["frechet_noise"] / 5


def test_judge_settings_are_checked_before_training(cli_run, tmp_path):
    runs = tmp_path / "runs"
    assert_usage_error(cli_run("train", "fashion-dcgan", *QUICK, "--set", "generate.scorer_batch_size=0",
                               "--runs", runs), "generate.scorer_batch_size")
    assert_usage_error(cli_run("train", "fashion-vae", *QUICK, "--set", 'autoencode.scorer_model="big"',
                               "--runs", runs), "autoencode.scorer_model must be a table")
    # A key the cnn builder does not take fails when the data is loaded, before any training.
    assert_usage_error(cli_run("train", "fashion-dcgan", *QUICK, "--set", "generate.scorer_model={filter = [8]}",
                               "--runs", runs), "scorer_model")
    # fashion-vae's samples = 10000 with a plain convolutional autoencoder: no prior to sample from.
    assert_usage_error(cli_run("train", "fashion-vae", *QUICK, "--set", "model.name=conv", "--runs", runs),
                       "only a VAE has a prior")
    assert_usage_error(cli_run("train", "fashion-vae", *QUICK, "--set", "autoencode.samples=5", "--runs", runs),
                       "autoencode.samples must be 0")
    assert not runs.exists() or not any(runs.rglob("metrics.json"))


def test_the_judge_learning_rate_is_checked_before_training(cli_run, tmp_path):
    runs = tmp_path / "runs"
    assert_usage_error(cli_run("train", "fashion-dcgan", *QUICK, "--set", "generate.scorer_learning_rate=-1",
                               "--runs", runs), "generate.scorer_learning_rate must be a number >= 0")
    # A schedule table without its decay_steps fails when the judge is prepared, before any training.
    assert_usage_error(cli_run("train", "fashion-vae", *QUICK, "--set",
                               'autoencode.scorer_learning_rate={schedule = "cosine", initial = 0.003}',
                               "--runs", runs), "scorer_learning_rate", "decay_steps")
    assert not runs.exists() or not any(runs.rglob("metrics.json"))


def test_a_cosine_judge_decays_to_zero_at_its_last_step():
    from dlzoo import data

    digits = data.load("digits", seed=0)
    schedule = {"schedule": "cosine", "initial": 0.003, "decay_steps": "auto"}
    scorer = sample_quality.train_scorer(digits, seed=0, epochs=5, batch_size=32, learning_rate=schedule)
    optimizer = scorer.classifier.optimizer
    steps = 5 * -(-len(digits.x_train) // 32)
    assert int(optimizer.iterations) == steps  # "auto": the judge's own number of batches
    assert float(optimizer.learning_rate) < 1e-6  # the cosine has ended there
    assert "a cosine learning rate from 0.003" in scorer.description
    assert scorer.test_accuracy > 0.5  # it still learns the digits (chance: 0.1)
