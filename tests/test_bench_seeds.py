"""``dlzoo bench --seeds 0,1``: each recipe trained once per seed (as ``train --seed N``), a row per
seed and the recipe's mean over them; bad seed lists refused before TensorFlow loads."""

import json
import statistics

import pytest

from dlzoo.config import recipes
from helpers import invoke
from test_bad_input_fast import assert_refused_before_tensorflow, run_fresh


@pytest.fixture(scope="module")
def two_seed_bench(tmp_path_factory):
    """``(result, bench.json, runs root)`` of one quick bench of softmax-regression over seeds 0 and 1."""
    root = tmp_path_factory.mktemp("bench_seeds") / "runs"
    result = invoke("bench", "softmax-regression", "--quick", "--seeds", "0,1", "--runs", root)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    written = json.loads(next((root / "bench").rglob("bench.json")).read_text())
    return result, written, root


def table_rows(output):
    """The cells of each markdown table row of ``output`` that starts with the recipe's name."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in output.splitlines()
            if line.startswith("| softmax-regression")]


def test_bench_prints_a_row_per_seed_and_their_mean(two_seed_bench):
    result, _, _ = two_seed_bench
    assert "| recipe | seed | metric | value | target | pass | wall s | samples/s |" in result.output
    rows = table_rows(result.output)
    assert [row[1] for row in rows] == ["0", "1", "mean of 2"], rows
    assert "±" in rows[2][3] and all(row[5] == "smoke test, target not checked" for row in rows), rows


def test_each_seed_is_its_own_run_seeded_like_train_seed(two_seed_bench):
    _, written, _ = two_seed_bench
    assert written["seeds"] == [0, 1] and [row["seed"] for row in written["rows"]] == [0, 1]
    folders = [row["run"] for row in written["rows"]]
    assert len(set(folders)) == 2, folders
    for row in written["rows"]:
        config = recipes.read_toml(f"{row['run']}/config.toml")
        assert config["train"]["seed"] == row["seed"] and config["data"]["seed"] == row["seed"], config


def test_the_mean_row_summarizes_the_seeds(two_seed_bench):
    _, written, _ = two_seed_bench
    (summary,) = written["summaries"]
    values = [row["value"] for row in written["rows"]]
    assert summary["values"] == values and summary["runs"] == summary["finished"] == 2
    assert summary["mean"] == pytest.approx(statistics.fmean(values))
    assert summary["std"] == pytest.approx(statistics.stdev(values))
    assert summary["min"] <= summary["mean"] <= summary["max"]


@pytest.mark.parametrize("arguments, fragment", [
    (("--seeds", "0,one"), "--seeds expects comma-separated integers"),
    (("--seeds", "1,1"), "seed 1 more than once"),
    (("--seeds", "0,1", "--device", "cpu", "--device", "gpu"), "compare devices without it"),
])
def test_bench_refuses_bad_seeds_before_tensorflow(tmp_path, arguments, fragment):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "bench", "softmax-regression", *arguments), fragment)
