"""Pictures of a run, checked on their matplotlib objects (tick labels, lines, markers, colorbars,
where titles sit), never on pixels; and the pure functions that compute what they show."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlzoo.plots import figures as plots  # noqa: E402
from dlzoo.plots import curves
from dlzoo.visualize import attention_maps  # noqa: E402  (numpy and matplotlib only: no TensorFlow)


def drawn(figure):
    """``figure`` laid out and drawn off-screen; returns its renderer (for text positions)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def tick_texts(labels):
    """The non-empty texts of a list of matplotlib tick labels."""
    return [label.get_text() for label in labels if label.get_text()]


def titles_under_the_suptitle(figure):
    """Titles of panels that the figure's suptitle overlaps (none in a readable figure)."""
    renderer = drawn(figure)
    top = figure._suptitle.get_window_extent(renderer)  # matplotlib has no public getter of the Text
    return [axis.get_title() for axis in figure.axes
            if axis.get_title() and axis.title.get_window_extent(renderer).overlaps(top)]


@pytest.fixture
def captured_figures(monkeypatch):
    """The figures handed to ``plots.save_figure`` (kept open, not written)."""
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, path, **options: figures.append(figure) or path)
    return figures


# 1. Learning curves ----------------------------------------------------------------------------


SHORT_RUN = {"loss": [0.7, 0.5, 0.42, 0.35], "val_loss": [0.72, 0.6, 0.52, 0.47],
             "accuracy": [0.5, 0.62, 0.7, 0.78], "val_accuracy": [0.48, 0.6, 0.66, 0.7]}


def test_epoch_ticks_are_whole_epochs_within_the_run():
    for epochs in (1, 2, 4, 7, 13, 60, 250):
        ticks = curves.epoch_ticks(epochs)
        assert ticks[0] == 1 and all(isinstance(tick, int) and 1 <= tick <= epochs for tick in ticks)
        assert 1 <= len(ticks) <= 10 and ticks == sorted(set(ticks))
    assert curves.epoch_ticks(4) == [1, 2, 3, 4]


@pytest.mark.parametrize("epochs", [1, 4])
def test_learning_curves_label_whole_epochs_only(epochs):
    history = {key: values[:epochs] for key, values in SHORT_RUN.items()}
    figure = curves.learning_curves_figure({"run": history}, "run")
    drawn(figure)
    for axis in figure.axes:
        labels = tick_texts(axis.get_xticklabels())
        assert labels and all(label.isdigit() for label in labels), labels  # no 1.25, no 0.96
        assert 1 <= min(map(int, labels)) and max(map(int, labels)) <= epochs


@pytest.mark.parametrize("low, high", [(0.3, 0.7), (0.51, 0.53), (0.05, 2.3), (1e-4, 30.0), (2.0, 2.0)])
def test_log_ticks_cover_the_range_with_several_readable_values(low, high):
    ticks = curves.log_ticks(low, high)
    assert all(low <= tick <= high for tick in ticks) and ticks == sorted(set(ticks))
    assert len(ticks) >= (1 if low == high else 3)
    assert all(len(f"{tick:g}") <= 7 for tick in ticks)  # short labels, not 0.5123456


def test_log_ticks_refuse_a_range_a_log_axis_cannot_show():
    with pytest.raises(ValueError, match="low"):
        curves.log_ticks(0.0, 1.0)


def test_a_log_loss_axis_narrower_than_a_decade_has_several_labels():
    figure = curves.learning_curves_figure({"run": SHORT_RUN}, "run")
    drawn(figure)
    loss_axis = next(axis for axis in figure.axes if axis.get_ylabel() == "loss")
    assert loss_axis.get_yscale() == "log"
    labels = tick_texts(loss_axis.get_yticklabels())
    assert len(labels) >= 3, labels  # matplotlib's own log axis labelled one value here, or none
    assert all(0.3 <= float(label) <= 0.8 for label in labels), labels


def test_gan_curves_draw_the_discriminator_and_generator_losses():
    history = {"loss": [2.1, 2.0, 1.9], "discriminator_loss": [1.3, 1.2, 1.25], "generator_loss": [0.8, 0.8, 0.65],
               "real_score": [0.6, 0.6, 0.55], "fake_score": [0.3, 0.35, 0.4]}
    figure = curves.learning_curves_figure({"dcgan": history}, "dcgan")
    labels = [line.get_label() for axis in figure.axes for line in axis.get_lines()]
    assert any("discriminator_loss" in label for label in labels), labels
    assert any("generator_loss" in label for label in labels), labels


def test_vae_curves_draw_reconstruction_and_kl_with_their_validation_twins():
    history = {"loss": [60.0, 40.0], "reconstruction_loss": [55.0, 33.0], "kl_loss": [5.0, 7.0],
               "val_loss": [58.0, 41.0], "val_reconstruction_loss": [53.0, 34.0], "val_kl_loss": [5.0, 7.0]}
    panels = dict(curves.curve_panels({"vae": history}))
    assert panels["loss"] == ["loss"] and set(panels["loss terms"]) == {"reconstruction_loss", "kl_loss"}
    figure = curves.learning_curves_figure({"vae": history}, "vae")
    terms = next(axis for axis in figure.axes if axis.get_ylabel() == "loss terms")
    assert len(terms.get_lines()) == 4  # train and val of both terms


