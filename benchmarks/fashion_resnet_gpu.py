"""``fashion-resnet`` on the real Fashion-MNIST with plain Keras ``fit``: test accuracy and the time to 0.945.

The issue asks ``fashion-resnet`` (ResNet-20, flips and shifts) for a test accuracy of at least
0.945, in under 2 minutes on a GPU. The GPU machine this project is sometimes lent has JAX but no
TensorFlow, so ``dlzoo train`` (its tf.data pipeline, its callbacks) cannot run there. This
script trains what the recipe trains, with everything built by dlzoo itself:

* the splits of ``dlzoo.data.real``: the official 10,000 test images, the seeded, stratified
  7,000 validation images carved out of the 60,000 training ones (the same arrays as
  ``dlzoo train fashion-resnet --seed N``);
* the model of the classify task (``build_model``: the ``standardize`` layer with the training
  split's statistics in front of the recipe's ResNet-20) compiled as the task compiles it
  (``compile_model``: Adam, the cosine decay spanning the run's steps);
* the recipe's augmentation layers (``dlzoo.data.pipeline.build_augmenter``), here in front of
  the model (Keras's random layers work in training only) instead of in a tf.data pipeline;
* the recipe's batch size and epochs (or ``--epochs``), Keras's own ``fit`` on the uint8 arrays.

After each epoch it predicts the test split and prints the epoch, the training seconds so far
(the first epoch includes compilation; the test predictions are not counted), the training loss,
and the validation and test accuracy. Then, per seed, the first epoch and training time at which
the test accuracy reached the target, and the final one: one ``RESULT {json}`` line per seed, and
a JSON file with ``--out``. Runs wherever Keras runs:

    PYTHONPATH=$PWD python benchmarks/fashion_resnet_gpu.py --seeds 0 --epochs 2       # TensorFlow, CPU
    KERAS_BACKEND=jax PYTHONPATH=$PWD python benchmarks/fashion_resnet_gpu.py --data FOLDER --seeds 0 1 2

``--data`` is a folder with the four IDX files (default: where ``dlzoo doctor`` finds
``fashion_mnist``). TensorFlow is not imported on the JAX backend: the path above needs numpy,
scikit-learn, click and Keras (carry Keras's wheels to a machine that lacks it).
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

TARGET = 0.945


def load_splits(config, folder):
    """The recipe's splits (uint8 images, the training split's statistics for ``standardize``) of
    the IDX files in ``folder`` (``None``: where dlzoo finds ``fashion_mnist``), for the data seed."""
    from dlzoo import data

    # idx:FOLDER reads the same four files into the same official splits as fashion_mnist does.
    spec = f"idx:{folder}" if folder else "fashion_mnist"
    return data.load(spec, seed=config["data"]["seed"], options=config["data"])


def build_model(config, splits):
    """The classify task's model and optimizer for the recipe, behind the recipe's augmentation layers."""
    import keras

    from dlzoo import tasks
    from dlzoo.data.pipeline import build_augmenter

    task = tasks.create(config["task"])
    model = task.build_model(config, splits)
    # Uncovered pixels get 0, the raw images' black background, as in dlzoo's own pipeline.
    augmenter = build_augmenter(config["data"]["augment"], seed=config["data"]["seed"], fill_value=0.0)
    if augmenter is not None:
        model = keras.Sequential([keras.Input(splits.input_shape), augmenter, model], name="augmented")
    return task.compile_model(model, config, splits)


def accuracy(model, images, labels):
    """Top-1 accuracy of ``model`` on ``images`` (large batches: inference only)."""
    predictions = model.predict(images, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=-1) == labels))


def epoch_recorder(splits, rows):
    """A Keras callback appending ``{epoch, train_seconds, loss, val_accuracy, test_accuracy}`` to ``rows``
    after every epoch and printing it; the time spent predicting is left out of ``train_seconds``."""
    import keras

    class EpochRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.evaluating = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            trained = time.perf_counter() - self.start - self.evaluating
            before = time.perf_counter()
            row = {"epoch": epoch + 1, "train_seconds": round(trained, 2), "loss": float(logs["loss"]),
                   "val_accuracy": accuracy(self.model, splits.x_val, splits.y_val),
                   "test_accuracy": accuracy(self.model, splits.x_test, splits.y_test)}
            self.evaluating += time.perf_counter() - before
            rows.append(row)
            print(f"  epoch {row['epoch']:3d}  {trained:7.1f} s  loss {row['loss']:.4f}  "
                  f"val {row['val_accuracy']:.4f}  test {row['test_accuracy']:.4f}", flush=True)

    return EpochRecorder()


def train_seed(seed, epochs, folder, precision):
    """Train the recipe once with ``seed``; returns the result row of that seed."""
    import keras

    from dlzoo.config import resolve

    config = resolve.load_config("fashion-resnet", epochs=epochs, seed=seed)
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy(precision)
    splits = load_splits(config, folder)
    model = build_model(config, splits)
    rows = []
    model.fit(splits.x_train, splits.y_train, batch_size=config["data"]["batch_size"], epochs=config["train"]["epochs"],
              shuffle=True, verbose=0, callbacks=[epoch_recorder(splits, rows)])
    reached = next((row for row in rows if row["test_accuracy"] >= TARGET), None)
    return {"seed": seed, "backend": keras.backend.backend(), "precision": precision, "epochs": len(rows),
            "batch_size": config["data"]["batch_size"], "parameters": int(model.count_params()),
            "test_accuracy": rows[-1]["test_accuracy"], "best_test_accuracy": max(row["test_accuracy"] for row in rows),
            "train_seconds": rows[-1]["train_seconds"], "target": TARGET,
            "reached_at_epoch": reached and reached["epoch"], "reached_after_seconds": reached and reached["train_seconds"],
            "devices": [str(device) for device in device_names()], "epochs_table": rows}


def device_names():
    """The accelerators Keras's backend sees (``[]`` on a CPU-only machine)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [device for device in jax.devices() if device.platform != "cpu"]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.config.list_physical_devices("GPU")
    return []


def main():
    """Train the seeds asked for, print a summary line per seed and write ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of the four Fashion-MNIST IDX files (default: where dlzoo finds them)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_float16", "mixed_bfloat16"])
    parser.add_argument("--out", help="write the results (a JSON list, one entry per seed) to this file")
    arguments = parser.parse_args()
    results = []
    for seed in arguments.seeds:
        print(f"seed {seed}:", flush=True)
        result = train_seed(seed, arguments.epochs, arguments.data, arguments.precision)
        results.append(result)
        reached = (f"reached {TARGET} at epoch {result['reached_at_epoch']} after {result['reached_after_seconds']:.1f} s"
                   if result["reached_at_epoch"] else f"did not reach {TARGET}")
        print(f"seed {seed}: test accuracy {result['test_accuracy']:.4f} after {result['epochs']} epochs, "
              f"{result['train_seconds']:.1f} s of training on {result['devices'] or 'the CPU'} ({result['backend']}, "
              f"{result['precision']}); {reached}", flush=True)
        print("RESULT " + json.dumps({key: value for key, value in result.items() if key != "epochs_table"}), flush=True)
        if arguments.out:
            pathlib.Path(arguments.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
