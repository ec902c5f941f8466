"""The fashion-cnn recipe on a small Fashion-MNIST fixture in the real IDX format (tests/conftest.py
puts it in ``$DLZOO_DATA``): its report explains a few test images with Grad-CAM and integrated
gradients, and its SavedModel gives the run's test accuracy on the raw uint8 t10k images in a
Python that never imports dlzoo."""

import json
import os

import pytest
from helpers import assert_usage_error, shared_run

FASHION_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                       "Ankle boot")


@pytest.fixture(scope="module")
def quick_fashion_cnn(tmp_path_factory):
    """``(run, run folder)`` of the session's quick fashion-cnn run, with the default output."""
    run = shared_run(tmp_path_factory, "fashion-cnn", "--quick")
    return run, run.folder


def test_report_shows_gradcam_and_integrated_gradients_of_test_images_with_their_class_names(quick_fashion_cnn):
    folder = quick_fashion_cnn[1]
    report = (folder / "report.md").read_text()
    for method, picture in (("gradcam", "gradcam.png"), ("integrated-gradients", "integrated-gradients.png")):
        assert f"## Visualization: {method}" in report
        assert f"(plots/{picture})" in report
        assert (folder / "plots" / picture).stat().st_size > 1000, "a real picture, not an empty file"
    # The sections name the true class of each explained image with the dataset's class names.
    rows = [line for line in report.splitlines() if "Rows: the first" in line]
    assert len(rows) == 2, rows
    named = [name for name in FASHION_CLASS_NAMES if name in rows[0]]
    assert len(named) >= 3, rows[0]


def test_saved_model_gives_the_runs_test_accuracy_on_raw_uint8_t10k_images_without_dlzoo(quick_fashion_cnn,
                                                                                        plain_tensorflow):
    folder = quick_fashion_cnn[1]
    record = json.loads((folder / "metrics.json").read_text())
    files = os.path.join(os.environ["DLZOO_DATA"], "fashion_mnist")
    # The IDX files read with gzip and numpy only: 16 header bytes for images, 8 for labels.
    lines = plain_tensorflow(f"""
import gzip, numpy as np
def read(name, header):
    with gzip.open({files!r} + '/' + name) as stream:
        return np.frombuffer(stream.read(), np.uint8, offset=header)
labels = read('t10k-labels-idx1-ubyte.gz', 8)
images = read('t10k-images-idx3-ubyte.gz', 16).reshape(len(labels), 28, 28, 1)
model = tf.saved_model.load({str(folder / 'saved_model')!r})
predicted = model.serve(tf.constant(images))['predicted_class'].numpy()
print(json.dumps({{'accuracy': float(np.mean(predicted == labels)), 'count': len(labels)}}))
""")
    measured = json.loads(lines[-1])
    assert measured["count"] == record["data"]["sizes"]["test"], "the t10k files are the whole test split"
    # The same model on the same raw pixels: the run's own test accuracy, to float rounding.
    assert abs(measured["accuracy"] - record["metrics"]["test_accuracy"]) < 1e-6


def test_more_explained_images_than_a_picture_holds_is_a_usage_error(cli_run):
    assert_usage_error(cli_run("train", "fashion-cnn", "--quick", "--set", "train.explain_samples=17"),
                       "train.explain_samples", "16")
    assert_usage_error(cli_run("train", "fashion-cnn", "--quick", "--set", "train.explain_samples=-1"),
                       "train.explain_samples")


def test_predict_reads_image_files_and_names_each(quick_fashion_cnn, cli_run, tmp_path):
    """``dlzoo predict RUN shoe.png``: PNG files of the raw test images (one in colour), and a .npy
    batch of the same images, get the same answers as ``--file``, each after its file's name."""
    import numpy as np
    from PIL import Image

    from dlzoo import data

    folder = quick_fashion_cnn[1]
    images = data.load("fashion_mnist").x_test[:3, ..., 0]  # raw uint8, as the t10k file holds them
    for index, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"image{index}.png")
    Image.fromarray(np.stack([images[0]] * 3, axis=-1)).save(tmp_path / "colour.png")
    np.save(tmp_path / "batch.npy", images)
    reference = cli_run("predict", folder, "--file", tmp_path / "batch.npy")
    assert reference.exit_code == 0, reference.output + reference.stderr
    answers = reference.output.splitlines()
    assert len(answers) == 3 and all(answer.split("  (p = ")[0] in FASHION_CLASS_NAMES for answer in answers), answers
    files = [tmp_path / f"image{index}.png" for index in range(3)] + [tmp_path / "colour.png", tmp_path / "batch.npy"]
    result = cli_run("predict", folder, *files)
    assert result.exit_code == 0, result.output + result.stderr
    expected = [f"{tmp_path / f'image{index}.png'}: {answers[index]}" for index in range(3)] + \
        [f"{tmp_path / 'colour.png'}: {answers[0]}"] + \
        [f"{tmp_path / 'batch.npy'}[{index}]: {answer}" for index, answer in enumerate(answers)]
    assert result.output.splitlines() == expected
    (tmp_path / "notes.txt").write_text("not an image")
    assert_usage_error(cli_run("predict", folder, tmp_path / "notes.txt"), "or an image or array file (.png")
    assert_usage_error(cli_run("predict", folder, tmp_path / "missing.png"), "missing.png: no such file")
