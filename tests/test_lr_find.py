"""dlzoo lr-find: the learning-rate range test (Smith 2017)."""

import json

import numpy as np

from dlzoo import lr_find


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
    assert "suggested" in (folder / "report.md").read_text()


def test_lr_find_refuses_bad_input(cli_run):
    no_rate = cli_run("lr-find", "optimizers-2d")
    assert no_rate.exit_code == 2 and "no such learning rate" in no_rate.stderr
    reversed_range = cli_run("lr-find", "mlp", "--start", "1", "--end", "0.1")
    assert reversed_range.exit_code == 2 and "--start" in reversed_range.stderr
