"""Datasets too large for memory, read from disk batch by batch through ``tf.data``.

A :class:`StreamingBundle` offers the same data-bundle interface as the in-memory
:class:`~dlzoo.data.splits.Splits` (``dataset``, ``arrays``, ``input_statistics``, ``sizes``,
...), but keeps only *where* each example is: file paths for ``folder:``, a TFDS split for
``tfds:``. Examples are decoded when a batch needs them, so a 50,000-image folder costs a list
of 50,000 paths, not 30 GB of float32 pixels.

One split is read by a *source*: :class:`ImageFileSource` (image files) or
:class:`TfdsSource` (a TensorFlow Datasets split). A source knows its size and gives its
decoded examples, one by one, in a fixed order (or shuffled, when that is cheap: shuffling
50,000 paths costs nothing, shuffling 50,000 decoded images costs 30 GB).

The training pipeline (the tf.data performance guide's order)::

    source (paths shuffled, seeded) -> map(decode, AUTOTUNE) -> cache (optional, on disk)
        -> shuffle (bounded buffer) -> batch -> augment -> prefetch(AUTOTUNE)

With an on-disk cache the source is read in its fixed order (the cache file holds that order,
and a later run may read it back), and shuffling is left to the bounded buffer.
"""

import hashlib
import pathlib
import re

import numpy as np

from dlzoo.core.errors import UsageError

# A shuffle buffer holds decoded examples; this bounds its memory (about 2,400 96x96 RGB images).
SHUFFLE_BUFFER_BYTES = 64 * 2**20
MIN_SHUFFLE_BUFFER = 256
# Examples per batch when reading arrays or statistics (not the training batch size).
READ_BATCH = 256


