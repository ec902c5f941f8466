"""Tests of dlzoo.visualize: the arrays (oracles, properties) and the pictures.

Models are tiny and built here: a conv net with a pooling head trained for a few epochs on the
8x8 scikit-learn digits, a transfer-style model whose conv base is a whole functional model
used as a layer (with a residual block, an early Resizing and Rescaling), a linear model for
exact oracles, an MLP and a conv net with a Flatten head for the "not applicable" paths.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import dlzoo.visualize as visualize  # noqa: E402
from dlzoo.models import heads  # noqa: E402
from dlzoo.core.registry import UnknownNameError  # noqa: E402
from dlzoo.visualize import layers as visualize_layers  # noqa: E402
from dlzoo.visualize.trace import ForwardTrace  # noqa: E402

SAMPLES = 6


# 1. Data and models ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits as float32 (n, 8, 8, 1) in [0, 1], and their labels."""
    data = load_digits()
    images = (data.images / 16.0).astype("float32")[..., np.newaxis]
    return images, data.target.astype("int64")


@pytest.fixture(scope="module")
def test_images(digits):
    images, labels = digits
    return images[-SAMPLES:], labels[-SAMPLES:]


def _train(model, digits, epochs):
    images, labels = digits
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images[:-100], labels[:-100], epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def tiny_cnn(digits):
    """conv_1 -> conv_2 -> global average pooling -> logits: CAM applies."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 1))
    hidden = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_1")(inputs)
    hidden = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_2")(hidden)
    hidden = layers.GlobalAveragePooling2D(name="pool")(hidden)
    model = keras.Model(inputs, heads.classifier_head(hidden, 10), name="tiny_cnn")
    return _train(model, digits, epochs=5)


def _residual_base(size):
    """A functional conv base: conv_a -> conv_b -> bn -> add(conv_a, bn) -> block_out (ReLU)."""
    inputs = keras.Input((size, size, 1))
    first = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(inputs)
    second = layers.Conv2D(8, 3, padding="same", name="conv_b")(first)
    second = layers.BatchNormalization(name="bn")(second)
    added = layers.Add(name="add")([first, second])
    return keras.Model(inputs, layers.ReLU(name="block_out")(added), name="base")


@pytest.fixture(scope="module")
def nested_model(digits):
    """Sequential transfer-style model: Resizing -> Rescaling -> base (a model) -> GAP -> head."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Resizing(12, 12, name="resize"),
            layers.Rescaling(1.0, name="rescale"),
            _residual_base(12),
            layers.GlobalAveragePooling2D(name="pool"),
            layers.Dropout(0.1, name="dropout"),
            layers.Dense(10, name=heads.LOGITS_LAYER),
            layers.Activation("softmax", name=heads.PROBABILITIES_LAYER),
        ],
        name="nested",
    )
    return _train(model, digits, epochs=3)


