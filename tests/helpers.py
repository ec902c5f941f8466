"""Helpers the test files share (fixtures live in conftest.py): the quiet quick-run arguments,
the real CLI called in-process, the one run folder of a recipe, and the check of a one-line
usage error."""

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
