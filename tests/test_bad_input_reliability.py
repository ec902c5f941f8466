"""Bad input that used to get through: non-finite data, divergence, unsafe names, silent values."""

import pathlib

import numpy as np
import pytest

from helpers import QUICK, assert_usage_error, shared_run


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_inputs_are_a_usage_error_naming_the_file_and_count(cli_run, tmp_path, bad_value):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    x[3, 1] = bad_value
    x[7, 2] = bad_value
    np.savez(tmp_path / "table.npz", x=x, y=np.arange(60) % 2)
    result = cli_run("train", "mlp", "--data", "npz:table.npz", *QUICK, "--runs", "runs")
    assert_usage_error(result, "table.npz", "2 non-finite")
    assert not (tmp_path / "runs" / "mlp").exists()


def test_adam_at_a_huge_learning_rate_fails_the_run(cli_run, tmp_path):
    result = cli_run("train", "mlp", "--epochs", "3", "--set", "train.verbose=0", "--set", "optimizer.name=keras.adam",
                     "--set", "optimizer.learning_rate=1e6", "--runs", "runs")
    assert result.exit_code == 1, (result.output, result.stderr)
    assert "diverged" in result.stderr or "NaN" in result.stderr, result.stderr
    (folder,) = (tmp_path / "runs" / "mlp").iterdir()
    assert not (folder / "saved_model").exists()


def test_non_finite_weights_stop_training():
    import keras

    from dlzoo.training.callbacks.divergence_guard import DivergenceGuard

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.layers[0].kernel.assign(np.array([[np.nan], [1.0]], dtype="float32"))
    guard = DivergenceGuard()
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_end(0, {"loss": 0.5})
    assert guard.reason and "NaN" in guard.reason and model.stop_training


@pytest.mark.parametrize("name", ["../escaped", "/tmp/absolute", "a/b", ".."])
def test_recipe_names_cannot_leave_the_runs_root(cli_run, tmp_path, name):
    result = cli_run("train", "softmax-regression", "--set", f"name={name}", *QUICK, "--runs", "runs")
    assert_usage_error(result, "name")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "runs").exists()
    recipe = tmp_path / "evil.toml"
    recipe.write_text(f'name = "{name}"\ntask = "classify"\n[data]\ndataset = "moons"\n')
    assert_usage_error(cli_run("train", recipe, *QUICK, "--runs", "runs"), "name")


@pytest.mark.parametrize("override, fragment", [
    ("data.train_samples=-5", "data.train_samples"),
    ("train.quick_train_samples=0", "train.quick_train_samples"),
    ("train.early_stopping_patience=-1", "train.early_stopping_patience"),
    ("train.verbose=7", "train.verbose"),
    ("train.distribute=galaxy", "train.distribute"),
    ("train.precision=half", "train.precision"),
])
def test_values_out_of_range_are_refused(cli_run, override, fragment):
    assert_usage_error(cli_run("train", "mlp", "--quick", "--set", override), fragment)


def test_an_unknown_monitor_fails_before_the_run_folder_exists(cli_run, tmp_path):
    result = cli_run("train", "mlp", *QUICK, "--set", "train.monitor=bogus", "--runs", "runs")
    assert_usage_error(result, "train.monitor", "bogus")
    assert not (tmp_path / "runs" / "mlp").exists()


def test_an_unknown_expected_metric_is_said(cli_run, tmp_path):
    # Refused before training (tests/test_expect_metric.py), also where the names come from the
    # recipe (2-D optimizer paths: one per surface and optimizer of [paths]).
    result = cli_run("train", "softmax-regression", *QUICK, "--set", "expect.metric=test_acuracy", "--runs", "runs")
    assert_usage_error(result, "test_acuracy", "test_accuracy")
    assert not (tmp_path / "runs" / "softmax-regression").exists()
    result = cli_run("train", "optimizers-2d", *QUICK, "--set", "expect.metric=best_distance_rosenbrok", "--runs", "runs")
    assert_usage_error(result, "best_distance_rosenbrok", "best_distance_rosenbrock")
    assert not (tmp_path / "runs" / "optimizers-2d").exists()
    result = cli_run("show", "optimizers-2d", "--set", "expect.metric=saddle/adam/distance_from_saddle")
    assert result.exit_code == 0, result.stderr


def test_npz_with_a_scalar_x_or_string_labels_is_a_usage_error(cli_run, tmp_path):
    np.savez(tmp_path / "scalar.npz", x=np.float32(1.0), y=np.arange(3))
    assert_usage_error(cli_run("train", "mlp", "--data", "npz:scalar.npz", *QUICK), "scalar.npz", "x")
    np.savez(tmp_path / "strings.npz", x=np.zeros((6, 2), "float32"), y=np.array(["a", "b"] * 3))
    assert_usage_error(cli_run("train", "mlp", "--data", "npz:strings.npz", *QUICK), "strings.npz", "integer class ids")


