"""Shared fixtures: a quiet TensorFlow, a temporary runs root, the CLI runner, and a plain
TensorFlow process in which dlzoo cannot be imported (how a stranger uses an export)."""

import os
import subprocess
import sys

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


@pytest.fixture
def plain_tensorflow():
    """``run(body) -> stdout lines``: run ``body`` in a new Python where ``tf`` and ``json`` are
    imported and any ``import dlzoo`` fails, with a bare environment (no PYTHONPATH)."""

    def run(body):
        program = ("import json, sys; sys.modules['dlzoo'] = None  # any 'import dlzoo' now fails\n"
                   "import tensorflow as tf\n" + body)
        completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                                   env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        assert completed.returncode == 0, completed.stderr[-2000:]
        return completed.stdout.strip().splitlines()

    return run
