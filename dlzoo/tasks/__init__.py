"""Tasks: the one place that knows what kind of learning a recipe does.

A task owns the loss, the metrics, how to train and evaluate, which pictures make sense and
what is exported. Every task has the same two steps, called by :mod:`dlzoo.train`:

* ``prepare(config, quick) -> prepared``: load data, build model and optimizer, check that
  they fit together. Anything wrong here is the user's input: it raises ``ValueError`` /
  :class:`~dlzoo.errors.UsageError` and no run folder is created.
* ``run(prepared, folder) -> results``: train and write everything into the run folder;
  returns the dict merged into ``metrics.json``.

Task modules import TensorFlow inside their functions, so this registry is cheap to import.
"""

import importlib

from dlzoo.registry import Registry

TASKS = Registry("task")
register = TASKS.register

_MODULES = ("classify", "scratch", "optimizer_paths", "transfer")


def get(name):
    """The task class registered as ``name``."""
    for module in _MODULES:
        try:
            importlib.import_module(f"dlzoo.tasks.{module}")
        except ModuleNotFoundError as error:
            if error.name != f"dlzoo.tasks.{module}":
                raise
    return TASKS.get(name)
