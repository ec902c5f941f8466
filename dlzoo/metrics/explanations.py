"""``dlzoo visualize RUN --score``: attribution maps scored against the objects' true masks.

Only datasets that store an object mask per image can be scored: :data:`MASKED_DATASETS`
(``shapes``). For each method every test image gets a non-negative map (the explained class is
the *true* class: we ask "does the map find the object of this class?"), and two scores:

* **pointing game** (Zhang et al. 2016, "Top-down neural attention by excitation backprop"):
  1 if the map's maximum lies inside the object's mask, else 0; averaged over images;
* **energy inside the mask**: the map's total inside the mask divided by its total (the
  "energy-based pointing game" of Score-CAM, Wang et al. 2020).

A **random map** (independent uniform noise per pixel) is scored the same way. Its maximum is a
uniformly random pixel and its energy spreads evenly, so both of its scores have the same
expected value: the mean fraction of the image the object covers. A method is only useful
where it beats that number.

Maps, before scoring: ``saliency`` and ``smoothgrad``: max |gradient| over the colour channels;
``integrated-gradients``: |sum of the attributions over channels|; ``cam``, ``gradcam``,
``gradcam++``: the class-activation maps at input resolution (positive part).
"""

import numpy as np

from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.core.errors import UsageError

MASKED_DATASETS = ("shapes",)
SCORED_METHODS = ("saliency", "smoothgrad", "integrated-gradients", "cam", "gradcam", "gradcam++")
SCORED_IMAGES = 200  # test images scored (the pictures still show --samples of them)


def check_dataset(config):
    """Refuse a run whose dataset has no masks (before TensorFlow loads)."""
    spec = config["data"]["dataset"]
    if spec.partition(":")[0] not in MASKED_DATASETS:
        raise UsageError(f"--score needs object masks; dataset {spec!r} has none (datasets with masks: "
                         f"{', '.join(MASKED_DATASETS)}, e.g. the recipe shapes-cnn)")


def pointing_game(maps, masks):
    """Per image: 1.0 if the map's maximum is inside the mask (ties: the first maximum), else 0.0."""
    maps = np.asarray(maps).reshape(len(maps), -1)
    masks = np.asarray(masks).reshape(len(masks), -1)
    peaks = np.argmax(maps, axis=1)
    hits = masks[np.arange(len(masks)), peaks].astype("float64")
    hits[maps.max(axis=1) <= 0] = 0.0  # an empty map points nowhere
    return hits


def energy_inside(maps, masks):
    """Per image: the share of the (non-negative) map's total that lies inside the mask (0 for an empty map)."""
    maps = np.clip(np.asarray(maps, dtype="float64"), 0, None).reshape(len(maps), -1)
    masks = np.asarray(masks, dtype=bool).reshape(len(masks), -1)
    totals = maps.sum(axis=1)
    inside = (maps * masks).sum(axis=1)
    return np.divide(inside, totals, out=np.zeros_like(totals), where=totals > 0)


def random_maps(shape, seed=0):
    """Uniform random maps: the baseline every method must beat."""
    return np.random.default_rng(seed).uniform(size=shape)


def expected_random_score(masks):
    """Expected pointing-game and energy score of a uniform random map: the mean mask area fraction."""
    masks = np.asarray(masks, dtype=bool)
    return float(masks.reshape(len(masks), -1).mean(axis=1).mean())


def method_maps(model, method, images, classes):
    """Non-negative (batch, height, width) maps of ``method`` explaining ``classes``."""
    from dlzoo import visualize

    if method == "saliency":
        return np.abs(np.asarray(visualize.saliency(model, images, classes))).max(axis=-1)
    if method == "smoothgrad":
        return np.abs(np.asarray(visualize.smoothgrad(model, images, classes))).max(axis=-1)
    if method == "integrated-gradients":
        return np.abs(np.asarray(visualize.integrated_gradients(model, images, classes)).sum(axis=-1))
    if method == "cam":
        return np.asarray(visualize.cam(model, images, classes))
    if method == "gradcam":
        return np.asarray(visualize.gradcam(model, images, classes))
    if method == "gradcam++":
        return np.asarray(visualize.gradcam_plus_plus(model, images, classes))
    raise UsageError(f"--score scores {', '.join(SCORED_METHODS)}; not {method!r}")


def score_methods(model, methods, images, labels, masks, batch_size=50):
    """``[{"method", "pointing_game", "energy_inside"}]`` for each method and the random map."""
    rows = []
    for method in methods:
        maps = np.concatenate([method_maps(model, method, images[start:start + batch_size],
                                           labels[start:start + batch_size])
                               for start in range(0, len(images), batch_size)])
        rows.append({"method": method, "pointing_game": float(pointing_game(maps, masks).mean()),
                     "energy_inside": float(energy_inside(maps, masks).mean())})
    noise = random_maps(masks.shape)
    rows.append({"method": "random map", "pointing_game": float(pointing_game(noise, masks).mean()),
                 "energy_inside": float(energy_inside(noise, masks).mean())})
    return rows


def score_run(run, method, out=None, echo=print):
    """Score ``method`` (or every applicable scored method for ``"all"``) on a loaded run's test split."""
    from dlzoo.data import shapes

    check_dataset(run.config)
    applicable = [name for name in run.task.visualize_methods(run.model) if name in SCORED_METHODS]
    methods = applicable if method == "all" else [method]
    for name in methods:
        if name not in applicable:
            raise UsageError(f"--score: method {name!r} does not apply to this model or cannot be scored "
                             f"(scored here: {', '.join(applicable)})")
    data_config = run.config["data"]
    masks, images, labels = shapes.test_masks(data_config["seed"], data_config)
    masks, images, labels = masks[:SCORED_IMAGES], images[:SCORED_IMAGES], labels[:SCORED_IMAGES]
    splits = run.load_data()
    if not np.allclose(splits.arrays("test", limit=len(images))[0], images):
        raise UsageError("the run's test images differ from the generated masks' images; cannot score")
    rows = score_methods(run.model, methods, images, labels, masks)
    expected = expected_random_score(masks)
    result = {"images": len(images), "expected_random": expected, "methods": rows}
    folder = pathlib_of(out, run.folder)
    path = next_json_path(folder)
    folders.atomic_write_json(path, result)
    table = report.markdown_table(["method", "pointing game", "energy inside the mask"],
                                  [[row["method"], row["pointing_game"], row["energy_inside"]] for row in rows])
    text = ("## Explanations scored against the true masks\n\n"
            f"{len(images)} test images, each explained for its true class. Pointing game: is the map's maximum on "
            "the object (Zhang et al. 2016)? Energy: the share of the map inside the object's mask. A random map "
            f"scores the object's mean area fraction on both, **{expected:.3f}** expected here.\n\n{table}\n")
    if out is None:
        report.write_section(run.folder, "55-explanation-scores", text)
        report.write_report(run.folder)
    echo(report.format_table([[row["method"], f"{row['pointing_game']:.3f}", f"{row['energy_inside']:.3f}"]
                              for row in rows], ["method", "pointing game", "energy inside mask"]))
    echo(f"(a random map's expected score: {expected:.3f}, the mean object area)")
    return path


def pathlib_of(out, run_folder):
    """The folder the scores go to: ``--out`` or the run folder."""
    import pathlib

    return pathlib.Path(out) if out else pathlib.Path(run_folder)


def next_json_path(folder):
    """``explanation_scores.json``, or ``-2``, ``-3``... (never overwritten)."""
    from dlzoo.plots import figures

    return figures.new_file_paths(folder / "explanation_scores.json")[0]