class StreamingBundle:
    """A dataset streamed from disk: the data-bundle interface over one source per split.

    Attributes:
        name: the dataset spec (``"folder:photos"``, ``"tfds:mnist"``).
        kind: ``"image"``, ``"signal"`` or ``"features"``.
        class_names: one name per class; labels are integers ``0..num_classes-1``.
        input_shape: shape of one input, without the batch axis.
        input_dtype: dtype of the raw inputs: ``"uint8"`` for image pixels as stored, else ``"float32"``.
        sources: ``{"train": source, "val": source, "test": source}``.
        cache_dir: folder of the on-disk ``tf.data`` cache files, or ``""`` for no cache.
        seed: the data seed (it fixed the splits; it also draws the statistics sample).
    """

    def __init__(self, name, kind, class_names, input_shape, input_dtype, sources, cache_dir="", seed=0):
        """Keep the metadata and the per-split sources; nothing is read yet."""
        missing = sorted({"train", "val", "test"} - set(sources))
        if missing:
            raise ValueError(f"sources needs the splits train, val and test; missing: {', '.join(missing)}")
        self.name = name
        self.kind = kind
        self.class_names = [str(class_name) for class_name in class_names]
        self.targets = "classes"  # streamed sources hold labelled images
        self.input_shape = tuple(int(side) for side in input_shape)
        self.input_dtype = str(input_dtype)
        self.sources = dict(sources)
        self.cache_dir = str(cache_dir or "")
        self.seed = int(seed)

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.class_names)

    def sizes(self):
        """Number of examples per split, as a dict."""
        return {split: self.sources[split].size for split in ("train", "val", "test")}

    def describe(self):
        """A one-line description: name, shapes, classes and split sizes."""
        sizes = self.sizes()
        return (
            f"{self.name}: inputs {self.input_shape} {self.input_dtype} (streamed), {self.num_classes} classes, "
            f"{sizes['train']} train / {sizes['val']} val / {sizes['test']} test"
        )

    def _source(self, split):
        """The source of ``split``; a clear error for an unknown split name."""
        if split not in self.sources:
            raise ValueError(f"unknown split '{split}'; choose one of: train, val, test")
        return self.sources[split]

    def shuffle_buffer_size(self, split):
        """Examples held by the training shuffle buffer: about SHUFFLE_BUFFER_BYTES of decoded inputs."""
        bytes_per_example = max(1, int(np.prod(self.input_shape)) * np.dtype(self.input_dtype).itemsize)
        return int(min(self._source(split).size, max(MIN_SHUFFLE_BUFFER, SHUFFLE_BUFFER_BYTES // bytes_per_example)))

    def cache_file(self, split):
        """The tf.data cache file of ``split`` (``None`` without a cache folder).

        Its name hashes what decides the cached values (the source's examples, the input shape),
        so that another folder, split or image size never reads a stale cache.
        """
        if not self.cache_dir:
            return None
        folder = pathlib.Path(self.cache_dir).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"data.cache: cannot create the cache folder {folder}: {error}") from error
        digest = hashlib.sha1(f"{self._source(split).key}|{self.input_shape}|{self.input_dtype}".encode()).hexdigest()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", self.name).strip("_")[-40:]
        return str(folder / f"{slug}-{split}-{digest[:12]}.tfcache")

    def dataset(self, split, batch_size, training=False, seed=0, augmenter=None):
        """A batched, prefetched ``tf.data.Dataset`` of ``(raw inputs, labels)`` of ``split``.

        Args:
            split: ``"train"``, ``"val"`` or ``"test"``.
            batch_size: examples per batch.
            training: shuffle (seeded, reshuffled every epoch) and augment.
            seed: the shuffle seed.
            augmenter: a Keras model of random preprocessing layers, applied to training batches
                (as float32: random layers interpolate).
        """
        import tensorflow as tf

        source = self._source(split)
        cache_file = self.cache_file(split)
        # Shuffle at the source (cheap) unless a cache file must hold one fixed order.
        shuffle_at_source = training and cache_file is None
        examples = source.examples(shuffle_seed=seed if shuffle_at_source else None)
        if cache_file is not None:
            examples = examples.cache(cache_file)
        if training and not (shuffle_at_source and source.shuffles_fully):
            examples = examples.shuffle(self.shuffle_buffer_size(split), seed=seed, reshuffle_each_iteration=True)
        batches = examples.batch(int(batch_size))
        if training and augmenter is not None:
            # Augmenting whole batches runs the preprocessing layers vectorized.
            batches = batches.map(
                lambda inputs, labels: (augmenter(tf.cast(inputs, "float32"), training=True), labels),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return batches.prefetch(tf.data.AUTOTUNE)

    def arrays(self, split, limit=None):
        """``(x, y)`` NumPy arrays of the first ``limit`` examples of ``split`` (all when ``None``).

        The order is the split's fixed order, the same on every call. Reading a whole large
        split this way brings it into memory: use it for samples.
        """
        source = self._source(split)
        if limit is not None:
            source = source.first(int(limit))
        inputs, labels = [], []
        for batch_inputs, batch_labels in _read(source):
            inputs.append(batch_inputs)
            labels.append(batch_labels)
        if not inputs:
            return (np.zeros((0, *self.input_shape), dtype=self.input_dtype), np.zeros((0,), dtype="int32"))
        return np.concatenate(inputs), np.concatenate(labels)

    def input_statistics(self, max_examples=4096):
        """Mean and variance of the raw training inputs, for ``keras.layers.Normalization(axis=-1)``.

        Computed on a seeded sample of at most ``max_examples`` training examples (the same
        sample for the same data seed), read batch by batch: memory stays bounded whatever the
        size of the dataset. Shapes: one value per channel for images and signals, one per
        feature for tabular data (see :class:`~dlzoo.data.pipeline.RunningStatistics`).
        """
        from dlzoo.data import pipeline

        if int(max_examples) < 1:
            raise ValueError(f"max_examples must be >= 1, got {max_examples}")
        statistics = pipeline.RunningStatistics(self.kind, self.input_shape)
        sample = self._source("train").sample(int(max_examples), self.seed, self.shuffle_buffer_size("train"))
        for batch_inputs, _ in _read(sample):
            statistics.update(batch_inputs)
        return statistics.result()

    def to_splits(self):
        """Read every split into memory as a :class:`~dlzoo.data.splits.Splits` of raw values.

        For code that needs whole arrays, and for ``data.stream = false``; memory grows with
        the dataset. Pixels stay as stored (uint8: a quarter of float32's memory, and the same
        SavedModel inputs as a streamed run); other numbers become float32.
        """
        from dlzoo.data.splits import Splits

        def stored(inputs):
            """uint8 pixels and strings as they are, other numbers as float32."""
            return inputs if inputs.dtype == np.uint8 or inputs.dtype.kind in "OSU" else inputs.astype("float32")

        arrays = {split: self.arrays(split) for split in ("train", "val", "test")}
        return Splits(
            name=self.name, kind=self.kind, class_names=list(self.class_names),
            x_train=stored(arrays["train"][0]), y_train=arrays["train"][1].astype("int32"),
            x_val=stored(arrays["val"][0]), y_val=arrays["val"][1].astype("int32"),
            x_test=stored(arrays["test"][0]), y_test=arrays["test"][1].astype("int32"),
        )


def _read(source):
    """Iterate ``(inputs, labels)`` NumPy batches of ``source`` in order; a bad example is a UsageError."""
    import tensorflow as tf

    batches = source.examples(shuffle_seed=None).batch(READ_BATCH).prefetch(tf.data.AUTOTUNE)
    iterator = iter(batches)
    position = 0
    while True:
        try:
            batch_inputs, batch_labels = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            raise UsageError(source.read_error(position, position + READ_BATCH, error)) from error
        position += len(batch_labels)
        yield batch_inputs.numpy(), batch_labels.numpy()


def _first_line(error):
    """The first line of a TensorFlow error's message (the rest is a graph trace)."""
    message = getattr(error, "message", None) or str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


# --- image files -----------------------------------------------------------------------------


def decode_image_file(path, channels, height, width):
    """Read and decode one image file to ``(height, width, channels)`` uint8 (a tf.data map step).

    ``tf.io.decode_image`` reads PNG, JPEG, BMP and GIF (first frame); 16-bit PNGs come out
    scaled to 8 bits by their bit depth (65535 -> 255), not clipped. Grey images become RGB
    when ``channels`` is 3, colour ones grey when it is 1; alpha is dropped. Images of another
    size are resized (bilinear, antialiased); images of the right size keep their exact pixels.
    """
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=0, dtype=tf.uint8, expand_animations=False)
    image = to_channels(image, channels)
    image = resize_image(image, height, width)
    image.set_shape((height, width, channels))
    return image


def to_channels(image, channels):
    """An image tensor (h, w, any channel count) with 1 (grey) or 3 (RGB) channels."""
    import tensorflow as tf

    has_colour = tf.shape(image)[-1] >= 3
    if channels == 1:
        return tf.cond(has_colour, lambda: tf.image.rgb_to_grayscale(image[..., :3]), lambda: image[..., :1])
    return tf.cond(has_colour, lambda: image[..., :3], lambda: tf.image.grayscale_to_rgb(image[..., :1]))


def resize_image(image, height, width):
    """Resize an image tensor to (height, width); same-size images are untouched.

    uint8 images are rounded back to uint8 (raw pixels stay raw); others come out float32.
    """
    import tensorflow as tf

    same_size = tf.reduce_all(tf.equal(tf.shape(image)[:2], [height, width]))
    is_uint8 = image.dtype == tf.uint8

    def resized():
        pixels = tf.image.resize(image, (height, width), antialias=True)
        if is_uint8:
            return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)
        return pixels

    original = image if is_uint8 else tf.cast(image, tf.float32)
    return tf.cond(same_size, lambda: original, resized)


def inspect_image(path):
    """Decode one image eagerly: ``(height, width, channels)``; UsageError when it cannot be read."""
    import tensorflow as tf

    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=0, expand_animations=False)
    except (tf.errors.OpError, OSError) as error:
        raise UsageError(f"cannot read image {path}: {_first_line(error)}") from error
    return tuple(int(side) for side in image.shape)


