"""The Task base class: what every kind of learning answers.

A task is the one place that knows what kind of learning a recipe does (classify, regress, a
NumPy network, ...). The platform calls it at fixed points, and never assumes classification:

    config ──► check_config (no TensorFlow: `dlzoo show` and usage errors stay fast)
           ──► prepare (data bundle, model, optimizers; bad input raises, no run folder yet)
           ──► run (trains through dlzoo.training, evaluates, exports, draws; returns metrics)

and after training, the commands read the run's ``config.toml``, build the same task and ask it:

    dlzoo evaluate   ──► task.load_data + task.check_fits + task.evaluate_run (+ task.evaluation_line)
    dlzoo export     ──► task.serving_endpoints (named inputs and outputs, raw data in)
    dlzoo visualize  ──► task.visualize_methods
    dlzoo predict    ──► task.read_inputs + task.predict
    dlzoo compare    ──► task.headline_metrics
    dlzoo check, lr-find, train --overfit-batch ──► task.training_parts;  dlzoo tune ──► task.tune_objective

A new task is one module in ``dlzoo/tasks/`` whose class subclasses :class:`Task` and is
decorated with ``@register("name")``: importing the package registers it, no list to edit.

What a task can do with the generic tools (``dlzoo check``, ``lr-find``, ``tune``, ``sample``,
...) is declared in its class attribute ``supports`` and asked with :meth:`Task.require`, never
guessed from the task's name or from the methods it happens to have: the optional methods below
answer "not supported" by default, with the task's own reason where it gave one.
"""

import dataclasses

from dlzoo.core.validation import check_known_keys
from dlzoo.core.errors import UsageError

# The capabilities a task may declare in ``Task.supports``, and what each lets the user do.
CAPABILITIES = {
    "check": "check the recipe before training (dlzoo check, dlzoo train --overfit-batch)",
    "lr-find": "run the learning-rate range test (dlzoo lr-find)",
    "tune": "tune its hyper-parameters on the validation split (dlzoo tune)",
    "sample": "draw new examples (dlzoo sample)",
    "text-generation": "continue a text (dlzoo predict --prompt)",
    "similarity": "score word similarities against human judgements (dlzoo evaluate --similarity)",
    "own-pictures": "draw its own dlzoo visualize pictures",
}



@dataclasses.dataclass
class TrainingParts:
    """What ``dlzoo check``, ``--overfit-batch`` and ``dlzoo lr-find`` need of a prepared run
    (:meth:`Task.training_parts`): one Keras model trained by one optimizer, and its loss.

    Attributes:
        model: the compiled Keras model that training calls ``fit`` on (its ``optimizer`` trains it).
        loss: ``loss(inputs, targets, training) -> scalar tensor``, the loss training minimizes.
        batch: ``batch(size) -> (inputs, targets)``, the first ``size`` training examples.
        next_batch: ``next_batch() -> (inputs, targets)``, training batches one after the other, forever.
        expected_loss: ``(value or None, explanation, highest acceptable ratio loss / value)``: the
            loss of an untrained model, and why.
        splits: the data bundle whose ``arrays(split)`` the leakage check compares, or None.
        classes: the targets are classes (the check counts examples per class).
        overfit_fraction: ``--overfit-batch`` passes when the loss falls below this fraction of its
            first value (a loss with a floor above zero, like a VAE's, needs a larger one).
    """

    model: object
    loss: object
    batch: object
    next_batch: object
    expected_loss: tuple
    splits: object = None
    classes: bool = False
    overfit_fraction: float = 0.05


