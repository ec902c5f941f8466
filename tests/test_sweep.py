"""Sweep recipes train every variant as a full run and compare them; gradient statistics reach
the metrics and the report."""

import json

from dlzoo.config import resolve

SWEEP = """
name = "tiny-sweep"
task = "classify"
[data]
dataset = "digits"
[model]
name = "deep_mlp"
depth = 4
width = 16
[train]
epochs = 2
verbose = 0
gradient_statistics = true
[sweep]
metric = "val_accuracy"
target = 0.2
variants = [
    { name = "sigmoid", set = { "model.activation" = "sigmoid" } },
    { name = "diverges", set = { "optimizer.name" = "keras.sgd", "optimizer.learning_rate" = 1e12 } },
]
[expect]
metric = "sigmoid/test_accuracy"
minimum = 0.0
source = "test"
"""


def test_sweep_trains_variants_and_records_failures(cli_run, tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP)
    result = cli_run("train", "sweep.toml", "--runs", "runs")
    assert result.exit_code == 0, result.stderr
    folder = next((tmp_path / "runs" / "tiny-sweep").iterdir())
    record = json.loads((folder / "metrics.json").read_text())
    statuses = {row["run"]: row["status"] for row in record["variants"]}
    assert statuses == {"sigmoid": "completed", "diverges": "failed"}
    assert "sigmoid/gradient_ratio_init" in record["metrics"]
    variant = folder / "variants" / "sigmoid"
    assert (variant / "model.keras").exists() and not (variant / "saved_model").exists()
    assert (variant / "plots" / "gradient_statistics.png").stat().st_size > 0
    assert "## Gradient statistics" in (variant / "report.md").read_text()
    report = (folder / "report.md").read_text()
    assert "## Variants" in report and "plots/variants_curves.png" in report
    assert record["target"]["passed"] is True


def test_sweep_variant_with_unknown_key_is_refused_before_training(cli_run, tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP.replace('"model.activation"', '"model.activaton"'))
    result = cli_run("train", "sweep.toml", "--runs", "runs")
    assert result.exit_code == 2 and "activaton" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("metrics.json"))


def test_sweep_only_selects_variants():
    resolved = resolve.load_config("optimizers-compare", ['sweep.only=["adam", "sgd-mini-batch"]'])
    from dlzoo.commands.sweep import check_sweep

    assert [name for name, _ in check_sweep(resolved)] == ["sgd-mini-batch", "adam"]
