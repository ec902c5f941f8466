"""``dlzoo tune``: hyper-parameter search on KerasTuner, every trial a normal dlzoo run.

    dlzoo tune mlp --space 'optimizer.learning_rate=log(1e-4,1e-1)' \\
                   --space 'model.dropout_rate=[0,0.2,0.5]' --trials 12 --algo bayes

KerasTuner's oracles choose the values (``random``: RandomSearchOracle, ``bayes``:
BayesianOptimizationOracle, ``hyperband``: HyperbandOracle, which also chooses each trial's
number of epochs up to the recipe's ``train.epochs``); dlzoo trains each trial with
``--set key=value`` overrides exactly as ``dlzoo train`` would, into
``<tune folder>/trials/<recipe>/<time>/``. The objective is the recipe's target metric on the
**validation** split (``test_accuracy`` -> ``val_accuracy``): choosing hyper-parameters on
the test split would make its score optimistic.

A space is ``section.key=`` followed by ``log(low,high)`` (a float, sampled log-uniformly),
``range(low,high)`` (a float, uniform), ``int(low,high)`` (an integer, inclusive) or a TOML list
``[v1, v2, ...]`` (a choice). Every value is checked against the recipe before any trial starts.

The tune folder ``runs/<recipe>-tune/<time>/`` holds ``tune.json`` (the settings and every
trial), ``report.md`` (a table best first, a parallel-coordinates plot), ``best.toml`` (the best
trial's recipe: ``dlzoo train best.toml``) and KerasTuner's own state in ``keras_tuner/``, from
which ``dlzoo tune --resume FOLDER`` continues without repeating finished trials.
"""

import json
import math
import pathlib
import re

from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo import tasks
from dlzoo.runs import report
from dlzoo.runs import folders
from dlzoo.core.errors import RunFailed, UsageError

ALGORITHMS = ("random", "bayes", "hyperband")
SPACE_PATTERN = re.compile(r"^\s*([a-z_]+\.[a-z_0-9]+)\s*=\s*(.+?)\s*$")
RANGE_PATTERN = re.compile(r"^(log|range|int)\(\s*([^,]+?)\s*,\s*([^,]+?)\s*\)$")
SPACE_HELP = "section.key=log(low,high) | range(low,high) | int(low,high) | [v1, v2, ...]"
TUNE_FILE = "tune.json"


# 1. The search space -----------------------------------------------------------------------