class Task:
    """Base class of every task; subclasses override what their kind of learning needs.

    Class attributes:
        name: the registered name (set by :func:`dlzoo.tasks.register`).
        section: the name of the task's own config section (``"transfer"``), or None.
        section_defaults: the keys of that section and their defaults.
        description: one line for ``dlzoo list`` and error messages.
        model_kind: the kind of :mod:`dlzoo.models` builder ``[model] name`` names
            (``"classifier"``, ``"autoencoder"``, ``"gan"``, ``"segmentation"``, ``"translator"``);
            its options are checked by :func:`dlzoo.models.check_options` when the recipe is
            resolved. ``None``: ``[model]`` is not a registered builder (the NumPy MLP's options).
        uses_data: the task reads ``[data] dataset`` (its source's keys are checked).
        resume_unsupported: why ``dlzoo train --resume`` cannot continue this task's runs
            (empty when it can: the task trains through :func:`dlzoo.training.fit` or a
            :func:`dlzoo.training.fit.run_epochs` loop given a checkpoint).
        predict_writes_files: :meth:`predict` writes files into the run folder (a segmenter's
            masks), so ``dlzoo predict`` and ``Run.predict`` pass it the run folder as ``folder``.
        supports: the capabilities of :data:`CAPABILITIES` the task has (read without TensorFlow).
        unsupported_reasons: ``{capability: why not}`` for the capabilities it lacks, when the
            reason is more precise than "dlzoo cannot ..." (a GAN has no single learning rate).
    """

    name = ""
    section = None
    section_defaults = {}
    description = ""
    model_kind = None
    uses_data = True
    resume_unsupported = ""
    predict_writes_files = False
    supports = frozenset()
    unsupported_reasons = {}

    # 1. Configuration (must not import TensorFlow) ---------------------------------------------

    def check_config(self, config):
        """Refuse unknown keys of the task's own section; subclasses check values too."""
        if self.section and self.section in config:
            check_known_keys(self.section, config[self.section], self.section_defaults)

    def metric_names(self, config):
        """Every name a run of ``config`` can put in ``metrics.json``'s ``metrics``, or None when
        the task cannot tell before it runs.

        Cheap and without TensorFlow: :meth:`check_expect` asks it before anything is loaded.
        A superset is fine (a name produced only in full runs, or only with some data); a
        name missing here is not: a recipe targeting it would be refused.
        """
        return None

    def check_expect(self, config):
        """Refuse an ``expect.metric`` this task never produces for ``config`` (before training).

        A sweep's metric is ``<variant>/<metric>``: the variant must exist too. Tasks whose
        :meth:`metric_names` is None are checked after the run only (``metrics.json`` says so).
        """
        from dlzoo.core.registry import did_you_mean

        metric = config.get("expect", {}).get("metric", "test_accuracy")
        prefix, where = "", f"task '{self.name}'"
        sweep = config.get("sweep")
        if sweep and isinstance(sweep.get("variants"), list):
            variants = [variant.get("name") for variant in sweep["variants"] if isinstance(variant, dict)]
            variant, _, metric_part = metric.partition("/")
            if variant not in variants or not metric_part:
                raise UsageError(f"expect.metric '{metric}' must be <variant>/<metric> for a sweep, with a variant among "
                                 f"{', '.join(map(str, variants))}")
            prefix, where = f"{variant}/", f"{where} (variant '{variant}')"
        names = self.metric_names(config)
        if names is None or metric[len(prefix):] in names:
            return
        names = sorted(prefix + name for name in names)
        hint = did_you_mean(metric, names)
        raise UsageError(f"expect.metric '{metric}' is not a metric of {where}" + (f"; {hint}" if hint else "")
                         + f" (its metrics: {', '.join(names)})")

    # 2. Training ---------------------------------------------------------------------------

    def check_resume(self, prepared, folder):
        """Before ``--resume`` writes anything: refuse a checkpoint in ``folder`` that does not
        belong to the prepared model (the default checks ``prepared.model``'s variables)."""
        from dlzoo.training import state

        model = getattr(prepared, "model", None)
        if model is not None and hasattr(model, "variables"):
            state.check_state_fits(model, folder)

    def describe(self, prepared):
        """One line printed before training: the data, its split sizes, the model and its size."""
        return ""

    def prepare(self, config, quick=False):
        """Load the data and build what training needs; raise ValueError/UsageError on bad input."""
        raise NotImplementedError(f"task '{self.name}' does not implement prepare")

    def run(self, prepared, folder):
        """Train, evaluate, save and draw into ``folder``; return the dict for ``metrics.json``."""
        raise NotImplementedError(f"task '{self.name}' does not implement run")

    # 3. After training: what the commands ask ------------------------------------------------

    def load_data(self, config, dataset=None):
        """The data a run was trained on (or ``dataset`` instead), as a data bundle."""
        raise self.not_supported("evaluate it on data")

    def evaluate(self, model, bundle, split):
        """Metrics of ``model`` on one split of ``bundle``, as a JSON-ready dict."""
        raise self.not_supported("evaluate it")

    def evaluate_run(self, run, bundle, split):
        """Metrics of a loaded run (``dlzoo evaluate``): :meth:`evaluate` of its model by default;
        tasks whose evaluation needs the run's configuration (``run.config``) override it."""
        return self.evaluate(run.model, bundle, split)

    def evaluation_line(self, result):
        """One line for the terminal summarizing :meth:`evaluate`'s result."""
        return ", ".join(f"{key} {value:.4g}" for key, value in result.items() if isinstance(value, float))

    def serving_endpoints(self, model, bundle):
        """SavedModel endpoints: ``{name: (function, input_signature)}``; functions return dicts."""
        raise self.not_supported("export it as a SavedModel")

    def export(self, model, bundle, destination):
        """Write and verify the SavedModel at ``destination``; returns the record for ``metrics.json``.

        The default writes :meth:`serving_endpoints` and checks ``serve`` on a few test inputs
        (:meth:`export_sample`); tasks whose endpoints take other inputs (noise, latent codes)
        override it.
        """
        from dlzoo.runs import export

        exported = export.export_saved_model(model, destination, self.serving_endpoints(model, bundle),
                                             self.export_sample(bundle))
        exported["example"] = self.serving_example(bundle)
        return exported

    def export_sample(self, bundle):
        """Inputs of the ``serve`` endpoint the export is verified on: up to 64 test inputs."""
        return bundle.arrays("test", limit=64)[0]

    def serving_example(self, bundle):
        """The plain-TensorFlow snippet (Markdown) that calls the exported ``serve`` endpoint."""
        return ""

    def visualize_methods(self, model):
        """Names of the ``dlzoo visualize`` methods that make sense for this task's model."""
        return []

    def read_inputs(self, values, file):
        """Turn ``dlzoo predict`` arguments (strings) or ``--file`` into model inputs."""
        raise self.not_supported("predict with it")

    def predict(self, model, bundle, inputs):
        """One human-readable line per input for ``dlzoo predict``."""
        raise self.not_supported("predict with it")

    def check_predict_options(self, options):
        """Refuse ``dlzoo predict`` options this task has no use for (``--beam``, ``--attention``:
        translators); a task that takes them overrides this and receives them in :meth:`predict`."""
        if options:
            names = ", ".join(f"--{name}" for name in options)
            raise UsageError(f"{names} applies to translators (seq2seq runs); this run's task is '{self.name}'")

    # 4. Capabilities: what the generic tools may do (no TensorFlow) ---------------------------

    @classmethod
    def can(cls, capability):
        """True when this task declares ``capability`` (one of :data:`CAPABILITIES`)."""
        if capability not in CAPABILITIES:
            raise KeyError(f"unknown capability {capability!r}")  # a typo in dlzoo's own code
        return capability in cls.supports

    def require(self, capability, subject=None):
        """Raise the usage error of a tool this task does not support; ``subject`` names the
        recipe or run in the message (default: "this run")."""
        if self.can(capability):
            return
        from dlzoo import tasks

        able = tasks.names_that_can(capability)
        reason = self.unsupported_reasons.get(capability) or self.description
        raise UsageError(f"dlzoo cannot {CAPABILITIES[capability]} for {subject or 'this run'}: its task is "
                         f"'{self.name}' ({reason}); tasks that can: {', '.join(able) or 'none'}")

    def check_fits(self, model, bundle):
        """Refuse data whose inputs or classes do not fit ``model`` (before evaluating it); the
        default is a classifier's check: the input shape, then the number of classes."""
        if getattr(bundle, "kind", None) == "text":  # string pairs: any string fits a translator (unknown characters too)
            return
        expected = tuple(model.input_shape[1:])
        if expected != bundle.input_shape:
            raise UsageError(f"dataset {bundle.name} has inputs {bundle.input_shape}; the model expects {expected}")
        if bundle.targets != "classes":
            return
        units = model.output_shape[-1]
        if units not in (bundle.num_classes, 1) or (units == 1 and bundle.num_classes != 2):
            raise UsageError(f"dataset {bundle.name} has {bundle.num_classes} classes; the model predicts {max(units, 2)}")

    def headline(self, result):
        """The numbers of an evaluation that the run's report shows (default: every float of it)."""
        return {key: value for key, value in result.items() if isinstance(value, float)}

    def headline_metrics(self, config):
        """The ``metrics.json`` keys ``dlzoo compare`` shows for a run of ``config``, most telling first.

        The default: the recipe's target metric, its validation counterpart (``test_x`` ->
        ``val_x``) and the test loss; tasks add their own scores. Names a run lacks are left out.
        """
        metric = config.get("expect", {}).get("metric", "test_accuracy")
        names = [metric, "val_" + metric[len("test_"):] if metric.startswith("test_") else None, "test_loss"]
        return list(dict.fromkeys(name for name in names if name))

    def tune_objective(self, config):
        """``(metric on the validation split, "max" or "min")`` that ``dlzoo tune`` chooses trials by:
        the target metric's validation counterpart (``test_accuracy`` -> ``val_accuracy``), minimized
        when the target is a maximum. Choosing on the test split would make its score optimistic."""
        metric = config["expect"]["metric"]
        if not metric.startswith("test_"):
            raise UsageError(f"dlzoo tune needs a recipe whose target is a test_* metric, {config['name']} has {metric!r}")
        return "val_" + metric[len("test_"):], "min" if config["expect"].get("maximum") is not None else "max"

    def training_parts(self, prepared):
        """The :class:`TrainingParts` of a prepared run (tasks declaring "check" or "lr-find").

        The default reads a supervised run (``prepared.model``, ``.splits``, ``.datasets``): the
        model's compiled loss on ``(inputs, labels)``, the initial loss of ``dlzoo.commands.check``.
        """
        from dlzoo.metrics import initial_loss

        model, splits = prepared.model, prepared.splits
        batches = iter(prepared.datasets["train"].repeat())
        return TrainingParts(
            model=model, loss=lambda inputs, labels, training: model.loss(labels, model(inputs, training=training)),
            batch=lambda size: splits.arrays("train", limit=size), next_batch=lambda: next(batches),
            expected_loss=initial_loss.expected_initial_loss(prepared.config, splits, model), splits=splits,
            classes=splits.targets == "classes")

    def check_similarity_file(self, path):
        """Refuse a missing or malformed ``--similarity`` file before TensorFlow loads (tasks declaring "similarity")."""
        self.require("similarity")

    def evaluate_similarity(self, run, path, root=None):
        """``(result, one line, written path)`` of ``dlzoo evaluate RUN --similarity FILE``."""
        self.require("similarity")

    def read_generation_request(self, prompt, length, temperature):
        """``dlzoo predict --prompt --length --temperature`` as a request (text generators only)."""
        raise UsageError(f"--prompt, --length and --temperature are for text generators; this run's task is "
                         f"'{self.name}'")

    def check_sample_request(self, config, record, count, class_index):
        """Refuse a ``dlzoo sample`` request before TensorFlow loads (generative tasks override it)."""
        self.require("sample")

    def sample(self, model, config, record, count, class_index, seed):
        """``(samples in raw units, labels or None)`` drawn from a trained generative model."""
        raise self.not_supported("sample from it")

    def visualize(self, run, method, samples, out):
        """Draw the task's own ``dlzoo visualize`` pictures (tasks declaring "own-pictures")."""
        raise self.not_supported("draw its own pictures")

    def attention_inputs(self, model, bundle, samples):
        """``(inputs, labels of each position or None)`` for ``dlzoo visualize --method attention``:
        the first test inputs by default."""
        return bundle.arrays("test", limit=samples)[0], None

    def not_supported(self, action):
        """The usage error for a command this task has no answer to."""
        return UsageError(f"this run's task is '{self.name}'{': ' + self.description if self.description else ''}; "
                          f"dlzoo cannot {action}")
