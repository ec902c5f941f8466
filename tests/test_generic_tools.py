"""The generic tools (compare, evaluate, check, lr-find, tune) on the second half of the course:
autoencoders, VAEs, GANs, ... Each task says what it supports; each tool asks it.

One quick run of each kind is trained once per module and only read by the tests (the plain
quick runs of vae and word2vec are copies of the session's shared ones: evaluate writes into them).
"""

import json
import math

import pytest

from helpers import QUICK, shared_run, train_once



def quick_run_of(tmp_path_factory, recipe, *overrides):
    """This module's own quiet quick run of ``recipe`` with ``overrides``: its folder."""
    return train_once(tmp_path_factory, recipe, *QUICK, *overrides)[1]


def copy_of_shared_run(tmp_path_factory, recipe):
    """This module's own copy of the session's plain quick run of ``recipe``: its folder."""
    return shared_run(tmp_path_factory, recipe, "--quick").copy_into(tmp_path_factory.mktemp(recipe) / "runs")


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return copy_of_shared_run(tmp_path_factory, "vae")


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    return quick_run_of(tmp_path_factory, "dcgan", "--set", "train.quick_epochs=2", "--set", "generate.samples=100")


def test_compare_shows_each_tasks_own_metrics_and_reads_gan_histories(cli_run, tmp_path, vae_run, dcgan_run):
    assert "NA" in (dcgan_run / "history.csv").read_text()  # a GAN's history has cells without a value
    result = cli_run("compare", vae_run, dcgan_run, "--out", "comparison")
    assert result.exit_code == 0, result.stderr
    header = result.output.splitlines()[0].split()
    assert {"test_elbo", "test_mse", "min_class_fraction", "frechet_distance"} <= set(header), header
    assert "test_accuracy" not in header  # no empty classification columns
    rows = json.loads((tmp_path / "comparison" / "compare.json").read_text())["rows"]
    vae_row, gan_row = rows
    assert vae_row["test_elbo"] < 0 < vae_row["test_mse"] and vae_row["min_class_fraction"] is None
    assert 0.0 <= gan_row["min_class_fraction"] <= 1.0 and gan_row["test_elbo"] is None
    assert (tmp_path / "comparison" / "learning_curves.png").exists()


@pytest.fixture(scope="module")
def word2vec_run(tmp_path_factory):
    return copy_of_shared_run(tmp_path_factory, "word2vec")


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    return quick_run_of(tmp_path_factory, "gpt-char", "--set", "model.num_layers=1", "--set", "model.model_dim=32",
                      "--set", "model.feed_forward_dim=64", "--set", "language_model.context_length=32")


def evaluation_of(folder, name="evaluation-test-digits.json"):
    """The JSON written by ``dlzoo evaluate`` into a run folder."""
    return json.loads((folder / name).read_text())


def test_evaluate_a_vae_gives_its_reconstruction_and_elbo(cli_run, vae_run):
    result = cli_run("evaluate", vae_run)
    assert result.exit_code == 0, result.stderr
    assert "reconstruction MSE" in result.output and "ELBO" in result.output
    evaluation = evaluation_of(vae_run)
    trained = json.loads((vae_run / "metrics.json").read_text())["metrics"]
    assert evaluation["mse"] == pytest.approx(trained["test_mse"], rel=1e-3)
    # The ELBO draws the posterior's noise: close to the run's, not equal.
    assert evaluation["elbo"] == pytest.approx(trained["test_elbo"], rel=0.1, abs=1.0)
    assert "| elbo |" in (vae_run / "report.md").read_text()  # the report's evaluation section
    wrong = cli_run("evaluate", vae_run, "--data", "mnist1d")
    assert wrong.exit_code == 2 and "the autoencoder expects (8, 8, 1)" in wrong.stderr, wrong.stderr


def test_the_python_api_evaluates_a_vae_as_the_cli_does(vae_run):
    import dlzoo

    result = dlzoo.load(vae_run).evaluate(split="val")
    assert result["split"] == "val" and result["examples"] > 0
    assert result["elbo"] == pytest.approx(json.loads((vae_run / "metrics.json").read_text())["metrics"]["val_elbo"],
                                           rel=0.1, abs=1.0)


def test_evaluate_a_gan_scores_fresh_samples_with_a_judge(cli_run, dcgan_run):
    result = cli_run("evaluate", dcgan_run, "--split", "val")
    assert result.exit_code == 0, result.stderr
    assert "fresh samples" in result.output and "Fréchet distance" in result.output
    evaluation = evaluation_of(dcgan_run, "evaluation-val-digits.json")
    assert 0.0 <= evaluation["min_class_fraction"] <= 1.0 and evaluation["frechet_distance"] > 0
    assert evaluation["scorer_test_accuracy"] > 0.5  # the judge itself reads digits


def test_evaluate_word_vectors_and_a_language_model(cli_run, word2vec_run, gpt_run):
    words = cli_run("evaluate", word2vec_run)
    assert words.exit_code == 0, words.stderr
    assert "analogy accuracy" in words.output
    scores = evaluation_of(word2vec_run, "evaluation-test-grammar.json")
    trained = json.loads((word2vec_run / "metrics.json").read_text())["metrics"]
    assert scores["analogy_accuracy"] == pytest.approx(trained["analogy_accuracy"])
    text = cli_run("evaluate", gpt_run, "--split", "val")
    assert text.exit_code == 0, text.stderr
    assert "val perplexity" in text.output
    perplexity = evaluation_of(gpt_run, "evaluation-val-grammar.json")["perplexity"]
    trained = json.loads((gpt_run / "metrics.json").read_text())["metrics"]
    # --quick trained on the first lines only; evaluate reads the whole validation text: close, not equal.
    assert perplexity > 1.0 and perplexity == pytest.approx(trained["val_perplexity"], rel=0.2)


