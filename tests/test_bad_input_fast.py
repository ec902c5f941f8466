"""Bad input is refused in one line, exit code 2, before TensorFlow is imported where no model is needed.

Each check runs the real CLI in a fresh Python (so that "TensorFlow was not imported" means
something) and reads back its exit code, its stderr and whether ``tensorflow`` got imported.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

PROGRAM = (
    "import json, sys\n"
    "from click.testing import CliRunner\n"
    "from dlzoo.cli import cli\n"
    "result = CliRunner().invoke(cli, sys.argv[1:])\n"
    "print(json.dumps({'exit_code': result.exit_code, 'stderr': result.stderr, 'stdout': result.stdout,\n"
    "                  'tensorflow': 'tensorflow' in sys.modules}))\n"
)


def run_fresh(folder, *arguments):
    """``dlzoo ARGUMENTS`` in a new Python inside ``folder``: a dict of exit_code, stderr, stdout, tensorflow."""
    completed = subprocess.run([sys.executable, "-c", PROGRAM, *map(str, arguments)], capture_output=True, text=True,
                               cwd=folder, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def assert_refused_before_tensorflow(result, *fragments):
    """Exit code 2, one line on stderr with every fragment, and TensorFlow never imported."""
    assert result["exit_code"] == 2, result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not result["tensorflow"], f"TensorFlow was imported before refusing: {lines[0]}"


def fake_run(folder, recipe="mlp", task="classify"):
    """A finished run folder (config.toml, metrics.json) without a model: enough for the checks that come first."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'name = "{recipe}"\ntask = "{task}"\n[data]\ndataset = "digits"\n')
    (folder / "metrics.json").write_text(json.dumps({"recipe": recipe, "status": "completed"}))
    return folder


# predict: NaN, infinity, no rows, an .npz without x -----------------------------------------

@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_predict_refuses_non_finite_inputs(tmp_path, bad_value):
    run = fake_run(tmp_path / "runs" / "mlp" / "20200101-000000")
    inputs = np.zeros((3, 64), "float32")
    inputs[1, 5] = bad_value
    np.save(tmp_path / "inputs.npy", inputs)
    assert_refused_before_tensorflow(run_fresh(tmp_path, "predict", run, "--file", "inputs.npy"),
                                     "inputs.npy", "1 non-finite value")
    typed = ",".join(["1"] * 63 + [str(bad_value)])
    assert_refused_before_tensorflow(run_fresh(tmp_path, "predict", run, typed), "non-finite")


def test_predict_refuses_a_file_with_no_rows_and_keeps_the_npz_message(tmp_path):
    run = fake_run(tmp_path / "runs" / "mlp" / "20200101-000000")
    np.save(tmp_path / "empty.npy", np.zeros((0, 64), "float32"))
    assert_refused_before_tensorflow(run_fresh(tmp_path, "predict", run, "--file", "empty.npy"), "holds no inputs")
    np.savez(tmp_path / "other.npz", features=np.zeros((2, 64)))
    assert_refused_before_tensorflow(run_fresh(tmp_path, "predict", run, "--file", "other.npz"),
                                     "has no array 'x'", "features")


# integers, recipe files, long keys ---------------------------------------------------------

@pytest.mark.parametrize("override, fragment", [
    ("train.epochs=99999999999999999999", "train.epochs must be at most 1,000,000"),
    (f"train.epochs={2**63 - 1}", "train.epochs must be at most 1,000,000"),
    (f"data.batch_size={10**23}", "data.batch_size must be between"),
    (f"model.hidden_units=[64, {2**40}]", "model.hidden_units[1] must be between"),
    (f"train.seed={-10**30}", "train.seed must be between"),
])
def test_huge_integers_are_refused_with_their_key_and_maximum(tmp_path, override, fragment):
    result = run_fresh(tmp_path, "train", "mlp", "--set", override, "--runs", "runs")
    assert_refused_before_tensorflow(result, fragment)
    assert not (tmp_path / "runs").exists()


def test_huge_epochs_option_is_refused(tmp_path):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "mlp", "--epochs", str(2**63 - 1)),
                                     "train.epochs must be at most 1,000,000")


