"""``shapes_masks``: the ``shapes`` images with a class for every pixel, for semantic segmentation.

The images, seeds and train / validation / test split are exactly those of ``shapes``
(:mod:`dlzoo.data.shapes`: the same generator, the same stratified split), so a segmentation
run and a ``shapes-cnn`` run of the same data seed see the same pictures. Only the targets
differ: instead of the shape's class, each image comes with its mask as per-pixel class ids,
shape ``(n, 32, 32)`` int32, ``0`` for the background (and its clutter) and ``1`` for the object.

The bundle is a :class:`~dlzoo.data.splits.Splits` whose ``targets`` is :data:`MASKS` (a third
kind of targets next to ``"classes"`` and ``"values"``), ``class_names`` the pixel classes.
``[data] train_samples`` keeps a seeded random subset of the training images (there are no
image classes left to balance); ``[data] classes`` has no meaning for masks and is refused.
"""

import numpy as np

from dlzoo.data import IMAGE, Splits, register, shapes
from dlzoo.data.splits import split_pool
from dlzoo.core.errors import UsageError

# The kind of targets of a segmentation bundle: one class id per pixel.
MASKS = "masks"
PIXEL_CLASS_NAMES = ["background", "object"]


@register("shapes_masks", options={"num_samples": (int,)})
def load_shapes_masks(argument, seed, options):
    """The generated shapes (32x32x3, raw 0-255) with their object masks as per-pixel targets."""
    if options.get("classes"):
        raise UsageError("data.classes selects image classes; shapes_masks has a class per pixel "
                         f"({', '.join(PIXEL_CLASS_NAMES)}), so it takes no data.classes")
    count = int(options.get("num_samples", shapes.DEFAULT_SAMPLES))
    if count < 40:
        raise ValueError(f"data.num_samples of shapes_masks must be at least 40, got {count}")
    images, labels, masks = shapes.generate(count, seed)
    test_images, _, test_masks = shapes.generate(max(count // 4, 1), seed + shapes.TEST_SEED_OFFSET)
    # Split image indices exactly as `shapes` splits its images (stratified by the shape's class),
    # then take images and masks by those indices: the same validation images as shapes-cnn's.
    train, _, val, _, _, _ = split_pool(np.arange(count), labels, x_test=test_images, y_test=test_masks, seed=seed,
                                        val_fraction=float(options.get("val_fraction", 0.1)))
    train = limit_training_images(train, int(options.get("train_samples") or 0), seed)
    return Splits(name="shapes_masks", kind=IMAGE, class_names=list(PIXEL_CLASS_NAMES),
                  x_train=images[train], y_train=as_class_ids(masks[train]),
                  x_val=images[val], y_val=as_class_ids(masks[val]),
                  x_test=test_images, y_test=as_class_ids(test_masks), targets=MASKS)


def as_class_ids(masks):
    """Boolean object masks (n, height, width) as int32 pixel class ids: 0 background, 1 object."""
    return np.asarray(masks, dtype="int32")


def limit_training_images(indices, count, seed):
    """A seeded random subset of ``count`` training indices (in their original order); all when 0."""
    if count <= 0 or count >= len(indices):
        return indices
    chosen = np.random.default_rng(seed).permutation(len(indices))[:count]
    return indices[np.sort(chosen)]
