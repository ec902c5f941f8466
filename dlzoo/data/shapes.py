"""``shapes``: generated RGB images of one geometric shape on a cluttered background, with its mask.

Each 32x32 image holds one object (circle, square, triangle, star or cross) with a random
position, size, rotation and colour, on a random background colour with pixel noise and a few
thin line segments of other colours (clutter that is *not* the object). The class is the shape;
the object's pixel mask is known, so an explanation method can be scored against the truth
(:mod:`dlzoo.metrics.explanations`: is the map's maximum on the object? how much of its energy?).

Raw values are 0-255 like any RGB image. The data is generated from the data seed: the training
pool from ``seed``, the test split from ``seed + 1000`` (an official test split, so its order,
and the masks of :func:`test_masks`, do not depend on any shuffling). ``[data] num_samples``
sets the size of the training pool (default 2000); the test split has a quarter of that.
"""

import numpy as np

from dlzoo.data import IMAGE, make_splits, register

CLASS_NAMES = ["circle", "square", "triangle", "star", "cross"]
SIZE = 32
DEFAULT_SAMPLES = 2000
TEST_SEED_OFFSET = 1000


def polygon(kind, center, radius, angle):
    """Vertices (n, 2) in (x, y) pixel coordinates of a square, triangle, star or cross."""
    if kind == "square":
        angles = np.pi / 4 + np.arange(4) * np.pi / 2
        radii = np.full(4, radius)
    elif kind == "triangle":
        angles = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        radii = np.full(3, radius * 1.15)
    elif kind == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, radius * 1.2, radius * 0.5)
    else:  # cross: a plus sign of arms 2/3 of the radius wide
        arm, half = radius * 1.1, radius * 0.35
        points = np.array([(half, arm), (half, half), (arm, half), (arm, -half), (half, -half), (half, -arm),
                           (-half, -arm), (-half, -half), (-arm, -half), (-arm, half), (-half, half), (-half, arm)])
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return points @ rotation.T + center
    angles = angles + angle
    return np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1)


def shape_mask(kind, center, radius, angle, size=SIZE):
    """Boolean (size, size) mask of one shape (pixel centres inside it)."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    if kind == "circle":
        return (x - center[0]) ** 2 + (y - center[1]) ** 2 <= radius ** 2
    return inside_polygon(polygon(kind, center, radius, angle), x, y)


def inside_polygon(vertices, x, y):
    """Even-odd rule (ray casting to the right) for every point at once: works for the concave star and cross."""
    inside = np.zeros(x.shape, dtype=bool)
    for (x1, y1), (x2, y2) in zip(vertices, np.roll(vertices, -1, axis=0)):
        crosses = (y1 > y) != (y2 > y)  # the edge spans the point's row
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_at_y)
    return inside


def clutter(image, rng, count, object_colour):
    """Draw ``count`` thin random line segments in colours unlike the object's (in place)."""
    size = image.shape[0]
    for _ in range(count):
        start, end = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
        colour = rng.uniform(0, 255, 3)
        if np.abs(colour - object_colour).sum() < 120:  # too close to the object's colour: invert it
            colour = 255 - colour
        steps = np.linspace(0, 1, size * 2)[:, None]  # (points, 1)
        columns, rows = (start + steps * (end - start)).astype(int).clip(0, size - 1).T
        image[rows, columns] = colour


def generate(count, seed, size=SIZE):
    """``(images (count, size, size, 3) float32 0-255, labels (count,), masks (count, size, size) bool)``.

    Classes are balanced (``count`` round-robin over the shapes, then shuffled).
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(CLASS_NAMES))
    images = np.empty((count, size, size, 3), dtype="float32")
    masks = np.empty((count, size, size), dtype=bool)
    for index, label in enumerate(labels):
        radius = rng.uniform(0.16, 0.3) * size
        margin = radius * 1.2
        center = rng.uniform(margin, size - margin, 2)
        mask = shape_mask(CLASS_NAMES[label], center, radius, rng.uniform(0, 2 * np.pi), size)
        background = rng.uniform(0, 110, 3)
        image = background + rng.normal(0, 18, (size, size, 3))
        object_colour = rng.uniform(120, 255, 3)
        clutter(image, rng, int(rng.integers(2, 5)), object_colour)
        image[mask] = object_colour + rng.normal(0, 10, (int(mask.sum()), 3))
        images[index] = np.clip(image, 0, 255)
        masks[index] = mask
    return images, labels.astype("int32"), masks


def test_masks(seed, options=None):
    """``(masks, images, labels)`` of the test split a ``shapes`` run with data seed ``seed`` uses
    (the classes of ``data.classes`` only, relabelled as the loader does)."""
    options = options or {}
    count = int(options.get("num_samples") or DEFAULT_SAMPLES)
    images, labels, masks = generate(max(count // 4, 1), seed + TEST_SEED_OFFSET)
    classes = options.get("classes") or []
    if classes:
        keep = np.isin(labels, classes)
        mapping = {old: new for new, old in enumerate(classes)}
        images, masks = images[keep], masks[keep]
        labels = np.array([mapping[label] for label in labels[keep]], dtype="int32")
    return masks, images, labels


@register("shapes", options={"num_samples": (int,)})
def load_shapes(argument, seed, options):
    """Generated shapes (circle, square, triangle, star, cross) on clutter, 32x32x3, with masks."""
    count = int(options.get("num_samples", DEFAULT_SAMPLES))
    if count < 40:
        raise ValueError(f"data.num_samples of shapes must be at least 40, got {count}")
    images, labels, _ = generate(count, seed)
    test_images, test_labels, _ = generate(max(count // 4, 1), seed + TEST_SEED_OFFSET)
    return make_splits("shapes", IMAGE, CLASS_NAMES, images, labels, test_images, test_labels, seed=seed,
                       val_fraction=float(options.get("val_fraction", 0.1)))