def parse_space(text):
    """``"optimizer.learning_rate=log(1e-4,1e-1)"`` -> ``{"key", "kind", "low", "high"}`` or ``{"key", "kind": "choice", "values"}``."""
    match = SPACE_PATTERN.match(text)
    if not match:
        raise UsageError(f"--space {text!r}: expected {SPACE_HELP}")
    key, value = match.groups()
    ranged = RANGE_PATTERN.match(value)
    if ranged:
        kind, low, high = ranged.groups()
        try:
            low, high = (int(low), int(high)) if kind == "int" else (float(low), float(high))
        except ValueError:
            raise UsageError(f"--space {text!r}: {kind}() needs two numbers{' (integers)' if kind == 'int' else ''}") \
                from None
        if not low < high:
            raise UsageError(f"--space {text!r}: the low end must be below the high end")
        if kind == "log" and low <= 0:
            raise UsageError(f"--space {text!r}: log() needs positive bounds")
        return {"key": key, "kind": kind, "low": low, "high": high}
    if value.startswith("["):
        try:
            values = recipes.parse_value(value)
        except UsageError:
            values = None
        if not isinstance(values, list) or not values:
            raise UsageError(f"--space {text!r}: a choice is a non-empty TOML list like [0, 0.2, 0.5]")
        if len({type(item) for item in values} - {int, float}) > 0 and len({type(item) for item in values}) > 1:
            raise UsageError(f"--space {text!r}: the choices must all have the same type")
        if any(isinstance(item, float) for item in values):  # KerasTuner wants one type: 0 -> 0.0
            values = [float(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in values]
        return {"key": key, "kind": "choice", "values": values}
    raise UsageError(f"--space {text!r}: expected {SPACE_HELP}")


def as_toml(value):
    """A Python value as the TOML text ``--set`` parses back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def encoded(space):
    """True when a choice holds lists or tables (``model.hidden_units=[[64],[256,128]]``)."""
    return space["kind"] == "choice" and any(isinstance(value, (list, dict)) for value in space["values"])


def as_toml_value(value):
    """Any TOML value (lists and inline tables too) as ``--set`` text."""
    if isinstance(value, list):
        return "[" + ", ".join(as_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {as_toml_value(item)}" for key, item in value.items()) + "}"
    return as_toml(value)


def candidate_values(space):
    """The values of a space that must all be valid: every choice, or both ends of a range."""
    return space["values"] if space["kind"] == "choice" else [space["low"], space["high"]]


def check_spaces(recipe, overrides, spaces):
    """Check every space's key and values against the recipe (unknown key, wrong type) before any trial."""
    keys = [space["key"] for space in spaces]
    if len(set(keys)) != len(keys):
        raise UsageError(f"--space names a key twice: {', '.join(sorted({k for k in keys if keys.count(k) > 1}))}")
    for space in spaces:
        if space["key"].startswith(("train.epochs",)) and space["kind"] != "int" and space["kind"] != "choice":
            raise UsageError(f"--space {space['key']}: epochs take int(low,high) or a list of integers")
        for value in candidate_values(space):
            try:
                resolve.load_config(recipe, [*overrides, f"{space['key']}={as_toml_value(value)}"])
            except UsageError as error:
                raise UsageError(f"--space {space['key']}: {error}") from None


def check_components(recipe, overrides, spaces):
    """Check ``[model]`` / ``[optimizer]`` values with the builders (needs Keras; still before any trial)."""
    for space in spaces:
        for value in candidate_values(space):
            resolved = resolve.load_config(recipe, [*overrides, f"{space['key']}={as_toml_value(value)}"])
            try:
                resolve.check_component_options(resolved)
            except UsageError as error:
                raise UsageError(f"--space {space['key']}={value!r}: {error}") from None


def declare(hyperparameters, space):
    """Declare one space in KerasTuner's ``HyperParameters``."""
    name = space["key"]
    if space["kind"] == "choice":
        if encoded(space):  # KerasTuner chooses among scalars: lists and tables travel as TOML text
            return hyperparameters.Choice(name, [as_toml_value(value) for value in space["values"]])
        return hyperparameters.Choice(name, space["values"])
    if space["kind"] == "int":
        return hyperparameters.Int(name, space["low"], space["high"])
    return hyperparameters.Float(name, space["low"], space["high"],
                                 sampling="log" if space["kind"] == "log" else "linear")


def objective_of(resolved):
    """``(metric name on the validation split, "max" or "min")``: the recipe's task chooses it from the target."""
    return tasks.create(resolved["task"]).tune_objective(resolved)


# 2. The tuner ------------------------------------------------------------------------------

def make_tuner(settings, folder, echo):
    """A KerasTuner tuner whose ``run_trial`` trains one dlzoo run (state in ``folder/keras_tuner``)."""
    import keras_tuner
    from keras_tuner.engine import base_tuner

    from dlzoo.commands import lifecycle

    objective_name, direction = settings["objective"], settings["direction"]
    objective = keras_tuner.Objective(objective_name, direction)
    hyperparameters = keras_tuner.HyperParameters()
    for space in settings["spaces"]:
        declare(hyperparameters, space)
    common = {"objective": objective, "hyperparameters": hyperparameters, "seed": settings["seed"],
              "max_consecutive_failed_trials": max(3, settings["trials"])}
    if settings["algo"] == "random":
        oracle = keras_tuner.oracles.RandomSearchOracle(max_trials=settings["trials"], **common)
    elif settings["algo"] == "bayes":
        oracle = keras_tuner.oracles.BayesianOptimizationOracle(max_trials=settings["trials"], **common)
    else:
        oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=settings["max_epochs"], factor=3, **common)
        oracle.max_trials = settings["trials"]  # Hyperband decides how many; --trials caps them

    class DlzooTuner(base_tuner.BaseTuner):
        """Each trial: the recipe with the trial's values as ``--set`` overrides, trained by dlzoo."""

        def run_trial(self, trial, *args, **kwargs):
            """Train one run; return its validation objective (a failed run fails the trial)."""
            values = dict(trial.hyperparameters.values)
            text_keys = {space["key"] for space in settings["spaces"] if encoded(space)}  # already TOML text
            overrides = [f"{key}={value if key in text_keys else as_toml(value)}" for key, value in values.items()
                         if not key.startswith("tuner/")]
            if "tuner/epochs" in values:  # Hyperband's budget for this trial (trained from scratch)
                overrides.append(f"train.epochs={int(values['tuner/epochs'])}")
            resolved = resolve.load_config(settings["recipe"], [*settings["overrides"], *overrides])
            resolved["train"]["verbose"] = 0
            echo(f"-- trial {trial.trial_id}: " + ", ".join(overrides))
            try:
                run_folder, record = lifecycle.train(resolved, out=folder / "trials", quick=settings["quick"])
            except (RunFailed, UsageError) as error:
                trials_log(folder).append({"trial": trial.trial_id, "values": values, "status": "failed",
                                           "error": str(error).splitlines()[0]})
                raise keras_tuner.errors.FailedTrialError(str(error)) from None
            value = record["metrics"].get(objective_name)
            if value is None or not math.isfinite(value):
                raise keras_tuner.errors.FailedTrialError(f"the run has no finite {objective_name}")
            trials_log(folder).append({"trial": trial.trial_id, "values": values, "status": "completed",
                                       "objective": value, "overrides": overrides,
                                       # relative to the tune folder, so the folder can be moved
                                       "folder": pathlib.Path(run_folder).resolve().relative_to(
                                           pathlib.Path(folder).resolve()).as_posix(),
                                       "test": record["metrics"].get(settings["test_metric"])})
            echo(f"   {objective_name} = {value:.4f}  ({run_folder})")
            return {objective_name: value}

    return DlzooTuner(oracle, directory=str(folder), project_name="keras_tuner", overwrite=False)