def test_a_one_epoch_run_is_visible_next_to_a_longer_one():
    long_run = {"loss": [1.0, 0.8, 0.7, 0.6, 0.5], "val_loss": [1.1, 0.9, 0.8, 0.75, 0.7]}
    one_epoch = {"loss": [0.9], "val_loss": [1.0]}
    figure = curves.learning_curves_figure({"long": long_run, "short": one_epoch}, "comparison")
    lines = [line for axis in figure.axes for line in axis.get_lines() if line.get_label().startswith("short")]
    assert len(lines) == 2
    assert all(line.get_marker() not in (None, "None", "", " ") for line in lines)  # a single point needs a marker


def write_run_folder(folder, name, losses):
    """A finished classification run folder of recipe ``name`` with a loss curve, without training."""
    import json

    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'name = "{name}"\ntask = "classify"\n')
    (folder / "metrics.json").write_text(json.dumps({"recipe": name, "status": "completed", "epochs_run": len(losses)}))
    (folder / "history.csv").write_text("epoch,loss\n" + "".join(f"{epoch},{loss}\n"
                                                                  for epoch, loss in enumerate(losses, start=1)))


def test_compare_draws_a_one_epoch_run_with_markers(cli_run, tmp_path, captured_figures):
    for name, losses in (("one", [0.9]), ("three", [1.0, 0.8, 0.7])):
        write_run_folder(tmp_path / "runs" / name / "20260101-000000", name, losses)
    result = cli_run("compare", "runs/one/20260101-000000", "runs/three/20260101-000000", "--out", "comparison")
    assert result.exit_code == 0, result.output + result.stderr
    (figure,) = captured_figures
    lines = figure.axes[0].get_lines()
    one = [line for line in lines if line.get_label().startswith("one/")]
    assert one and len(one[0].get_xdata()) == 1 and one[0].get_marker() not in (None, "None", "", " ")


def test_compare_takes_a_folder_of_runs(cli_run, tmp_path, captured_figures):
    import json
    import pathlib

    write_run_folder(tmp_path / "runs" / "one" / "20260101-000000", "one", [0.9])
    write_run_folder(tmp_path / "runs" / "one" / "20260102-000000", "one", [0.8, 0.6])
    write_run_folder(tmp_path / "runs" / "two" / "20260101-000000", "two", [1.0, 0.7])
    (tmp_path / "runs" / "empty").mkdir()
    # A recipe's folder: its runs, oldest first; the runs root: every recipe's runs. A run named
    # twice (as a folder and inside a folder of runs) is one row.
    result = cli_run("compare", "runs/one", "runs/one/20260101-000000", "--out", "mine")
    assert result.exit_code == 0, result.output + result.stderr
    runs = json.loads((tmp_path / "mine" / "compare.json").read_text())["runs"]
    assert [pathlib.Path(run).relative_to("runs").as_posix() for run in runs] == ["one/20260101-000000", "one/20260102-000000"]
    result = cli_run("compare", "runs", "--out", "all")
    assert result.exit_code == 0, result.output + result.stderr
    assert len(json.loads((tmp_path / "all" / "compare.json").read_text())["runs"]) == 3
    assert "two/20260101-000000" in result.output
    # A folder with no run in it is one clear line, and nothing is written.
    result = cli_run("compare", "runs/empty", "--out", "nothing")
    assert result.exit_code == 2 and "holds none" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nothing").exists()