class ImageFileSource:
    """One split of image files: paths and labels, decoded to uint8 when read."""

    shuffles_fully = True  # shuffling the paths shuffles the whole split, at no memory cost

    def __init__(self, paths, labels, channels, height, width):
        """``paths`` and integer ``labels`` (same length); images come out (height, width, channels)."""
        self.paths = np.asarray([str(path) for path in paths], dtype=object)
        self.labels = np.asarray(labels, dtype="int32").reshape(-1)
        if len(self.paths) != len(self.labels):
            raise ValueError(f"{len(self.paths)} paths but {len(self.labels)} labels")
        self.channels, self.height, self.width = int(channels), int(height), int(width)

    @property
    def size(self):
        """Number of images."""
        return len(self.labels)

    @property
    def key(self):
        """A string naming exactly these examples (for cache file names)."""
        return "\n".join(f"{label}:{path}" for path, label in zip(self.paths, self.labels))

    def subset(self, indices):
        """The source of the images at ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype="int64")
        return ImageFileSource(self.paths[indices], self.labels[indices], self.channels, self.height, self.width)

    def first(self, count):
        """The source of the first ``count`` images."""
        return self.subset(np.arange(min(max(count, 0), self.size)))

    def sample(self, count, seed, buffer_size=None):
        """A seeded random sample of ``count`` images (all when there are fewer), in file order.

        ``buffer_size`` is not needed: any image can be picked by its path.
        """
        if count >= self.size:
            return self
        chosen = np.random.default_rng(seed).choice(self.size, size=count, replace=False)
        return self.subset(np.sort(chosen))

    def examples(self, shuffle_seed=None):
        """Unbatched ``(image, label)`` dataset; paths shuffled (seeded, every epoch) when a seed is given."""
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((self.paths.astype(str), self.labels))
        if shuffle_seed is not None and self.size:
            dataset = dataset.shuffle(self.size, seed=shuffle_seed, reshuffle_each_iteration=True)
        channels, height, width = self.channels, self.height, self.width
        return dataset.map(
            lambda path, label: (decode_image_file(path, channels, height, width), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def read_error(self, start, stop, error):
        """The message for a read that failed among images ``start..stop``: names the bad file."""
        for path in self.paths[start:stop]:
            inspect_image(path)  # raises the UsageError naming the file
        return f"cannot read the images from {self.paths[min(start, self.size - 1)]} on: {_first_line(error)}"


# --- TensorFlow Datasets ---------------------------------------------------------------------


class TfdsSource:
    """One split of a TFDS dataset (a split string such as ``"train[:54000]"``), read as supervised pairs."""

    shuffles_fully = False  # TFDS shuffles its files; examples within a file need the buffer

    def __init__(self, builder, split, size, transform, limit=None, sample_seed=None, sample_buffer=MIN_SHUFFLE_BUFFER):
        """``transform(input, label)`` turns TFDS values into raw inputs and int32 labels.

        ``limit`` keeps only that many examples; with ``sample_seed`` they are a seeded sample
        (files shuffled, then a ``sample_buffer``-example shuffle buffer) instead of the first ones.
        """
        self.builder = builder
        self.split = split
        self.transform = transform
        self.limit = limit
        self.sample_seed = sample_seed
        self.sample_buffer = int(sample_buffer)
        self.size = int(size if limit is None else min(size, limit))

    @property
    def key(self):
        """A string naming these examples (for cache file names)."""
        return f"tfds:{self.builder.info.full_name}:{self.builder.data_dir}:{self.split}:{self.limit}:{self.sample_seed}"

    def first(self, count):
        """The source of the first ``count`` examples."""
        return TfdsSource(self.builder, self.split, self.size, self.transform, limit=max(count, 0))

    def sample(self, count, seed, buffer_size=MIN_SHUFFLE_BUFFER):
        """A seeded sample of ``count`` examples: shuffled files, then a ``buffer_size`` shuffle buffer."""
        if count >= self.size:
            return self
        return TfdsSource(self.builder, self.split, self.size, self.transform, limit=count, sample_seed=seed,
                          sample_buffer=buffer_size)

    def examples(self, shuffle_seed=None):
        """Unbatched ``(input, label)`` dataset; files shuffled (seeded, every epoch) when a seed is given."""
        import tensorflow as tf
        import tensorflow_datasets as tfds

        seed = shuffle_seed if shuffle_seed is not None else self.sample_seed
        if self.limit is not None and self.sample_seed is None:
            seed = None  # the first `limit` examples: a fixed subset, so files are read in order
        read_config = tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=shuffle_seed is not None)
        dataset = self.builder.as_dataset(split=self.split, as_supervised=True, shuffle_files=seed is not None,
                                          read_config=read_config)
        dataset = dataset.map(self.transform, num_parallel_calls=tf.data.AUTOTUNE)
        if self.sample_seed is not None:
            dataset = dataset.shuffle(self.sample_buffer, seed=self.sample_seed)
        if self.limit is not None:
            dataset = dataset.take(self.limit)
        return dataset

    def read_error(self, start, stop, error):
        """The message for a read that failed among examples ``start..stop``."""
        return f"cannot read tfds split {self.split!r} near example {start}: {_first_line(error)}"
