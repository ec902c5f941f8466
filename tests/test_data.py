"""Datasets: embedded loaders, splits, normalization, local files, TFDS (mocked), augmentation."""

import numpy as np
import pytest

from dlzoo import data
from dlzoo.data.pipeline import build_augmenter, make_datasets
from dlzoo.core.errors import UsageError


@pytest.mark.parametrize("spec, shape, classes", [
    ("digits", (8, 8, 1), 10), ("mnist1d", (40,), 10), ("moons", (2,), 2),
    ("circles", (2,), 2), ("breast_cancer", (30,), 2),
])
def test_embedded_datasets_load_offline(spec, shape, classes):
    splits = data.load(spec)
    assert splits.input_shape == shape and splits.num_classes == classes
    assert min(splits.sizes().values()) > 0
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int32


def test_splits_are_deterministic_disjoint_and_stratified():
    first, second = data.load("digits", seed=3), data.load("digits", seed=3)
    np.testing.assert_array_equal(first.x_test, second.x_test)
    other = data.load("digits", seed=4)
    assert not np.array_equal(first.y_test, other.y_test)
    raw = data.load("digits")
    rows = {split: {arr.tobytes() for arr in raw.split(split)[0]} for split in ("train", "val", "test")}
    assert not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    test_share = np.bincount(raw.y_test) / len(raw.y_test)
    assert np.all(np.abs(test_share - 0.1) < 0.02), "every class keeps its share of the test split"


def test_data_stays_raw_and_statistics_come_from_train_only():
    splits = data.load("breast_cancer")
    from sklearn.datasets import load_breast_cancer

    stored = {row.tobytes() for row in load_breast_cancer().data.astype("float32")}
    assert all(row.tobytes() in stored for row in splits.x_test)  # values exactly as the dataset stores them
    np.testing.assert_allclose(splits.normalization["mean"], splits.x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(splits.normalization["variance"], splits.x_train.var(axis=0), rtol=1e-4)
    assert not np.allclose(splits.normalization["mean"], splits.x_test.mean(axis=0), rtol=1e-3)


def test_digits_statistics_are_per_channel_and_constant_pixels_do_not_divide_by_zero():
    splits = data.load("digits")
    assert np.asarray(splits.normalization["mean"]).shape == (1,)
    assert 0 < splits.normalization["mean"][0] < 16 and splits.normalization["variance"][0] > 1
    assert splits.x_train.max() == 16.0  # raw ink counts, as load_digits() stores them


def test_regression_data_keeps_real_targets_and_splits_at_random():
    splits = data.load("diabetes")
    assert splits.targets == "values" and splits.class_names == []
    assert splits.y_train.dtype == np.float32 and splits.y_train.max() > 100
    assert sum(splits.sizes().values()) == 442


def test_classes_and_train_samples_options():
    splits = data.load("digits", options={"classes": [5, 6, 7, 8, 9], "train_samples": 50})
    assert splits.class_names == ["5", "6", "7", "8", "9"] and splits.num_classes == 5
    assert set(np.unique(splits.y_test)) == {0, 1, 2, 3, 4}
    assert len(splits.y_train) == 50 and np.all(np.bincount(splits.y_train) == 10)


def test_npz_dataset(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=rng.normal(size=(200, 3)), y=rng.integers(0, 3, 200), x_test=rng.normal(size=(30, 3)),
             y_test=rng.integers(0, 3, 30))
    splits = data.load(f"npz:{path}")
    assert splits.input_shape == (3,) and splits.num_classes == 3 and len(splits.y_test) == 30


def test_npz_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        data.load(f"npz:{tmp_path / 'missing.npz'}")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"this is not a zip archive")
    with pytest.raises(UsageError, match="not a readable .npz"):
        data.load(f"npz:{corrupt}")
    no_labels = tmp_path / "nolabels.npz"
    np.savez(no_labels, x=np.zeros((4, 2)))
    with pytest.raises(UsageError, match="no array 'y'"):
        data.load(f"npz:{no_labels}")


