"""The ``segment`` task: semantic segmentation, a class for every pixel (fully convolutional networks).

The data is a bundle whose targets are masks (``targets = "masks"``: an int class id per pixel,
:mod:`dlzoo.data.shapes_masks`); the model a segmentation builder of :mod:`dlzoo.models.unet`
behind the ``standardize`` layer, so that it takes raw pixels; the loss the per-pixel
cross-entropy (``SparseCategoricalCrossentropy`` averages it over every pixel of the batch).
Everything else is the supervised platform (:class:`~dlzoo.tasks.supervised.SupervisedTask`):
``fit``, checkpoints, ``model.keras``, a verified SavedModel, learning curves.

Metrics of every split (``metrics.json``: ``<split>_<name>``):

* ``pixel_accuracy``: the fraction of pixels whose class is right. Most pixels are background
  (about 88 % on ``shapes``), so "everything is background" already scores 0.88;
* ``mean_iou``: Keras's ``MeanIoU`` over all pixels of the split: per class, intersection over
  union of the predicted and true pixels (|P ∩ T| / |P ∪ T|), averaged over the classes;
* ``object_iou``: per image, the IoU of the predicted object (every pixel not predicted as
  background) with the true object, averaged over the images: how well *each object* is
  outlined (an image with neither true nor predicted object counts 1). The recipe's target.

Baseline (``train.baselines``): a global intensity threshold, the classical segmentation of a
bright object on a darker background. A pixel is "object" when its intensity reaches the
threshold that gives the best ``object_iou`` on the training split; two intensities are tried,
the brightness (mean of the channels) and the darkest channel. The best test ``object_iou``
goes to ``metrics.json`` as ``baseline_best_test_object_iou``.

Pictures: image / true mask / predicted mask of test images, and the pixel confusion matrix.
The SavedModel's ``serve`` (float32 pixels, as the dataset stores them) and ``serve_uint8``
(8-bit images as decoded from PNG files) return ``probabilities`` (batch, height, width, classes)
and ``mask`` (batch, height, width) int32 class ids. ``dlzoo predict RUN image.png`` (or
``--file images.npy``) prints one line per image and writes each mask as a PNG, with all the
masks in one ``.npy``, into the run's ``predictions/`` folder (new files, never overwriting).
"""

import io
import pathlib

import numpy as np

from dlzoo.plots import figures
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.core.errors import UsageError
from dlzoo.tasks import register
from dlzoo.tasks.supervised import ImageInputs, SupervisedTask, image_batch, read_source
from dlzoo.training.inference import predict, predict_split

LOSSES = ("auto", "crossentropy")
PICTURE_IMAGES = 8  # test images in the image / true mask / predicted mask picture
INTENSITY_LEVELS = 256  # the threshold baseline tries this many levels between the darkest and brightest pixel


# 1. Metrics: pure functions of true and predicted masks ----------------------------------------

def object_iou_per_image(true_masks, predicted_masks):
    """IoU of the predicted and true object (every class but 0, the background) of each image, shape (n,).

    An image with neither a true nor a predicted object pixel scores 1: nothing to find, nothing found.
    """
    count = len(true_masks)
    true_object = np.asarray(true_masks).reshape(count, -1) != 0
    predicted_object = np.asarray(predicted_masks).reshape(count, -1) != 0
    intersection = np.sum(true_object & predicted_object, axis=1)
    union = np.sum(true_object | predicted_object, axis=1)
    return np.where(union > 0, intersection / np.maximum(union, 1), 1.0)


