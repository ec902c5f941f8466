"""Semantic segmentation: the ``segment`` task, the U-Net, the ``shapes_masks`` data and their commands.

One quick run through the real CLI (default output) is shared by the tests of what a run
gives: metrics, pictures, the SavedModel in plain TensorFlow, ``predict`` and ``evaluate``. The
metrics and the threshold baseline are checked against hand-computed (oracle) values.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlzoo.tasks import segment  # noqa: E402

from helpers import assert_usage_error, invoke, train_once

# A small pool (200 images: 175 train / 25 val / 50 test) keeps the shared quick run to seconds.
SMALL = ("--set", "data.num_samples=200")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``(cli result, run folder)`` of ``dlzoo train segment-shapes --quick`` with its default output."""
    return train_once(tmp_path_factory, "segment-shapes", "--quick", *SMALL)


@pytest.fixture(scope="module")
def raw_test_images():
    """The run's raw test images (float32 0-255, as the dataset stores them) and true masks."""
    from dlzoo import data

    splits = data.load("shapes_masks", seed=0, options={"num_samples": 200})
    return splits.arrays("test", limit=16)


# 1. A run through the CLI --------------------------------------------------------------------

def test_quick_run_reports_segmentation_metrics_pictures_and_baseline(quick_run):
    result, folder = quick_run
    lines = result.output.splitlines()
    assert lines[0].startswith("== segment-shapes (segment) on ") and lines[0].endswith("(quick)")
    assert "a class per pixel: background, object" in lines[1]
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed" and record["task"] == "segment"
    metrics = record["metrics"]
    for split in ("train", "val", "test"):
        for name in ("pixel_accuracy", "mean_iou", "object_iou"):
            assert 0.0 <= metrics[f"{split}_{name}"] <= 1.0, (split, name, metrics)
        assert metrics[f"{split}_loss"] > 0
    assert 0.5 <= metrics["baseline_best_test_object_iou"] <= 1.0  # a threshold finds most of each object
    assert record["target"]["metric"] == "test_object_iou"
    assert record["baselines"]["metric"] == "object_iou" and len(record["baselines"]["models"]) == 2
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert np.sum(evaluation["confusion_matrix"]) == evaluation["pixels"] == evaluation["examples"] * 32 * 32
    for picture in ("segmentation.png", "confusion_matrix.png", "learning_curves.png"):
        assert (folder / "plots" / picture).stat().st_size > 1000, picture
    report = (folder / "report.md").read_text()
    assert "plots/segmentation.png" in report and "## Baseline: an intensity threshold" in report
    assert "## Use it without dlzoo" in report and "serve_uint8(images: uint8[None, 32, 32, 3])" in report
    assert record["export"]["max_abs_difference"] <= record["export"]["tolerance"]


def test_evaluate_a_segmentation_run(quick_run):
    _, folder = quick_run
    result = invoke("evaluate", folder, "--split", "val")
    assert result.exit_code == 0, result.output + result.stderr
    assert "val object IoU " in result.output and "pixel accuracy" in result.output
    written = json.loads((folder / "evaluation-val-shapes-masks.json").read_text())
    assert written["split"] == "val" and 0.0 <= written["mean_iou"] <= 1.0
    assert (folder / "plots" / "confusion_matrix-val-shapes-masks.png").is_file()


# 2. The SavedModel in plain TensorFlow, and predict ------------------------------------------

def test_saved_model_returns_the_runs_masks_for_raw_images_in_plain_tensorflow(quick_run, raw_test_images,
                                                                               plain_tensorflow, tmp_path):
    _, folder = quick_run
    images, _ = raw_test_images
    np.save(tmp_path / "images.npy", images)
    result = invoke("predict", folder, "--file", tmp_path / "images.npy")
    assert result.exit_code == 0, result.output + result.stderr
    run_masks = np.load(folder / "predictions" / "masks.npy")  # what the run itself predicts
    lines = plain_tensorflow(
        "import numpy as np\n"
        f"model = tf.saved_model.load({str(folder / 'saved_model')!r})\n"
        f"images = np.load({str(tmp_path / 'images.npy')!r})\n"
        "outputs = model.serve(tf.constant(images))\n"
        f"np.save({str(tmp_path / 'exported.npy')!r}, outputs['mask'].numpy())\n"
        "print(outputs['probabilities'].shape, outputs['mask'].dtype.name)\n"
        "print(float(tf.reduce_max(tf.abs(tf.reduce_sum(outputs['probabilities'], axis=-1) - 1))))\n"
        "as_bytes = np.round(images).astype('uint8')\n"
        "from_bytes = model.serve_uint8(tf.constant(as_bytes))['mask'].numpy()\n"
        "from_floats = model.serve(tf.constant(as_bytes.astype('float32')))['mask'].numpy()\n"
        "print(bool((from_bytes == from_floats).all()))\n"
    )
    assert lines == ["(16, 32, 32, 2) int32", lines[1], "True"]
    assert float(lines[1]) < 1e-5  # a distribution over the two classes at every pixel
    assert np.array_equal(np.load(tmp_path / "exported.npy"), run_masks)