@pytest.mark.parametrize("recipe", ["vae", "autoencoder-deep"])
def test_check_an_autoencoder_compares_its_initial_loss_with_the_mean_image(cli_run, recipe):
    result = cli_run("check", recipe)
    assert result.exit_code == 0, result.stderr
    assert "[ok] initial loss" in result.output and "mean image" in result.output, result.output
    assert "[ok] gradients" in result.output and "[ok] leakage" in result.output
    assert "[PROBLEM]" not in result.output and "examples per class" not in result.output  # labels are unused


def test_lr_find_on_a_vae_suggests_a_rate_near_the_recipes(cli_run, tmp_path):
    result = cli_run("lr-find", "vae", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    record = json.loads((next((tmp_path / "runs" / "vae-lr-find").iterdir()) / "metrics.json").read_text())
    assert 2e-4 <= record["lr_find"]["suggested"] <= 2e-2  # the recipe trains at 0.002


def test_a_vae_overfits_one_batch(cli_run):
    result = cli_run("train", "vae", "--overfit-batch", "--runs", "runs")
    assert result.exit_code == 0 and result.output.startswith("ok:"), result.output


def test_tune_a_vae_on_its_validation_elbo(cli_run, tmp_path):
    result = cli_run("tune", "vae", "--space", "optimizer.learning_rate=[0.002,0.01]", "--trials", "2", "--quick",
                     "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    assert "objective val_elbo max" in result.output and "best: trial" in result.output
    tune_folder = next((tmp_path / "runs" / "vae-tune").iterdir())
    record = json.loads((tune_folder / "tune.json").read_text())
    assert [trial["status"] for trial in record["trials"]] == ["completed", "completed"]
    assert all(math.isfinite(trial["objective"]) for trial in record["trials"])
    trial = json.loads((tune_folder / record["trials"][0]["folder"] / "metrics.json").read_text())
    assert trial["metrics"]["val_elbo"] == record["trials"][0]["objective"]  # chosen on validation, not test


TINY_GPT = ("--set", "model.num_layers=1", "--set", "model.model_dim=32", "--set", "model.feed_forward_dim=64",
            "--set", "language_model.context_length=32")
TINY_TRANSLATOR = ("--set", "model.units=16", "--set", "model.embedding_dim=8", "--set", "train.quick_train_samples=128")


@pytest.mark.parametrize("recipe, tiny, leakage", [
    ("gpt-char", TINY_GPT, "leakage: not checked"),  # one running text
    ("seq2seq-addition", TINY_TRANSLATOR, "[ok] leakage: no exact or near duplicates"),  # source strings compared
])
def test_check_a_language_model_and_a_translator(cli_run, recipe, tiny, leakage):
    result = cli_run("check", recipe, *tiny)
    assert result.exit_code == 0, result.stderr
    assert "[ok] initial loss" in result.output and "expected" in result.output and "ln(" in result.output, result.output
    assert leakage in result.output, result.output


def test_lr_find_and_overfit_batch_on_a_translator(cli_run, tmp_path):
    found = cli_run("lr-find", "seq2seq-addition", *TINY_TRANSLATOR, "--steps", "60", "--runs", "runs")
    assert found.exit_code == 0, found.stderr
    record = json.loads((next((tmp_path / "runs" / "seq2seq-addition-lr-find").iterdir()) / "metrics.json").read_text())
    assert record["lr_find"]["steps"] >= 10 and record["lr_find"]["minimum"] > 1e-6
    overfit = cli_run("train", "seq2seq-addition", "--overfit-batch", "--runs", "runs")
    assert overfit.exit_code == 0 and overfit.output.startswith("ok:"), overfit.output
    assert "one batch of 64" in overfit.output  # the batch's pairs, not its two input tensors


@pytest.mark.parametrize("recipe, tiny, objective", [("gpt-char", TINY_GPT, "val_perplexity min"),
                                                      ("seq2seq-addition", TINY_TRANSLATOR, "val_exact_match max")])
def test_tune_a_language_model_and_a_translator_on_validation(cli_run, recipe, tiny, objective):
    result = cli_run("tune", recipe, *tiny, "--space", "optimizer.learning_rate=[0.003,0.01]", "--trials", "1",
                     "--quick", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    assert f"objective {objective}" in result.output and "best: trial" in result.output, result.output


def test_check_lr_find_and_overfit_batch_on_word_vectors(cli_run, tmp_path):
    checked = cli_run("check", "word2vec")
    assert checked.exit_code == 0, checked.stderr
    assert "[ok] initial loss" in checked.output and "ln 2" in checked.output, checked.output
    found = cli_run("lr-find", "word2vec", "--steps", "100", "--runs", "runs")
    assert found.exit_code == 0, found.stderr
    record = json.loads((next((tmp_path / "runs" / "word2vec-lr-find").iterdir()) / "metrics.json").read_text())
    assert record["lr_find"]["minimum"] > 1e-4  # word2vec's loss falls only at fairly large rates
    overfit = cli_run("train", "word2vec", "--overfit-batch", "--runs", "runs")
    assert overfit.exit_code == 0 and overfit.output.startswith("ok:"), overfit.output


def test_lr_find_on_a_language_model_names_the_recipes_schedule(cli_run):
    result = cli_run("lr-find", "gpt-char", *TINY_GPT, "--steps", "60", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    assert "the recipe uses a warmup_cosine schedule from 0.001" in result.output, result.output
