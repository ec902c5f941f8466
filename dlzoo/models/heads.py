"""The classifier head every dlzoo classifier ends with, and how to read a class score from it.

Convention (relied on by the tasks, the exporter and ``dlzoo visualize``):

* a ``Dense`` layer named ``"logits"`` without activation, then
* an ``Activation`` layer named ``"probabilities"``: sigmoid for two classes (one output unit,
  the probability of class 1), softmax otherwise (one unit per class).

Keeping the logits as their own layer lets saliency and Grad-CAM differentiate the
pre-activation score, which does not saturate the way a probability does.
"""

from keras import layers, ops

from dlzoo.core import validation

LOGITS_LAYER = "logits"
PROBABILITIES_LAYER = "probabilities"


def output_units(num_classes):
    """Number of output units for ``num_classes`` classes (1 for a binary sigmoid head)."""
    num_classes = validation.check_integer("num_classes", num_classes, minimum=2)
    return 1 if num_classes == 2 else num_classes


def classifier_head(features, num_classes, kernel_initializer="glorot_uniform", kernel_regularizer=None):
    """Append the ``logits`` Dense and the ``probabilities`` activation to ``features``.

    Args:
        features: a Keras tensor of shape (batch, features).
        num_classes: number of classes; 2 gives one sigmoid unit, more give a softmax.
        kernel_initializer: initializer of the logits layer.
        kernel_regularizer: optional regularizer of the logits layer.

    Returns:
        The probabilities tensor, (batch, 1) for two classes, (batch, num_classes) otherwise.
    """
    logits = layers.Dense(
        output_units(num_classes),
        name=LOGITS_LAYER,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer,
    )(features)
    activation = "sigmoid" if num_classes == 2 else "softmax"
    # float32 even under mixed precision: a float16 softmax rounds small probabilities to 0
    # (log(0) in the loss) and the exported probabilities stay float32 for every client.
    return layers.Activation(activation, name=PROBABILITIES_LAYER, dtype="float32")(logits)


def class_score(logits, class_index):
    """The score of class ``class_index`` from a batch of logits, shape (batch,).

    For a binary head (one unit) class 1 scores ``logit`` and class 0 scores ``-logit``, so
    that "the evidence for class k" has the same meaning for every head.
    """
    if logits.shape[-1] == 1:
        logit = logits[:, 0]
        return logit if int(class_index) == 1 else -logit
    return logits[:, int(class_index)]


def predicted_classes(probabilities):
    """Class ids predicted from a batch of head outputs, shape (batch,)."""
    if probabilities.shape[-1] == 1:
        return ops.cast(probabilities[:, 0] > 0.5, "int32")
    return ops.argmax(probabilities, axis=-1)
