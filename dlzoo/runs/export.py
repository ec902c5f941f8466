"""Export a trained Keras model as a TensorFlow SavedModel and prove the export is faithful.

The task of a run says which endpoints its SavedModel has (:meth:`Task.serving_endpoints`):
functions of raw inputs (the dataset's own values, strings for text) that return a dict of
named outputs, such as ``serve(inputs) -> {"probabilities", "predicted_class"}``. The endpoints
are declared with ``keras.export.ExportArchive``, so inference mode is explicit.

An export is only worth something if it computes what the Keras model computes, so after
writing it we load it back with ``tf.saved_model.load`` and compare every endpoint's outputs
with the same function run eagerly on the Keras model, on real test inputs. A mismatch fails
the run loudly.
"""

import errno
import os
import pathlib
import shutil
import tempfile

import numpy as np

from dlzoo.core.errors import RunFailed

TOLERANCE = 1e-4  # float32 outputs of the same graph agree far better than this
# A model computing in bfloat16/float16 (train.precision = "mixed"): the SavedModel's graph may
# fuse operations differently from eager Keras, and bfloat16 keeps 3 significant digits.
LOW_PRECISION_TOLERANCE = 2e-2


def tolerance_for(model):
    """The export check's tolerance: looser when some layer computes in 16 bits."""
    dtypes = {getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "float32") for layer in model._flatten_layers()}
    return LOW_PRECISION_TOLERANCE if dtypes & {"float16", "bfloat16"} else TOLERANCE


def export_saved_model(model, destination, endpoints, sample_inputs):
    """Write ``model``'s ``endpoints`` as a SavedModel at ``destination``, verified on ``sample_inputs``.

    Args:
        model: the Keras model (tracked, so its variables are saved).
        destination: the SavedModel folder to create; it must not exist.
        endpoints: ``{name: (function, input_signature)}`` from the run's task.
        sample_inputs: a batch of raw inputs for the ``serve`` endpoint's check (a tuple of
            arrays for an endpoint with several inputs, e.g. a conditional GAN's noise and labels).

    The SavedModel is written to a temporary folder next to ``destination`` and renamed into
    place only after it passed the check, so a failed export never leaves a broken folder.
    An existing ``destination`` is refused, except the one an earlier attempt of the run that
    ``--resume`` continues left (:func:`dlzoo.training.state.rewrites_own_output`): it is replaced.

    Returns:
        ``{"path", "max_abs_difference", "verified_on", "signature"}``.
    """
    from dlzoo.training import state

    destination = pathlib.Path(destination)
    if destination.exists() and not state.rewrites_own_output(destination):
        raise FileExistsError(f"{destination} already exists; refusing to overwrite it")
    # ".tmp" in the name: a staging folder left by a killed process is recognized and removed.
    staging = pathlib.Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.tmp-"))
    try:
        target = staging / "saved_model"
        try:
            write_saved_model(model, target, endpoints)
        except OSError as error:  # a full disk: named by the folder being exported, not the staging one
            if error.errno is None:
                raise
            raise OSError(error.errno, error.strerror, str(destination)) from None
        serve, _ = endpoints["serve"]
        difference = compare_with_saved_model(serve, target, sample_inputs)
        tolerance = tolerance_for(model)
        if not difference <= tolerance:
            raise RunFailed(
                f"exported SavedModel disagrees with the Keras model: max |difference| {difference:.3g} > {tolerance}"
            )
        if destination.exists():  # the earlier attempt's export: moved into staging, removed with it
            destination.rename(staging / "replaced")
        target.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "path": str(destination),
        "max_abs_difference": float(difference),
        "tolerance": tolerance,
        "verified_on": int(len(sample_inputs[0] if isinstance(sample_inputs, tuple) else sample_inputs)),
        "signature": describe_endpoints(endpoints),
    }


