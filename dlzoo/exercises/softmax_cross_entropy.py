"""Exercise softmax-cross-entropy: the loss of a classifier and its gradient, in NumPy.

The student writes ``softmax_cross_entropy(logits, labels) -> (loss, gradient)``: the mean over
the batch of ``-log softmax(logits)[label]`` and its gradient with respect to the logits,
``(softmax(logits) - onehot(labels)) / batch``. The oracle is Keras's
``sparse_categorical_crossentropy(from_logits=True)`` and ``tf.GradientTape`` of it, on three
cases, ordinary logits first:

* ``ordinary logits``: any correct formula passes;
* ``large logits`` (about 1000): exp(1000) overflows to inf, so a softmax that does not first
  subtract each row's maximum gives inf / inf = NaN;
* ``a confident wrong answer``: the true class is 800 below the best one; its probability
  exp(-800) is 0 even in float64, so -log(softmax) is inf where log-sum-exp gives 800.
"""

import functools

import numpy as np

from dlzoo import exercises
from dlzoo.exercises import base


def _cases():
    """``[(case name, logits (batch, classes) float64, labels (batch,) int64)]``."""
    generator = np.random.default_rng(3)
    labels = np.array([0, 2, 1, 4, 3, 2])
    ordinary = generator.normal(0.0, 2.0, size=(6, 5))
    large = generator.normal(0.0, 3.0, size=(6, 5)) + 1000.0  # exp(1000) is inf even in float64
    confident = generator.normal(0.0, 1.0, size=(6, 5))
    confident[np.arange(6), labels] -= 800.0  # the true class far below the others
    return [("ordinary logits", ordinary, labels), ("large logits", large, labels),
            ("a confident wrong answer", confident, labels)]


def _place(case):
    return f"case '{case}'"


@functools.lru_cache(maxsize=1)
def _keras_record():
    """Keras's loss and tf.GradientTape's gradient for every case."""
    import keras
    import tensorflow as tf

    record = base.Record()
    for case, logits, labels in _cases():
        variable = tf.Variable(logits)
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, variable, from_logits=True))
        record.add("loss", loss, place=_place(case))
        record.add("gradient", tape.gradient(loss, variable), place=_place(case))
    return record


def _numpy_variant(probabilities_and_log_probability, gradient_scale=1.0, loss_scale=1.0, sign=1.0):
    """A mistaken implementation built from a (probabilities, log p[label]) function."""

    def produce(record):
        for case, logits, labels in _cases():
            record.place = _place(case)
            probabilities, log_probability = probabilities_and_log_probability(logits, labels)
            batch = len(labels)
            onehot = np.eye(logits.shape[1])[labels]
            record.add("loss", -loss_scale * np.mean(log_probability))
            record.add("gradient", sign * gradient_scale * (probabilities - onehot) / batch)

    return produce


