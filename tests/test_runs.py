"""Run folders: file modes, and which run "the latest run of a recipe" means."""

import json
import os

import pytest

from dlzoo import runs
from dlzoo.errors import UsageError


def make_run(root, recipe, name, status="completed", quick=False):
    """A minimal run folder: config.toml and metrics.json."""
    folder = root / recipe / name
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'name = "{recipe}"\n')
    (folder / "metrics.json").write_text(json.dumps({"recipe": recipe, "status": status, "quick": quick}))
    return folder


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = runs.atomic_write_text(tmp_path / "file.txt", "hello")
        json_path = runs.atomic_write_json(tmp_path / "file.json", {"a": 1})
    finally:
        os.umask(previous)
    for written in (path, json_path):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask, oct(written.stat().st_mode)
    assert path.read_text() == "hello"


def test_latest_run_orders_numeric_suffixes_as_numbers(tmp_path):
    for name in ("20240101-120000", "20240101-120000-2", "20240101-120000-10", "20231231-235959-99"):
        make_run(tmp_path, "mlp", name)
    assert runs.latest_run("mlp", tmp_path).name == "20240101-120000-10"


def test_latest_run_skips_quick_and_unfinished_runs(tmp_path):
    full = make_run(tmp_path, "mlp", "20240101-100000")
    make_run(tmp_path, "mlp", "20240101-110000", quick=True)
    make_run(tmp_path, "mlp", "20240101-120000", status="failed")
    assert runs.latest_run("mlp", tmp_path) == full
    assert runs.resolve_run("mlp", tmp_path) == full
    assert runs.latest_run("mlp", tmp_path, include_quick=True).name == "20240101-110000"


def test_resolve_run_with_only_quick_runs_says_so(tmp_path):
    make_run(tmp_path, "mlp", "20240101-110000", quick=True)
    with pytest.raises(UsageError, match="only --quick"):
        runs.resolve_run("mlp", tmp_path)


def test_a_path_that_is_not_a_run_is_not_called_a_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as error:
        runs.resolve_run("runs/nowhere")
    assert "does not exist" in str(error.value) and "dlzoo train" not in str(error.value)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UsageError, match="not a run folder"):
        runs.resolve_run("a_file")
