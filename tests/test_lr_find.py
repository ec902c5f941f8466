"""dlzoo lr-find: the learning-rate range test (Smith 2017)."""

import json

import numpy as np

from dlzoo.commands import lr_find


def test_smoothing_keeps_a_constant_loss_constant():
    assert np.allclose(lr_find.smooth([2.0] * 50), 2.0)  # bias correction: no pull towards 0


def test_suggestion_is_a_tenth_of_the_minimum_of_a_u_shaped_curve():
    rates = np.geomspace(1e-6, 1.0, 200)
    losses = 1.0 + (np.log10(rates) + 2.0) ** 2  # lowest at 1e-2
    found = lr_find.suggest(rates, losses)
    assert 0.7e-2 < found["minimum"] < 1.4e-2
    assert np.isclose(found["suggested"], found["minimum"] / 10)
    assert found["steepest"] < found["minimum"]


def test_lr_find_writes_plot_suggestion_and_report(cli_run, tmp_path):
    result = cli_run("lr-find", "softmax-regression", "--steps", "40", "--start", "1e-5", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    assert "suggested learning rate" in result.output
    folder = next((tmp_path / "runs" / "softmax-regression-lr-find").iterdir())
    record = json.loads((folder / "metrics.json").read_text())
    assert 1e-5 <= record["lr_find"]["suggested"] <= 1.0
    assert (folder / "plots" / "lr_find.png").exists() and (folder / "lr_find.csv").exists()
    text = (folder / "report.md").read_text()
    assert "suggested" in text and "Try it" in text
    assert "| split | loss | accuracy |" not in text  # the range test has no per-split metrics


def test_lr_find_refuses_bad_input(cli_run):
    no_rate = cli_run("lr-find", "optimizers-2d")
    assert no_rate.exit_code == 2 and "dlzoo cannot run the learning-rate range test" in no_rate.stderr
    assert "optimizer-paths" in no_rate.stderr and "classify" in no_rate.stderr.partition("tasks that can:")[2]
    reversed_range = cli_run("lr-find", "mlp", "--start", "1", "--end", "0.1")
    assert reversed_range.exit_code == 2 and "--start" in reversed_range.stderr


def test_a_flat_noisy_curve_gets_no_suggestion():
    rates = np.geomspace(1e-6, 1e-3, 200)
    noise = np.random.default_rng(0).normal(0.0, 0.05, size=200)
    found = lr_find.suggest(rates, lr_find.smooth(2.3 + noise))  # cross-entropy of 10 classes that never falls
    assert found["suggested"] is None
    assert found["descent"] < lr_find.MIN_DESCENT


def test_a_suggestion_is_never_below_the_first_rate_tried():
    rates = np.geomspace(1e-6, 1.0, 100)
    losses = np.concatenate([np.linspace(2.3, 1.0, 13), np.full(87, 50.0)])  # falls at once, then diverges
    found = lr_find.suggest(rates, losses)
    assert found["suggested"] is not None and found["suggested"] >= rates[0]


def test_lr_find_on_a_flat_curve_says_so_instead_of_suggesting(cli_run, tmp_path):
    # Rates this small do not move the weights: the loss stays where it started.
    result = cli_run("lr-find", "softmax-regression", "--steps", "30", "--start", "1e-9", "--end", "1e-8",
                     "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    assert "no clear descent" in result.output and "suggested learning rate" not in result.output
    folder = next((tmp_path / "runs" / "softmax-regression-lr-find").iterdir())
    record = json.loads((folder / "metrics.json").read_text())
    assert record["lr_find"]["suggested"] is None
    text = (folder / "report.md").read_text()
    assert "No clear descent" in text and "Try it" not in text
    assert "| split | loss | accuracy |" not in text  # no empty metrics table either
