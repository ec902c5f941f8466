"""The example notebooks of examples/ run headlessly in a real Jupyter kernel (nbclient), as a
student runs them, and fail on any cell error."""

import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_is_a_notebook_for_each_half_of_the_course():
    assert [path.name for path in NOTEBOOKS] == ["first_half.ipynb", "second_half.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_without_errors(path, tmp_path):
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    # The notebook's runs/ folder is made in tmp_path: the kernel starts there.
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    streams = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    # Progress is one line per epoch in a notebook: no carriage-return progress bars in the cells.
    assert "\r" not in streams
    # Every code cell that shows something shows it: runs display as HTML with their learning curves.
    html = [output["data"]["text/html"] for output in outputs
            if output.output_type == "execute_result" and "text/html" in output.get("data", {})]
    if path.stem == "first_half":
        assert any("data:image/png;base64," in block and "mlp (quick): completed" in block for block in html)
        assert "refused: unknown option 'learning_rat'" in streams
    assert any(output.output_type == "execute_result" and "image/png" in output.get("data", {}) for output in outputs)
    assert sorted(folder.name for folder in (tmp_path / "runs").iterdir())  # the runs were written where it ran