def mask_scores(true_masks, predicted_masks, num_classes):
    """Pixel accuracy, mean IoU and IoU per class (Keras's ``MeanIoU``), object IoU, confusion matrix.

    Args:
        true_masks, predicted_masks: int class ids, shape (n, height, width).
        num_classes: number of pixel classes.
    """
    import keras

    # float64 counts: float32 counts pixels exactly only up to 2**24 (16,384 images of 32x32).
    mean_iou = keras.metrics.MeanIoU(num_classes=num_classes, dtype="float64")
    mean_iou.update_state(np.asarray(true_masks).reshape(-1), np.asarray(predicted_masks).reshape(-1))
    confusion = np.asarray(mean_iou.total_cm, dtype="int64")  # rows: true class, columns: predicted class
    true_pixels, predicted_pixels, correct = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    union = true_pixels + predicted_pixels - correct
    class_iou = [float(value) if total else None for value, total in zip(correct / np.maximum(union, 1), union)]
    return {"pixel_accuracy": float(correct.sum() / max(confusion.sum(), 1)),
            "mean_iou": float(mean_iou.result()),
            "object_iou": float(np.mean(object_iou_per_image(true_masks, predicted_masks))),
            "class_iou": class_iou, "confusion_matrix": confusion.tolist()}


def pixel_crossentropy(true_masks, probabilities):
    """Mean cross-entropy over every pixel: -log of the probability given to its true class."""
    true_probability = np.take_along_axis(probabilities, np.asarray(true_masks)[..., np.newaxis], axis=-1)
    return float(-np.mean(np.log(np.clip(true_probability, 1e-7, 1.0))))  # Keras clips at 1e-7 too


# 2. The intensity-threshold baseline -----------------------------------------------------------

# Per-pixel intensities of images (n, height, width, channels) -> (n, height, width).
INTENSITIES = {
    "brightness threshold": lambda images: images.mean(axis=-1),
    "darkest-channel threshold": lambda images: images.min(axis=-1),
}


def intensity_bins(intensity, low, high):
    """Intensities as integer levels ``0 .. INTENSITY_LEVELS - 1`` between ``low`` and ``high``."""
    scaled = (intensity - low) / max(high - low, 1e-12) * INTENSITY_LEVELS
    return np.clip(np.floor(scaled), 0, INTENSITY_LEVELS - 1).astype("int64")


def best_level(bins, masks):
    """``(level, mean object IoU)``: the rule "object where bin >= level" with the best training object IoU.

    One histogram of object and one of background pixels per image give every level's
    intersection and union at once: predicted object pixels at level ``k`` are those of bins
    ``>= k``, so its intersection is the object histogram's tail sum from ``k`` and its union the
    object's size plus the background histogram's tail sum.
    """
    count = len(bins)
    flat_bins = bins.reshape(count, -1) + INTENSITY_LEVELS * np.arange(count)[:, np.newaxis]
    is_object = np.asarray(masks).reshape(count, -1) != 0
    size = count * INTENSITY_LEVELS

    def histograms(selected):
        counts = np.bincount(flat_bins[selected], minlength=size).reshape(count, INTENSITY_LEVELS)
        tails = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # tails[:, k] = pixels in bins >= k
        return np.concatenate([tails, np.zeros((count, 1), tails.dtype)], axis=1)  # level 256: nothing

    intersection, false_object = histograms(is_object), histograms(~is_object)
    union = is_object.sum(axis=1)[:, np.newaxis] + false_object
    iou = np.where(union > 0, intersection / np.maximum(union, 1), 1.0).mean(axis=0)  # (levels + 1,)
    level = int(np.argmax(iou))
    return level, float(iou[level])


def threshold_baselines(splits):
    """Each intensity's threshold chosen on the training split and scored on the test split.

    Returns ``{"metric": "object_iou", "models": [{name, threshold, train_object_iou,
    test_object_iou, test_mean_iou, test_pixel_accuracy}]}``; thresholds are in raw pixel units.
    """
    train_images, train_masks = splits.arrays("train")
    test_images, test_masks = splits.arrays("test")
    models = []
    for name, intensity_of in INTENSITIES.items():
        train_intensity = intensity_of(np.asarray(train_images, dtype="float32"))
        low, high = float(train_intensity.min()), float(train_intensity.max())
        level, train_iou = best_level(intensity_bins(train_intensity, low, high), train_masks)
        test_bins = intensity_bins(intensity_of(np.asarray(test_images, dtype="float32")), low, high)
        scores = mask_scores(test_masks, (test_bins >= level).astype("int32"), splits.num_classes)
        models.append({"name": name, "threshold": low + level * (high - low) / INTENSITY_LEVELS,
                       "train_object_iou": train_iou, "test_object_iou": scores["object_iou"],
                       "test_mean_iou": scores["mean_iou"], "test_pixel_accuracy": scores["pixel_accuracy"]})
    return {"metric": "object_iou", "models": models}


