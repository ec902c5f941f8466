"""The translators of one dataset side by side: the RNN and the transformer in one table.

A seq2seq run's report gets a section comparing it with the latest run of every *other* seq2seq
recipe on the same dataset (``seq2seq-dates`` next to ``transformer-dates``) found under the same
runs folder: exact match, per-character accuracy, parameters, epochs and training time. A
recipe without a finished run gets a row that says how to make one. Reads TOML and JSON only.
"""

import pathlib

from dlzoo import config as config_module
from dlzoo import report, runs

HEADER = ["recipe", "model", "test exact match", "test characters", "parameters", "epochs", "train seconds"]


def model_description(config):
    """``GRU + luong attention, 128 units`` or ``transformer 2 x 4 heads, width 128``, from a resolved config."""
    model = config.get("model", {})
    if model.get("name") == "transformer":
        return (f"transformer {model.get('num_layers', 2)} layers x {model.get('num_heads', 4)} heads, "
                f"width {model.get('model_dim', 128)}")
    return f"{model.get('cell', 'gru').upper()} + {model.get('attention', 'luong')} attention, {model.get('units', 128)} units"


def row_of(name, config, metrics, parameters, epochs, train_seconds):
    """One table row."""
    return [name, model_description(config), metrics.get("test_exact_match"), metrics.get("test_character_accuracy"),
            parameters, epochs, None if train_seconds is None else round(float(train_seconds), 1)]


def counterparts(config):
    """Names of the other packaged seq2seq recipes that read the same dataset."""
    names = []
    for path in config_module.recipe_files():
        if path.stem == config["name"]:
            continue
        recipe = config_module.read_toml(path)
        if recipe.get("task") == "seq2seq" and recipe.get("data", {}).get("dataset") == config["data"]["dataset"]:
            names.append(path.stem)
    return names


def section(folder, config, this_row, quick=False):
    """The Markdown section for the run in ``folder`` (``this_row`` from :func:`row_of`)."""
    root = pathlib.Path(folder).parent.parent  # <root>/<recipe>/<timestamp>
    rows, missing = [this_row], []
    for name in counterparts(config):
        other = runs.latest_run(name, root, include_quick=quick)
        if other is None:
            missing.append(name)
            continue
        record = runs.read_json(other / runs.METRICS_FILE)
        other_config = config_module.read_toml(other / runs.CONFIG_FILE)
        rows.append(row_of(f"{name} ({other.name})", other_config, record.get("metrics") or {},
                           record.get("parameters"), record.get("epochs_run"), record.get("train_seconds")))
    text = (f"## Side by side: translators of {config['data']['dataset']}\n\n"
            "This run and the latest finished run of every other translator recipe on the same data "
            f"(under {root}); training times depend on the machine and its load.\n\n"
            + report.markdown_table(HEADER, rows) + "\n")
    if missing:
        commands = ", ".join(f"`dlzoo train {name}`" for name in missing)
        text += f"\nNo finished run yet of {', '.join(missing)}: {commands} adds it to this table in its own report.\n"
    return text