@pytest.fixture(scope="module")
def nested_functional_model():
    """The same idea with a functional outer model (untrained)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 1))
    features = _residual_base(8)(inputs)
    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    return keras.Model(inputs, heads.classifier_head(pooled, 10), name="nested_functional")


@pytest.fixture(scope="module")
def mlp():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 1))
    hidden = layers.Dense(16, activation="relu")(layers.Flatten()(inputs))
    return keras.Model(inputs, heads.classifier_head(hidden, 10), name="mlp")


@pytest.fixture(scope="module")
def flatten_cnn():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 1))
    hidden = layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    return keras.Model(inputs, heads.classifier_head(layers.Flatten(name="flatten")(hidden), 10), name="flatten_cnn")


def _linear_model(num_classes):
    """logits = Flatten(x) @ W + b: its input gradient is a column of W, exactly."""
    keras.utils.set_random_seed(6)
    inputs = keras.Input((8, 8, 1))
    return keras.Model(inputs, heads.classifier_head(layers.Flatten()(inputs), num_classes))


def _logits(model, images):
    return visualize.targets.logits_model(model)(images, training=False).numpy()


# 2. Gradient attributions ---------------------------------------------------------------------


def test_saliency_of_a_linear_model_is_its_weight_column(test_images):
    images, _ = test_images
    model = _linear_model(3)
    kernel = model.get_layer(heads.LOGITS_LAYER).kernel.numpy()  # (64, 3)
    gradients = visualize.saliency(model, images, class_index=2)
    assert gradients.shape == images.shape
    for sample in gradients:
        np.testing.assert_allclose(sample.reshape(-1), kernel[:, 2], rtol=1e-5, atol=1e-6)


def test_binary_head_scores_class_zero_as_minus_the_logit(test_images):
    images, _ = test_images
    model = _linear_model(2)  # one sigmoid unit
    kernel = model.get_layer(heads.LOGITS_LAYER).kernel.numpy()[:, 0]
    class_one = visualize.saliency(model, images, class_index=1)
    class_zero = visualize.saliency(model, images, class_index=0)
    np.testing.assert_allclose(class_one[0].reshape(-1), kernel, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(class_zero, -class_one, rtol=1e-6, atol=1e-7)


def test_integrated_gradients_of_a_linear_model_is_exact(test_images):
    images, _ = test_images
    model = _linear_model(3)
    kernel = model.get_layer(heads.LOGITS_LAYER).kernel.numpy()[:, 1].reshape(8, 8, 1)
    baseline = np.full_like(images[0], 0.25)
    attributions = visualize.integrated_gradients(model, images, 1, steps=4, baseline=baseline)
    np.testing.assert_allclose(attributions, (images - baseline) * kernel, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_completeness(tiny_cnn, test_images):
    """Attributions add up to score(x) - score(baseline), within 5% at 50 steps."""
    images, labels = test_images
    attributions = visualize.integrated_gradients(tiny_cnn, images, labels, steps=50)
    rows = np.arange(len(images))
    change = _logits(tiny_cnn, images)[rows, labels] - _logits(tiny_cnn, np.zeros_like(images))[rows, labels]
    error = np.abs(attributions.sum(axis=(1, 2, 3)) - change)
    print(f"IG completeness: score changes {np.round(change, 3)}, errors {np.round(error, 4)}")
    assert np.all(error <= 0.05 * np.abs(change) + 0.02)
    assert error.sum() <= 0.05 * np.abs(change).sum()


def test_smoothgrad_without_noise_is_saliency_and_noise_changes_it(tiny_cnn, test_images):
    images, _ = test_images
    plain = visualize.saliency(tiny_cnn, images, 3)
    np.testing.assert_allclose(visualize.smoothgrad(tiny_cnn, images, 3, samples=2, noise_level=0.0), plain, atol=1e-6)
    noisy = visualize.smoothgrad(tiny_cnn, images, 3, samples=4, seed=7)
    np.testing.assert_array_equal(noisy, visualize.smoothgrad(tiny_cnn, images, 3, samples=4, seed=7))
    assert noisy.shape == images.shape
    assert not np.allclose(noisy, plain)


def test_class_index_none_means_the_predicted_class(tiny_cnn, test_images):
    images, _ = test_images
    predicted = _logits(tiny_cnn, images).argmax(axis=-1)
    np.testing.assert_allclose(
        visualize.saliency(tiny_cnn, images, None), visualize.saliency(tiny_cnn, images, predicted), atol=1e-7
    )
    first = visualize.saliency(tiny_cnn, images[:1], int(predicted[0]))
    np.testing.assert_allclose(first[0], visualize.saliency(tiny_cnn, images, predicted)[0], atol=1e-6)


def test_class_out_of_range_and_bad_arguments(tiny_cnn, test_images):
    images, _ = test_images
    with pytest.raises(ValueError, match=r"class 12 is out of range: the model has 10 classes \(0-9\)"):
        visualize.saliency(tiny_cnn, images, 12)
    with pytest.raises(ValueError, match="class -1 is out of range"):
        visualize.gradcam(tiny_cnn, images, [0, 1, 2, 3, 4, -1])
    with pytest.raises(ValueError, match="3 entries for 6 images"):
        visualize.saliency(tiny_cnn, images, [1, 2, 3])
    with pytest.raises(ValueError, match="4-D array"):
        visualize.saliency(tiny_cnn, images[0], 1)
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        visualize.integrated_gradients(tiny_cnn, images, 1, steps=0)


def test_saliency_passes_the_model_randomization_check(tiny_cnn, digits):
    """Adebayo et al. 2018: saliency of re-initialized weights must rank pixels differently."""
    images, _ = digits
    correlation = visualize.randomization_rank_correlation(tiny_cnn, images[-32:])
    print(f"saliency rank correlation, trained vs randomized weights: {correlation:.3f}")
    assert correlation < 0.5
    # The check itself can fail: a model compared with itself correlates perfectly.
    from scipy import stats

    same = visualize.saliency(tiny_cnn, images[-2:], 1)
    assert stats.spearmanr(np.abs(same[0]).ravel(), np.abs(same[0]).ravel()).statistic == pytest.approx(1.0)


# 3. Class activation maps and layer lookup -----------------------------------------------------


@pytest.mark.parametrize("model_name", ["tiny_cnn", "nested_model", "nested_functional_model"])
def test_class_activation_maps_are_in_unit_range_at_input_resolution(model_name, request, test_images):
    model = request.getfixturevalue(model_name)
    images, _ = test_images
    for method in (visualize.cam, visualize.gradcam, visualize.gradcam_plus_plus):
        maps = method(model, images, None)
        assert maps.shape == images.shape[:3], method.__name__
        assert maps.min() >= 0.0 and maps.max() <= 1.0, method.__name__
        assert np.isclose(maps.max(axis=(1, 2)), 1.0).any(), method.__name__


def test_cam_equals_gradcam_at_the_pooled_feature_map(tiny_cnn, nested_model, test_images):
    """With GAP -> logits, Grad-CAM's channel weights are the logits kernel / (h * w)."""
    images, _ = test_images
    np.testing.assert_allclose(visualize.cam(tiny_cnn, images, 4), visualize.gradcam(tiny_cnn, images, 4), atol=1e-5)
    np.testing.assert_allclose(
        visualize.cam(nested_model, images, 4), visualize.gradcam(nested_model, images, 4, "base.block_out"), atol=1e-5
    )