def baseline_section(network_result, baselines):
    """The report section: the network next to each threshold on the test split."""
    rows = [["network", "", network_result["object_iou"], network_result["mean_iou"],
             network_result["pixel_accuracy"]]]
    rows += [[model["name"], model["threshold"], model["test_object_iou"], model["test_mean_iou"],
              model["test_pixel_accuracy"]] for model in baselines["models"]]
    return ("## Baseline: an intensity threshold\n\n"
            "A pixel is *object* when its intensity (the mean of its channels, or its darkest channel) reaches "
            "one global threshold, the one with the best object IoU on the training split. It cannot tell the "
            "object from bright clutter; the network sees the neighbourhood of each pixel.\n\n"
            + report.markdown_table(["test split", "threshold (raw units)", "object IoU", "mean IoU",
                                     "pixel accuracy"], rows) + "\n")


# 3. Pictures -----------------------------------------------------------------------------------

def draw_segmentations(images, true_masks, predicted_masks, path, title=""):
    """One column per image: the image, its true mask, the predicted mask (titled with its object IoU)."""
    pyplot = figures.pyplot_module()
    ious = object_iou_per_image(true_masks, predicted_masks)
    columns = len(images)
    figure, axes = pyplot.subplots(3, columns, figsize=(1.4 * columns + 1.2, 4.6), squeeze=False)
    top = max(int(np.max(true_masks)), int(np.max(predicted_masks)), 1)
    for column in range(columns):
        image = np.asarray(images[column], dtype="float64")
        image = (image - image.min()) / max(image.max() - image.min(), 1e-12)
        axes[0, column].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        axes[1, column].imshow(true_masks[column], cmap="gray", vmin=0, vmax=top)
        axes[2, column].imshow(predicted_masks[column], cmap="gray", vmin=0, vmax=top)
        axes[2, column].set_title(f"IoU {ious[column]:.2f}", fontsize=8)
    for row, label in enumerate(("image", "true mask", "predicted")):
        axes[row, 0].set_ylabel(label)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title)
    return figures.save_figure(figure, path)


# 4. Images for `dlzoo predict` -----------------------------------------------------------------

def mask_png(mask, num_classes):
    """PNG bytes of a mask: class ids spread over the grey levels (the object white on two classes)."""
    from PIL import Image

    step = 255 // max(num_classes - 1, 1)
    buffer = io.BytesIO()
    Image.fromarray((np.asarray(mask) * step).astype("uint8"), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def write_masks(masks, stems, folder, num_classes):
    """Each mask as ``<stem>-mask.png``, all of them in ``masks.npy``: new files in ``folder/predictions``.

    Returns ``(png paths, npy path)``; a name already taken gets ``-2``, ``-3``, ...
    """
    out = folders.check_writable(pathlib.Path(folder) / "predictions")
    paths = []
    for stem, mask in zip(stems, masks):
        (path,) = figures.new_file_paths(out / f"{stem}-mask.png")
        paths.append(folders.atomic_write_bytes(path, mask_png(mask, num_classes)))
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(masks, dtype="uint8"))
    (array_path,) = figures.new_file_paths(out / "masks.npy")
    return paths, folders.atomic_write_bytes(array_path, buffer.getvalue())


# 5. The task -----------------------------------------------------------------------------------