def test_learning_curves_still_save_a_png(tmp_path):
    path = curves.learning_curves({"run": SHORT_RUN}, tmp_path / "curves.png", "run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# 2. Attention heatmaps -------------------------------------------------------------------------


def test_tick_labels_of_a_long_sequence_are_few_and_visible():
    characters = list("the dog sees the cat.\nthe cat runs ") * 2
    positions, texts = attention_maps.tick_labels(characters)
    assert 8 <= len(positions) <= 16 and positions[0] == 0
    assert all(text == characters[position] or characters[position] in " \n" for text, position in zip(texts, positions))
    assert " " not in texts and "\n" not in texts  # a space or a line break as a visible mark
    assert attention_maps.tick_labels(list("abc")) == ([0, 1, 2], ["a", "b", "c"])


def test_gpt_attention_maps_have_readable_ticks_and_a_colorbar():
    rng = np.random.default_rng(0)
    weights = rng.random((1, 4, 64, 64))
    weights /= weights.sum(axis=-1, keepdims=True)
    maps = [("block_1", weights), ("block_2", weights)]
    characters = list("the dog sees the cat and the cat sees the dog. a bird sings here")[:64]
    figure = attention_maps.attention_figure(maps, 0, "gpt-char: attention weights", characters)
    drawn(figure)
    panels = [axis for axis in figure.axes if axis.get_title()]
    assert len(panels) == 8
    for axis in panels:
        for labels in (axis.get_xticklabels(), axis.get_yticklabels()):
            texts = tick_texts(labels)
            assert len(texts) <= 16 and all(label.get_fontsize() >= 6 for label in labels)
    colorbars = [axis for axis in figure.axes if axis.get_ylabel() == "attention weight"]
    assert len(colorbars) == 2  # one per row (block)
    assert not titles_under_the_suptitle(figure)


def test_translator_attention_pictures_have_a_colorbar(captured_figures):
    from dlzoo.translation import transformer_translation
    from dlzoo.tasks import seq2seq

    rng = np.random.default_rng(0)
    pairs = [("march 12, 1999", "1999-03-12", rng.random((11, 14)), "1999-03-12")] * 3
    seq2seq.draw_attention(pairs, "attention.png", title="cross attention (test inputs)")
    transformer_translation.draw_cross_attention_heads(("march 12, 1999", "1999-03-12", rng.random((2, 4, 11, 14))),
                                                       "heads.png", target="1999-03-12")
    for figure in captured_figures:
        assert any(axis.get_ylabel() == "attention weight" for axis in figure.axes)
        assert not titles_under_the_suptitle(figure)


# 3. Titles, grids, word vectors ----------------------------------------------------------------


def test_a_suptitle_never_covers_the_titles_of_one_row_of_panels(captured_figures):
    from dlzoo.tasks import generate

    rng = np.random.default_rng(0)
    generate.sample_grid(rng.random((10, 8, 8, 1)), (0.0, 1.0), "samples.png", "samples (column = requested class)",
                         labels=list(range(10)))
    plots.image_grid(rng.random((8, 8, 8, 1)), "grid.png", titles=[f"class {index}" for index in range(8)],
                     title="augmented training samples")
    assert len(captured_figures) == 2
    for figure in captured_figures:
        assert not titles_under_the_suptitle(figure)


def overlapping_titles(figure):
    """Pairs of panel titles whose boxes overlap each other or the images below them."""
    renderer = drawn(figure)
    boxes = [(axis.get_title(), axis.title.get_window_extent(renderer)) for axis in figure.axes if axis.get_title()]
    images = [axis.get_window_extent(renderer) for axis in figure.axes if axis.get_title()]
    clashes = [(first, second) for index, (first, box) in enumerate(boxes)
               for second, other in boxes[index + 1:] if box.overlaps(other)]
    return clashes + [(title, "an image") for title, box in boxes for image in images if box.overlaps(image)]


def test_long_panel_titles_of_a_grid_neither_collide_nor_cover_the_images(captured_figures):
    rng = np.random.default_rng(0)
    titles = ["T-shirt/top→Ankle boot 0.98", "Trouser→Dress 0.91"] * 8  # the confident-mistakes kind
    plots.image_grid(rng.random((16, 28, 28, 1)), "mistakes.png", titles=titles,
                     title="most confidently misclassified (true→predicted, confidence)")
    (figure,) = captured_figures
    assert not overlapping_titles(figure)
    assert not titles_under_the_suptitle(figure)


def test_labelled_points_leave_crowded_points_unlabelled():
    from dlzoo.tasks.embed import labelled_points

    rng = np.random.default_rng(0)
    crowd = rng.normal(scale=0.01, size=(40, 2))  # 40 words on top of each other
    spread = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [0.5, -0.6]])
    coordinates = np.concatenate([crowd, spread])
    chosen = labelled_points(coordinates, spacing=0.05)
    assert set(range(40, 45)) <= set(chosen)  # isolated words keep their labels
    assert len([index for index in chosen if index < 40]) <= 3
    scaled = (coordinates - coordinates.min(axis=0)) / np.ptp(coordinates, axis=0)
    for first in chosen:
        for second in chosen:
            if first < second:
                assert np.linalg.norm(scaled[first] - scaled[second]) >= 0.05
    assert labelled_points(np.zeros((0, 2))) == [] and labelled_points(np.zeros((3, 2))) == [0]


def test_the_word_vector_picture_labels_only_where_labels_fit():
    from dlzoo.tasks.embed import pca_figure

    rng = np.random.default_rng(1)
    words = [f"word{index}" for index in range(60)]
    coordinates = np.concatenate([rng.normal(scale=0.01, size=(50, 2)), rng.uniform(-1, 1, size=(10, 2))])
    classes = {word: ("animal" if index % 2 else "city") for index, word in enumerate(words)}
    figure = pca_figure(words, coordinates, classes, "word vectors")
    annotations = [text for text in figure.axes[0].texts if text.get_text().startswith("word")]
    assert 10 <= len(annotations) < 25, len(annotations)
    assert "labels left out" in figure.axes[0].get_title()