def test_binary_deep_and_long_recipe_files(tmp_path):
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)) * 4)
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "binary.toml"), "binary.toml", "not UTF-8")
    (tmp_path / "deep.toml").write_text('name = "deep"\nvalue = ' + "[" * 5000 + "]" * 5000 + "\n")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "deep.toml"), "deep.toml", "nested")
    (tmp_path / "nested.toml").write_text('name = "deep"\nvalue = ' + "[" * 200 + "]" * 200 + "\n")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "show", "nested.toml"), "nested")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "mlp", "--set",
                                               "model.hidden_units=" + "[" * 5000 + "]" * 5000), "nested")
    (tmp_path / "long.toml").write_text('name = "long"\n[train]\n' + "k" * 200_000 + " = 1\n")
    result = run_fresh(tmp_path, "train", "long.toml")
    assert_refused_before_tensorflow(result, "unknown key 'train.kkk", "valid keys: ")
    assert len(result["stderr"]) < 2_000, len(result["stderr"])


def test_a_huge_value_is_cut_in_the_one_line(tmp_path):
    (tmp_path / "value.toml").write_text('name = "value"\n[train]\nloss = "' + "x" * 200_000 + '"\n')
    result = run_fresh(tmp_path, "train", "value.toml")
    assert_refused_before_tensorflow(result, "train.loss")
    assert len(result["stderr"]) < 2_000, len(result["stderr"])


# refused before TensorFlow -----------------------------------------------------------------

def test_a_missing_dataset_file_is_said_before_tensorflow(tmp_path):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "mlp", "--data", "npz:missing.npz"),
                                     "npz:missing.npz", "no such file")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "check", "cnn", "--data", "folder:nowhere"),
                                     "folder:nowhere", "no such file")


@pytest.mark.parametrize("command", [["check", "dcgan"], ["lr-find", "cgan"], ["train", "dcgan", "--overfit-batch"]])
def test_recipes_check_and_lr_find_cannot_handle_are_refused_before_tensorflow(tmp_path, command):
    assert_refused_before_tensorflow(run_fresh(tmp_path, *command), command[1])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_learning_rates_are_refused_before_tensorflow(tmp_path, value):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "train", "mlp", "--set", f"optimizer.learning_rate={value}"),
                                     "optimizer.learning_rate must be a finite number")


@pytest.mark.parametrize("end", ["inf", "nan"])
def test_lr_find_refuses_a_non_finite_end(tmp_path, end):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "lr-find", "mlp", "--end", end), "--end", "finite")


def test_unknown_visualize_method_and_similarity_on_another_task(tmp_path):
    run = fake_run(tmp_path / "runs" / "cnn" / "20200101-000000", recipe="cnn")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "visualize", run, "--method", "gradcamm"),
                                     "unknown visualization method 'gradcamm'", "gradcam")
    (tmp_path / "pairs.txt").write_text("cat\tdog\t7.5\ncar\ttrain\t6.0\nsun\tmoon\t5.0\n")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "evaluate", run, "--similarity", "pairs.txt"),
                                     "--similarity needs a run of the embed task")


def test_every_visualize_method_passes_the_early_check():
    from dlzoo import visualize
    from dlzoo.commands.visualize import check_method_name

    for method in [*visualize.METHOD_NAMES, "attention", "all"]:
        check_method_name(method)  # raises for an unknown name


def test_sample_refuses_more_than_its_maximum(tmp_path):
    run = fake_run(tmp_path / "runs" / "dcgan" / "20200101-000000", recipe="dcgan", task="generate")
    assert_refused_before_tensorflow(run_fresh(tmp_path, "sample", run, "--n", "10000000"), "--n", "10,000")


# click's own errors and TensorFlow's own lines ---------------------------------------------

@pytest.mark.parametrize("arguments, fragment", [
    (["train", "mlp", "--epochs", "abc"], "'abc' is not a valid integer"),
    (["train", "mlp", "--epoch", "3"], "Did you mean '--epochs'?"),
    (["--bogus"], "No such option '--bogus'"),
    (["trian"], "No such command 'trian'"),
    (["evaluate"], "Missing argument 'TARGET'"),
])
def test_click_usage_errors_are_one_line(tmp_path, arguments, fragment):
    assert_refused_before_tensorflow(run_fresh(tmp_path, *arguments), fragment, "--help")