def write_image_folder(root, classes=("cat", "dog"), per_class=12, size=(10, 12)):
    """Write small random RGB PNGs in one sub-folder per class."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 255, size=(*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")


def test_folder_dataset(tmp_path):
    write_image_folder(tmp_path / "pets")
    splits = data.load(f"folder:{tmp_path / 'pets'}")
    assert splits.input_shape == (10, 12, 3) and splits.class_names == ["cat", "dog"]
    resized = data.load(f"folder:{tmp_path / 'pets'}", options={"image_size": 8})
    assert resized.input_shape == (8, 8, 3)


def test_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    (tmp_path / "empty" / "cat" / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match="has no images"):
        data.load(f"folder:{tmp_path / 'empty'}")


def test_unknown_source_suggests_one():
    with pytest.raises(ValueError, match="did you mean 'digits'"):
        data.load("digts")


def test_tfds_source_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=60):
        splits = data.load("tfds:mnist")
        inputs, _ = splits.arrays("train")  # streamed: read while the mock is active
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    # mock_data answers every split asked for: train, test and validation, 60 examples each.
    assert splits.sizes() == {"train": 60, "val": 60, "test": 60}
    assert inputs.dtype == np.uint8 and inputs.shape == (60, 28, 28, 1)  # raw pixels, streamed


def test_keras_source_offline_gives_a_clear_message(monkeypatch):
    import keras

    def no_network():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.raises(UsageError, match="could not load keras:mnist.*network"):
        data.load("keras:mnist")


def test_augmentation_touches_only_the_training_split():
    splits = data.load("digits")
    raw_training_images = {image.tobytes() for image in splits.x_train}

    def share_of_raw(images):
        """Fraction of a batch that equals some un-augmented training image."""
        return np.mean([np.asarray(image).tobytes() in raw_training_images for image in images])

    plain = make_datasets(splits, batch_size=64, seed=0)
    assert share_of_raw(next(iter(plain["train"]))[0]) == 1.0
    augmented = make_datasets(splits, batch_size=64, seed=0, augment={"rotation": 0.1, "translation": 0.2})
    assert share_of_raw(next(iter(augmented["train"]))[0]) < 0.5
    for split in ("val", "test"):
        images, _ = next(iter(augmented[split]))
        np.testing.assert_array_equal(np.asarray(images), splits.split(split)[0][:64])


def test_unknown_augmentation_key_is_an_error():
    with pytest.raises(UsageError, match="did you mean 'rotation'"):
        build_augmenter({"rotaton": 0.1}, seed=0)


def test_in_memory_training_pipeline_shuffles_every_example_once_per_epoch_without_copying_them():
    from dlzoo.data import pipeline

    x = np.arange(50, dtype="uint8").reshape(50, 1)
    dataset = pipeline.make_dataset(x, np.arange(50), batch_size=8, training=True, seed=1)
    epochs = [np.concatenate([np.asarray(inputs)[:, 0] for inputs, _ in dataset]) for _ in range(2)]
    assert all(sorted(epoch.tolist()) == list(range(50)) for epoch in epochs), "each example once per epoch"
    assert epochs[0].tolist() != epochs[1].tolist() != list(range(50)), "reshuffled every epoch"
    again = pipeline.make_dataset(x, np.arange(50), batch_size=8, training=True, seed=1)
    assert np.concatenate([np.asarray(inputs)[:, 0] for inputs, _ in again]).tolist() == epochs[0].tolist()
    pairs = [(np.asarray(inputs)[:, 0], np.asarray(labels)) for inputs, labels in dataset]  # one epoch
    assert all(np.array_equal(inputs, labels) for inputs, labels in pairs), "inputs and labels stay paired"
    assert np.asarray(next(iter(dataset))[0]).dtype == np.uint8, "images stay uint8 until the model"


def test_a_small_fraction_of_a_small_dataset_still_holds_every_class():
    from dlzoo.data.splits import stratified_split

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 30)  # 300 examples: 2 % of them is fewer than the 10 classes
    inputs = rng.random((300, 4))
    _, kept_labels, _, held_labels = stratified_split(inputs, labels, 0.02, seed=0)
    assert sorted(held_labels.tolist()) == list(range(10)) and len(kept_labels) == 290
    _, _, _, tiny_held = stratified_split(inputs[:15], np.arange(15) % 10, 0.02, seed=0)  # too few for one per class
    assert len(tiny_held) == 1