def _stable(logits, labels):
    """Softmax and log p[label] as they should be computed (max subtracted, log-sum-exp)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_normalizer = np.log(np.exp(shifted).sum(axis=1))
    return np.exp(shifted - log_normalizer[:, None]), shifted[np.arange(len(labels)), labels] - log_normalizer


def _without_max(logits, labels):
    """exp(logits) / sum(exp(logits)): overflows on large logits."""
    exponentials = np.exp(logits)
    probabilities = exponentials / exponentials.sum(axis=1, keepdims=True)
    return probabilities, np.log(probabilities[np.arange(len(labels)), labels])


def _log_of_softmax(logits, labels):
    """The max subtracted, but log(p) taken after the softmax: log(0) for a confident wrong answer."""
    probabilities, _ = _stable(logits, labels)
    return probabilities, np.log(probabilities[np.arange(len(labels)), labels])


@exercises.register
class SoftmaxCrossEntropyExercise(base.FunctionExercise):
    """Mean cross-entropy of integer labels and its gradient with respect to the logits."""

    name = "softmax-cross-entropy"
    order = 1
    topic = "neuron"
    object_name = "softmax_cross_entropy"
    task = "def softmax_cross_entropy(logits, labels) -> (loss, gradient), NumPy, stable"
    kind = "a function softmax_cross_entropy(logits, labels) returning (loss, gradient)"
    tolerance = 1e-5

    def expected(self):
        return _keras_record()

    def outputs(self, candidate, record):
        """The student's (loss, gradient) for each case."""
        for case, logits, labels in _cases():
            record.place = _place(case)
            result = candidate(logits.copy(), labels.copy())
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise base.InterfaceProblem(
                    f"{_place(case)}: softmax_cross_entropy returned {type(result).__name__}, expected a pair "
                    "(loss, gradient)", "return loss, gradient")
            record.add("loss", result[0])
            record.add("gradient", result[1])

    def mistakes(self):
        """No max subtraction, log of the softmax, gradient not averaged, sign flipped, loss summed."""
        return [
            base.Mistake("no max subtraction (exp(logits) overflows to inf on large logits)",
                         "subtract each row's maximum from the logits before exp(): softmax does not change",
                         _numpy_variant(_without_max)),
            base.Mistake("log(softmax) (the true class's probability is 0 here, log(0) = -inf)",
                         "compute log p[label] = z[label] - max - log(sum(exp(z - max))) (log-sum-exp), "
                         "not log of the probability", _numpy_variant(_log_of_softmax)),
            base.Mistake("the gradient of the summed loss (not divided by the batch size)",
                         "the loss is a mean over the batch, so its gradient is (p - onehot) / batch",
                         _numpy_variant(_stable, gradient_scale=6.0)),
            base.Mistake("the gradient's sign flipped (onehot - p)", "d loss / d logits = p - onehot (then / batch)",
                         _numpy_variant(_stable, sign=-1.0)),
            base.Mistake("the loss summed over the batch", "return the mean over the batch, not the sum",
                         _numpy_variant(_stable, loss_scale=6.0)),
        ]

    def pattern_hint(self, difference, expected, got):
        """NaN on large logits, inf on confident answers, a constant ratio."""
        if difference.got is not None and not np.isfinite(difference.got):
            if "large" in difference.place:
                return "NaN or inf on large logits: subtract each row's maximum before exp()"
            if "confident" in difference.place:
                return ("inf for a confident wrong answer: take log p[label] from log-sum-exp, "
                        "z[label] - max - log(sum(exp(z - max))), not log(softmax)")
            return "NaN or inf: an exp() that overflows or a log(0)"
        if difference.expected and difference.got:
            ratio = difference.got / difference.expected
            if abs(ratio + 1) < 1e-3:
                return f"the sign of the {difference.variable} is flipped"
            if abs(ratio - round(ratio)) < 1e-3 and round(ratio) > 1:
                return f"your {difference.variable} is {round(ratio)} times too large: a sum where a mean belongs?"
            if abs(1 / ratio - round(1 / ratio)) < 1e-3 and round(1 / ratio) > 1:
                return f"your {difference.variable} is {round(1 / ratio)} times too small: divided twice?"
        return "loss = mean(-log softmax(z)[label]); gradient = (softmax(z) - onehot(label)) / batch"

    def skeleton(self):
        return SKELETON


SKELETON = '''"""Exercise softmax-cross-entropy: the classifier's loss and its gradient, in NumPy.

Check it with:

    dlzoo exercise check softmax-cross-entropy THIS_FILE.py

The checker compares it with Keras's sparse_categorical_crossentropy(from_logits=True) and
tf.GradientTape's gradient, on ordinary logits, on large logits (about 1000) and on a
confident wrong answer (the true class 800 below the best): the last two need a numerically
stable formula.
"""

import numpy as np


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels, and its gradient with respect to the logits.

    For one example with logits z (one per class) and label y:

        softmax(z)[k] = exp(z[k]) / sum_j exp(z[j])
        loss          = -log softmax(z)[y]
        d loss / d z  = softmax(z) - onehot(y)

    Over a batch the loss is the mean of the examples' losses, so the gradient of each row is
    divided by the batch size.

    Args:
        logits: (batch, classes) float array.
        labels: (batch,) integer class ids.

    Returns:
        (loss, gradient): the mean loss (a float) and d loss / d logits, (batch, classes).
    """
    # TODO: compute the softmax and log softmax(z)[y] without overflow (exp of a large logit
    # is inf) and without log(0) (a probability can be exactly 0 in floating point).
    # TODO: the loss (mean over the batch) and its gradient.
    raise NotImplementedError("softmax_cross_entropy")
'''
