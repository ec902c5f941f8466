"""The translators of one dataset side by side: the RNN and the transformer in one table.

A seq2seq run's report gets a section comparing it with the latest run of every *other* seq2seq
recipe on the same dataset (``seq2seq-dates`` next to ``transformer-dates``) found under the same
runs folder, and with the latest run of *this* recipe for every other model (the same
translator trained with ``--set model.attention='"none"'``: with and without attention):
exact match, per-character accuracy, parameters, epochs and training time. A recipe without a
finished run gets a row that says how to make one. Reads TOML and JSON only.
"""

import pathlib

from dlzoo.config import recipes
from dlzoo.runs import report
from dlzoo.runs import folders

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
    for path in recipes.recipe_files():
        if path.stem == config["name"]:
            continue
        recipe = recipes.read_toml(path)
        if recipe.get("task") == "seq2seq" and recipe.get("data", {}).get("dataset") == config["data"]["dataset"]:
            names.append(path.stem)
    return names


def finished(folder, quick=False):
    """The run's ``metrics.json`` record if it completed (a ``--quick`` run only when ``quick``), else None."""
    if not folders.is_run_folder(folder):
        return None
    record = folders.read_json(folder / folders.METRICS_FILE)
    if record.get("status") != "completed" or (record.get("quick") and not quick):
        return None
    return record


def other_models_of_this_recipe(folder, config, root, quick=False):
    """``[(run folder, config, record)]``: the latest finished run of this recipe for each model
    other than this run's (e.g. the same translator without attention), newest first."""
    this_model, latest = model_description(config), {}
    recipe_root = root / config["name"]
    if not recipe_root.is_dir():
        return []
    for other in sorted(recipe_root.iterdir(), key=folders.run_order, reverse=True):
        record = None if other.resolve() == pathlib.Path(folder).resolve() else finished(other, quick)
        if record is None:
            continue
        other_config = recipes.read_toml(other / folders.CONFIG_FILE)
        description = model_description(other_config)
        if description != this_model and description not in latest:
            latest[description] = (other, other_config, record)
    return list(latest.values())


def section(folder, config, this_row, quick=False):
    """The Markdown section for the run in ``folder`` (``this_row`` from :func:`row_of`)."""
    root = pathlib.Path(folder).parent.parent  # <root>/<recipe>/<timestamp>
    rows, missing = [this_row], []
    others = [(config["name"], *found) for found in other_models_of_this_recipe(folder, config, root, quick)]
    for name in counterparts(config):
        other = folders.latest_run(name, root, include_quick=quick)
        if other is None:
            missing.append(name)
        else:
            others.append((name, other, recipes.read_toml(other / folders.CONFIG_FILE),
                           folders.read_json(other / folders.METRICS_FILE)))
    for name, other, other_config, record in others:
        rows.append(row_of(f"{name} ({other.name})", other_config, record.get("metrics") or {},
                           record.get("parameters"), record.get("epochs_run"), record.get("train_seconds")))
    text = (f"## Side by side: translators of {config['data']['dataset']}\n\n"
            "This run, the latest finished run of this recipe with each other model (e.g. "
            "`--set model.attention='\"none\"'`: without attention) and of every other translator recipe on "
            f"the same data (under {root}); training times depend on the machine and its load.\n\n"
            + report.markdown_table(HEADER, rows) + "\n")
    if missing:
        commands = ", ".join(f"`dlzoo train {name}`" for name in missing)
        text += f"\nNo finished run yet of {', '.join(missing)}: {commands} adds it to this table in its own report.\n"
    return text
