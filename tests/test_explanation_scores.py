"""The shapes dataset (with masks) and explanation maps scored against them."""

import json

import numpy as np

from dlzoo import data
from dlzoo.metrics import explanations
from dlzoo.data import shapes

from helpers import shared_run


def test_shapes_have_one_object_each_and_balanced_classes():
    images, labels, masks = shapes.generate(200, seed=3)
    assert images.shape == (200, 32, 32, 3) and images.min() >= 0 and images.max() <= 255
    assert np.bincount(labels).tolist() == [40] * 5
    areas = masks.reshape(200, -1).mean(axis=1)
    assert areas.min() > 0.03 and areas.max() < 0.5  # every object visible, none fills the image
    # The object is painted in one colour (plus a little noise): inside differs from the background.
    inside = np.array([images[i][masks[i]].mean() for i in range(200)])
    outside = np.array([images[i][~masks[i]].mean() for i in range(200)])
    assert (inside > outside).mean() > 0.95


def test_loader_test_split_matches_the_masks():
    splits = data.load("shapes", seed=1, options={"num_samples": 200})
    masks, images, labels = shapes.test_masks(1, {"num_samples": 200})
    assert np.array_equal(splits.arrays("test")[0], images) and np.array_equal(splits.arrays("test")[1], labels)
    assert len(masks) == 50 and splits.class_names == shapes.CLASS_NAMES


def test_perfect_and_inverted_maps_score_one_and_zero():
    _, _, masks = shapes.generate(50, seed=0)
    assert explanations.pointing_game(masks.astype(float), masks).mean() == 1.0
    assert np.allclose(explanations.energy_inside(masks.astype(float), masks), 1.0)
    assert explanations.pointing_game((~masks).astype(float), masks).mean() == 0.0
    assert explanations.energy_inside(np.zeros(masks.shape), masks).sum() == 0.0


def test_random_map_scores_its_expected_value():
    _, _, masks = shapes.generate(2000, seed=5)
    expected = explanations.expected_random_score(masks)  # the mean object area
    noise = explanations.random_maps(masks.shape, seed=1)
    hits = explanations.pointing_game(noise, masks)
    standard_error = np.sqrt(expected * (1 - expected) / len(masks))
    assert abs(hits.mean() - expected) < 4 * standard_error  # ~0.03 around ~0.12
    assert abs(explanations.energy_inside(noise, masks).mean() - expected) < 0.01


def test_score_needs_a_dataset_with_masks(cli_run, tmp_path, tmp_path_factory):
    folder = shared_run(tmp_path_factory, "softmax-regression", "--quick").copy_into(tmp_path / "runs")
    result = cli_run("visualize", folder, "--score")
    assert result.exit_code == 2 and "datasets with masks: shapes" in result.stderr, result.stderr


def test_visualize_score_on_shapes(cli_run, tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setattr(explanations, "SCORED_IMAGES", 30)
    folder = shared_run(tmp_path_factory, "shapes-cnn", "--quick").copy_into(tmp_path / "runs")
    result = cli_run("visualize", folder, "--method", "all", "--score", "--samples", "4")
    assert result.exit_code == 0, result.output + result.stderr
    scores = json.loads((folder / "explanation_scores.json").read_text())
    methods = [row["method"] for row in scores["methods"]]
    assert methods == ["saliency", "smoothgrad", "integrated-gradients", "cam", "gradcam", "gradcam++", "random map"]
    for row in scores["methods"]:
        assert 0.0 <= row["pointing_game"] <= 1.0 and 0.0 <= row["energy_inside"] <= 1.0
    assert "scored against the true masks" in (folder / "report.md").read_text()
