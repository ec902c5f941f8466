"""dlzoo.core.validation: each check returns the cleaned value or names the argument and the bad value;
and the registries that fill themselves by importing their package."""

import subprocess
import sys

import numpy as np
import pytest

from dlzoo.core import validation


@pytest.mark.parametrize("call, expected", [
    (lambda: validation.check_integer("epochs", 3, minimum=1), 3),
    (lambda: validation.check_integer("epochs", np.int64(3), minimum=1), 3),
    (lambda: validation.check_number("l2", 1, minimum=0.0), 1.0),
    (lambda: validation.check_number("tolerance", np.float32(0.5), minimum=0, exclusive_minimum=True), 0.5),
    (lambda: validation.check_fraction("dropout_rate", 0), 0.0),
    (lambda: validation.check_boolean("batch_norm", False), False),
    (lambda: validation.check_string("name", "adam"), "adam"),
    (lambda: validation.check_choice("head", "gap", ("gap", "dense")), "gap"),
    (lambda: validation.check_list_of("units", (32, 64), validation.check_integer, "integers"), [32, 64]),
    (lambda: validation.check_list_of("units", [], validation.check_integer, "integers", allow_empty=True), []),
])
def test_good_values_come_back_cleaned(call, expected):
    result = call()
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("call, message", [
    (lambda: validation.check_integer("epochs", 0, minimum=1), "epochs must be a whole number >= 1, got 0"),
    (lambda: validation.check_integer("epochs", 2.0), "epochs must be a whole number, got 2.0"),
    (lambda: validation.check_integer("epochs", True, minimum=1), "epochs must be a whole number >= 1, got True"),
    (lambda: validation.check_integer("depth", 9, 1, 8), r"depth must be a whole number in \[1, 8\], got 9"),
    (lambda: validation.check_number("l2", -1.0, minimum=0.0), "l2 must be a number >= 0.0, got -1.0"),
    (lambda: validation.check_number("rate", 0, minimum=0, exclusive_minimum=True), "rate must be a number > 0, got 0"),
    (lambda: validation.check_number("rate", float("nan")), "rate must be a finite number, got nan"),
    (lambda: validation.check_number("rate", "0.1", maximum=1), "rate must be a number <= 1, got '0.1'"),
    (lambda: validation.check_fraction("momentum", 1.0), r"momentum must be in \[0.0, 1.0\), got 1.0"),
    (lambda: validation.check_boolean("batch_norm", "yes"), "batch_norm must be true or false, got 'yes'"),
    (lambda: validation.check_string("name", ""), "name must be a non-empty string, got ''"),
    (lambda: validation.check_choice("activation", "rleu", ["relu", "tanh"]),
     r"activation must be one of relu, tanh, got 'rleu' \(did you mean 'relu'\?\)"),
    (lambda: validation.check_list_of("filters", "32", validation.check_integer, "integers"),
     "filters must be a non-empty list of integers, got '32'"),
    (lambda: validation.check_list_of("filters", [32, 0], lambda n, v: validation.check_integer(n, v, minimum=1),
                                      "integers"), r"filters\[1\] must be a whole number >= 1, got 0"),
    (lambda: validation.check_list_of("names", ["a", "b", "a"], validation.check_string, "names", distinct=True),
     "names lists a more than once"),
    (lambda: validation.check_required_keys("schedule 'step'", {"initial": 1}, ["initial", "boundaries"]),
     r"schedule 'step' needs the key 'boundaries', got keys \['initial'\]"),
    (lambda: validation.check_known_keys("train", {"epoch": 1}, ["epochs", "seed"]),
     r"unknown key 'train.epoch'; did you mean 'epochs'\? \(valid keys: epochs, seed\)"),
    (lambda: validation.check_known_options("optimizer 'sgd'", {"momentun": 0.9}, ["learning_rate", "momentum"]),
     r"unknown option 'momentun' for optimizer 'sgd'; did you mean 'momentum'\? \(valid options: learning_rate"),
])
def test_bad_values_raise_value_error_naming_the_argument_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_check_known_keys_names_the_closest_key():
    with pytest.raises(ValueError, match="unknown key 'paths.function'; did you mean 'functions'"):
        validation.check_known_keys("paths", {"function": []}, ["functions", "steps"])


def test_validation_imports_no_keras_or_tensorflow():
    code = "import sys, dlzoo.core.validation; print(sorted({'keras', 'tensorflow', 'numpy'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_a_new_model_file_registers_itself(tmp_path, monkeypatch):
    """A family module dropped into the models package is found with no list to edit."""
    from dlzoo import models
    from dlzoo.core.registry import Registry

    (tmp_path / "zz_test_family.py").write_text(
        "from dlzoo.models import register\n\n"
        "@register('zz_test_model')\n"
        "def build(input_shape, num_classes, *, width=3):\n"
        "    return None\n"
    )
    # A fresh registry, so the extra model does not leak into the tests that build every model.
    fresh = Registry("model")
    monkeypatch.setitem(models.REGISTRIES, "classifier", fresh)
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    try:
        assert "zz_test_model" in models.names()
        assert models.option_names("zz_test_model") == ["width"]
    finally:
        sys.modules.pop("dlzoo.models.zz_test_family", None)


def test_optimizers_register_themselves():
    from dlzoo import optimizers
    from dlzoo.optimizers import base

    built_in = [name for name in optimizers.names() if name not in optimizers.OPTIMIZERS.replaceable]  # no plug-ins
    assert built_in == ["adagrad", "adam", "momentum", "nesterov", "rmsprop", "sgd"]
    for name in built_in:
        assert issubclass(optimizers.OPTIMIZERS.get(name), base.ZooOptimizer)
