"""Where and how a model runs: seeds, the device, the distribution strategy, the precision.

:func:`configure_device`, :func:`distribution_scope` and :func:`precision_policy` are the hooks
that multi-device training and mixed precision plug into; :func:`run_settings` records what was
used in ``metrics.json``. TensorFlow and Keras are imported inside the functions.
"""

import contextlib
import platform

from dlzoo.core.errors import UsageError


def seed_everything(seed):
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    import keras

    keras.utils.set_random_seed(int(seed))


# The tf.distribute strategy of this process (``train.distribute``), made once by
# configure_device: TensorFlow wants multi-device and multi-worker set up before it starts.
STRATEGY = {"kind": "none", "strategy": None}


DISTRIBUTE_CHOICES = ("none", "mirrored", "multiworker")


PRECISION_CHOICES = ("float32", "mixed")


def configure_device(device="auto", settings=None):
    """Choose where TensorFlow runs and return a short description of the device.

    ``"auto"`` uses a GPU when TensorFlow sees one (with memory growth, so that TensorFlow
    does not grab all GPU memory at start), ``"cpu"`` hides the GPUs, ``"gpu"`` requires one.
    ``settings`` (the ``[train]`` table) may ask for ``devices`` logical CPU devices (so that
    multi-device training can be tried without GPUs) and a ``distribute`` strategy.
    """
    import tensorflow as tf

    settings = settings or {}
    if device not in ("auto", "cpu", "gpu"):
        raise UsageError(f"--device must be auto, cpu or gpu, got {device!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise UsageError("--device gpu: TensorFlow sees no GPU (install the 'gpu' extra and check nvidia-smi)")
    try:
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        for gpu in gpus if device != "cpu" else []:
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # devices were already initialized by an earlier run in this process
    on_cpu = device == "cpu" or not gpus
    split_cpu(int(settings.get("devices", 0) or 0) if on_cpu else 0)
    make_strategy(settings)
    if on_cpu:
        count = len(tf.config.list_logical_devices("CPU"))
        return f"CPU ({platform.processor() or platform.machine()})" + (f" x {count} logical devices" if count > 1 else "")
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})" + (f" x {len(gpus)}" if len(gpus) > 1 else "")


def split_cpu(devices):
    """Split the CPU into ``devices`` logical devices (``--devices N``); 0 or 1 leaves it whole."""
    import tensorflow as tf

    if devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:  # TensorFlow already started in this process
        existing = len(tf.config.list_logical_devices("CPU"))
        if existing != devices:
            raise UsageError(f"--devices {devices}: TensorFlow already runs on {existing} CPU device(s) in this "
                             "process; start a new process") from None


def make_strategy(settings):
    """Create the ``train.distribute`` strategy once per process (None for ``"none"``)."""
    import os

    kind = settings.get("distribute", "none")
    if kind not in DISTRIBUTE_CHOICES:
        raise UsageError(f"train.distribute must be one of {', '.join(DISTRIBUTE_CHOICES)}, got {kind!r}")
    if kind == STRATEGY["kind"]:
        return STRATEGY["strategy"]
    import tensorflow as tf

    if kind == "none":
        strategy = None
    elif kind == "mirrored":
        # All local GPUs, or the logical CPU devices of --devices N.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([device.name for device in devices])
    else:
        if "TF_CONFIG" not in os.environ:
            raise UsageError("train.distribute = \"multiworker\" needs the TF_CONFIG environment variable "
                             "(the cluster's workers and this worker's index)")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    STRATEGY.update(kind=kind, strategy=strategy)
    return strategy


@contextlib.contextmanager
def distribution_scope(settings):
    """The scope models and optimizers are built in: the ``train.distribute`` strategy's scope
    (variables mirrored on every device) and the ``train.precision`` dtype policy."""
    import keras

    strategy = make_strategy(settings)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision_policy(settings))
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            yield strategy
    finally:
        keras.config.set_dtype_policy(previous)


def precision_policy(settings):
    """The Keras dtype policy of the run's layers for ``train.precision``.

    ``"mixed"``: float16 maths on a GPU (Keras adds loss scaling when it compiles), bfloat16 on
    a CPU (same range as float32, so no loss scaling); variables stay float32, and the
    classifier head computes its probabilities in float32.
    """
    precision = settings.get("precision", "float32")
    if precision not in PRECISION_CHOICES:
        raise UsageError(f"train.precision must be one of {', '.join(PRECISION_CHOICES)}, got {precision!r}")
    if precision == "float32":
        return "float32"
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def configure_determinism(settings):
    """``train.deterministic``: seeded, and TensorFlow's ops made deterministic (slower on GPUs)."""
    if settings.get("deterministic"):
        import tensorflow as tf

        seed_everything(settings.get("seed", 0))
        tf.config.experimental.enable_op_determinism()


def run_settings(settings):
    """How the run was computed, for metrics.json: determinism, strategy, devices, precision, XLA."""
    strategy = STRATEGY["strategy"]
    return {
        "deterministic": bool(settings.get("deterministic", False)),
        "distribute": settings.get("distribute", "none"),
        "replicas": int(strategy.num_replicas_in_sync) if strategy is not None else 1,
        "precision": settings.get("precision", "float32"),
        "dtype_policy": precision_policy(settings),
        "jit_compile": "auto" if settings.get("jit_compile") is None else bool(settings["jit_compile"]),
    }