def test_last_convolutional_block_is_found_inside_nested_models(tiny_cnn, nested_model, nested_functional_model):
    assert visualize_layers.last_convolution_block(ForwardTrace(tiny_cnn)).path == "conv_2"
    # conv_b -> bn -> add -> ReLU: the block's output, after the residual sum.
    assert visualize_layers.last_convolution_block(ForwardTrace(nested_model)).path == "base.block_out"
    assert visualize_layers.last_convolution_block(ForwardTrace(nested_functional_model)).path == "base.block_out"


def test_replayed_forward_pass_matches_the_model(nested_model, test_images):
    images, _ = test_images
    trace = ForwardTrace(nested_model)
    # training=False everywhere: with a Resizing layer in the model, Keras runs BatchNormalization
    # in training mode when `training` is not given.
    features, probabilities = trace.sub_model([trace.find("base.block_out").output, trace.outputs])(
        images, training=False
    )
    np.testing.assert_allclose(probabilities, nested_model(images, training=False), atol=1e-6)
    base = nested_model.get_layer("base")
    np.testing.assert_allclose(features, base(layers.Resizing(12, 12)(images), training=False), atol=1e-5)


def test_gradcam_matches_a_hand_built_split_model(tiny_cnn, test_images):
    """The textbook recipe (one sub-model to conv output and logits) works for flat models."""
    import tensorflow as tf

    images, _ = test_images
    split = keras.Model(tiny_cnn.inputs[0], [tiny_cnn.get_layer("conv_2").output, tiny_cnn.get_layer("logits").output])
    with tf.GradientTape() as tape:
        features, logits = split(images, training=False)
        score = tf.reduce_sum(logits[:, 5])
    weights = tf.reduce_mean(tape.gradient(score, features), axis=(1, 2))
    maps = tf.nn.relu(tf.einsum("bhwc,bc->bhw", features, weights)).numpy()
    expected = maps / np.maximum(maps.max(axis=(1, 2), keepdims=True), 1e-12)  # 8x8 maps: no resizing
    np.testing.assert_allclose(visualize.gradcam(tiny_cnn, images, 5), expected, atol=1e-5)


def test_dotted_and_bare_layer_names(nested_model, test_images):
    images, _ = test_images
    dotted = visualize.gradcam(nested_model, images, 1, layer="base.conv_a")
    np.testing.assert_allclose(visualize.gradcam(nested_model, images, 1, layer="conv_a"), dotted)
    assert dotted.shape == images.shape[:3]
    assert not np.allclose(dotted, visualize.gradcam(nested_model, images, 1))


def test_unknown_or_flat_layer_is_a_clear_error(nested_model, test_images):
    images, _ = test_images
    with pytest.raises(ValueError, match="not a layer of model 'nested'.*base.conv_a.*base.block_out"):
        visualize.gradcam(nested_model, images, 1, layer="base.conv_z")
    with pytest.raises(ValueError, match=r"layer 'pool' has output shape \(None, 8\)"):
        visualize.gradcam(nested_model, images, 1, layer="pool")


