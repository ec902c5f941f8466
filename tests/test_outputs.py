"""What ``dlzoo evaluate`` and ``dlzoo visualize`` write into a run folder: new files every time
(nothing already on disk is replaced), report sections in a fixed order, honest section texts."""

import json

import pytest

from dlzoo.plots import visualizations

from helpers import shared_run


def _files(folder):
    """Every file under ``folder`` (relative path -> bytes), report.md and sections/ aside."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and path.name != "report.md" and "sections" not in path.parts
    }


@pytest.fixture
def lenet_run(tmp_path, tmp_path_factory):
    """A copy of the session's quick LeNet run under ``tmp_path/runs`` (a CNN, so every method applies)."""
    return shared_run(tmp_path_factory, "lenet", "--quick").copy_into(tmp_path / "runs")


def test_evaluate_and_visualize_twice_replace_nothing(cli_run, lenet_run):
    folder = lenet_run
    trained = _files(folder)

    def evaluate_and_visualize():
        for arguments in (("evaluate", folder), ("evaluate", folder, "--split", "val"),
                          ("visualize", folder, "--method", "gradcam"), ("visualize", folder, "--method", "filters")):
            result = cli_run(*arguments)
            assert result.exit_code == 0, result.stderr

    evaluate_and_visualize()
    first = _files(folder)
    # The files written at training time are untouched, evaluation.json included.
    assert {name: first[name] for name in trained} == trained
    new_first = set(first) - set(trained)
    assert {"evaluation-test-digits.json", "evaluation-val-digits.json", "plots/confusion_matrix-test-digits.png",
            "plots/gradcam.png", "plots/filters.png"} <= new_first

    evaluate_and_visualize()
    second = _files(folder)
    # Everything the first round wrote is still there, byte for byte, next to the second round.
    assert {name: second[name] for name in first} == first
    new_second = set(second) - set(first)
    assert {"evaluation-test-digits-2.json", "evaluation-val-digits-2.json",
            "plots/confusion_matrix-test-digits-2.png", "plots/gradcam-2.png", "plots/filters-2.png"} <= new_second
    assert len(new_second) == len(new_first)
    assert json.loads(second["evaluation-val-digits-2.json"])["split"] == "val"
    # The report shows the latest pictures and still lists the earlier ones.
    report = (folder / "report.md").read_text()
    assert "plots/gradcam-2.png" in report and "plots/gradcam.png" in report


def test_visualize_sections_follow_the_method_list_whatever_the_order_they_ran_in(cli_run, lenet_run):
    folder = lenet_run
    for method in ("filters", "saliency", "gradcam", "integrated-gradients"):
        assert cli_run("visualize", folder, "--method", method).exit_code == 0
    report = (folder / "report.md").read_text()
    positions = [report.index(f"## Visualization: {method}")
                 for method in ("saliency", "integrated-gradients", "gradcam", "filters")]
    assert positions == sorted(positions)
    assert "black baseline" not in report and "baseline" in report


def test_section_keys_sort_in_method_order():
    from dlzoo import visualize

    keys = [visualizations.section_key(method) for method in reversed(visualize.METHOD_NAMES)]
    assert sorted(keys) == [visualizations.section_key(method) for method in visualize.METHOD_NAMES]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("method", ["filters", "feature-maps", "activation-max"])
def test_sections_name_a_class_only_where_the_method_explains_one(method):
    assert "predicted class" not in visualizations.section_details(method, None, None)
    assert "predicted class" not in visualizations.section_details(method, "conv_1", None)


def test_explanation_sections_say_which_class_and_layer():
    assert "predicted class" in visualizations.section_details("gradcam", None, None)
    details = visualizations.section_details("gradcam", "conv_1", 3)
    assert "conv_1" in details and "class 3" in details
    assert "channels" in visualizations.section_details("activation-max", "conv_1", None)


def test_report_lists_numbered_files_in_the_order_they_were_written():
    from dlzoo.runs import report

    names = ["gradcam-10.png", "gradcam-2.png", "gradcam.png", "filters.png", "60-evaluation-test-digits-2.md",
             "60-evaluation-test-digits.md", "50-visualize-09-feature-maps.md"]
    assert sorted(names, key=report.natural_order) == [
        "50-visualize-09-feature-maps.md", "60-evaluation-test-digits.md", "60-evaluation-test-digits-2.md",
        "filters.png", "gradcam.png", "gradcam-2.png", "gradcam-10.png"]


@pytest.mark.parametrize("metrics, header", [
    ({"test_mse": 1.5, "test_elbo": 8.2}, None),  # autoencoders, GANs, word2vec, rnn studies, lr-find: no table
    ({"train_loss": 0.1, "test_exact_match": 0.9}, "| split | loss |"),  # translators: loss, no accuracy
    ({"train_loss": 0.1, "test_loss": 0.2, "test_accuracy": 0.9}, "| split | loss | accuracy |"),
])
def test_metrics_table_shows_only_the_columns_a_run_has(metrics, header):
    from dlzoo.runs import report

    text = report.metrics_section({"metrics": metrics})
    assert "None" not in text
    split_headers = [line for line in text.splitlines() if line.startswith("| split |")]
    assert split_headers == ([header] if header else [])


def test_markdown_cells_escape_the_bar():
    from dlzoo.runs import report

    table = report.markdown_table(["term", "value"], [["KL(q(z|x) || N(0, I))", 1.0]])
    row = table.splitlines()[2]
    assert row.replace("\\|", "").count("|") == 3  # two cells: the bars inside the text are escaped