def test_predict_on_png_files_writes_new_mask_files(quick_run, raw_test_images, tmp_path):
    from PIL import Image

    _, folder = quick_run
    images, _ = raw_test_images
    paths = []
    for index in range(2):
        paths.append(tmp_path / f"shape{index}.png")
        Image.fromarray(np.round(images[index]).astype("uint8")).save(paths[-1])
    first = invoke("predict", folder, *paths)
    assert first.exit_code == 0, first.output + first.stderr
    lines = first.output.splitlines()
    assert len(lines) == 3, lines  # one per image, then where all the masks are
    assert lines[0].startswith(f"{paths[0]}: object ") and "of the pixels" in lines[0]
    written = folder / "predictions" / "shape0-mask.png"
    assert lines[0].endswith(str(written))
    mask = np.asarray(Image.open(written))
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 255}
    before = written.read_bytes()
    again = invoke("predict", folder, paths[0])  # never overwrites: a second mask file
    assert again.exit_code == 0, again.output + again.stderr
    assert again.output.splitlines()[0].endswith(str(folder / "predictions" / "shape0-mask-2.png"))
    assert written.read_bytes() == before


def test_python_api_predict_writes_masks_into_the_run(quick_run, raw_test_images):
    import dlzoo

    _, folder = quick_run
    images, _ = raw_test_images
    lines = dlzoo.load(folder).predict(images[:3])
    assert len(lines) == 4 and lines[0].startswith("input[0]: object ")
    assert "predictions" in lines[0] and lines[-1].startswith("masks of the 3 images")


def test_predict_refuses_images_that_do_not_fit(quick_run, tmp_path):
    _, folder = quick_run
    np.save(tmp_path / "small.npy", np.zeros((2, 16, 16, 3), "float32"))
    before = sorted(path.name for path in (folder / "predictions").glob("*")) if (folder / "predictions").exists() \
        else []
    assert_usage_error(invoke("predict", folder, "--file", tmp_path / "small.npy"),
                       "inputs of shape (2, 16, 16, 3) do not fit", "(32, 32, 3)")
    (tmp_path / "notes.txt").write_text("not an image")
    assert_usage_error(invoke("predict", folder, tmp_path / "notes.txt"), "give images")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert_usage_error(invoke("predict", folder, tmp_path / "broken.png"), "is not an image file")
    assert_usage_error(invoke("predict", folder, tmp_path / "missing.png"), "no such file")
    assert_usage_error(invoke("predict", folder), "give images to segment")
    after = sorted(path.name for path in (folder / "predictions").glob("*")) if (folder / "predictions").exists() \
        else []
    assert after == before  # nothing written for refused inputs


def test_bad_segmentation_settings_are_refused_before_training(tmp_path):
    runs_root = tmp_path / "runs"
    assert_usage_error(invoke("train", "segment-shapes", "--set", "data.augment={flip = \"horizontal\"}",
                              "--runs", runs_root), "data.augment moves the images but not their masks")
    assert_usage_error(invoke("train", "segment-shapes", "--quick", "--data", "digits", "--runs", runs_root),
                       "needs a class for every pixel")
    assert_usage_error(invoke("train", "segment-shapes", "--quick", "--set", "model.filter=[8, 16]",
                              "--runs", runs_root), "unknown key 'model.filter'", "filters")
    assert_usage_error(invoke("train", "segment-shapes", "--quick", "--set", "model.name=cnn", "--runs", runs_root),
                       "not a segmentation model", "unet")
    assert_usage_error(invoke("train", "segment-shapes", "--quick", "--set", "data.classes=[1]", "--runs", runs_root),
                       "takes no data.classes")
    assert_usage_error(invoke("train", "segment-shapes", "--set", "train.loss=mse", "--runs", runs_root),
                       "train.loss of a segmentation")
    assert not (runs_root / "segment-shapes").exists()  # no run folder for refused settings


# 3. Metrics and baseline against hand-computed values ----------------------------------------