def test_methods_that_do_not_apply(mlp, flatten_cnn, test_images):
    images, _ = test_images
    with pytest.raises(visualize.NotApplicableError, match="GlobalAveragePooling2D.*Flatten 'flatten'"):
        visualize.cam(flatten_cnn, images, 1)
    for method in (visualize.gradcam, visualize.gradcam_plus_plus, visualize.cam):
        with pytest.raises(visualize.NotApplicableError) as error:
            method(mlp, images, 1)
        assert "\n" not in str(error.value)
    with pytest.raises(visualize.NotApplicableError, match="needs a convolutional layer"):
        visualize.first_layer_filters(mlp)
    with pytest.raises(visualize.NotApplicableError, match="needs a convolutional layer"):
        visualize.feature_maps(mlp, images[0])
    assert visualize.NotApplicableError.__mro__[1] is ValueError


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside keras' own saving code
def test_visualizing_leaves_the_model_savable(nested_model, test_images, tmp_path):
    """The replay adds calls to the shared layers; saving and reloading must not notice."""
    images, _ = test_images
    visualize.gradcam(nested_model, images, 1, layer="base.conv_a")
    nested_model.save(tmp_path / "nested.keras")
    reloaded = keras.models.load_model(tmp_path / "nested.keras")
    np.testing.assert_allclose(reloaded(images, training=False), nested_model(images, training=False), atol=1e-6)


def test_unsupported_models_are_clear_errors(test_images):
    images, _ = test_images

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, inputs):
            return self.dense(keras.ops.reshape(inputs, (-1, 64)))

    subclassed = Subclassed()
    subclassed(images)
    with pytest.raises(visualize.NotApplicableError, match="Sequential or functional"):
        visualize.saliency(subclassed, images, 1)
    with pytest.raises(ValueError, match="has no inputs yet"):
        visualize.gradcam(keras.Sequential([layers.Conv2D(2, 3)]), images, 1)


def test_mixed_precision_model(test_images):
    images, _ = test_images
    policy = keras.DTypePolicy("mixed_float16")
    inputs = keras.Input((8, 8, 1))
    hidden = layers.Conv2D(4, 3, padding="same", activation="relu", dtype=policy)(inputs)
    logits = layers.Dense(3, name=heads.LOGITS_LAYER, dtype=policy)(layers.GlobalAveragePooling2D(dtype=policy)(hidden))
    model = keras.Model(inputs, layers.Activation("softmax", name=heads.PROBABILITIES_LAYER, dtype="float32")(logits))
    for method in (visualize.cam, visualize.gradcam, visualize.gradcam_plus_plus):
        maps = method(model, images, 1)
        assert maps.dtype == np.float32 and maps.shape == (SAMPLES, 8, 8) and 0 <= maps.min() <= maps.max() <= 1


# 4. Activation maximization, filters, feature maps ----------------------------------------


def test_activation_maximization_raises_the_class_score(tiny_cnn):
    image, history = visualize.activation_maximization(tiny_cnn, class_index=3, steps=24, seed=1)
    print(f"activation maximization, class 3 logit: {history[0]:.2f} -> {history[-1]:.2f}")
    assert image.shape == (8, 8, 1) and history.shape == (24,)
    assert history[-1] > history[0] + 5.0
    assert _logits(tiny_cnn, image[np.newaxis])[0, 3] > history[0] + 5.0  # the returned image, unshifted


def test_activation_maximization_of_a_channel_inside_a_nested_model(nested_model):
    image, history = visualize.activation_maximization(
        nested_model, layer="base.conv_b", filter_index=2, steps=16, jitter=0
    )
    assert image.shape == (8, 8, 1)
    # The objective rose during the ascent and ended near its best value.
    assert history[-1] > history[0] and history[-1] >= 0.8 * history.max() > 0
    # What makes it a maximization: the found image excites the channel far more than random
    # images of the same norm do (a property that holds whatever the library versions' noise).
    def channel_mean(images):
        return np.array([visualize.feature_maps(nested_model, one, layer="base.conv_b")[..., 2].mean()
                         for one in images])

    rng = np.random.default_rng(0)
    random_images = rng.normal(size=(32, 8, 8, 1)).astype("float32")
    random_images *= np.linalg.norm(image) / np.sqrt((random_images ** 2).sum(axis=(1, 2, 3), keepdims=True))
    found, random = channel_mean(image[np.newaxis])[0], channel_mean(random_images)
    assert found > random.max() + 2 * random.std()
    with pytest.raises(ValueError, match="filter_index 8 is out of range"):
        visualize.activation_maximization(nested_model, layer="base.conv_b", filter_index=8, steps=2)
    with pytest.raises(ValueError, match="class 10 is out of range"):
        visualize.activation_maximization(nested_model, class_index=10, steps=2)


