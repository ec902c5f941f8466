"""Every registered model builds, runs forward and backward, and follows the head convention.

Registry-wide tests (in the spirit of timm's tests/test_models.py) plus a few architecture
facts (parameter counts of the papers, layer names other parts of dlzoo rely on) and the
error paths of the options.
"""

import os
import pathlib
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402  (tests may use TensorFlow; the models may not)

from dlzoo import models  # noqa: E402
from dlzoo.models import heads  # noqa: E402

IMAGE_SMALL = (8, 8, 1)  # digits
IMAGE_RGB = (32, 32, 3)  # CIFAR-sized
SIGNAL = (40,)  # MNIST-1D
POINTS = (2,)  # moons, circles

# The inputs each model is meant for: (input_shape, num_classes, options). A model registered
# without an entry here fails test_every_model_has_intended_inputs.
INTENDED_INPUTS = {
    "logistic": [(POINTS, 2, {}), (IMAGE_SMALL, 10, {}), (SIGNAL, 10, {"l2": 1e-3})],
    "softmax_regression": [(IMAGE_SMALL, 10, {}), (SIGNAL, 2, {})],
    "linear": [(POINTS, 2, {}), ((10,), 2, {"l2": 1e-3})],
    "transformer": [(SIGNAL, 10, {"patch_size": 4, "model_dim": 16, "num_heads": 2, "feed_forward_dim": 32,
                                  "num_layers": 1}), ((20, 3), 2, {"model_dim": 8, "num_heads": 2, "num_layers": 1})],
    "mlp": [(POINTS, 2, {}), (IMAGE_SMALL, 10, {"batch_norm": True, "dropout_rate": 0.2}), (SIGNAL, 10, {})],
    "deep_mlp": [
        (POINTS, 2, {"depth": 4, "activation": "sigmoid"}),
        (SIGNAL, 10, {"depth": 5, "activation": "selu", "initializer": "lecun", "dropout_rate": 0.1}),
        (IMAGE_SMALL, 10, {"depth": 3, "activation": "elu", "initializer": "he", "batch_norm": True}),
    ],
    "cnn": [(IMAGE_SMALL, 10, {}), (IMAGE_RGB, 2, {"global_pooling": "flatten", "dense_units": 16,
                                                   "batch_norm": True, "dropout_rate": 0.1})],
    "lenet": [(IMAGE_SMALL, 10, {}), (IMAGE_RGB, 2, {"variant": "modern", "batch_norm": True})],
    "vgg": [(IMAGE_SMALL, 10, {}), (IMAGE_RGB, 2, {"head": "dense", "dense_units": 16, "dropout_rate": 0.1})],
    "cnn1d": [(SIGNAL, 10, {}), (SIGNAL, 2, {"global_pooling": "avg", "batch_norm": True})],
    "resnet": [(IMAGE_SMALL, 10, {"depth": 8}), (IMAGE_RGB, 2, {"depth": 8, "width": 4, "batch_norm": False})],
    "resnet20": [(IMAGE_SMALL, 10, {}), (IMAGE_RGB, 2, {"input_size": 40})],
    "rnn": [(SIGNAL, 10, {"units": 8}), ((20, 2), 2, {"cell": "lstm", "units": 8, "num_layers": 2,
                                                       "bidirectional": True, "dropout_rate": 0.1}),
            ((12, 3), 3, {"cell": "simple", "units": 8, "unroll": True})],
}

CASES = [
    pytest.param(name, shape, classes, options, id=f"{name}-{'x'.join(map(str, shape))}-{classes}")
    for name, cases in INTENDED_INPUTS.items()
    for shape, classes, options in cases
]


