"""The model-randomization sanity check for saliency maps (Adebayo et al., 2018).

An explanation that describes the *model* must change when the model's weights are replaced by
random ones. If the saliency maps of a trained network and of the same architecture with fresh
random weights rank the pixels alike, the maps show the input (edges, say), not what the
network learned. The check compares the two with Spearman's rank correlation of ``|saliency|``.
"""

import keras
import numpy as np
from scipy import stats

from dlzoo.visualize import targets

# The package exports a function named like its module, so import the function itself.
from dlzoo.visualize.saliency import saliency


def randomized_copy(model):
    """The same architecture with freshly initialized weights (nested models included)."""
    copy = keras.models.clone_model(model)
    copy.build(model.inputs[0].shape)
    return copy


def saliency_magnitude(gradients):
    """Per-pixel saliency strength: max |gradient| over channels, (batch, height, width)."""
    return np.max(np.abs(gradients), axis=-1)


def randomization_rank_correlation(model, images, class_index=None):
    """Mean Spearman rank correlation between the saliency of ``model`` and of a randomized copy.

    Args:
        model: a trained Keras classifier.
        images: float32 array (batch, height, width, channels).
        class_index: int, one int per sample, or None for the trained model's prediction; the
            randomized copy is asked about the same classes.

    Returns:
        float in [-1, 1], averaged over the samples. Near 1 means the maps do not depend on the
        learned weights (the check fails); a value well below 1 passes.
    """
    images = targets.check_images(model, images)
    class_indices = targets.classes_to_explain(targets.logits_model(model), images, class_index)
    trained = saliency_magnitude(saliency(model, images, class_indices))
    randomized = saliency_magnitude(saliency(randomized_copy(model), images, class_indices))
    correlations = []
    for trained_map, random_map in zip(trained, randomized):
        correlation = stats.spearmanr(trained_map.ravel(), random_map.ravel()).statistic
        # A constant map has no ranking; count it as "no agreement".
        correlations.append(0.0 if np.isnan(correlation) else correlation)
    return float(np.mean(correlations))
