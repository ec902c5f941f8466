"""Export a trained Keras model as a TensorFlow SavedModel and prove the export is faithful.

``model.export(path, format="tf_saved_model")`` writes a SavedModel with a ``serve`` endpoint.
An export is only worth something if it computes what the Keras model computes, so after
writing it we load it back with ``tf.saved_model.load`` and compare its ``serve`` outputs with
the Keras model's on real test inputs. A mismatch fails the run loudly.
"""

import pathlib
import shutil
import tempfile

import numpy as np

from dlzoo.errors import RunFailed

TOLERANCE = 1e-4  # float32 outputs of the same graph agree far better than this


def export_saved_model(model, destination, sample_inputs):
    """Write ``model`` as a SavedModel at ``destination`` and verify it on ``sample_inputs``.

    The SavedModel is written to a temporary folder next to ``destination`` and renamed into
    place only after it passed the check, so a failed export never leaves a broken folder.

    Returns:
        ``{"path", "max_abs_difference", "verified_on", "signature"}``.
    """
    destination = pathlib.Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} already exists; refusing to overwrite it")
    staging = pathlib.Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}."))
    try:
        target = staging / "saved_model"
        write_saved_model(model, target)
        difference = compare_with_saved_model(model, target, sample_inputs)
        if not difference <= TOLERANCE:
            raise RunFailed(
                f"exported SavedModel disagrees with the Keras model: max |difference| {difference:.3g} > {TOLERANCE}"
            )
        target.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "path": str(destination),
        "max_abs_difference": float(difference),
        "verified_on": int(len(sample_inputs)),
        "signature": f"serve(inputs: float32{list((None,) + tuple(model.input_shape[1:]))})",
    }


def write_saved_model(model, path):
    """Write ``model`` as a SavedModel whose ``serve`` endpoint runs in inference mode.

    ``model.export(path)`` would be the one-line way, but it traces the model without saying
    ``training=False``; with some layer combinations (a ``Resizing`` layer before batch
    normalization, as in LeNet on upsampled digits) Keras then runs batch normalization in
    training mode inside the export, and the SavedModel disagrees with the model. Declaring the
    endpoint ourselves makes inference mode explicit.
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    signature = tf.TensorSpec(shape=(None, *model.input_shape[1:]), dtype=tf.float32, name="inputs")
    archive.add_endpoint(name="serve", fn=lambda inputs: model(inputs, training=False), input_signature=[signature])
    archive.write_out(str(path), verbose=False)


def load_saved_model(path):
    """Load a SavedModel and return a function ``predict(x) -> numpy outputs``."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    if not hasattr(loaded, "serve"):
        raise ValueError(f"{path} has no 'serve' endpoint; was it written by model.export?")

    def predict(inputs, batch_size=256):
        """Run the ``serve`` endpoint over ``inputs`` in batches."""
        outputs = [
            np.asarray(loaded.serve(tf.constant(inputs[start:start + batch_size], dtype=tf.float32)))
            for start in range(0, len(inputs), batch_size)
        ]
        return np.concatenate(outputs, axis=0)

    return predict


def compare_with_saved_model(model, path, sample_inputs):
    """Max absolute difference between the Keras model and the SavedModel at ``path``."""
    expected = np.asarray(model.predict(sample_inputs, verbose=0))
    actual = load_saved_model(path)(sample_inputs)
    return float(np.max(np.abs(expected - actual)))


def save_keras_model(model, destination):
    """Save ``model`` in the native ``.keras`` format, atomically, never overwriting."""
    destination = pathlib.Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} already exists; refusing to overwrite it")
    temporary = destination.with_name(f".{destination.stem}.tmp.keras")
    model.save(str(temporary))
    temporary.rename(destination)
    return destination
