"""Inference batches at scale: large enough to amortize the per-batch cost, small enough that a
CNN's feature maps for one batch do not add hundreds of megabytes to a run's peak memory."""

import numpy as np

from dlzoo import models
from dlzoo.training import inference as supervised


def test_a_cnns_evaluation_batch_keeps_its_largest_feature_map_under_the_budget():
    cnn = models.build("cnn", (28, 28, 1), 10, filters=[32, 64], batch_norm=True)
    largest = supervised.largest_activation(cnn)
    assert largest >= 28 * 28 * 32  # the first convolution's (28, 28, 32) map, at least
    batch_size = supervised.evaluation_batch_size((28, 28, 1), cnn)
    assert 32 <= batch_size < 1024 and batch_size * largest * 4 <= supervised.ACTIVATION_BUDGET
    assert batch_size * 2 * largest * 4 > supervised.ACTIVATION_BUDGET  # the largest batch that fits


def test_small_models_keep_large_batches_and_the_outputs_do_not_depend_on_the_batch():
    mlp = models.build("mlp", (28, 28, 1), 10, hidden_units=[64])
    assert supervised.evaluation_batch_size((28, 28, 1), mlp) == 1024
    assert supervised.evaluation_batch_size((28, 28, 1)) == 1024  # no model: the input size decides
    assert supervised.evaluation_batch_size((160, 160, 3)) == 256
    images = np.random.default_rng(0).integers(0, 256, (300, 28, 28, 1)).astype("uint8")
    cnn = models.build("cnn", (28, 28, 1), 10, filters=[32, 64], batch_norm=True)
    batched = supervised.predict(cnn, images)
    whole = np.asarray(cnn.predict(images.astype("float32"), batch_size=300, verbose=0))
    np.testing.assert_allclose(batched, whole, atol=1e-5)