def write_saved_model(model, path, endpoints):
    """Write ``model`` as a SavedModel with the given endpoints (inference mode inside each)."""
    import keras

    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature) in endpoints.items():
        archive.add_endpoint(name=name, fn=function, input_signature=signature)
    try:
        archive.write_out(str(path), verbose=False)
    except tf.errors.OpError as error:
        # TensorFlow's file writer reports a full disk as ResourceExhaustedError, with the C++
        # op's name and a temporary file name: said as the OSError any other writer raises.
        for code, words in ((errno.ENOSPC, "No space left on device"), (errno.EDQUOT, "quota exceeded"),
                            (errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")):
            if words.lower() in str(error.message).lower():
                raise OSError(code, os.strerror(code), str(path)) from None
        raise


def describe_endpoints(endpoints):
    """``serve(inputs: float32[None, 8, 8, 1])``: each endpoint with its inputs' dtype and shape."""
    parts = []
    for name, (_, signature) in endpoints.items():
        arguments = ", ".join(f"{spec.name}: {spec.dtype.name}{list(spec.shape.as_list())}" for spec in signature)
        parts.append(f"{name}({arguments})")
    return "; ".join(parts)


def load_saved_model(path, endpoint="serve"):
    """Load a SavedModel and return ``predict(x) -> {output name: numpy array}`` for ``endpoint``."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    if not hasattr(loaded, endpoint):
        raise ValueError(f"{path} has no '{endpoint}' endpoint; was it written by dlzoo or model.export?")

    def predict(inputs, batch_size=256):
        """Run the endpoint over ``inputs`` (an array, or a tuple of arrays) in batches; outputs as a dict of arrays."""
        # The endpoint is looked up on `loaded` here: the loaded object owns the variables, and
        # holding only the function would let it be garbage-collected.
        function = getattr(loaded, endpoint)
        arguments = inputs if isinstance(inputs, tuple) else (inputs,)
        batches = [as_output_dict(function(*(tf.constant(array[start:start + batch_size]) for array in arguments)))
                   for start in range(0, len(arguments[0]), batch_size)]
        return {key: np.concatenate([batch[key] for batch in batches], axis=0) for key in batches[0]}

    return predict


def as_output_dict(outputs):
    """Endpoint outputs as ``{name: numpy array}`` (a bare tensor becomes ``{"output_0": ...}``)."""
    if isinstance(outputs, dict):
        return {key: np.asarray(value) for key, value in outputs.items()}
    return {"output_0": np.asarray(outputs)}


def compare_with_saved_model(function, path, sample_inputs):
    """Max absolute difference over every output of ``function`` (eager, on the Keras model)
    and of the SavedModel's ``serve`` endpoint at ``path``."""
    import tensorflow as tf

    arguments = sample_inputs if isinstance(sample_inputs, tuple) else (sample_inputs,)
    expected = as_output_dict(function(*(tf.constant(array) for array in arguments)))
    actual = load_saved_model(path)(sample_inputs)
    if set(expected) != set(actual):
        raise RunFailed(f"the SavedModel's outputs {sorted(actual)} differ from the model's {sorted(expected)}")
    return max(output_difference(expected[key], actual[key]) for key in expected)


def output_difference(expected, actual):
    """Max absolute difference of numeric outputs; strings (a translator's) must be equal: 0 or inf."""
    if expected.dtype.kind in "OSU" or actual.dtype.kind in "OSU":
        return 0.0 if expected.shape == actual.shape and bool(np.all(expected == actual)) else float("inf")
    return float(np.max(np.abs(expected.astype("float64") - actual.astype("float64"))))


def save_keras_model(model, destination):
    """Save ``model`` in the native ``.keras`` format, atomically, never overwriting (except the
    earlier attempt's file in the run that ``--resume`` continues)."""
    from dlzoo.training import state

    destination = pathlib.Path(destination)
    if destination.exists() and not state.rewrites_own_output(destination):
        raise FileExistsError(f"{destination} already exists; refusing to overwrite it")
    temporary = destination.with_name(f".{destination.stem}.tmp.keras")
    try:
        model.save(str(temporary))
        os.replace(temporary, destination)
    except BaseException:  # a full disk, a signal: leave no half-written file behind
        if temporary.exists():
            temporary.unlink()
        raise
    return destination
