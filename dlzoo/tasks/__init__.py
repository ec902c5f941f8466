"""Tasks: the one place that knows what kind of learning a recipe does.

Each module of this package defines a :class:`~dlzoo.tasks.base.Task` subclass and registers it
with ``@register("name")``; :func:`get` imports every module of the package first, so a new
task is one new file (no list to edit). Task modules import TensorFlow inside their functions,
so importing them is cheap (``dlzoo show`` checks a task's configuration without TensorFlow).
"""

import importlib
import pkgutil

from dlzoo.core.registry import Registry

TASKS = Registry("task")


def register(name):
    """Class decorator registering a :class:`~dlzoo.tasks.base.Task` subclass as ``name``."""

    def decorator(task_class):
        task_class.name = name
        return TASKS.register(name)(task_class)

    return decorator


def _import_task_modules():
    """Import every module of this package, so that each registers its task."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get(name):
    """The task class registered as ``name`` (a did-you-mean error when unknown)."""
    _import_task_modules()
    return TASKS.get(name)


def create(name):
    """A new instance of the task registered as ``name``."""
    return get(name)()


def names():
    """Names of every registered task."""
    _import_task_modules()
    return TASKS.names()


def names_that_can(capability):
    """Names of the registered tasks that declare ``capability`` (see ``Task.supports``)."""
    return [name for name in names() if TASKS.get(name).can(capability)]
