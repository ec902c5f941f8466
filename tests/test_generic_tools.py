"""The generic tools (compare, evaluate, check, lr-find, tune) on the second half of the course:
autoencoders, VAEs, GANs, ... Each task says what it supports; each tool asks it.

One quick run of each kind is trained once per module and only read by the tests.
"""

import json

import pytest
from click.testing import CliRunner

QUICK = ("--quick", "--set", "train.verbose=0")


def train_once(tmp_path_factory, recipe, *overrides):
    """One quick run of ``recipe`` in its own runs root: its folder."""
    from dlzoo.cli import cli

    root = tmp_path_factory.mktemp(recipe) / "runs"
    result = CliRunner().invoke(cli, ["train", recipe, *QUICK, *overrides, "--runs", str(root)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    (folder,) = sorted((root / recipe).iterdir())
    return folder


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return train_once(tmp_path_factory, "vae")


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    return train_once(tmp_path_factory, "dcgan", "--set", "train.quick_epochs=2", "--set", "generate.samples=100")


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