def test_a_dotted_task_name_is_a_usage_error(cli_run, tmp_path):
    recipe = tmp_path / "task.toml"
    recipe.write_text('name = "task"\ntask = "os.system"\n')
    assert_usage_error(cli_run("train", recipe, *QUICK), "os.system")


def test_usage_errors_under_debug_keep_exit_code_2(cli_run):
    result = cli_run("--debug", "train", "mlpp")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "unknown recipe" in result.stderr


def test_a_crafted_keras_file_is_refused_as_bad_input(cli_run, tmp_path, tmp_path_factory):
    """A .keras file with a Lambda layer (arbitrary code) is refused by safe mode: exit 2."""
    import shutil

    import keras

    folder = shared_run(tmp_path_factory, "softmax-regression", "--quick").copy_into(tmp_path / "runs")
    inputs = keras.Input((64,))
    outputs = keras.layers.Lambda(lambda value: value * 2)(inputs)
    (folder / "model.keras").unlink()
    keras.Model(inputs, outputs).save(folder / "model.keras")
    result = cli_run("export", folder, "--out", "delivery")
    assert_usage_error(result, "safe")
    shutil.rmtree(folder)


def test_sixteen_bit_grey_pngs_in_memory_keep_their_contrast(tmp_path):
    from PIL import Image

    from dlzoo import data

    for label, value in (("dark", 1000), ("bright", 60000)):
        (tmp_path / "images" / label).mkdir(parents=True)
        for index in range(6):
            array = np.full((8, 8), value, dtype=np.uint16)
            Image.fromarray(array).save(tmp_path / "images" / label / f"{index}.png")
    bundle = data.load(f"folder:{tmp_path / 'images'}", seed=0, options={"stream": False})
    inputs, labels = bundle.arrays("train")
    assert inputs.max() <= 255
    dark = inputs[labels == bundle.class_names.index("dark")]
    bright = inputs[labels == bundle.class_names.index("bright")]
    assert dark.max() < 10 and bright.min() > 200


@pytest.fixture(scope="module")
def image_folder_run(tmp_path_factory):
    """A --quick mlp run on a streamed folder: dataset (2 classes of tiny PNGs); returns its run folder."""
    from click.testing import CliRunner
    from PIL import Image

    from dlzoo.cli import cli

    root = tmp_path_factory.mktemp("image_folder_run")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("dark", "light")):
        (root / "images" / name).mkdir(parents=True)
        for index in range(15):
            pixels = rng.integers(label * 100, label * 100 + 120, size=(6, 6, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / "images" / name / f"{index:02d}.png")
    result = CliRunner().invoke(cli, ["train", "mlp", "--data", f"folder:{root / 'images'}", *QUICK,
                                      "--runs", str(root / "runs")], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    (folder,) = (root / "runs" / "mlp").iterdir()
    return folder


def copy_run(run_folder, runs_root):
    """A copy of ``run_folder`` under ``runs_root/mlp/`` (each test damages its own copy)."""
    import shutil

    return pathlib.Path(shutil.copytree(run_folder, runs_root / "mlp" / run_folder.name, symlinks=True))


def files_under(folder):
    """Every file below ``folder`` (relative paths), to see that nothing was added."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_evaluate_never_writes_through_a_symbolic_link_out_of_the_run(cli_run, tmp_path, image_folder_run):
    folder = copy_run(image_folder_run, tmp_path / "runs")
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("plots", "sections"):  # their contents now live outside, reached through a link
        (folder / name).rename(outside / name)
        (folder / name).symlink_to(outside / name, target_is_directory=True)
    before_outside, before_run = files_under(outside), files_under(folder)
    result = cli_run("evaluate", folder)
    assert_usage_error(result, "symbolic link")
    assert files_under(outside) == before_outside
    assert files_under(folder) == before_run  # not even the evaluation's JSON: refused before the first write


def test_evaluate_writes_no_cache_where_a_run_folder_says(cli_run, tmp_path, image_folder_run):
    import tomli_w

    from dlzoo.config import recipes

    folder = copy_run(image_folder_run, tmp_path / "runs")
    settings = recipes.read_toml(folder / "config.toml")
    settings["data"]["cache"] = str(tmp_path / "anywhere")
    (folder / "config.toml").write_text(tomli_w.dumps(settings))
    result = cli_run("evaluate", folder)
    assert result.exit_code == 0, result.stderr
    assert not (tmp_path / "anywhere").exists()
    # A cache in the runs root, where dlzoo writes anyway, is still used.
    settings["data"]["cache"] = str(tmp_path / "runs" / "cache")
    (folder / "config.toml").write_text(tomli_w.dumps(settings))
    assert cli_run("evaluate", folder).exit_code == 0
    assert list((tmp_path / "runs" / "cache").glob("*.tfcache*"))
