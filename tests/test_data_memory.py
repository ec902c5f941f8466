"""Memory of in-memory datasets at scale: each image is held once (NumPy), the tf.data pipelines
read their batches out of those arrays instead of a TensorFlow copy, and the input statistics
convert a bounded chunk at a time. Properties of buffers, not timings: they run on fixtures."""

import numpy as np

from dlzoo import data
from dlzoo.data import pipeline, splits as splits_module


def owner(array):
    """The object that owns ``array``'s memory (an ndarray without a base, or a bytes object)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


def owned_bytes(buffer):
    """Bytes held by a buffer owner."""
    return buffer.nbytes if isinstance(buffer, np.ndarray) else len(memoryview(buffer).cast("B"))


def test_the_loaded_real_splits_hold_each_image_once():
    # The decoded files (300 training + 100 test images of the fixture) and nothing more: no split
    # is a view keeping the whole 300-image pool alive next to its copies, no float32 copy.
    splits = data.load("fashion_mnist", seed=0)
    arrays = [getattr(splits, f"{part}_{split}") for split in ("train", "val", "test") for part in ("x", "y")]
    owners = {id(owner(array)): owner(array) for array in arrays}
    held = sum(owned_bytes(buffer) for buffer in owners.values())
    decoded = sum(array.nbytes for array in arrays)
    assert splits.x_train.dtype == np.uint8 and splits.x_test.dtype == np.uint8
    assert held <= decoded + 1024, f"the splits hold {held} bytes for {decoded} bytes of data"


def test_an_in_memory_pipeline_reads_its_batches_out_of_the_splits_own_arrays():
    # A pipeline holding its own copy (tf.constant of the arrays) would still give the old values
    # after the arrays change: here every batch must see the change, so TensorFlow holds no copy.
    images = np.zeros((10, 4, 4, 1), np.uint8)
    labels = np.arange(10, dtype=np.int32)
    ordered = pipeline.make_dataset(images, labels, batch_size=4)
    shuffled = pipeline.make_dataset(images, labels, batch_size=4, training=True, seed=3)
    images[...] = 7
    labels[...] = 5
    for dataset in (ordered, shuffled):
        batches = list(dataset)
        assert [len(batch_labels) for _, batch_labels in batches] == [4, 4, 2]
        for batch_images, batch_labels in batches:
            assert batch_images.dtype.name == "uint8" and tuple(batch_images.shape[1:]) == (4, 4, 1)
            assert np.all(np.asarray(batch_images) == 7) and np.all(np.asarray(batch_labels) == 5)
    images_spec, labels_spec = shuffled.element_spec
    assert images_spec.dtype.name == "uint8" and tuple(images_spec.shape) == (None, 4, 4, 1)
    assert labels_spec.dtype.name == "int32" and tuple(labels_spec.shape) == (None,)


def test_a_shuffled_pipeline_still_gives_every_example_once_per_epoch_in_a_seeded_order():
    images = np.arange(37, dtype=np.float32).reshape(37, 1)
    labels = np.arange(37, dtype=np.int32)
    first = pipeline.make_dataset(images, labels, batch_size=8, training=True, seed=1)
    epochs = [np.concatenate([np.asarray(batch) for _, batch in first]) for _ in range(2)]
    again = np.concatenate([np.asarray(batch) for _, batch in
                            pipeline.make_dataset(images, labels, batch_size=8, training=True, seed=1)])
    for order in epochs:
        assert sorted(order.tolist()) == list(range(37))
    assert not np.array_equal(epochs[0], epochs[1]), "reshuffled every epoch"
    assert np.array_equal(epochs[0], again), "seeded"
    for batch_images, batch_labels in first:
        assert np.array_equal(np.asarray(batch_images)[:, 0], np.asarray(batch_labels)), "inputs stay with labels"


def test_input_statistics_convert_a_bounded_chunk_at_a_time_and_stay_exact(monkeypatch):
    splits = data.load("fashion_mnist", seed=0)
    rows_per_chunk = 50
    monkeypatch.setattr(splits_module, "STATISTICS_CHUNK_BYTES", 8 * 28 * 28 * rows_per_chunk)
    seen = []
    update = pipeline.RunningStatistics.update

    def recording_update(self, batch):
        seen.append(len(batch))
        return update(self, batch)

    monkeypatch.setattr(pipeline.RunningStatistics, "update", recording_update)
    mean, variance = splits.input_statistics()
    assert max(seen) <= rows_per_chunk and sum(seen) == len(splits.x_train) and len(seen) > 1
    pixels = splits.x_train.astype(np.float64).reshape(-1)
    np.testing.assert_allclose(mean, [pixels.mean()], rtol=1e-6)
    np.testing.assert_allclose(variance, [pixels.var()], rtol=1e-5)
