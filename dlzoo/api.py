"""The Python API: what ``dlzoo train``, ``evaluate``, ``predict``, ... do, callable from a notebook.

    import dlzoo

    run = dlzoo.train("mlp", quick=True)        # -> dlzoo.Run (its folder is under runs/)
    run.metrics["test_accuracy"]
    run.evaluate(split="val")                   # the task's own metrics, as `dlzoo evaluate`
    run.visualize("gradcam")                    # -> paths of the new pictures
    again = dlzoo.load(run.folder)              # or dlzoo.load("mlp"): the latest run of mlp

The command line is a thin wrapper of these functions: one code path, so a mistake gives the
same one-line :class:`dlzoo.UsageError` here as on the terminal. Nothing here imports
TensorFlow until a function needs a model, so ``import dlzoo`` stays fast.
"""

import base64
import csv
import html
import pathlib

# Aliased: dlzoo.recipes(), dlzoo.resolve() and the runs= parameters are names of this API.
from dlzoo.config import recipes as recipe_config
from dlzoo.config import resolve as recipe_resolution
from dlzoo.runs import folders as run_folders
from dlzoo.core.errors import UsageError


def recipes(pattern=None, topic=None):
    """The rows of ``dlzoo list``: one dict per recipe (name, topic, task, dataset, target, description, ...).

    Args:
        pattern: keep recipes in which this text (any case) is part of a column ``dlzoo list`` shows.
        topic: keep recipes of this course topic (any case; an unknown one suggests the closest).
    """
    rows = [recipe_config.recipe_summary(path) for path in recipe_config.recipe_files()]
    if pattern:
        rows = recipe_config.matching_recipes(rows, pattern)
        if not rows:
            raise UsageError(f"no recipe matches '{pattern}' (run 'dlzoo list' to see them all)")
    if topic:
        rows = recipe_config.recipes_of_topic(rows, topic)
    return rows


def resolve(recipe, *, epochs=None, seed=None, data=None, overrides=None, plugins=(), set_=()):
    """The resolved configuration of ``recipe`` (a name or a ``.toml`` path), as ``dlzoo show`` prints it.

    ``overrides`` is a dict of dotted keys (``{"optimizer.learning_rate": 0.01}``) checked by the
    ``--set`` rules; ``set_`` takes ``--set`` strings (``"optimizer.learning_rate=0.01"``).
    """
    if isinstance(plugins, (str, pathlib.Path)):
        plugins = [plugins]
    assignments = list(set_) + [(dotted, value) for dotted, value in dict(overrides or {}).items()]
    return recipe_resolution.load_config(recipe, assignments, dataset=data, epochs=epochs, seed=seed,
                                     plugins=list(plugins))


def train(recipe, *, epochs=None, seed=None, data=None, quick=False, runs="runs", overrides=None, plugins=(),
          device="auto", set_=(), echo=print, debug=False):
    """Train a recipe (a name from :func:`recipes` or a ``.toml`` file) and return its :class:`Run`.

    Args:
        recipe: recipe name or path to a recipe file.
        epochs, seed, data: the shortcuts of ``--epochs``, ``--seed`` and ``--data``.
        quick: a smoke test (a tiny budget), as ``--quick``.
        runs: the runs root folder.
        overrides: ``{"section.key": value}``, checked exactly as ``--set`` (unknown keys, types).
        plugins: files of your own models, optimizers or datasets (see the README).
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
        set_: ``--set`` strings, for the command line.
        echo: where the lines before epoch 1 go.
        debug: keep TensorFlow's own log lines.

    Raises:
        dlzoo.UsageError: bad input, before anything is written.
        dlzoo.RunFailed: the run started and failed (its folder says why).
    """
    resolved = resolve(recipe, epochs=epochs, seed=seed, data=data, overrides=overrides, plugins=plugins, set_=set_)
    run_folders.check_writable(runs or run_folders.DEFAULT_ROOT)
    import_tensorflow(debug)
    from dlzoo.commands.train import train_recipe

    folder, _ = train_recipe(resolved, out=runs, quick=quick, device=device, echo=echo)
    return Run(folder)