class TrialsLog:
    """The list of finished trials in ``tune.json``, written after every trial (so nothing is lost)."""

    def __init__(self, folder):
        self.path = pathlib.Path(folder) / TUNE_FILE

    def read(self):
        """The whole tune record."""
        return folders.read_json(self.path)

    def append(self, entry):
        """Add one trial (replacing an earlier entry of the same trial id)."""
        record = self.read()
        record["trials"] = [trial for trial in record.get("trials", []) if trial["trial"] != entry["trial"]] + [entry]
        folders.atomic_write_json(self.path, record)


def trials_log(folder):
    """The :class:`TrialsLog` of a tune folder."""
    return TrialsLog(folder)


# 3. The command ----------------------------------------------------------------------------

def prepare_settings(recipe, overrides, space_texts, trials, algo, quick, seed):
    """Parse and check everything that needs no TensorFlow; returns the settings of a new search."""
    if trials < 1:
        raise UsageError(f"--trials must be at least 1, got {trials}")
    if algo not in ALGORITHMS:
        raise UsageError(f"--algo must be one of {', '.join(ALGORITHMS)}, got {algo!r}")
    if not space_texts:
        raise UsageError(f"give at least one --space {SPACE_HELP}")
    resolved = resolve.load_config(recipe, overrides)
    if resolved.get("sweep"):
        raise UsageError(f"dlzoo tune trains one run per trial; {resolved['name']} is a sweep recipe (several runs)")
    tasks.create(resolved["task"]).require("tune", resolved["name"])
    spaces = [parse_space(text) for text in space_texts]
    check_spaces(recipe, overrides, spaces)
    objective, direction = objective_of(resolved)
    return {"recipe": recipe, "name": resolved["name"], "overrides": list(overrides), "spaces": spaces,
            "trials": trials, "algo": algo, "quick": quick, "seed": seed, "objective": objective,
            "direction": direction, "test_metric": resolved["expect"]["metric"],
            "max_epochs": resolved["train"]["epochs"], "trials_done": []}


def resume_settings(folder, trials):
    """The settings of an interrupted search in ``folder`` (``--trials`` may raise its budget)."""
    path = pathlib.Path(folder) / TUNE_FILE
    if not path.is_file():
        raise UsageError(f"{folder} is not a tune folder (it has no {TUNE_FILE})")
    record = folders.read_json(path)
    settings = record["settings"]
    if trials is not None:
        if trials < 1:
            raise UsageError(f"--trials must be at least 1, got {trials}")
        settings["trials"] = trials
    return settings


def run_search(settings, folder=None, out=None, echo=print):
    """Run (or continue) a search; write the summary, plot and ``best.toml``; returns the folder."""
    check_components(settings["recipe"], settings["overrides"], settings["spaces"])
    if folder is None:
        folder = folders.new_run_folder(f"{settings['name']}-tune", out)
        folders.atomic_write_json(folder / TUNE_FILE, {"settings": settings, "trials": []})
    else:
        folder = pathlib.Path(folder)
        record = folders.read_json(folder / TUNE_FILE)
        record["settings"] = settings
        folders.atomic_write_json(folder / TUNE_FILE, record)
    finished = len([trial for trial in folders.read_json(folder / TUNE_FILE).get("trials", [])])
    echo(f"== tune {settings['name']} ({settings['algo']}, {settings['trials']} trials, objective "
         f"{settings['objective']} {settings['direction']}); {finished} trials already done; folder {folder}")
    tuner = make_tuner(settings, folder, echo)
    tuner.search(verbose=0)  # dlzoo prints one line per trial itself
    return summarize(folder, echo)