def _batch(input_shape, num_classes, size=4, seed=0):
    """A random batch of inputs and labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, *input_shape)).astype("float32")
    y = np.arange(size) % num_classes
    return x, y


def _loss(probabilities, labels, num_classes):
    """Mean cross-entropy of a batch of head outputs."""
    if num_classes == 2:
        return keras.losses.binary_crossentropy(labels.reshape(-1, 1).astype("float32"), probabilities)
    return keras.losses.sparse_categorical_crossentropy(labels, probabilities)


# Registered builders that are not classifiers (tested in their own files): a language model.
NOT_CLASSIFIERS = {"gpt"}  # tests/test_transformers.py


def test_every_model_has_intended_inputs():
    missing = sorted(set(models.names()) - set(INTENDED_INPUTS) - NOT_CLASSIFIERS)
    assert not missing, f"add the intended input shapes of {missing} to INTENDED_INPUTS"


@pytest.mark.parametrize("name, input_shape, num_classes, options", CASES)
def test_model_forward_and_backward(name, input_shape, num_classes, options):
    keras.utils.set_random_seed(0)
    model = models.build(name, input_shape, num_classes, **options)
    x, y = _batch(input_shape, num_classes)

    with tf.GradientTape() as tape:
        probabilities = model(x, training=True)
        loss = keras.ops.mean(_loss(probabilities, y, num_classes))
    gradients = tape.gradient(loss, model.trainable_weights)

    units = heads.output_units(num_classes)
    assert tuple(probabilities.shape) == (len(x), units)
    assert np.all(np.isfinite(probabilities.numpy()))
    assert np.isfinite(float(loss))
    for weight, gradient in zip(model.trainable_weights, gradients):
        assert gradient is not None, f"no gradient reaches {weight.path}"
        gradient = np.asarray(gradient)
        assert np.all(np.isfinite(gradient)), f"non-finite gradient for {weight.path}"
        assert np.any(gradient != 0), f"zero gradient for {weight.path}"
    assert model.get_layer("logits").output.shape[-1] == units
    assert model.get_layer("probabilities").output.shape[-1] == units


def test_model_predictions_in_inference_mode_are_probabilities():
    keras.utils.set_random_seed(0)
    model = models.build("cnn", IMAGE_SMALL, 10, batch_norm=True, dropout_rate=0.3)
    x, _ = _batch(IMAGE_SMALL, 10, size=3)
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "name, input_shape, options",
    [
        ("cnn", IMAGE_SMALL, {}),
        ("vgg", IMAGE_SMALL, {}),
        ("resnet20", IMAGE_SMALL, {}),
        ("cnn1d", SIGNAL, {"global_pooling": "avg"}),
    ],
)
def test_gap_head_feeds_logits_directly(name, input_shape, options):
    # Class activation maps need: last conv map -> gap -> logits, nothing in between.
    model = models.build(name, input_shape, 10, **options)
    gap = model.get_layer("gap")
    assert model.get_layer("logits").input is gap.output
    feature_map_rank = 4 if len(input_shape) == 3 else 3  # (batch, h, w, c) or (batch, length, c)
    assert len(gap.input.shape) == feature_map_rank


def test_resnet20_has_the_papers_parameter_count():
    # He et al. 2016, table 6: ResNet-20 has 0.27M parameters (10 classes, 32x32x3 inputs).
    model = models.build("resnet20", IMAGE_RGB, 10)
    assert abs(model.count_params() - 270_000) / 270_000 < 0.03
    assert model.get_layer("stage3_block3_out").output.shape[1:] == (8, 8, 64)


def test_resnet_depth_sets_blocks_per_stage():
    model = models.build("resnet", IMAGE_SMALL, 10, depth=14)
    names = [layer.name for layer in model.layers]
    assert "stage3_block2_add" in names and "stage3_block3_add" not in names
    # Projection shortcuts exactly where the shape changes (first block of stages 2 and 3).
    assert [name for name in names if name.endswith("shortcut_conv")] == [
        "stage2_block1_shortcut_conv", "stage3_block1_shortcut_conv"]


def test_lenet_classic_has_lenet5_shapes_and_parameters():
    model = models.build("lenet", IMAGE_SMALL, 10)
    # 8x8 digits are upsampled to 32x32 inside the model; then 28 -> 14 -> 10 -> 5.
    assert model.get_layer("resize").output.shape[1:] == (32, 32, 1)
    assert model.get_layer("pool2").output.shape[1:] == (5, 5, 16)
    assert isinstance(model.get_layer("pool1"), keras.layers.AveragePooling2D)
    # conv1 156 + conv2 2,416 + dense 120: 48,120 + dense 84: 10,164 + logits 850
    assert model.count_params() == 61_706
    large = models.build("lenet", IMAGE_RGB, 10, variant="modern")
    assert "resize" not in [layer.name for layer in large.layers]
    assert isinstance(large.get_layer("pool1"), keras.layers.MaxPooling2D)


def test_logistic_neuron_is_one_sigmoid_unit():
    model = models.build("logistic", POINTS, 2)
    assert model.count_params() == 3  # w1, w2, b
    assert model.get_layer("probabilities").get_config()["activation"] == "sigmoid"
    softmax = models.build("softmax_regression", IMAGE_SMALL, 10)
    assert softmax.count_params() == 64 * 10 + 10


def test_deep_mlp_names_every_hidden_layer_and_activation():
    model = models.build("deep_mlp", SIGNAL, 10, depth=6, width=8, activation="tanh")
    for index in range(1, 7):
        assert isinstance(model.get_layer(f"dense{index}"), keras.layers.Dense)
        assert model.get_layer(f"activation{index}").get_config()["activation"] == "tanh"
    assert "dense7" not in [layer.name for layer in model.layers]


def test_selu_uses_alpha_dropout_and_batch_norm_removes_the_bias():
    selu = models.build("deep_mlp", SIGNAL, 10, depth=2, activation="selu", initializer="lecun", dropout_rate=0.1)
    assert isinstance(selu.get_layer("dropout1"), keras.layers.AlphaDropout)
    normalized = models.build("mlp", SIGNAL, 10, hidden_units=[8], batch_norm=True)
    assert normalized.get_layer("dense1").bias is None


def test_cnn1d_follows_the_mnist1d_convbase():
    model = models.build("cnn1d", SIGNAL, 10)
    # 40 -> 20 -> 10 -> 5 samples with 25 channels
    assert model.get_layer("conv3_act").output.shape[1:] == (5, 25)


@pytest.mark.parametrize(
    "name, input_shape, options, option",
    [
        ("mlp", SIGNAL, {"activation": "rleu"}, "activation"),
        ("mlp", SIGNAL, {"dropout_rate": 1.0}, "dropout_rate"),
        ("mlp", SIGNAL, {"hidden_units": "128"}, "hidden_units"),
        ("mlp", SIGNAL, {"batch_norm": "yes"}, "batch_norm"),
        ("deep_mlp", SIGNAL, {"depth": 0}, "depth"),
        ("deep_mlp", SIGNAL, {"initializer": "hee"}, "initializer"),
        ("logistic", SIGNAL, {"l2": -1.0}, "l2"),
        ("cnn", IMAGE_SMALL, {"global_pooling": "max"}, "global_pooling"),
        ("cnn", IMAGE_SMALL, {"filters": [32, 0]}, "filters"),
        ("cnn", SIGNAL, {}, "input_shape"),
        ("lenet", IMAGE_SMALL, {"variant": "new"}, "variant"),
        ("lenet", IMAGE_SMALL, {"input_size": 8}, "input_size"),
        ("vgg", IMAGE_SMALL, {"head": "flat"}, "head"),
        ("vgg", IMAGE_SMALL, {"blocks": []}, "blocks"),
        ("cnn1d", SIGNAL, {"channels": [25, 25]}, "channels"),
        ("resnet", IMAGE_SMALL, {"depth": 21}, "depth"),
        ("resnet20", IMAGE_SMALL, {"width": 0}, "width"),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(name, input_shape, options, option):
    with pytest.raises(ValueError, match=option):
        models.build(name, input_shape, 10, **options)


def test_unknown_activation_suggests_the_closest_name():
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        models.build("deep_mlp", SIGNAL, 10, activation="rleu")


def test_models_never_import_tensorflow():
    folder = pathlib.Path(models.__file__).parent
    pattern = re.compile(r"^\s*(import tensorflow|from tensorflow)", re.MULTILINE)
    offenders = [path.name for path in sorted(folder.glob("*.py")) if pattern.search(path.read_text())]
    assert offenders == []


# One registry for every kind of builder, one check of a [model] table -----------------------

KIND_EXAMPLES = {"classifier": "mlp", "autoencoder": "vae", "gan": "dcgan", "segmentation": "unet",
                 "translator": "transformer"}


@pytest.mark.parametrize("kind", sorted(KIND_EXAMPLES))
def test_every_kind_checks_its_options_the_same_way(kind):
    from dlzoo.core.errors import UsageError

    name = KIND_EXAMPLES[kind]
    assert name in models.names(kind=kind)
    defaults = models.option_defaults(name, kind)
    assert defaults and models.check_options({"name": name}, kind) == defaults  # the defaults are the options
    option = next(iter(defaults))
    with pytest.raises(UsageError, match=rf"unknown key 'model\.{option}x'; did you mean '{option}'"):
        models.check_options({"name": name, f"{option}x": defaults[option]}, kind)
    with pytest.raises(UsageError, match=rf"model\.{option} must be"):
        models.check_options({"name": name, option: object()}, kind)


def test_kinds_are_separate_namespaces():
    # "linear" is a regression builder and an autoencoder, "transformer" a classifier and a translator.
    assert models.get("linear") is not models.get("linear", kind="autoencoder")
    assert models.get("transformer") is not models.get("transformer", kind="translator")
    from dlzoo.core.errors import UsageError

    with pytest.raises(UsageError, match="unknown translator 'seq2sq'; did you mean 'seq2seq'"):
        models.check_options({"name": "seq2sq"}, "translator")
    with pytest.raises(UsageError, match="model 'vae' is not a classifier [(]it is an autoencoder[)]; choose one of: "):
        models.check_options({"name": "vae"}, "classifier")


@pytest.mark.parametrize("model, message", [
    ({"name": "seq2seq", "cell": "lstmm"}, "model.cell must be one of gru, lstm, got 'lstmm'"),
    ({"name": "seq2seq", "units": 7}, "model.units must be even with a bidirectional encoder"),
    ({"name": "transformer", "model_dim": 30, "num_heads": 4}, "num_heads 4 does not divide the model width"),
])
def test_a_builder_checks_its_own_values(model, message):
    from dlzoo.core.errors import UsageError

    with pytest.raises(UsageError, match=re.escape(message)):
        models.check_options(model, "translator")


def test_a_translator_option_error_through_the_cli_is_one_line(cli_run):
    from helpers import assert_usage_error

    assert_usage_error(cli_run("train", "seq2seq-numbers", "--quick", "--set", "model.atention=none"),
                       "unknown key 'model.atention'; did you mean 'attention'")
