"""``dlzoo visualize``: pictures of what a trained image classifier looks at.

It loads a run, takes the first ``--samples`` images of its test split, calls
:func:`dlzoo.visualize.make_pictures` for each method and adds a section per method to the
run's report. The methods themselves (arrays first, pictures second) live in
:mod:`dlzoo.visualize`.
"""

import pathlib

from dlzoo.config import resolve
from dlzoo.runs import report
from dlzoo.core.errors import UsageError

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


def check_method_name(method):
    """Refuse a ``--method`` that no run offers, before TensorFlow is imported (whether the run's
    model offers it is known only once the model is loaded)."""
    from dlzoo.core.registry import unknown_name_message

    known = [*DESCRIPTIONS, "attention", "all"]  # attention: transformers' heads and translators
    if method not in known:
        raise UsageError(unknown_name_message("visualization method", method, known))


def visualize_run(argument, method="saliency", layer=None, class_index=None, samples=8, out=None, root=None):
    """Draw ``method`` (or ``"all"`` applicable methods) for a run; returns the written paths."""
    from dlzoo import visualize
    from dlzoo.runs.load import load_run
    from dlzoo.core.registry import unknown_name_message

    run = load_run(argument, root)
    if run.task.can("own-pictures"):  # a task that draws its own pictures (translators: attention)
        methods = run.task.visualize_methods(run.model)
        if method not in (*methods, "all") or not methods:
            raise UsageError(f"dlzoo visualize --method {method}: this run (task '{run.task.name}') offers "
                             f"{', '.join(methods) or 'no method'}")
        return run.task.visualize(run, methods[0] if method == "all" else method, samples, out)
    if method == "attention":  # transformers: per-head attention maps (dlzoo.visualize.attention_maps)
        return visualize_attention(run, samples, out)
    if method != "all" and method not in visualize.METHOD_NAMES:
        raise UsageError(unknown_name_message("visualization method", method, visualize.METHOD_NAMES))
    applicable = run.task.visualize_methods(run.model)
    if not applicable:
        raise UsageError(f"dlzoo visualize has no method for this run (task '{run.task.name}', model inputs "
                         f"{tuple(run.model.input_shape[1:])}): it explains image classifiers")
    splits = run.load_data()
    check_class(class_index, splits.num_classes)
    images, labels = splits.arrays("test", limit=samples)
    methods = applicable if method == "all" else [method]
    out_folder = pathlib.Path(out) if out else run.folder / "plots"
    written = []
    for name in methods:
        try:
            paths = visualize.make_pictures(run.model, name, images, labels, out_folder, class_index=class_index,
                                            layer=layer, class_names=splits.class_names)
        except ValueError as error:  # NotApplicableError, a bad layer or class: the user's input
            raise UsageError(resolve.error_message(error)) from error
        written += paths
        if out is None:
            note = visualize.baseline_description(run.model, images) if name == "integrated-gradients" else ""
            add_report_section(run.folder, name, paths, layer, class_index, note)
    if out is None:
        report.write_report(run.folder)
    return written


def check_class(class_index, num_classes):
    """``--class`` must name one of the model's classes."""
    if class_index is not None and not 0 <= class_index < num_classes:
        raise UsageError(f"class {class_index} is out of range: the model has {num_classes} classes (0-{num_classes - 1})")


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


def visualize_attention(run, samples, out):
    """Per-head attention maps of the first test examples of a transformer run; returns the written paths."""
    from dlzoo.visualize import attention_maps

    if not attention_maps.transformer_blocks(run.model):
        raise UsageError(f"--method attention needs a transformer: the model of {run.folder.name} "
                         f"(task '{run.task.name}') has no attention blocks")
    bundle = run.load_data()
    inputs, labels = run.task.attention_inputs(run.model, bundle, samples)  # the first test inputs by default
    maps = attention_maps.attention_weights(run.model, inputs)
    out_folder = pathlib.Path(out) if out else run.folder / "plots"
    written = []
    for example in range(min(samples, len(inputs), 4)):
        (path,) = plots_new_paths(out_folder / f"attention-{example + 1}.png")
        written.append(attention_maps.draw_attention(
            maps, example, path, f"{run.config['name']}: attention weights, test example {example + 1}",
            labels[example] if labels is not None else None))
    if out is None:
        pictures = "\n".join(f"![attention](plots/{path.name})" for path in written)
        report.write_section(run.folder, "50-visualize-20-attention", (
            "## Visualization: attention\n\nAttention weights of every head of every block (rows: query "
            "positions, columns: the positions they attend to; each row sums to 1).\n\n" + pictures + "\n"))
        report.write_report(run.folder)
    return written


def plots_new_paths(*paths):
    """New file names (``attention-1-2.png`` when ``attention-1.png`` exists)."""
    from dlzoo.plots import figures

    return figures.new_file_paths(*paths)


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
