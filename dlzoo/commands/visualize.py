"""``dlzoo visualize``: pictures of what a trained image classifier looks at.

It loads a run, takes the first ``--samples`` images of its test split, calls
:func:`dlzoo.visualize.make_pictures` for each method and adds a section per method to the
run's report. The methods themselves (arrays first, pictures second) live in
:mod:`dlzoo.visualize`.
"""

import pathlib

from dlzoo.config import resolve
from dlzoo.runs import report
from dlzoo.plots import visualizations
from dlzoo.core.errors import UsageError


def check_method_name(method):
    """Refuse a ``--method`` that no run offers, before TensorFlow is imported (whether the run's
    model offers it is known only once the model is loaded)."""
    from dlzoo.core.registry import unknown_name_message

    known = [*visualizations.DESCRIPTIONS, "attention", "all"]  # attention: transformers' heads and translators
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
            visualizations.add_report_section(run.folder, name, paths, layer, class_index, note)
    if out is None:
        report.write_report(run.folder)
    return written


def check_class(class_index, num_classes):
    """``--class`` must name one of the model's classes."""
    if class_index is not None and not 0 <= class_index < num_classes:
        raise UsageError(f"class {class_index} is out of range: the model has {num_classes} classes (0-{num_classes - 1})")


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


