"""``[expect].metric`` is checked before training: a metric the task never reports is a usage error."""

import subprocess
import sys

import pytest

from dlzoo import tasks
from dlzoo.config import recipes
from dlzoo.config import resolve

from helpers import QUICK


def assert_refused(result, tmp_path, *fragments):
    """Exit code 2, one line on stderr with every fragment, and no run folder written."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not (tmp_path / "runs").exists()


def test_a_misspelt_metric_in_set_is_refused_with_the_available_ones(cli_run, tmp_path):
    result = cli_run("train", "softmax-regression", *QUICK, "--set", "expect.metric=test_acuracy", "--runs", "runs")
    assert_refused(result, tmp_path, "expect.metric 'test_acuracy'", "did you mean 'test_accuracy'",
                   "test_macro_f1", "val_loss")


def test_a_recipe_file_targeting_an_unknown_metric_is_refused(cli_run, tmp_path):
    recipe = recipes.find_recipe("dcgan").read_text().replace('metric = "min_class_fraction"', 'metric = "fid"')
    assert 'metric = "fid"' in recipe
    (tmp_path / "my-gan.toml").write_text(recipe)
    result = cli_run("train", "my-gan.toml", *QUICK, "--runs", "runs")
    assert_refused(result, tmp_path, "expect.metric 'fid'", "task 'generate'", "min_class_fraction", "frechet_position")


def test_a_metric_of_another_configuration_is_refused(cli_run, tmp_path):
    # Only a conditional GAN reports conditional_accuracy; only a VAE the ELBO; baselines only when fitted.
    assert_refused(cli_run("train", "dcgan", *QUICK, "--set", "expect.metric=conditional_accuracy", "--runs", "runs"),
                   tmp_path, "conditional_accuracy")
    assert cli_run("show", "cgan", "--set", "expect.metric=conditional_accuracy").exit_code == 0
    assert_refused(cli_run("train", "autoencoder-pca", *QUICK, "--set", "expect.metric=test_elbo", "--runs", "runs"),
                   tmp_path, "test_elbo", "principal_angle_max_degrees")
    assert_refused(cli_run("train", "mlp", *QUICK, "--set", "train.baselines=false",
                           "--set", "expect.metric=baseline_best_test_accuracy", "--runs", "runs"),
                   tmp_path, "baseline_best_test_accuracy")
    assert_refused(cli_run("train", "rnn-vanishing", *QUICK, "--set", "expect.metric=test_mse_lstm_T7", "--runs", "runs"),
                   tmp_path, "test_mse_lstm_T7", "test_mse_lstm_T100")


@pytest.mark.parametrize("metric, fragment", [
    ("nosuch/test_accuracy", "variant among"),  # no such variant
    ("test_accuracy", "<variant>/<metric>"),  # a sweep's metrics are per variant
    ("adam/test_acuracy", "variant 'adam'"),  # a variant's task never reports it
])
def test_a_sweep_metric_needs_a_known_variant_and_metric(cli_run, tmp_path, metric, fragment):
    result = cli_run("train", "optimizers-compare", *QUICK, "--set", f"expect.metric={metric}", "--runs", "runs")
    assert_refused(result, tmp_path, f"expect.metric '{metric}'", fragment)


@pytest.mark.parametrize("recipe, metric", [
    ("mlp-numpy", "gradient_check_max_relative_error"), ("autoencoder-pca", "k5/mse_ratio_to_pca"),
    ("deep-mlp", "gradient_ratio_init"), ("linear-neuron", "baseline_best_test_r2"), ("vae", "test_kl_loss"),
    ("optimizers-compare", "momentum/val_accuracy"), ("rnn-unrolling", "step_ms_static_T10"),
])
def test_metrics_the_task_reports_are_accepted(cli_run, recipe, metric):
    result = cli_run("show", recipe, "--set", f"expect.metric={metric}")
    assert result.exit_code == 0, result.stderr


def test_every_recipe_targets_a_metric_its_task_reports():
    for name in recipes.recipe_names():
        resolved = resolve.load_config(name)  # would raise for a target the task never reports
        names = tasks.create(resolved["task"]).metric_names(resolved)
        if names is not None and not resolved.get("sweep"):
            assert resolved["expect"]["metric"] in names, name


def test_the_check_needs_no_tensorflow():
    code = ("import sys\nfrom dlzoo.config import resolve\nfrom dlzoo.core.errors import UsageError\n"
            "try:\n    resolve.load_config('dcgan', ['expect.metric=\"fid\"'])\nexcept UsageError as error:\n"
            "    print('refused:', error)\nprint('tensorflow' in sys.modules)\n")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.splitlines() == [output.splitlines()[0], "False"] and output.startswith("refused: expect.metric 'fid'")
