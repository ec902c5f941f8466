"""Training throughput (samples/s) of each model family, per backend and precision.

For every model family of the zoo (MLP-512, the CNN, ResNet-20, an LSTM-64 sequence classifier
and the transformer classifier), trains on synthetic data of the family's usual shape for a
fixed number of steps after a warm-up epoch (tracing/compilation excluded) and prints samples/s,
in float32 and in mixed precision (float16 on a GPU, bfloat16 on a CPU). The models and
optimizers are backend-neutral Keras 3, so the same script measures TensorFlow and JAX:

    PYTHONPATH=$PWD python benchmarks/gpu.py                       # TensorFlow
    KERAS_BACKEND=jax PYTHONPATH=$PWD python benchmarks/gpu.py     # JAX (no TensorFlow needed)
    PYTHONPATH=$PWD python benchmarks/gpu.py --steps 50 --families mlp cnn

Reference raw-Keras figures on one H200 (JAX backend): ResNet-20-like CNN 63k samples/s,
MLP-512 230k/s, LSTM-64 47k/s; the zoo's models should reach 0.9x of these on that machine.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

# (builder, its options, input shape, classes, batch size)
FAMILIES = {
    "mlp": ("mlp", {"hidden_units": [512, 512]}, (784,), 10, 1024),
    "cnn": ("cnn", {"filters": [32, 64]}, (32, 32, 3), 10, 256),
    "resnet20": ("resnet20", {}, (32, 32, 3), 10, 256),
    "lstm": ("rnn", {"cell": "lstm", "units": 64}, (100, 8), 10, 256),
    "transformer": ("transformer", {}, (64, 32), 10, 128),
}


class StepTimer:
    """Times the epochs of ``fit``: the first (tracing, compilation) is the warm-up."""

    def __init__(self):
        self.times = []
        self.start = None

    def callback(self):
        """A Keras callback recording each epoch's wall time."""
        import keras

        timer = self

        class EpochTimes(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.times.append(time.perf_counter() - timer.start)

        return EpochTimes()


def device_name():
    """The accelerator Keras's backend runs on (or the CPU)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform.upper()} ({getattr(device, 'device_kind', device)})"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return "GPU (" + tf.config.experimental.get_device_details(gpus[0]).get("device_name", "?") + ")"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def on_gpu():
    """True when the backend sees a GPU."""
    return device_name().startswith("GPU")


def measure(family, precision, steps):
    """Samples/s of ``family`` trained for ``steps`` steps at ``precision`` ("float32" or "mixed")."""
    import keras

    from dlzoo import models

    name, options, input_shape, classes, batch_size = FAMILIES[family]
    if name not in models.names():
        return None
    policy = "float32" if precision == "float32" else ("mixed_float16" if on_gpu() else "mixed_bfloat16")
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = models.build(name, input_shape, classes, **options)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch_size * steps, *input_shape)).astype("float32")
        y = rng.integers(0, classes, size=batch_size * steps)
        timer = StepTimer()
        model.fit(x, y, batch_size=batch_size, epochs=2, verbose=0, shuffle=False, callbacks=[timer.callback()])
        return batch_size * steps / timer.times[-1]
    finally:
        keras.config.set_dtype_policy("float32")


def main():
    """Measure every family and precision; print a Markdown table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement (after a warm-up epoch)")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--json", help="also write the results to this JSON file")
    arguments = parser.parse_args()
    import keras

    backend, device = keras.backend.backend(), device_name()
    rows = []
    print(f"backend {backend}, keras {keras.__version__}, {device}, {arguments.steps} timed steps")
    print("| family | batch | float32 samples/s | mixed samples/s |")
    print("|---|---|---|---|")
    for family in arguments.families:
        results = {precision: measure(family, precision, arguments.steps) for precision in ("float32", "mixed")}
        rows.append({"family": family, "backend": backend, "device": device, **results})
        cells = ["not in the zoo" if value is None else f"{value:,.0f}" for value in results.values()]
        print(f"| {family} | {FAMILIES[family][4]} | {cells[0]} | {cells[1]} |", flush=True)
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump(rows, file, indent=2)


if __name__ == "__main__":
    main()
