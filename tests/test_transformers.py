"""Transformer recipes end to end: the GPT trains, samples, predicts; attention maps; bad inputs."""

import json

import pytest

from helpers import QUICK, shared_run


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    """One quick gpt-char run (tiny model) shared by the tests of this module."""
    from click.testing import CliRunner

    from dlzoo.cli import cli

    root = tmp_path_factory.mktemp("gpt") / "runs"
    result = CliRunner().invoke(cli, ["train", "gpt-char", *QUICK, "--set", "model.num_layers=1",
                                      "--set", "model.model_dim=32", "--set", "model.feed_forward_dim=64",
                                      "--set", "language_model.context_length=32", "--runs", str(root)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    (folder,) = sorted((root / "gpt-char").iterdir())
    return folder


def test_gpt_reports_perplexity_samples_and_export(gpt_run):
    record = json.loads((gpt_run / "metrics.json").read_text())
    assert record["metrics"]["test_perplexity"] > 1.0
    assert set(record["samples"]) == {"0.5", "1.0"}
    assert record["export"]["max_abs_difference"] <= 1e-4
    assert "Sample at temperature 0.5" in (gpt_run / "report.md").read_text()


def test_sample_on_a_text_generator_points_at_predict_prompt(cli_run, gpt_run):
    result = cli_run("sample", gpt_run)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "text generator" in result.stderr and f"dlzoo predict {gpt_run} --prompt" in result.stderr
    assert "windows of character ids" in (gpt_run / "report.md").read_text()  # what its SavedModel takes


def test_predict_generates_from_a_prompt(cli_run, gpt_run):
    result = cli_run("predict", gpt_run, "--prompt", "the dog", "--length", "15")
    assert result.exit_code == 0, result.stderr
    line = result.output.splitlines()[0]
    assert line.startswith("the dog") and len(line) >= len("the dog") + 1


@pytest.mark.parametrize("arguments, message", [
    (("--prompt", "ZQ€", "--length", "5"), "outside the model's vocabulary"),
    (("--prompt", "the", "--length", "0"), "--length must be at least 1"),
])
def test_predict_bad_generation_requests(cli_run, gpt_run, arguments, message):
    result = cli_run("predict", gpt_run, *arguments)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_attention_maps_of_the_gpt(cli_run, gpt_run):
    result = cli_run("visualize", gpt_run, "--method", "attention", "--samples", "1")
    assert result.exit_code == 0, result.stderr
    assert (gpt_run / "plots" / "attention-1.png").stat().st_size > 1000
    assert "## Visualization: attention" in (gpt_run / "report.md").read_text()


def test_num_heads_that_does_not_divide_the_width(cli_run, tmp_path):
    result = cli_run("train", "transformer-classifier", *QUICK, "--set", "model.num_heads=5",
                     "--runs", tmp_path / "runs")
    assert result.exit_code == 2 and "num_heads 5 does not divide" in result.stderr, result.stderr


def test_prompt_options_on_a_run_that_does_not_generate(cli_run, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "mnist1d-logistic", "--quick").folder  # both commands refuse: nothing written
    result = cli_run("predict", folder, "--prompt", "hello")
    assert result.exit_code == 2 and "for text generators" in result.stderr, result.stderr
    no_attention = cli_run("visualize", folder, "--method", "attention")
    assert no_attention.exit_code == 2 and "needs a transformer" in no_attention.stderr, no_attention.stderr


def test_gpt_report_draws_its_positional_encoding(gpt_run):
    assert (gpt_run / "plots" / "positional_encoding.png").stat().st_size > 1000
    report = (gpt_run / "report.md").read_text()
    assert "## Positional encoding" in report and "Learned: one trained vector per position" in report
