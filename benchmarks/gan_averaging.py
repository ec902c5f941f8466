"""The dcgan recipe's samples from the last step's weights vs from the weights' moving average.

    PYTHONPATH=. python benchmarks/gan_averaging.py                  # recipe budget, seeds 0 1 2
    PYTHONPATH=. python benchmarks/gan_averaging.py --seeds 2 --every 5
    PYTHONPATH=. python benchmarks/gan_averaging.py --quick          # smoke test of this script

The recipe's generator optimizer keeps an exponential moving average of the generator's weights
(Keras ``use_ema = true``, ``ema_momentum = 0.999``: about the last 1,000 steps; Yazıcı et al.
2019). This script trains the recipe (the task's own networks, optimizers and data pipeline)
and, every ``--every`` epochs, scores the same 1,000 noise vectors the run scores (the task's
scoring classifier, :mod:`dlzoo.metrics.samples`) twice: with the last step's weights and with
the average (swapped in, scored, swapped out). Printed per seed and epoch: the smallest class
share (the recipe's target: >= 0.05) and the Fréchet position (0 real digits, 1 noise).

Measured 2026-11-29 on 2 CPU cores (recipe budget, 150 epochs; seeds 0 and 2 in one process, seed
1 in another beside it: 221 / 108 / 214 s), smallest class share, last step / average:

| seed | epoch 80 | epoch 150 | epochs 120-150 (4 scores) | Fréchet position at 150 |
|---|---|---|---|---|
| 0 | 0.074 / 0.041 | 0.061 / 0.074 | 0.061-0.067 / 0.074-0.076 | 0.0057 / 0.0028 |
| 1 | 0.070 / 0.060 | 0.060 / 0.078 | 0.060-0.079 / 0.072-0.078 | 0.0061 / 0.0037 |
| 2 | 0.041 / 0.050 | 0.066 / 0.084 | 0.066-0.075 / 0.079-0.084 | 0.0057 / 0.0034 |

The epoch-150 averages are what ``dlzoo train dcgan --seed N`` reports (same noise, same scorer).
The last step's weights keep wandering (a class at 4% one epoch, at 8% ten epochs later: the
progress picture shows the same noise turning from a 5 into a 0 and back); the average lags
while it still remembers the early, blurry weights (worse at epoch 80), then stays above the
last step from epoch ~110 on, with about half its Fréchet position. Also tried: re-estimating
the batch-normalization statistics for the averaged weights (200 training-mode passes, as SWA
does): 0.074-0.085 at epoch 150, no steady gain, left out.
"""

import argparse
import json
import time

import numpy as np


def scores_of(scorer, generator, noise, splits):
    """``(smallest class share, Fréchet position)`` of the generator's samples of ``noise``."""
    from dlzoo.metrics import samples
    from dlzoo.tasks.generate import generate

    scores = samples.score_samples(scorer, generate(generator, noise), splits)
    return float(scores["min_class_fraction"]), float(scores["frechet_position"])


def averaged_scores(gan, scorer, noise, splits):
    """The scores of the averaged weights; the last step's weights are put back afterwards."""
    last = [weight.numpy() for weight in gan.generator.trainable_weights]
    gan.use_averaged_generator()
    scores = scores_of(scorer, gan.generator, noise, splits)
    for weight, value in zip(gan.generator.trainable_weights, last):
        weight.assign(value)
    return scores


def measure(seed, epochs, every, quick, overrides=()):
    """Train the dcgan recipe once; ``[(epoch, last min share, average min share, last Fréchet
    position, average Fréchet position), ...]`` every ``every`` epochs."""
    import keras

    from dlzoo import tasks
    from dlzoo.config import resolve
    from dlzoo.metrics import samples
    from dlzoo.training import state
    from dlzoo.data.pipeline import make_dataset
    from dlzoo.tasks.generate import fixed_inputs, latent_size

    keras.backend.clear_session()
    resolved = resolve.load_config("dcgan", [f"train.seed={seed}", f"data.seed={seed}", *overrides])
    epochs = epochs or (resolved["train"]["quick_epochs"] if quick else resolved["train"]["epochs"])
    prepared = tasks.create("generate").prepare(resolved, quick=quick)
    gan, splits = prepared.gan, prepared.splits
    if not gan.generator_is_averaged():
        raise SystemExit("the generator optimizer keeps no average (generate.generator_optimizer.use_ema is off)")
    scorer = samples.train_scorer(splits, seed=seed, epochs=2 if quick else resolved["generate"]["scorer_epochs"])
    x_train, y_train = splits.arrays("train")
    data = make_dataset(x_train, y_train.astype("int32"), resolved["data"]["batch_size"], training=True, seed=seed)
    # The noise the run itself scores (GenerateTask.run): 1,000 vectors of seed 1.
    noise, _ = fixed_inputs(latent_size(gan.generator), 200 if quick else resolved["generate"]["samples"],
                            splits.num_classes, False, seed=1)
    rows = []

    class Score(keras.callbacks.Callback):
        """Score both weights every ``every`` epochs and after the last."""

        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every == 0 or epoch + 1 == epochs:
                last, average = scores_of(scorer, gan.generator, noise, splits), averaged_scores(gan, scorer, noise,
                                                                                                 splits)
                rows.append((epoch + 1, last[0], average[0], last[1], average[1]))
                print(json.dumps({"seed": seed, "epoch": epoch + 1, "last": last, "average": average}), flush=True)

    state.build_optimizers(gan)
    gan.fit(data, epochs=epochs, verbose=0, callbacks=[Score()])
    return rows


def main(argv=None):
    """Measure every seed, print one Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's budget (train.epochs)")
    parser.add_argument("--every", type=int, default=10, help="score every this many epochs")
    parser.add_argument("--quick", action="store_true", help="smoke test of this script")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    arguments = parser.parse_args(argv)
    lines = ["| seed | epoch | min class share, last step | min class share, average | Fréchet position, last step "
             "| Fréchet position, average |", "|---|---|---|---|---|---|"]
    for seed in arguments.seeds:
        start = time.perf_counter()
        for epoch, last_share, average_share, last_position, average_position in measure(
                seed, arguments.epochs, arguments.every, arguments.quick, arguments.overrides):
            lines.append(f"| {seed} | {epoch} | {last_share:.3f} | {average_share:.3f} | {last_position:.4f} "
                         f"| {average_position:.4f} |")
        print(f"seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
