"""Streamed datasets (folder:, tfds:) and the data-bundle interface shared with in-memory Splits."""

import numpy as np
import pytest

from dlzoo import data
from dlzoo.data import sources, streaming
from dlzoo.core.errors import UsageError

CLASSES = ("ant", "bee", "cat")


def write_folder(root, per_class=40, size=(6, 7), brightness_step=60):
    """Random RGB PNGs, one sub-folder per class; class k is brighter by ``k * brightness_step``."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            low = label * brightness_step
            pixels = rng.integers(low, low + 120, size=(*size, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index:03d}.png")
    return root


def read_pixels(path):
    """The stored pixels of one image file, as PIL reads them."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("streaming") / "pets")


def load_raw(spec, **options):
    """Load without the legacy normalization (the bundle interface gives raw values)."""
    return data.load(spec, seed=0, options=options)


def test_folder_streams_with_the_expected_stratified_splits(folder):
    bundle = load_raw(f"folder:{folder}")
    assert isinstance(bundle, streaming.StreamingBundle)
    assert bundle.kind == "image" and bundle.class_names == list(CLASSES) and bundle.num_classes == 3
    assert bundle.input_shape == (6, 7, 3) and bundle.input_dtype == "uint8"
    # 120 images: 20% test, 10% validation, every class keeping its share of each split.
    assert bundle.sizes() == {"train": 84, "val": 12, "test": 24}
    for split, per_class in (("train", 28), ("val", 4), ("test", 8)):
        _, labels = bundle.arrays(split)
        assert np.bincount(labels, minlength=3).tolist() == [per_class] * 3
    paths = [set(bundle.sources[split].paths) for split in ("train", "val", "test")]
    assert not paths[0] & paths[1] and not paths[0] & paths[2] and not paths[1] & paths[2]
    assert len(set().union(*paths)) == 120
    # The in-memory form (data.stream = false) holds the very same splits.
    in_memory = load_raw(f"folder:{folder}", stream=False)
    assert in_memory.sizes() == bundle.sizes()
    for split in ("train", "val", "test"):
        x, y = bundle.arrays(split)
        np.testing.assert_array_equal(in_memory.split(split)[0], x.astype("float32"))
        np.testing.assert_array_equal(in_memory.split(split)[1], y)


def test_folder_gives_the_stored_uint8_pixels(folder):
    bundle = load_raw(f"folder:{folder}")
    source = bundle.sources["test"]
    x, y = bundle.arrays("test", limit=5)
    assert x.dtype == np.uint8 and x.shape == (5, 6, 7, 3) and len(y) == 5
    for image, path in zip(x, source.paths[:5]):
        np.testing.assert_array_equal(image, read_pixels(path))
    images, labels = next(iter(bundle.dataset("test", batch_size=5)))
    assert images.dtype.name == "uint8"
    np.testing.assert_array_equal(np.asarray(images), x)
    np.testing.assert_array_equal(np.asarray(labels), y)


def test_folder_resizes_to_image_size(folder):
    bundle = load_raw(f"folder:{folder}", image_size=[4, 5])
    x, _ = bundle.arrays("train", limit=3)
    assert bundle.input_shape == (4, 5, 3) and x.shape == (3, 4, 5, 3) and x.dtype == np.uint8


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    from PIL import Image

    ramp = np.array([[0, 1000, 30000, 65535]] * 3, dtype=np.uint16)
    for name in ("dark", "light"):
        (tmp_path / "grey" / name).mkdir(parents=True)
        for index in range(5):
            Image.fromarray(ramp).save(tmp_path / "grey" / name / f"{index}.png")
    assert read_pixels(tmp_path / "grey" / "dark" / "0.png").dtype == np.uint16
    bundle = load_raw(f"folder:{tmp_path / 'grey'}", test_fraction=0.2, val_fraction=0.2)
    assert bundle.input_shape == (3, 4, 1), "grey images keep one channel"
    x, _ = bundle.arrays("train", limit=1)
    row = x[0, 0, :, 0].astype(int)
    # Scaled by the bit depth: 65535 -> 255, 30000 -> about 117; clipping would give 255 twice.
    assert row[0] == 0 and row[-1] == 255
    assert abs(row[2] - 30000 / 257) <= 1 and abs(row[1] - 1000 / 257) <= 1