def summarize(folder, echo=print):
    """Table best first, parallel-coordinates plot, ``best.toml`` and ``report.md`` of a tune folder."""
    record = folders.read_json(folder / TUNE_FILE)
    settings, trials = record["settings"], record.get("trials", [])
    completed = [trial for trial in trials if trial["status"] == "completed"]
    reverse = settings["direction"] == "max"
    completed.sort(key=lambda trial: trial["objective"], reverse=reverse)
    keys = [space["key"] for space in settings["spaces"]]
    header = ["trial", *keys, settings["objective"], settings["test_metric"], "run"]
    rows = [[trial["trial"], *[trial["values"].get(key) for key in keys], trial["objective"], trial.get("test"),
             trial["folder"]] for trial in completed]
    failed = [trial for trial in trials if trial["status"] != "completed"]
    text = [f"# Hyper-parameter search: {settings['name']}\n",
            f"KerasTuner `{settings['algo']}`, {len(trials)} trials ({len(failed)} failed), objective "
            f"**{settings['objective']}** ({settings['direction']}imize; chosen on validation, the test column is "
            "only read, never used to choose).\n",
            "Spaces: " + ", ".join(f"`{space['key']}` {describe_space(space)}" for space in settings["spaces"]) + "\n",
            "## Trials, best first\n", report.markdown_table(header, rows) + "\n"]
    if failed:
        text.append("Failed trials: " + "; ".join(f"{trial['trial']} ({trial.get('error', '')})" for trial in failed)
                    + "\n")
    if completed:
        parallel_coordinates(settings, completed, folder / "plots" / "parallel_coordinates.png")
        text.append("![parallel coordinates](plots/parallel_coordinates.png)\n")
        best = completed[0]
        resolved = resolve.load_config(settings["recipe"], [*settings["overrides"], *best["overrides"]])
        resolved["train"]["verbose"] = 1
        folders.atomic_write_text(folder / "best.toml", recipes.to_toml(resolved))
        text.append(f"## Best\n\nTrial {best['trial']}: {', '.join(best['overrides'])} -> {settings['objective']} "
                    f"{best['objective']:.4f}. Train it with `dlzoo train {folder / 'best.toml'}`.\n")
        echo(report.format_table([[str(value) if not isinstance(value, float) else f"{value:.4g}" for value in row]
                                  for row in rows], header))
        echo(f"best: trial {best['trial']} ({', '.join(best['overrides'])}); recipe {folder / 'best.toml'}")
    folders.atomic_write_text(folder / "report.md", "\n".join(text))
    echo(f"report: {folder / 'report.md'}")
    return folder


def describe_space(space):
    """``log(0.0001, 0.1)`` or ``[0, 0.2, 0.5]`` for the report."""
    if space["kind"] == "choice":
        return str(space["values"])
    return f"{space['kind']}({space['low']}, {space['high']})"


def parallel_coordinates(settings, trials, path):
    """One vertical axis per hyper-parameter (scaled to 0-1, log for log spaces) and the objective;
    one line per trial, coloured by its objective (best: darkest)."""
    import numpy as np

    from dlzoo.plots import figures

    columns, labels = [], []
    for space in settings["spaces"]:
        values = [trial["values"][space["key"]] for trial in trials]
        if space["kind"] == "choice":
            choices = [as_toml_value(value) for value in space["values"]] if encoded(space) else space["values"]
            positions = {repr(value): index for index, value in enumerate(choices)}
            scaled = [positions[repr(value)] / max(len(choices) - 1, 1) for value in values]
        else:
            low, high = space["low"], space["high"]
            transform = np.log10 if space["kind"] == "log" else (lambda number: number)
            scaled = [(transform(value) - transform(low)) / (transform(high) - transform(low)) for value in values]
        columns.append(scaled)
        labels.append(f"{space['key']}\n{describe_space(space)}")
    objective = np.array([trial["objective"] for trial in trials], dtype=float)
    span = objective.max() - objective.min()
    columns.append(list((objective - objective.min()) / span) if span > 0 else [0.5] * len(trials))
    labels.append(f"{settings['objective']}\n{objective.min():.3g} - {objective.max():.3g}")
    data = np.array(columns).T  # (trials, axes)
    pyplot = figures.pyplot_module()
    figure, axes = pyplot.subplots(figsize=(2.2 * len(labels) + 1, 4.5))
    colour_values = objective if settings["direction"] == "max" else -objective
    norm = pyplot.Normalize(colour_values.min(), colour_values.max() if span > 0 else colour_values.min() + 1)
    for row, value in sorted(zip(data, colour_values), key=lambda pair: pair[1]):
        axes.plot(range(len(labels)), row, color=pyplot.cm.viridis(norm(value)), marker="o", alpha=0.85)
    for position in range(len(labels)):
        axes.axvline(position, color="0.6", linewidth=0.8)
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.set_yticks([0, 1], ["low", "high"])
    axes.set_title(f"{settings['name']}: {len(trials)} trials (yellow: best)")
    figures.save_figure(figure, path)