@register("segment")
class SegmentTask(SupervisedTask):
    """Semantic segmentation with ``model.fit``: raw images in, a class for every pixel out."""

    description = "semantic segmentation (a class for every pixel)"
    model_kind = "segmentation"
    predict_writes_files = True  # the masks go to the run's predictions/ folder
    baseline_metric = "object_iou"
    supports = frozenset({"check", "lr-find"})

    # Building ------------------------------------------------------------------------------------

    def check_config(self, config):
        """The loss is the per-pixel cross-entropy; augmentation would move images and not their masks."""
        if config["train"]["loss"] not in LOSSES:
            raise UsageError(f"train.loss of a segmentation must be one of {', '.join(LOSSES)}, "
                             f"got {config['train']['loss']!r}")
        if config["data"]["augment"]:
            raise UsageError("data.augment moves the images but not their masks; a segmentation takes no "
                             "data.augment")

    def check_targets(self, splits):
        """Segmentation needs a class for every pixel (``targets = "masks"``)."""
        from dlzoo.data.shapes_masks import MASKS

        if splits.targets != MASKS:
            raise UsageError(f"dataset {splits.name} has {splits.targets} as targets, not masks; task 'segment' "
                             "needs a class for every pixel (e.g. data.dataset = \"shapes_masks\")")

    def build_model(self, config, splits):
        """``standardize`` (training statistics) -> the recipe's segmentation builder."""
        from dlzoo import models
        from dlzoo.models import unet
        from dlzoo.tasks.supervised import with_standardization

        name = config["model"]["name"]
        models.check_options(config["model"], kind="segmentation")
        options = {key: value for key, value in config["model"].items() if key != "name"}
        try:
            model = unet.build(name, splits.input_shape, splits.num_classes, **options)
        except ValueError as error:
            raise UsageError(f"dataset {splits.name} (inputs {splits.input_shape}) does not fit model '{name}': "
                             f"{error}") from error
        return with_standardization(model, config, splits)

    def loss_and_metrics(self, config, splits):
        """Per-pixel cross-entropy; pixel accuracy and mean IoU in the history."""
        import keras

        return (keras.losses.SparseCategoricalCrossentropy(),
                [keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
                 keras.metrics.MeanIoU(num_classes=splits.num_classes, sparse_y_pred=False, name="mean_iou")])

    def describe(self, prepared):
        """The supervised line, and the pixel classes."""
        return f"{super().describe(prepared)}; a class per pixel: {', '.join(prepared.splits.class_names)}"

    # After training ------------------------------------------------------------------------------

    def finish(self, model, splits, folder, config, history):
        """The supervised finish, with the threshold baselines instead of scikit-learn's (one row per
        example: a mask has a target per pixel)."""
        wants_baselines = config["train"]["baselines"]
        results = super().finish(model, splits, folder, {**config, "train": {**config["train"], "baselines": False}},
                                 history)
        if wants_baselines:
            baselines = threshold_baselines(splits)
            best = max(baselines["models"], key=lambda entry: entry["test_object_iou"])
            results["metrics"]["baseline_best_test_object_iou"] = best["test_object_iou"]
            results["baselines"] = baselines
            test_result = folders.read_json(folder / "evaluation.json")
            report.write_section(folder, "15-baselines", baseline_section(test_result, baselines))
        return results

    def evaluate(self, model, splits, split):
        """Loss, pixel accuracy, mean IoU, object IoU, IoU per class and the pixel confusion matrix."""
        probabilities, masks = predict_split(model, splits, split)
        scores = mask_scores(masks, probabilities.argmax(axis=-1), splits.num_classes)
        return {"split": split, "dataset": splits.name, "examples": int(len(masks)), "pixels": int(masks.size),
                "loss": pixel_crossentropy(masks, probabilities), **scores,
                "class_names": list(splits.class_names)}

    def headline_keys(self, split):
        """The same four numbers for every split."""
        return ("loss", "pixel_accuracy", "mean_iou", "object_iou")

    def headline(self, result):
        """Loss, pixel accuracy, mean IoU and object IoU of one split."""
        return {key: result[key] for key in self.headline_keys(result["split"])}

    def evaluation_line(self, result):
        """``test object IoU 0.912 · mean IoU 0.948 · pixel accuracy 0.987 on 500 images``."""
        return (f"{result['split']} object IoU {result['object_iou']:.4f} · mean IoU {result['mean_iou']:.4f} · "
                f"pixel accuracy {result['pixel_accuracy']:.4f} on {result['examples']} images")

    def draw(self, model, splits, folder, config, test_result):
        """Image / true mask / predicted mask of the first test images, and the pixel confusion matrix."""
        images, masks = splits.arrays("test", limit=PICTURE_IMAGES)
        predicted = predict(model, images).argmax(axis=-1)
        draw_segmentations(images, masks, predicted, folder / "plots" / "segmentation.png",
                           title=f"{config['name']}: test images")
        figures.confusion_matrix(test_result["confusion_matrix"], splits.class_names,
                               folder / "plots" / "confusion_matrix.png", title="pixels (rows: true class)")
        class_iou = ", ".join(f"{name} {value:.3f}" for name, value in zip(splits.class_names, test_result["class_iou"])
                              if value is not None)
        report.write_section(folder, "20-segmentation", (
            "## Segmentation (test split)\n\n"
            f"Object IoU **{test_result['object_iou']:.4f}** (per image: |predicted ∩ true object| / "
            "|predicted ∪ true object|, averaged over the images) · mean IoU "
            f"**{test_result['mean_iou']:.4f}** (Keras `MeanIoU`: every pixel of the split, per class, averaged over "
            f"the classes; per class: {class_iou}) · pixel accuracy **{test_result['pixel_accuracy']:.4f}** "
            f"on {test_result['examples']} images.\n\n"
            "![image, true mask and predicted mask of test images](plots/segmentation.png)\n"))

    # Serving and predict -------------------------------------------------------------------------

    def output_names(self):
        """``probabilities`` (a distribution over the classes per pixel) and ``mask`` (int32 class ids)."""
        return ("probabilities", "mask")

    def serving_outputs(self, outputs):
        """Per-pixel probabilities and their most likely class."""
        import tensorflow as tf

        return {"probabilities": outputs, "mask": tf.argmax(outputs, axis=-1, output_type=tf.int32)}

    def serving_endpoints(self, model, splits):
        """``serve`` (float32 raw pixels) and ``serve_uint8`` (8-bit images, as decoded from a PNG)."""
        import tensorflow as tf

        endpoints = super().serving_endpoints(model, splits)
        serve, _ = endpoints["serve"]  # it casts its inputs to float32 itself
        endpoints["serve_uint8"] = (serve, [tf.TensorSpec(shape=(None, *splits.input_shape), dtype=tf.uint8,
                                                          name="images")])
        return endpoints

    def read_inputs(self, values, file):
        """Image files (PNG, JPEG, ...) as arguments and/or ``--file`` (an image, ``.npy`` or ``.npz``)."""
        sources = [read_source(path) for path in ([file] if file else []) + list(values)]
        if not sources:
            raise UsageError("give images to segment: image files (PNG, JPEG, ...) or --file images.npy")
        return ImageInputs(sources)

    def predict(self, model, splits, inputs, folder=None):
        """``"cat.png: object 12.3% of the pixels (mean confidence 0.991) -> .../cat-mask.png"`` per image.

        ``inputs`` is :class:`ImageInputs` (or one array of raw images, from the Python API); with
        ``folder`` (the run folder) the masks are written to its ``predictions/``.
        """
        if not isinstance(inputs, ImageInputs):
            inputs = ImageInputs([("input", np.asarray(inputs, dtype="float32"))])
        images, names = image_batch(inputs, splits.input_shape)
        if not names:
            raise UsageError("no images to segment: the inputs hold 0 images")
        probabilities = predict(model, images)  # (n, height, width, classes)
        masks = probabilities.argmax(axis=-1)
        labels, stems = zip(*names)
        paths, array_path = write_masks(masks, stems, folder, splits.num_classes) if folder else \
            ([None] * len(masks), None)
        lines = []
        for label, mask, probability, path in zip(labels, masks, probabilities, paths):
            fractions = ", ".join(f"{name} {np.mean(mask == index):.1%}"
                                  for index, name in enumerate(splits.class_names) if index > 0)
            line = f"{label}: {fractions} of the pixels (mean confidence {probability.max(axis=-1).mean():.3f})"
            lines.append(line + (f" -> {path}" if path else ""))
        if array_path:
            lines.append(f"masks of the {len(masks)} images ({len(masks)}, height, width; class ids): {array_path}")
        return lines
