"""Vanilla saliency: how much each input pixel changes the class score (Simonyan et al., 2014).

The map is the gradient of the class logit with respect to the input image. It is returned
signed, with the image's shape; pictures show ``max |gradient|`` over the channels.
"""

from dlzoo.visualize import targets


def saliency(model, images, class_index=None):
    """Gradient of the class score with respect to the input.

    Args:
        model: a Keras classifier (a ``logits`` layer is used when present).
        images: float32 array (batch, height, width, channels).
        class_index: int, one int per sample, or None for the predicted class.

    Returns:
        float32 array with the shape of ``images``: d score / d pixel, signed.
    """
    images = targets.check_images(model, images)
    score_model = targets.logits_model(model)
    class_indices = targets.classes_to_explain(score_model, images, class_index)
    return targets.input_gradients(score_model, images, class_indices)
