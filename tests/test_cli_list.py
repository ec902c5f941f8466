"""``dlzoo list`` (its description column, what a pattern and --topic match) and the help
text of ``dlzoo visualize``, through the real CLI."""

import pytest

from dlzoo.config import recipes


def table_rows(output):
    """The data rows of a plain ``dlzoo list`` table (no header, no rule)."""
    lines = output.splitlines()
    return [line for line in lines[2:] if line.strip()]


def test_list_shows_a_one_line_description_of_every_recipe(cli_run):
    result = cli_run("list")
    assert result.exit_code == 0, result.stderr
    header = result.output.splitlines()[0].split()
    assert header[-1] == "description" and header[0] == "name"
    rows = table_rows(result.output)
    assert len(rows) == len(recipes.recipe_names())
    for path in recipes.recipe_files():
        summary = recipes.recipe_summary(path)
        description = summary["description"]
        assert 10 <= len(description) <= 60, description
        assert description.rstrip("…").split()[0] in summary["summary"]  # taken from the recipe's summary
        assert "\n" not in description and ";" not in description
        assert any(row.startswith(summary["name"] + " ") and row.rstrip().endswith(description) for row in rows)


def test_short_description_cuts_at_a_word_and_drops_the_remarks():
    assert recipes.short_description("A GRU translator; its twin is the transformer") == "A GRU translator"
    cut = recipes.short_description("word " * 30, width=24)
    assert cut.endswith("…") and len(cut) <= 25 and "wor…" not in cut


@pytest.mark.parametrize("pattern", ["trans", "TRANS", "gru", "mnist1d", "twin"])
def test_a_pattern_matches_only_what_the_table_shows(cli_run, pattern):
    result = cli_run("list", pattern)
    if result.exit_code == 2:  # nothing shown contains it (the summaries' remarks are not shown)
        assert f"no recipe matches '{pattern}'" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    rows = table_rows(result.output)
    assert rows and all(pattern.lower() in row.lower() for row in rows), rows


def test_a_pattern_that_only_the_hidden_summary_has_matches_nothing(cli_run):
    # "GRU twin" is the end of transformer-dates' summary, after the ';' that the description stops at.
    hidden = "its gru twin"
    assert any(hidden in recipes.recipe_summary(path)["summary"].lower() for path in recipes.recipe_files())
    result = cli_run("list", hidden)
    assert result.exit_code == 2 and f"no recipe matches '{hidden}'" in result.stderr


def test_topic_ignores_case(cli_run):
    upper, lower = cli_run("list", "--topic", "CNN"), cli_run("list", "--topic", "cnn")
    assert upper.exit_code == 0, upper.stderr
    assert upper.output == lower.output and "lenet" in upper.output and "mlp-numpy" not in upper.output


def test_an_unknown_topic_suggests_the_closest(cli_run):
    result = cli_run("list", "--topic", "Transformer")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "did you mean 'transformers'?" in lines[0] and "topics: " in lines[0], lines


def test_visualize_help_lists_attention(cli_run):
    result = cli_run("visualize", "--help")
    assert result.exit_code == 0
    method_help = result.output[result.output.index("--method"):result.output.index("--layer")]
    assert "attention" in method_help and "gradcam" in method_help