def load(run_or_recipe, runs="runs"):
    """The :class:`Run` of a run folder, or the latest completed (not --quick) run of a recipe name."""
    return Run(run_folders.resolve_run(str(run_or_recipe), runs))


def import_tensorflow(debug=False):
    """Import TensorFlow without its start-up log lines (all of them with ``debug``)."""
    from dlzoo.core.quiet import import_tensorflow as quiet_import

    quiet_import(debug=debug)


class Run:
    """A run folder read back: configuration, final metrics, history, and the commands that use it.

    Everything is read from the folder when asked, so a ``Run`` of a run that is still training
    shows its progress. The Keras model is loaded on first use of :attr:`model`.
    """

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        if not run_folders.is_run_folder(self.folder):
            raise UsageError(f"{folder} is not a run folder (no {run_folders.CONFIG_FILE} in it)")
        self._loaded = None

    def __repr__(self):
        return f"Run('{self.folder}', status={self.status!r})"

    # 1. What the folder says -------------------------------------------------------------------

    @property
    def config(self):
        """The resolved recipe the run was trained with (``config.toml``)."""
        return recipe_config.read_toml(self.folder / run_folders.CONFIG_FILE)

    @property
    def record(self):
        """Everything ``metrics.json`` holds: metrics, target, parameters, wall time, status, ..."""
        return run_folders.read_json(self.folder / run_folders.METRICS_FILE)

    @property
    def metrics(self):
        """The final metrics (``{"test_accuracy": 0.97, ...}``)."""
        return dict(self.record.get("metrics") or {})

    @property
    def status(self):
        """``"completed"``, ``"running"``, ``"failed"`` or ``"interrupted"``."""
        return self.record.get("status", "unknown")

    @property
    def history(self):
        """Per-epoch values from ``history.csv``: ``{"loss": [...], "val_loss": [...], ...}``."""
        path = self.folder / "history.csv"
        if not path.is_file():
            return {}
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        columns = {}
        for row in rows:
            for key, text in row.items():
                columns.setdefault(key, []).append(to_number(text))
        return columns

    # 2. What it can do (each the same code as the command of the same name) --------------------

    @property
    def model(self):
        """The trained Keras model (``model.keras``), loaded on first use."""
        return self._load().model

    def evaluate(self, split="test", data=None):
        """The task's metrics on ``split`` (``"train"``, ``"val"``, ``"test"``), as ``dlzoo evaluate``;
        ``data`` evaluates on another dataset spec. Writes a new ``evaluation-*.json`` in the run."""
        if split not in ("train", "val", "test"):
            raise UsageError(f"split must be train, val or test, got {split!r}")
        import_tensorflow()
        from dlzoo.commands.evaluate import evaluate_target

        result, _, _ = evaluate_target(str(self.folder), dataset=data, split=split)
        return result

    def predict(self, inputs):
        """One line per input, as ``dlzoo predict`` prints it (class and probability, translation, ...).

        ``inputs``: a list of strings (as typed on the command line: translators' sentences,
        a classifier's comma-separated values) or a NumPy array of raw inputs.
        """
        import numpy as np

        task = recipe_resolution.task_of(self.config)
        if isinstance(inputs, np.ndarray):  # raw inputs, as `dlzoo predict --file inputs.npy` reads them
            values = np.asarray(inputs, dtype="float32")
        else:
            values = task.read_inputs([str(value) for value in inputs], None)
        import_tensorflow()
        loaded = self._load()
        extra = {"folder": self.folder} if task.predict_writes_files else {}  # a segmenter writes its masks there
        return list(loaded.task.predict(loaded.model, loaded.load_data(), values, **extra))

    def visualize(self, method="saliency", **options):
        """Pictures of ``dlzoo visualize`` (``method``: saliency, gradcam, ...); returns their paths.

        ``options``: ``layer``, ``class_index``, ``samples``, ``out``.
        """
        import_tensorflow()
        from dlzoo.commands.visualize import visualize_run

        return [pathlib.Path(path) for path in visualize_run(str(self.folder), method=method, **options)]

    def export(self, out=None, export_format="saved_model", allow_failed=False):
        """A verified SavedModel (or ``.keras``) with the report, in a new folder; returns its path."""
        from dlzoo.commands.export import check_destination, export_run

        check_destination(out)
        import_tensorflow()

        return pathlib.Path(export_run(str(self.folder), export_format=export_format, out=out,
                                       allow_failed=allow_failed))

    def sample(self, n=64, class_index=None, seed=0, out=None):
        """New examples from a generative run (``dlzoo sample``); returns the paths written."""
        from dlzoo.commands.sample import check_request, sample_run

        check_request(str(self.folder), n, class_index)
        import_tensorflow()
        return [pathlib.Path(path) for path in sample_run(str(self.folder), count=n, class_index=class_index,
                                                           seed=seed, out=out)]

    def _load(self):
        """The run's task and Keras model (:func:`dlzoo.runs.load.load_run`), once."""
        if self._loaded is None:
            import_tensorflow()
            from dlzoo.runs.load import load_run

            self._loaded = load_run(str(self.folder))
        return self._loaded

    # 3. How it shows itself --------------------------------------------------------------------

    def summary(self):
        """The block ``dlzoo train`` prints at the end: metrics, target verdict, where things are."""
        return summary_block(self.folder, self.record)

    def _repr_markdown_(self):
        """In a notebook: the summary block (and the learning curves, in the HTML form)."""
        return "```\n" + self.summary().strip("\n") + "\n```"

    def _repr_html_(self):
        """In a notebook: the summary block and the learning curves inline (no files to open)."""
        parts = [f"<pre>{html.escape(self.summary().strip())}</pre>"]
        curves = self.folder / "plots" / "learning_curves.png"
        if curves.is_file():
            encoded = base64.b64encode(curves.read_bytes()).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{encoded}" alt="learning curves" style="max-width: 640px">')
        return "\n".join(parts)


