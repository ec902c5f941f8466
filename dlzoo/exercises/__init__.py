"""Auto-checked exercises: write a piece of deep learning yourself, the checker compares it with Keras.

    dlzoo exercise list                          # name, course topic, what to write
    dlzoo exercise start adam --to my_adam.py    # a skeleton: interface, docstring, TODOs
    dlzoo exercise check adam my_adam.py         # passed / FAILED, where it differs, a hint

Each module of this package is one family of exercises (``optimizers``, ``dense_backprop``,
``softmax_cross_entropy``, ``recurrent_cells``, ``attention``, ``conv2d``); each exercise is an
:class:`~dlzoo.exercises.base.Exercise` that registers itself here by name, so a new exercise
is one new class, with no list to edit. The oracles are Keras's own layers and optimizers,
``tf.GradientTape`` and finite differences, never the zoo's solutions: the zoo's implementations
(``dlzoo.optimizers``, ``dlzoo.models.rnn``, ``dlzoo.models.attention``) pass the exercises like
any student's would (tests/test_exercises.py).

Importing this package and listing the exercises needs NumPy only; TensorFlow and Keras are
imported when an exercise is checked.
"""

import importlib
import pathlib
import pkgutil

from dlzoo.core.errors import UsageError
from dlzoo.core.registry import Registry, UnknownNameError

EXERCISES = Registry("exercise")

_FRAMEWORK_MODULES = ("base", "checker")


def register(exercise_class):
    """Class decorator: register one instance of ``exercise_class`` under its ``name``."""
    EXERCISES.register(exercise_class.name)(exercise_class())
    return exercise_class


def _import_exercise_modules():
    """Import every exercise module once, so that each registers its exercises."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _FRAMEWORK_MODULES:
            importlib.import_module(f"{__name__}.{module.name}")


def get(name):
    """The exercise registered as ``name``; UsageError (exit 2) with a did-you-mean if unknown."""
    _import_exercise_modules()
    try:
        return EXERCISES.get(name)
    except UnknownNameError as error:
        raise UsageError(f"{error} (run 'dlzoo exercise list')") from None


def names():
    """Every exercise name, in the order of the course (the order of :func:`rows`)."""
    return [row["name"] for row in rows()]


def rows():
    """One dict per exercise: ``name``, ``topic``, ``task`` (what to write), ``object``."""
    _import_exercise_modules()
    exercises = [EXERCISES.get(name) for name in EXERCISES.names()]
    exercises.sort(key=lambda exercise: (exercise.order, exercise.name))
    return [{"name": exercise.name, "topic": exercise.topic, "task": exercise.task,
             "object": exercise.object_name} for exercise in exercises]


def start(name, destination):
    """Write the skeleton of exercise ``name`` to ``destination``; never overwrite a file.

    Returns the path written. Raises UsageError (exit 2) if the file exists.
    """
    exercise = get(name)
    path = pathlib.Path(destination)
    if path.exists():
        raise UsageError(f"{path} already exists; choose another --to (nothing was written)")
    if path.suffix != ".py":
        raise UsageError(f"{path}: give a .py file name (the checker imports it)")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such folder")
    try:
        with open(path, "x", encoding="utf-8") as handle:  # "x": fails rather than overwrite
            handle.write(exercise.skeleton().replace("THIS_FILE.py", path.name))
    except FileExistsError:
        raise UsageError(f"{path} already exists; choose another --to (nothing was written)") from None
    return path


def prepare_check(name, target):
    """The checks that need no TensorFlow: the exercise exists, the file exists and compiles."""
    from dlzoo.exercises import checker

    exercise = get(name)
    path, _ = checker.parse_target(target)
    checker.read_source(path)
    return exercise


def check(name, target, debug=False):
    """Check the student's ``target`` (``FILE[:OBJECT]``) against exercise ``name``: a Verdict.

    ``debug`` prints the traceback when the student's code raises.
    """
    from dlzoo.exercises import checker

    return checker.check_file(prepare_check(name, target), target, debug)


def check_object(name, candidate):
    """Check a Python object directly (a class or a function): a Verdict. Used by the tests."""
    from dlzoo.exercises import checker

    return checker.run_check(get(name), candidate)
