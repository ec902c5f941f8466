"""``dlzoo predict RUN ... | head -1``: when the reader closes the pipe early, dlzoo stops quietly,
as Unix tools do (no traceback, no "error: BrokenPipeError" line)."""

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