def to_number(text):
    """A history.csv cell as a float (empty or ``NA`` cells: ``nan``)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def summary_block(folder, record):
    """The block printed at the end of a run: final metrics, wall time, where things are."""
    from dlzoo.runs.report import TRAIN_ACCURACY_NOTE

    quick = " (quick)" if record.get("quick") else ""
    lines = ["", f"== {record.get('recipe', folder.parent.name)}{quick}: {record.get('status', 'unknown')} in "
                 f"{record.get('wall_seconds', 0):.1f} s on {record.get('device', '?')}"]
    metrics = record.get("metrics") or {}
    for key, value in metrics.items():
        lines.append(f"   {key:34s} {value:.4g}" if isinstance(value, float) else f"   {key:34s} {value}")
    if "train_accuracy" in metrics:
        lines.append(f"   ({TRAIN_ACCURACY_NOTE})")
    for key, note in (record.get("metric_notes") or {}).items():  # what a task's own numbers mean
        lines.append(f"   {key}: {note}")
    target = record.get("target")
    if target and target.get("error"):
        lines.append(f"   target: {target['error']}")
    elif target and target.get("value") is not None:
        verdict = "passed" if target["passed"] else "below target"
        changes = recipe_config.describe_changed_settings(record.get("changed_settings"))
        if changes:
            verdict += f" ({changes})"
        if record.get("quick"):
            verdict += " (quick run: a smoke test, not the recipe's budget)"
        lines.append(f"   target: {target['metric']} {recipe_config.target_bound(target)}: {target['value']:.4g} {verdict}")
    lines.append(f"   run folder:  {folder}")
    if (folder / "saved_model").exists():
        lines.append(f"   SavedModel:  {folder / 'saved_model'}")
    lines.append(f"   report:      {folder / 'report.md'}")
    return "\n".join(lines)
