"""Run folders: file modes, and which run "the latest run of a recipe" means."""

import json
import os

import pytest

from dlzoo.runs import folders
from dlzoo.core.errors import UsageError


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
        path = folders.atomic_write_text(tmp_path / "file.txt", "hello")
        json_path = folders.atomic_write_json(tmp_path / "file.json", {"a": 1})
    finally:
        os.umask(previous)
    for written in (path, json_path):
        assert written.stat().st_mode & 0o777 == 0o666 & ~umask, oct(written.stat().st_mode)
    assert path.read_text() == "hello"


def test_latest_run_orders_numeric_suffixes_as_numbers(tmp_path):
    for name in ("20240101-120000", "20240101-120000-2", "20240101-120000-10", "20231231-235959-99"):
        make_run(tmp_path, "mlp", name)
    assert folders.latest_run("mlp", tmp_path).name == "20240101-120000-10"


def test_latest_run_skips_quick_and_unfinished_runs(tmp_path):
    full = make_run(tmp_path, "mlp", "20240101-100000")
    make_run(tmp_path, "mlp", "20240101-110000", quick=True)
    make_run(tmp_path, "mlp", "20240101-120000", status="failed")
    assert folders.latest_run("mlp", tmp_path) == full
    assert folders.resolve_run("mlp", tmp_path) == full
    assert folders.latest_run("mlp", tmp_path, include_quick=True).name == "20240101-110000"


def test_resolve_run_with_only_quick_runs_says_so(tmp_path):
    make_run(tmp_path, "mlp", "20240101-110000", quick=True)
    with pytest.raises(UsageError, match="only --quick"):
        folders.resolve_run("mlp", tmp_path)


def test_a_path_that_is_not_a_run_is_not_called_a_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as error:
        folders.resolve_run("runs/nowhere")
    assert "does not exist" in str(error.value) and "dlzoo train" not in str(error.value)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UsageError, match="not a run folder"):
        folders.resolve_run("a_file")


def test_compare_labels_are_unambiguous_and_mark_quick_runs(tmp_path):
    from dlzoo.commands import compare

    first = make_run(tmp_path / "runs", "mlp", "20240101-100000")
    second = make_run(tmp_path / "runs", "mlp", "20240101-110000", quick=True)
    table, folder = compare.compare_runs([first, second], out=tmp_path / "comparison")
    assert "mlp/20240101-100000" in table
    assert "mlp/20240101-110000 (quick)" in table
    assert "mlp/20240101-100000 (quick)" not in table
    assert "mlp/20240101-110000 (quick)" in (folder / "compare.md").read_text()
    assert compare.label_for(first, {"mlp/20240101-100000"}) == "mlp/20240101-100000 #2"


RECORD = {
    "recipe": "mlp", "status": "completed", "wall_seconds": 12.3, "device": "CPU", "quick": False,
    "metrics": {"train_accuracy": 0.999, "val_accuracy": 0.97, "test_accuracy": 0.975, "test_loss": 0.1},
    "target": {"metric": "test_accuracy", "value": 0.975, "minimum": 0.97, "passed": True},
    "changed_settings": ["optimizer.learning_rate", "train.epochs"],
}


def test_summary_block_and_report_say_which_settings_changed(tmp_path):
    from dlzoo import api
    from dlzoo.runs import report

    expected = "passed (with changed settings: optimizer.learning_rate, train.epochs)"
    block = api.summary_block(tmp_path, RECORD)
    assert expected in block
    assert "**passed** (with changed settings: optimizer.learning_rate, train.epochs)" in report.target_section(RECORD)
    plain = {key: value for key, value in RECORD.items() if key != "changed_settings"}
    assert "changed settings" not in api.summary_block(tmp_path, plain)
    assert "changed settings" not in report.target_section({**plain, "changed_settings": []})
    assert "not a packaged recipe" in report.target_section({**plain, "changed_settings": ["<file>"]})


def test_train_accuracy_is_explained_once(tmp_path):
    from dlzoo import api
    from dlzoo.runs import report

    for text in (api.summary_block(tmp_path, RECORD), report.metrics_section(RECORD)):
        assert text.count("inference mode") == 1, text
        assert "dropout off" in text and "moving statistics" in text
    no_train = {**RECORD, "metrics": {"test_accuracy": 0.9}}
    assert "inference mode" not in api.summary_block(tmp_path, no_train)


def test_summary_block_marks_quick_runs(tmp_path):
    from dlzoo import api

    block = api.summary_block(tmp_path, {**RECORD, "quick": True})
    assert block.splitlines()[1].startswith("== mlp (quick):")
    assert "smoke test" in block


def test_changed_settings_against_the_packaged_recipe(tmp_path):
    from dlzoo.config import recipes
    from dlzoo.config import resolve

    assert resolve.changed_settings(resolve.load_config("mlp")) == []
    # Printing less or skipping the SavedModel does not change what is learned.
    assert resolve.changed_settings(resolve.load_config("mlp", ["train.verbose=0", "train.export=false"])) == []
    changed = resolve.load_config("mlp", ["optimizer.learning_rate=0.1", "model.dropout_rate=0.5"], epochs=3)
    assert resolve.changed_settings(changed) == ["model.dropout_rate", "optimizer.learning_rate", "train.epochs"]
    # An edited copy of a packaged recipe (dlzoo show mlp > my.toml) is compared with it.
    edited = tmp_path / "my.toml"
    edited.write_text(recipes.to_toml(resolve.load_config("mlp")).replace("batch_size = 32", "batch_size = 64"))
    assert resolve.changed_settings(resolve.load_config(str(edited))) == ["data.batch_size"]
    unchanged = tmp_path / "same.toml"
    unchanged.write_text(recipes.to_toml(resolve.load_config("mlp")))
    assert resolve.changed_settings(resolve.load_config(str(unchanged))) == []
    mine = tmp_path / "mine.toml"
    mine.write_text('name = "my-own"\n[model]\nname = "mlp"\n')
    assert resolve.changed_settings(resolve.load_config(str(mine))) == ["<file>"]


def test_quiet_import_silences_tensorflow_python_warnings():
    import logging

    from dlzoo.core import quiet

    tensorflow = quiet.import_tensorflow()
    tensorflow.get_logger().setLevel(logging.WARNING)
    try:
        quiet.import_tensorflow(debug=False)
        assert tensorflow.get_logger().level == logging.ERROR
    finally:
        tensorflow.get_logger().setLevel(logging.WARNING)
