"""Helpers the test files share (fixtures live in conftest.py): the quiet quick-run arguments,
the real CLI called in-process, the quick runs the whole session shares, the one run folder of a
recipe, and the check of a one-line usage error."""

import dataclasses
import fcntl
import hashlib
import json
import os
import pathlib
import shutil

# A smoke run without Keras's per-epoch lines, for tests about what a run writes rather than
# what it prints (tests/test_cli.py runs every recipe with its default output).
QUICK = ("--quick", "--set", "train.verbose=0")


def invoke(*args):
    """Call the real ``dlzoo`` entry point in this process; click's result (stderr apart, as a user sees it)."""
    from click.testing import CliRunner

    from dlzoo.cli import cli

    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def train_once(tmp_path_factory, recipe, *arguments):
    """``(result, run folder)`` of one successful ``dlzoo train RECIPE ARGUMENTS`` in a fresh runs
    root: the module-scoped run a test file trains once and its tests read."""
    runs_root = tmp_path_factory.mktemp(recipe.replace("-", "_")) / "runs"
    result = invoke("train", recipe, *arguments, "--runs", runs_root)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result, only_run(runs_root, recipe)


@dataclasses.dataclass(frozen=True)
class SharedRun:
    """One ``dlzoo train`` the whole test session shares: what it printed and its run folder."""

    output: str
    stderr: str
    exit_code: int
    folder: pathlib.Path

    def copy_into(self, runs_root):
        """A private copy of the run folder under ``runs_root`` (same ``RECIPE/STAMP`` layout), for
        a test that writes into the folder (resume, damage, derived outputs)."""
        destination = pathlib.Path(runs_root) / self.folder.parent.name / self.folder.name
        shutil.copytree(self.folder, destination)
        return destination


def shared_runs_root(tmp_path_factory):
    """The folder every pytest worker of this session sees (xdist gives each worker its own
    temporary root inside one session folder)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    shared = root / "shared_runs"
    shared.mkdir(exist_ok=True)
    return shared


def shared_run(tmp_path_factory, recipe, *arguments):
    """The :class:`SharedRun` of ``dlzoo train RECIPE ARGUMENTS``, trained at most once in the
    whole session, whichever test or worker asks first (the others wait on a file lock, then
    read). With its default output unless the arguments say otherwise.

    A test may read the folder, never write into it: tests that change a run take
    :meth:`SharedRun.copy_into` first. Identical arguments are the only thing shared, so a test
    with its own settings still trains its own run.
    """
    arguments = [str(argument) for argument in arguments]
    # Where the data comes from is part of what is shared: a test pointing $DLZOO_DATA elsewhere
    # trains its own run.
    environment = [os.environ.get(name, "") for name in ("DLZOO_DATA", "DLZOO_OFFLINE")]
    key = hashlib.sha1(json.dumps([recipe, *arguments, *environment]).encode()).hexdigest()[:12]
    place = shared_runs_root(tmp_path_factory) / f"{recipe}-{key}"
    place.mkdir(exist_ok=True)
    with open(f"{place}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if training raised
        record_path = place / "result.json"
        if not record_path.exists():
            result = invoke("train", recipe, *arguments, "--runs", place / "runs")
            record = {"output": result.output, "stderr": result.stderr or "", "exit_code": result.exit_code}
            record_path.write_text(json.dumps(record))
        record = json.loads(record_path.read_text())
    assert record["exit_code"] == 0, record["output"] + record["stderr"]
    return SharedRun(record["output"], record["stderr"], record["exit_code"], only_run(place / "runs", recipe))


def only_run(root, recipe):
    """The one run folder of ``recipe`` under the runs root ``root``."""
    folders = sorted((root / recipe).iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def assert_usage_error(result, *fragments):
    """Exit code 2, a single line on stderr holding every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
