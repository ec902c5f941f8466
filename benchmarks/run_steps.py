"""The steps of one ``dlzoo train`` of a classification recipe that the real-data benchmarks
measure (``fashion_memory.py``: peak memory after each; ``real_data_scale.py``: time in each),
and one way to hook them: each step's function is wrapped in place, then the CLI runs as usual.

The benchmarks' child processes import this file (``CHILD_PREAMBLE`` puts its folder on the path).
"""

import importlib
import pathlib

# (label, module, attribute inside it): in the order a run meets them.
STEPS = (
    ("load the data", "dlzoo.tasks.supervised", "load_splits"),
    ("fit", "dlzoo.training.fit", "fit"),
    ("evaluate 3 splits", "dlzoo.tasks.classify", "ClassifyTask.evaluate"),
    ("save model.keras", "dlzoo.runs.export", "save_keras_model"),
    ("SavedModel export + verification", "dlzoo.tasks.supervised", "SupervisedTask.export"),
    ("pictures", "dlzoo.tasks.classify", "ClassifyTask.draw"),
    ("baselines", "dlzoo.metrics.baselines", "attach"),
)

# The first line of a child program run with ``python -c``: this folder on its import path.
CHILD_PREAMBLE = f"import sys; sys.path.insert(0, {str(pathlib.Path(__file__).resolve().parent)!r})\n"


def wrap_steps(before, after):
    """Wrap every step of :data:`STEPS`: ``state = before(label, function name)`` runs before each
    call and ``after(label, state)`` after it, also when the call raises."""
    for label, module_name, attribute in STEPS:
        owner = importlib.import_module(module_name)
        *owners, name = attribute.split(".")
        for part in owners:
            owner = getattr(owner, part)
        setattr(owner, name, wrapped(getattr(owner, name), label, name, before, after))


def wrapped(original, label, name, before, after):
    """``original`` between ``before(label, name)`` and ``after(label, state)``."""

    def step(*arguments, **keywords):
        state = before(label, name)
        try:
            return original(*arguments, **keywords)
        finally:
            after(label, state)

    return step