def test_filters_and_feature_maps(tiny_cnn, nested_model, test_images):
    images, _ = test_images
    np.testing.assert_array_equal(visualize.first_layer_filters(tiny_cnn), tiny_cnn.get_layer("conv_1").kernel.numpy())
    base_kernel = nested_model.get_layer("base").get_layer("conv_a").kernel.numpy()
    np.testing.assert_array_equal(visualize.first_layer_filters(nested_model), base_kernel)
    maps = visualize.feature_maps(tiny_cnn, images[0])
    conv_1 = keras.Model(tiny_cnn.inputs[0], tiny_cnn.get_layer("conv_1").output)
    np.testing.assert_allclose(maps, conv_1(images[:1], training=False)[0], atol=1e-6)
    assert visualize.feature_maps(nested_model, images[0], layer="base.block_out").shape == (12, 12, 8)


# 5. Pictures through the high-level entry point ---------------------------------------------


def test_applicable_methods(tiny_cnn, nested_model, mlp, flatten_cnn):
    assert visualize.applicable_methods(tiny_cnn) == visualize.METHOD_NAMES
    assert visualize.applicable_methods(nested_model) == visualize.METHOD_NAMES
    assert visualize.applicable_methods(mlp) == ["saliency", "smoothgrad", "integrated-gradients", "activation-max"]
    assert "cam" not in visualize.applicable_methods(flatten_cnn)
    assert "gradcam" in visualize.applicable_methods(flatten_cnn)


@pytest.mark.parametrize("method", visualize.METHOD_NAMES)
@pytest.mark.parametrize("model_name", ["tiny_cnn", "nested_model"])
def test_make_pictures_writes_png_files(method, model_name, request, test_images, tmp_path):
    model = request.getfixturevalue(model_name)
    images, labels = test_images
    names = [f"digit {digit}" for digit in range(10)]
    paths = visualize.make_pictures(model, method, images[:3], labels[:3], tmp_path / "plots", class_names=names)
    assert paths and all(path.parent == tmp_path / "plots" for path in paths)
    for path in paths:
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path / "plots")) == sorted(path.name for path in paths)  # no temp files


def test_make_pictures_with_a_dotted_layer(nested_model, test_images, tmp_path):
    images, labels = test_images
    for method in ("gradcam", "feature-maps", "filters"):
        (path,) = visualize.make_pictures(nested_model, method, images[:2], labels[:2], tmp_path, layer="base.conv_b")
        assert path.stat().st_size > 1000


def test_make_pictures_errors(tiny_cnn, mlp, test_images, tmp_path):
    images, labels = test_images
    with pytest.raises(UnknownNameError, match="did you mean 'gradcam'"):
        visualize.make_pictures(tiny_cnn, "gradcamm", images, labels, tmp_path)
    with pytest.raises(visualize.NotApplicableError, match="needs a convolutional layer"):
        visualize.make_pictures(mlp, "gradcam", images, labels, tmp_path)
    with pytest.raises(ValueError, match="class 12 is out of range"):
        visualize.make_pictures(tiny_cnn, "saliency", images, labels, tmp_path, class_index=12)
    assert os.listdir(tmp_path) == []  # nothing half-written


# 7. What the pictures and their texts say ---------------------------------------------------


def _with_normalization_first(digits):
    """A model taking raw pixels: Normalization (adapted on the images) right after the input."""
    keras.utils.set_random_seed(7)
    images, _ = digits
    normalization = layers.Normalization(name="normalization")
    normalization.adapt(images * 16.0)
    inputs = keras.Input((8, 8, 1))
    hidden = layers.Conv2D(4, 3, padding="same", activation="relu")(normalization(inputs))
    pooled = layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, heads.classifier_head(pooled, 10), name="raw_inputs")


