"""The report sections of visualization methods: what each method's pictures show, in a fixed order.

Written by ``dlzoo visualize`` (:mod:`dlzoo.commands.visualize`) and, for the few test images
``train.explain_samples`` asks for, by a new image classifier's run (:func:`explain_in_report`).
"""

import pathlib

from dlzoo.runs import report


DESCRIPTIONS = {
    "saliency": "Vanilla gradient saliency: |d class score / d pixel| (Simonyan et al. 2014).",
    "smoothgrad": "SmoothGrad: saliency averaged over noisy copies of the input (Smilkov et al. 2017).",
    "integrated-gradients": "Integrated gradients: gradients averaged on the straight path from a baseline to the input, "
                            "times (input - baseline); they sum to f(x) - f(baseline), red pixels raise the class "
                            "score, blue ones lower it (Sundararajan et al. 2017).",
    "cam": "Class activation map: last conv features weighted by the GAP head's class weights (Zhou et al. 2016).",
    "gradcam": "Grad-CAM: conv features weighted by their pooled gradients (Selvaraju et al. 2017).",
    "gradcam++": "Grad-CAM++: Grad-CAM with higher-order pixel weights (Chattopadhay et al. 2018).",
    "activation-max": "Activation maximization: inputs optimized by gradient ascent to excite a class or filter.",
    "filters": "Convolution kernels, one tile per filter.",
    "feature-maps": "Activations of a convolutional layer for one input.",
}


# Methods that explain one class per sample (the predicted one unless --class says otherwise).
EXPLAINS_A_CLASS = ("saliency", "smoothgrad", "integrated-gradients", "cam", "gradcam", "gradcam++")


def section_key(method):
    """The report section key of a method: sections sort in :data:`dlzoo.visualize.METHOD_NAMES` order.

    ``"gradcam++"`` -> ``"50-visualize-06-gradcamplusplus"``: the position in the method list
    keeps the report's order fixed, whatever order the methods were run in.
    """
    from dlzoo.visualize import METHOD_NAMES

    return f"50-visualize-{METHOD_NAMES.index(method) + 1:02d}-{method.replace('+', 'plus')}"


def section_details(method, layer, class_index):
    """What a method's pictures show: its layer and its class, only where the method has them."""
    if method in EXPLAINS_A_CLASS:
        details = []
        if method in ("gradcam", "gradcam++"):
            details.append(f"layer `{layer}`" if layer else "the last convolutional block")
        details.append(f"map of class {class_index}" if class_index is not None else "map of the predicted class")
    elif method == "activation-max":
        if layer:
            details = [f"channels of layer `{layer}`"]
        else:
            details = [f"class {class_index}" if class_index is not None else "the scores of the first classes"]
    elif method == "filters":
        details = [f"layer `{layer}`" if layer else "the first convolutional layer"]
    else:  # feature-maps
        details = [f"layer `{layer}`" if layer else "the first convolutional layer", "the first test image"]
    return ", ".join(details)


def add_report_section(folder, method, paths, layer, class_index, note=""):
    """The report section of one method, showing its latest pictures (``note``: one more sentence).

    The section file is rewritten at each ``dlzoo visualize``; the pictures of earlier calls
    stay in ``plots/`` and the report lists them under "More pictures".
    """
    folder = pathlib.Path(folder)
    # Sections written before the keys carried the method's position sort alphabetically.
    legacy = folder / "sections" / f"50-visualize-{method.replace('+', 'plus')}.md"
    if legacy.exists():
        legacy.unlink()
    pictures = "\n".join(f"![{method}](plots/{path.name})" for path in paths)
    text = f"## Visualization: {method}\n\n{DESCRIPTIONS.get(method, '')} Here: {section_details(method, layer, class_index)}."
    if note:
        text += f" {note}"
    report.write_section(folder, section_key(method), f"{text}\n\n{pictures}\n")


# What ``train.explain_samples`` draws into a new run's report: one map of where the model looks
# (Grad-CAM) and one of which pixels raise or lower the class score (integrated gradients).
REPORT_METHODS = ("gradcam", "integrated-gradients")


def explain_in_report(model, splits, folder, samples):
    """Grad-CAM and integrated-gradients pictures of the first ``samples`` test images of a new run,
    each with its report section; a method the model does not offer is left out. Returns the paths.

    Only a few images are explained, so the time stays a few seconds whatever the dataset's size.
    """
    from dlzoo import visualize

    folder = pathlib.Path(folder)
    images, labels = splits.arrays("test", limit=samples)
    written = []
    for method in REPORT_METHODS:
        try:
            visualize.check_applicable(model, method)
        except visualize.NotApplicableError:
            continue  # e.g. Grad-CAM of a model without convolutions
        paths = visualize.make_pictures(model, method, images, labels, folder / "plots",
                                        class_names=splits.class_names)
        note = visualize.baseline_description(model, images) + " " if method == "integrated-gradients" else ""
        add_report_section(folder, method, paths, None, None, note + shown_images_note(labels, splits.class_names))
        written += paths
    return written


def shown_images_note(labels, class_names):
    """One sentence naming the true class of each explained test image, in picture order."""
    names = [str(class_names[int(label)]) if class_names else str(int(label)) for label in labels]
    return f"Rows: the first {len(names)} test images, true classes {', '.join(names)}."
