"""``dlzoo predict RUN ... | head -1``: when the reader closes the pipe early, dlzoo stops quietly,
as Unix tools do (no traceback, no "error: BrokenPipeError" line). ``dlzoo train ... | head -1``
goes on: the run finishes without printing, its folder complete."""

import json

import subprocess
import sys

import numpy as np

from helpers import shared_run


def test_predict_into_a_reader_that_closes_early_exits_quietly(tmp_path_factory, tmp_path):
    softmax_run = shared_run(tmp_path_factory, "softmax-regression", "--quick").folder  # read only
    # 20,000 inputs: about 600 KB of lines, far beyond a pipe's buffer, so writing must hit the closed pipe.
    np.save(tmp_path / "inputs.npy", np.zeros((20000, 64), "float32"))
    child = subprocess.Popen([sys.executable, "-m", "dlzoo", "predict", str(softmax_run), "--file", "inputs.npy"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = child.stdout.readline()  # what `head -1` reads before it closes the pipe
    child.stdout.close()
    stderr = child.stderr.read()
    code = child.wait(timeout=300)
    assert "p = " in first, first
    assert stderr.strip() == "", stderr[-2000:]
    assert code == 1, code  # click's exit status for a closed stdout (Python's convention too)


def test_a_run_whose_reader_leaves_finishes_without_printing(tmp_path):
    child = subprocess.Popen([sys.executable, "-m", "dlzoo", "train", "softmax-regression", "--quick", "--runs", "runs"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = child.stdout.readline()  # the header line, then the reader leaves before epoch 1
    child.stdout.close()
    stderr = child.stderr.read()
    code = child.wait(timeout=300)
    assert first.startswith("== softmax-regression"), first
    assert code == 0 and stderr.strip() == "", (code, stderr[-2000:])
    (folder,) = (tmp_path / "runs" / "softmax-regression").iterdir()
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed" and (folder / "saved_model" / "saved_model.pb").is_file()