def test_baseline_description_follows_the_model(digits, tiny_cnn):
    images, _ = digits
    raw_images = images[:32] * 16.0  # pixels 0-16, as the digits are stored
    standardized = (images[:32] - images.mean()) / images.std()
    with_normalization = _with_normalization_first(digits)
    # A model that standardizes its own inputs: the all-zero raw input is a blank image.
    for given in (None, raw_images):
        text = visualize.baseline_description(with_normalization, given)
        assert "blank" in text and "mean" not in text
    # No Normalization in the model, inputs standardized outside: zero is the mean image.
    text = visualize.baseline_description(tiny_cnn, standardized)
    assert "mean image" in text and "blank" not in text
    # No Normalization and raw inputs (or nothing known about them): zero is a blank image.
    for given in (None, raw_images):
        text = visualize.baseline_description(tiny_cnn, given)
        assert "blank" in text and "mean" not in text


def _capture_figures(monkeypatch):
    """Record the matplotlib figures the pictures module saves, instead of only their PNG bytes."""
    figures = []
    original = visualize.pictures.save_figure

    def save_and_record(figure, path):
        figures.append(figure)
        return original(figure, path)

    monkeypatch.setattr(visualize.pictures, "save_figure", save_and_record)
    return figures


def _colorbars(figure):
    return [axes for axes in figure.axes if axes.get_label() == "<colorbar>"]


EXPLANATION_METHODS = ["saliency", "smoothgrad", "integrated-gradients", "cam", "gradcam", "gradcam++"]


@pytest.mark.parametrize("method", EXPLANATION_METHODS)
def test_explanation_figures_have_colorbars_fitting_colormaps_and_layer_titles(
    method, tiny_cnn, test_images, tmp_path, monkeypatch
):
    images, labels = test_images
    figures = _capture_figures(monkeypatch)
    visualize.make_pictures(tiny_cnn, method, images[:3], labels[:3], tmp_path)
    (figure,) = figures
    assert len(_colorbars(figure)) >= 1
    heatmaps = [axes.images[0] for axes in figure.axes if axes.get_title() == "map"]
    assert len(heatmaps) == 3
    signs = []
    for heatmap in heatmaps:
        low, high = heatmap.get_clim()
        if method == "integrated-gradients":  # signed: diverging colours, white at 0
            assert heatmap.get_cmap().name == "RdBu_r"
            assert low == -high and high > 0
            signs.append(np.sign(heatmap.get_array()))
        else:  # |gradient| or positive class evidence: a sequential map from 0
            assert heatmap.get_cmap().name != "RdBu_r"
            assert (low, high) == (0.0, 1.0)
    if method == "integrated-gradients":  # the map keeps the sign of the attributions
        attributions = visualize.integrated_gradients(tiny_cnn, images[:3]).sum(axis=-1)
        assert np.array_equal(np.stack(signs), np.sign(attributions))
        assert (attributions < 0).any()
    title = figure._suptitle.get_text()
    if method in ("cam", "gradcam", "gradcam++"):
        assert "conv_2" in title  # the layer the map comes from (the last conv block here)
    if method == "integrated-gradients":
        assert "baseline" in title and "blank" in title


def test_an_explicit_layer_is_named_in_the_title(tiny_cnn, test_images, tmp_path, monkeypatch):
    images, labels = test_images
    figures = _capture_figures(monkeypatch)
    visualize.make_pictures(tiny_cnn, "gradcam", images[:2], labels[:2], tmp_path, layer="conv_1")
    assert "conv_1" in figures[-1]._suptitle.get_text()


def test_signed_attribution_heatmap_keeps_the_sign():
    attribution = np.zeros((4, 4, 1), dtype="float32")
    attribution[0, 0, 0], attribution[1, 1, 0] = 2.0, -1.0
    heatmap = visualize.pictures.signed_attribution_heatmap(attribution)
    assert heatmap.shape == (4, 4)
    assert heatmap[0, 0] > 0 > heatmap[1, 1]
    assert heatmap.min() >= -1.0 and heatmap.max() <= 1.0 and heatmap[2, 2] == 0.0


def test_making_pictures_twice_keeps_the_first_files(tiny_cnn, test_images, tmp_path):
    images, labels = test_images
    first = visualize.make_pictures(tiny_cnn, "gradcam++", images[:2], labels[:2], tmp_path)
    before = {path: path.read_bytes() for path in first}
    second = visualize.make_pictures(tiny_cnn, "gradcam++", images[2:4], labels[2:4], tmp_path)
    assert all(path.read_bytes() == content for path, content in before.items())
    assert not set(first) & set(second) and all(path.exists() for path in second)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gradcam-plus-plus-2.png", "gradcam-plus-plus.png"]