def test_bare_dlzoo_still_shows_its_help(tmp_path):
    result = run_fresh(tmp_path)
    assert "Commands:" in result["stdout"] + result["stderr"], result


def test_no_tensorflow_cpp_lines_in_a_gan_run(tmp_path):
    """The GAN's gradient graph makes TensorFlow's grappler print 'remapper failed' at ERROR level."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run([sys.executable, "-m", "dlzoo", "train", "dcgan", "--quick", "--set",
                                "train.quick_train_samples=64", "--runs", "runs"],
                               capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    noise = [line for line in completed.stderr.splitlines() if line.strip()]
    assert noise == [], noise[:5]


def test_keras_user_warnings_are_hidden_unless_debug(tmp_path):
    # One TensorFlow import: --debug first (warnings shown), then the CLI's usual quiet import.
    program = ("import warnings\n"
               "from dlzoo.core.quiet import import_tensorflow\n"
               "def keras_note(text):\n"
               "    warnings.warn_explicit(text, UserWarning, 'functional.py', 1, module='keras.src.models.functional')\n"
               "import_tensorflow(debug=True)\n"
               "keras_note('The structure of `inputs` (debug)')\n"
               "import_tensorflow(debug=False)\n"
               "keras_note('The structure of `inputs` (quiet)')\n")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "The structure of `inputs` (debug)" in completed.stderr, completed.stderr
    assert "(quiet)" not in completed.stderr, completed.stderr


# writes into a run folder ------------------------------------------------------------------

def test_the_atomic_writer_refuses_a_link_out_of_a_run_folder(tmp_path):
    from dlzoo.runs import folders
    from dlzoo.core.errors import UsageError

    run = fake_run(tmp_path / "runs" / "mlp" / "20200101-000000")
    (tmp_path / "elsewhere").mkdir()
    (run / "plots").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UsageError, match="symbolic link"):
        folders.atomic_write_bytes(run / "plots" / "picture.png", b"png")
    assert list((tmp_path / "elsewhere").iterdir()) == []
    folders.atomic_write_text(run / "sections" / "10-notes.md", "inside\n")  # a real folder: written
    assert (run / "sections" / "10-notes.md").read_text() == "inside\n"


def test_a_runs_root_linked_elsewhere_below_a_project_config_still_works(tmp_path):
    """A project folder with a config.toml of its own, and runs/ a link to a bigger disk."""
    from dlzoo.runs import folders

    project, disk = tmp_path / "project", tmp_path / "disk"
    project.mkdir()
    disk.mkdir()
    (project / "config.toml").write_text('name = "not a run"\n')
    (project / "runs").symlink_to(disk, target_is_directory=True)
    folder = folders.new_run_folder("mlp", project / "runs")
    folders.atomic_write_text(folder / "config.toml", 'name = "mlp"\n')
    folders.atomic_write_bytes(folder / "plots" / "curve.png", b"png")
    assert (disk / "mlp" / folder.name / "plots" / "curve.png").read_bytes() == b"png"


def test_a_gan_is_refused_by_lr_find_with_its_reason_before_tensorflow(tmp_path):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "lr-find", "dcgan"), "dcgan", "'generate'",
                                     "two optimizers", "no single learning rate")


def test_every_task_declares_only_known_capabilities():
    from dlzoo import tasks
    from dlzoo.tasks.base import CAPABILITIES

    for name in tasks.names():
        task_class = tasks.get(name)
        assert set(task_class.supports) <= set(CAPABILITIES), name
        assert set(task_class.unsupported_reasons) <= set(CAPABILITIES) - set(task_class.supports), name
    assert tasks.get("generate").can("sample") and not tasks.get("generate").can("lr-find")


def test_tune_refuses_word_vectors_with_its_reason_before_tensorflow(tmp_path):
    assert_refused_before_tensorflow(run_fresh(tmp_path, "tune", "word2vec", "--space", "optimizer.learning_rate=[0.1,0.01]"),
                                     "word2vec", "no validation split")
