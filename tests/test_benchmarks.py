"""The scripts of benchmarks/ stay runnable: each answers --help, and the two that run on the GPU
machine (JAX, no TensorFlow) never import TensorFlow. Their measurements are not run here: they
need the real datasets or minutes of training (their numbers are in README and the notes)."""

import json
import pathlib
import subprocess
import sys

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
# What each benchmark prints for --help, collected in one interpreter, in order, with whether
# TensorFlow was imported by then: the scripts' own imports (module level) run, their
# measurements do not.
HELP_OF_EVERY_SCRIPT = r"""
import contextlib, io, json, runpy, sys
answers = {}
for path in sys.argv[1:]:
    sys.argv = [path, "--help"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            runpy.run_path(path, run_name="__main__")
            code = None
        except SystemExit as exit:
            code = exit.code
    answers[path] = {"code": code, "printed": printed.getvalue(), "tensorflow imported": "tensorflow" in sys.modules}
print(json.dumps(answers))
"""


# They run on the GPU machine, which has JAX and no TensorFlow: asked first, before any other
# script could import TensorFlow.
GPU_MACHINE_SCRIPTS = ("gpu.py", "fashion_resnet_gpu.py")


def scripts_with_options():
    """The benchmark scripts that parse options (run_steps.py is a module, baselines.py takes none),
    the GPU machine's first."""
    paths = [path for path in BENCHMARKS.glob("*.py") if "argparse" in path.read_text()]
    order = {name: place for place, name in enumerate(GPU_MACHINE_SCRIPTS)}
    return sorted(paths, key=lambda path: (order.get(path.name, len(order)), path.name))


def help_answers(paths):
    """``{path: {"code", "printed", "tensorflow imported"}}`` of ``--help`` for ``paths``, in order."""
    completed = subprocess.run([sys.executable, "-c", HELP_OF_EVERY_SCRIPT, *map(str, paths)], capture_output=True,
                               text=True, cwd=BENCHMARKS)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


def test_every_benchmark_answers_help_and_the_gpu_machine_scripts_need_no_tensorflow():
    paths = scripts_with_options()
    assert len(paths) >= 10 and [path.name for path in paths[:2]] == list(GPU_MACHINE_SCRIPTS)
    answers = help_answers(paths)
    for path in paths:
        answer = answers[str(path)]
        assert answer["code"] == 0 and answer["printed"].startswith("usage: "), (path.name, answer)
    for name in GPU_MACHINE_SCRIPTS:
        assert not answers[str(BENCHMARKS / name)]["tensorflow imported"], name
    assert "--seeds" in answers[str(BENCHMARKS / "fashion_resnet_gpu.py")]["printed"]
    script = (BENCHMARKS / "device_check.sh").read_text()
    assert all(name in script for name in GPU_MACHINE_SCRIPTS) and "KERAS_BACKEND=jax" in script