def test_metrics_of_a_hand_made_pair_of_masks():
    true = np.zeros((2, 4, 4), "int32")
    predicted = np.zeros((2, 4, 4), "int32")
    true[0, 1:3, 1:3] = 1  # a 2x2 object: 4 pixels
    predicted[0, 1:3, 1:4] = 1  # 6 pixels, 4 of them on the object ...
    predicted[0, 1, 1] = 0  # ... now 5 pixels, 3 on the object: intersection 3, union 4 + 5 - 3 = 6
    # The second image has no object, and none is predicted: IoU 1 by definition.
    scores = segment.mask_scores(true, predicted, 2)
    assert np.allclose(segment.object_iou_per_image(true, predicted), [3 / 6, 1.0])
    assert scores["object_iou"] == pytest.approx((3 / 6 + 1.0) / 2)
    # Pixels: 32, of which 1 missed object pixel and 2 false object pixels.
    assert scores["pixel_accuracy"] == pytest.approx(29 / 32)
    assert scores["confusion_matrix"] == [[26, 2], [1, 3]]  # rows: true background, true object
    background_iou, object_iou = 26 / (28 + 27 - 26), 3 / (4 + 5 - 3)
    assert scores["class_iou"] == pytest.approx([background_iou, object_iou])
    assert scores["mean_iou"] == pytest.approx((background_iou + object_iou) / 2)


def test_pixel_crossentropy_is_minus_log_of_the_true_class_probability():
    probabilities = np.array([[[[0.9, 0.1], [0.2, 0.8]]]], "float32")  # (1, 1, 2, 2)
    true = np.array([[[0, 0]]])
    assert segment.pixel_crossentropy(true, probabilities) == pytest.approx(-(np.log(0.9) + np.log(0.2)) / 2)


def test_best_threshold_level_matches_a_brute_force_search():
    rng = np.random.default_rng(0)
    masks = rng.uniform(size=(6, 8, 8)) < 0.3
    bins = np.where(masks, rng.integers(100, 256, masks.shape), rng.integers(0, 160, masks.shape))
    level, iou = segment.best_level(bins, masks)
    brute = [np.mean(segment.object_iou_per_image(masks, bins >= candidate)) for candidate in range(257)]
    assert iou == pytest.approx(max(brute)) and level == int(np.argmax(brute))
    separable = np.where(masks, 200, 50)  # objects bright, background dark: some level is perfect
    level, iou = segment.best_level(separable, masks)
    assert iou == 1.0 and 50 < level <= 200


# 4. The model and the data -------------------------------------------------------------------

def test_unet_maps_every_pixel_to_class_probabilities_and_learns_through_every_weight():
    import keras
    import tensorflow as tf

    from dlzoo.models import unet

    keras.utils.set_random_seed(0)
    for skip_connections in (True, False):
        model = unet.build("unet", (16, 16, 3), 2, filters=[4, 8], skip_connections=skip_connections)
        images = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32")
        masks = (images[..., 0] > 0).astype("int32")
        with tf.GradientTape() as tape:
            probabilities = model(images, training=True)
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(masks, probabilities))
        assert tuple(probabilities.shape) == (2, 16, 16, 2)
        assert np.allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)
        gradients = tape.gradient(loss, model.trainable_weights)
        assert all(gradient is not None and np.any(np.asarray(gradient) != 0) for gradient in gradients)
        assert any(layer.name == "skip_1" for layer in model.layers) == skip_connections
    with pytest.raises(ValueError, match="multiples of 4"):
        unet.build("unet", (30, 30, 3), 2, filters=[4, 8, 16])


def test_shapes_masks_has_the_images_and_split_of_shapes_with_their_masks():
    from dlzoo import data
    from dlzoo.data import shapes

    options = {"num_samples": 80}
    images, masks = data.load("shapes_masks", seed=1, options=options), data.load("shapes", seed=1, options=options)
    assert images.targets == "masks" and images.class_names == ["background", "object"]
    for split in ("train", "val", "test"):
        assert np.array_equal(images.split(split)[0], masks.split(split)[0])
    true_test_masks, _, _ = shapes.test_masks(1, options)
    assert np.array_equal(images.y_test, true_test_masks.astype("int32"))
    assert images.y_train.shape == (len(images.x_train), 32, 32) and set(np.unique(images.y_train)) == {0, 1}
    fewer = data.load("shapes_masks", seed=1, options={**options, "train_samples": 20})
    assert fewer.sizes()["train"] == 20 and fewer.sizes()["test"] == images.sizes()["test"]