def test_input_statistics_come_from_a_bounded_training_sample(folder):
    bundle = load_raw(f"folder:{folder}")
    x_train, _ = bundle.arrays("train")
    full_mean = x_train.reshape(-1, 3).mean(axis=0)
    full_variance = x_train.reshape(-1, 3).var(axis=0)
    # Asking for more examples than there are gives the exact statistics of the training split.
    mean, variance = bundle.input_statistics(max_examples=10_000)
    assert mean.shape == (3,) and variance.shape == (3,) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, full_mean, rtol=1e-4)
    np.testing.assert_allclose(variance, full_variance, rtol=1e-4)
    # One example: the statistics of exactly one training image (the bound holds).
    one_mean, _ = bundle.input_statistics(max_examples=1)
    per_image_means = x_train.reshape(len(x_train), -1, 3).mean(axis=1)
    assert np.any(np.all(np.abs(per_image_means - one_mean) < 1e-3, axis=1))
    # A sample of a third of the split is close to the full statistics (the classes differ by
    # 60 grey levels in brightness, so a sample missing a class would be off by ~20).
    sample_mean, sample_variance = bundle.input_statistics(max_examples=28)
    assert np.all(np.abs(sample_mean - full_mean) < 0.25 * np.sqrt(full_variance))
    assert np.all(np.abs(sample_variance / full_variance - 1) < 0.3)
    # Seeded: the same sample again.
    np.testing.assert_array_equal(bundle.input_statistics(max_examples=28)[0], sample_mean)


def test_training_order_is_reproducible_with_a_seed(folder):
    bundle = load_raw(f"folder:{folder}")

    def epochs_of_labels(seed, epochs=2):
        dataset = bundle.dataset("train", batch_size=16, training=True, seed=seed)
        return [np.concatenate([np.asarray(labels) for _, labels in dataset]).tolist() for _ in range(epochs)]

    first, again, other = epochs_of_labels(1), epochs_of_labels(1), epochs_of_labels(2)
    assert first == again
    assert first != other
    assert first[0] != first[1], "reshuffled every epoch"
    assert sorted(first[0]) == sorted(bundle.arrays("train")[1].tolist()), "every example once per epoch"
    # Validation and test are read in their fixed order.
    val_labels = np.concatenate([np.asarray(labels) for _, labels in bundle.dataset("val", batch_size=5)])
    np.testing.assert_array_equal(val_labels, bundle.arrays("val")[1])


def test_augmentation_touches_only_training_batches(folder):
    from dlzoo.data.pipeline import build_augmenter

    bundle = load_raw(f"folder:{folder}")
    augmenter = build_augmenter({"flip": "horizontal_and_vertical", "translation": 0.3}, seed=0)
    train_images, _ = next(iter(bundle.dataset("train", 32, training=True, seed=0, augmenter=augmenter)))
    plain_images, _ = next(iter(bundle.dataset("train", 32, training=True, seed=0)))
    assert train_images.dtype.name == "float32"
    assert not np.allclose(np.asarray(train_images), np.asarray(plain_images, dtype="float32"))
    test_images, _ = next(iter(bundle.dataset("test", 32, augmenter=augmenter)))
    np.testing.assert_array_equal(np.asarray(test_images), bundle.arrays("test", limit=32)[0])


def test_on_disk_cache_holds_the_same_examples(folder, tmp_path):
    cached = load_raw(f"folder:{folder}", cache=str(tmp_path / "cache"))
    plain = load_raw(f"folder:{folder}")

    def sorted_images(bundle):
        images = np.concatenate([np.asarray(batch) for batch, _ in bundle.dataset("train", 16, training=True)])
        return sorted(image.tobytes() for image in images)

    expected = sorted_images(plain)
    assert sorted_images(cached) == expected  # first epoch writes the cache
    assert list((tmp_path / "cache").glob("*.tfcache.index")), "a cache file was written"
    assert sorted_images(cached) == expected  # later epochs read it


def test_classes_and_train_samples_work_on_paths(folder):
    bundle = load_raw(f"folder:{folder}", classes=[2, 0], train_samples=10)
    assert bundle.class_names == ["cat", "ant"]
    _, labels = bundle.arrays("train")
    assert bundle.sizes()["train"] == 10 and np.bincount(labels).tolist() == [5, 5]
    _, test_labels = bundle.arrays("test")
    assert set(test_labels.tolist()) == {0, 1} and len(test_labels) == 16


def test_unreadable_images_are_usage_errors(tmp_path):
    write_folder(tmp_path / "broken", per_class=5)
    (tmp_path / "broken" / "ant" / "000.png").write_bytes(b"not a png")
    with pytest.raises(UsageError, match="cannot read image .*000.png"):
        load_raw(f"folder:{tmp_path / 'broken'}")
    write_folder(tmp_path / "late", per_class=5)
    (tmp_path / "late" / "cat" / "004.png").write_bytes(b"not a png")
    # Found when the statistics sample reads the training split, or later when a split is read.
    with pytest.raises(UsageError, match="cannot read image .*cat.004.png"):
        bundle = load_raw(f"folder:{tmp_path / 'late'}", test_fraction=0.2, val_fraction=0.2)
        for split in ("train", "val", "test"):
            bundle.arrays(split)


