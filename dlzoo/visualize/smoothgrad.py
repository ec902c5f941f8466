"""SmoothGrad: saliency averaged over noisy copies of the input (Smilkov et al., 2017).

Gradients of ReLU networks change sharply from pixel to pixel; averaging the gradient over
``samples`` copies of the image with Gaussian noise added removes most of that speckle.
The noise's standard deviation is ``noise_level`` times the image's value range.
"""

import numpy as np

from dlzoo.core import validation
from dlzoo.visualize import targets


def smoothgrad(model, images, class_index=None, samples=25, noise_level=0.15, seed=0):
    """Average input gradient of the class score over noisy copies of each image.

    Args:
        model: a Keras classifier.
        images: float32 array (batch, height, width, channels).
        class_index: int, one int per sample, or None for the predicted class (of the clean image).
        samples: number of noisy copies per image (>= 1).
        noise_level: noise standard deviation as a fraction of each image's (max - min).
        seed: seed of the noise, for repeatable maps.

    Returns:
        float32 array with the shape of ``images`` (signed mean gradient).
    """
    samples = validation.check_integer("samples", samples, minimum=1)
    noise_level = validation.check_number("noise_level", noise_level, minimum=0.0)
    images = targets.check_images(model, images)
    score_model = targets.logits_model(model)
    class_indices = targets.classes_to_explain(score_model, images, class_index)
    # (batch, 1, 1, 1): one noise scale per image, from its own value range.
    value_range = images.max(axis=(1, 2, 3), keepdims=True) - images.min(axis=(1, 2, 3), keepdims=True)
    noise_std = noise_level * value_range
    gradients = targets.gradient_function(score_model, class_indices)
    generator = np.random.default_rng(seed)
    total = np.zeros_like(images)
    for _ in range(samples):
        noisy = images + generator.standard_normal(images.shape).astype("float32") * noise_std
        total += gradients(noisy)
    return total / samples
