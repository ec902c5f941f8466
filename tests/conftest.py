"""Shared fixtures: a quiet TensorFlow, a temporary runs root, and the CLI runner."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402


@pytest.fixture
def runs_root(tmp_path):
    """A fresh runs root for one test."""
    return tmp_path / "runs"


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    """Call the real ``dlzoo`` click entry point in-process, from inside ``tmp_path``.

    Returns a function ``cli_run(*args) -> click.testing.Result``; exit codes and stderr are
    those a user would see.
    """
    from dlzoo.cli import cli

    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)

    return invoke