def test_tfds_streams_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=60):
        bundle = load_raw("tfds:mnist")
        assert isinstance(bundle, streaming.StreamingBundle)
        assert bundle.input_shape == (28, 28, 1) and bundle.input_dtype == "uint8" and bundle.kind == "image"
        assert bundle.class_names == [str(digit) for digit in range(10)]  # from the dataset's info
        assert bundle.sizes() == {"train": 60, "val": 60, "test": 60}
        x, y = bundle.arrays("test", limit=7)
        assert x.shape == (7, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int32
        images, labels = next(iter(bundle.dataset("train", batch_size=16, training=True, seed=0)))
        assert tuple(images.shape) == (16, 28, 28, 1) and np.all(np.asarray(labels) < 10)
        mean, variance = bundle.input_statistics(max_examples=32)
        assert mean.shape == (1,) and 0 <= mean[0] <= 255 and variance[0] > 0
        quick = load_raw("tfds:mnist", train_samples=20)
        assert quick.sizes()["train"] == 20 and len(quick.arrays("train")[1]) == 20


def test_tfds_missing_splits_are_cut_out_of_train():
    names = sources._tfds_split_names({"train": 1000}, test_fraction=0.2, val_fraction=0.1)
    assert names == {"train": ("train[:700]", 700), "val": ("train[700:800]", 100), "test": ("train[800:]", 200)}
    names = sources._tfds_split_names({"train": 900, "test": 100}, test_fraction=0.2, val_fraction=0.1)
    assert names["test"] == ("test", 100) and names["val"] == ("train[800:900]", 100)


@pytest.mark.parametrize("spec, statistics_shape", [("digits", (1,)), ("breast_cancer", (30,)), ("mnist1d", (40,))])
def test_in_memory_splits_offer_the_bundle_interface(spec, statistics_shape):
    splits = load_raw(spec)
    assert splits.input_dtype == "float32"
    x, y = splits.arrays("test", limit=5)
    np.testing.assert_array_equal(x, splits.x_test[:5])
    mean, variance = splits.input_statistics()
    assert mean.shape == statistics_shape and variance.shape == statistics_shape
    axes = (0,) if splits.kind == "features" else tuple(range(splits.x_train.ndim))
    np.testing.assert_allclose(mean, np.broadcast_to(splits.x_train.mean(axis=axes), statistics_shape), rtol=1e-5)
    images, labels = next(iter(splits.dataset("val", batch_size=8)))
    np.testing.assert_array_equal(np.asarray(images), splits.x_val[:8])


def test_statistics_fit_a_keras_normalization_layer(folder):
    import keras

    bundle = load_raw(f"folder:{folder}")
    mean, variance = bundle.input_statistics()
    layer = keras.layers.Normalization(axis=-1, mean=mean, variance=variance)
    x, _ = bundle.arrays("train")
    normalized = np.asarray(layer(x.astype("float32")))
    assert np.allclose(normalized.reshape(-1, 3).mean(axis=0), 0, atol=1e-3)
    assert np.allclose(normalized.reshape(-1, 3).std(axis=0), 1, atol=1e-2)


@pytest.mark.parametrize("spec, stream", [("folder", True), ("folder", False), ("fashion_mnist", True)])
def test_a_prepared_image_run_feeds_uint8_batches_until_the_models_own_standardize_layer(folder, spec, stream):
    # What `dlzoo train` trains on: every split's pipeline carries the stored uint8 pixels (a quarter
    # of float32's memory); the model turns them into floats itself, in its first layer.
    from dlzoo import tasks
    from dlzoo.commands import lifecycle
    from dlzoo.config import resolve

    dataset = f"folder:{folder}" if spec == "folder" else spec
    resolved = resolve.load_config("cnn", [f"data.stream={str(stream).lower()}", "data.augment={}"], dataset=dataset)
    prepared = lifecycle.prepare(tasks.create("classify"), resolved, quick=True)
    for split in ("train", "val", "test"):
        images_spec, _ = prepared.datasets[split].element_spec
        assert images_spec.dtype.name == "uint8", (split, images_spec)
    standardize = next(layer for layer in prepared.model.layers if layer.name == "standardize")
    assert type(standardize).__name__ == "Normalization"
    images, labels = next(iter(prepared.datasets["train"]))
    probabilities = np.asarray(prepared.model(images, training=False))
    assert probabilities.shape == (len(labels), len(prepared.splits.class_names))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
