"""The checker: read the student's FILE[:OBJECT], run the exercise, say passed or FAILED.

Importing the student's file runs their code, as ``python FILE`` would: check only files
you trust (your own).

Exit codes (the CLI's): 0 passed, 1 FAILED, 2 an unusable file (missing, a syntax error, an
error while importing it, no such object, the wrong kind of object). The file is read and
compiled before TensorFlow is imported, so a typo is reported at once.
"""

import importlib.util
import pathlib
import re
import sys

from dlzoo.runs import plugins
from dlzoo.core.errors import UsageError
from dlzoo.exercises import base


def parse_target(target):
    """``"my_adam.py:MyAdam"`` -> ``(Path("my_adam.py"), "MyAdam")``; no object -> ``(path, None)``."""
    text = str(target)
    path_part, separator, object_part = text.rpartition(":")
    if separator and path_part and object_part.isidentifier():
        return pathlib.Path(path_part), object_part
    return pathlib.Path(text), None


def read_source(path):
    """The file's text, compiled once to find syntax errors; UsageError (exit 2) if unusable."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    if path.suffix != ".py":
        raise UsageError(f"{path}: not a Python file (the checker imports a .py file)")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot be read ({error})") from None
    try:
        compile(source, str(path), "exec")
    except SyntaxError as error:
        raise UsageError(f"{path}, line {error.lineno}: {type(error).__name__}: {error.msg}") from None
    return source


def import_file(path):
    """Import ``path`` as a fresh module (its code runs); UsageError naming the line if it raises."""
    module_name = "dlzoo_exercise_" + re.sub(r"\W", "_", path.stem)
    sys.modules.pop(module_name, None)  # a second check of an edited file imports it anew
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # Keras serialization and dataclasses look modules up here
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # as `python FILE` does: the file may import its neighbours
    try:
        with plugins.registrations_undone():  # a skeleton registers itself as a plug-in: checking is not installing
            spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(module_name, None)
        line = _line_in_file(error, path)
        where = f"{path}, line {line}" if line else str(path)
        raise UsageError(f"{where}: {type(error).__name__}: {error} (raised while importing the file)") from None
    finally:
        sys.path.remove(folder)
    return module


def find_object(module, path, object_name, exercise):
    """The object to check: ``object_name``, else the exercise's default name, else the one
    object of the right kind that the file defines. UsageError (exit 2) otherwise."""
    name = object_name or exercise.object_name
    if hasattr(module, name):
        candidate = getattr(module, name)
        problem = exercise.kind_problem(candidate)
        if problem:
            raise UsageError(f"{path}: '{name}' {problem}; the {exercise.name} exercise needs {exercise.kind}")
        return candidate
    defined = [key for key, value in vars(module).items()
               if not key.startswith("_") and getattr(value, "__module__", None) == module.__name__]
    if object_name is None:
        fitting = [key for key in defined if exercise.kind_problem(getattr(module, key)) is None]
        if len(fitting) == 1:
            return getattr(module, fitting[0])
    found = f" (it defines: {', '.join(defined)})" if defined else ""
    raise UsageError(f"{path} has no '{name}'{found}; give the object as {path}:NAME")


def _line_in_file(error, path):
    """The line of the last traceback frame that is in ``path``, or None."""
    frame = _last_frame_in_file(error, path)
    return frame.tb_lineno if frame else None


def _last_frame_in_file(error, path):
    """The last traceback entry of ``error`` whose code is in ``path`` (None if there is none)."""
    resolved = str(path.resolve())
    found = None
    entry = error.__traceback__
    while entry is not None:
        if str(pathlib.Path(entry.tb_frame.f_code.co_filename).resolve()) == resolved:
            found = entry
        entry = entry.tb_next
    return found


def _where(error, path):
    """``"MyAdam.update_step (my_adam.py, line 42)"`` for the student's frame, or ``"your code"``."""
    frame = _last_frame_in_file(error, path) if path else None
    if frame is None:
        return "your code"
    code = frame.tb_frame.f_code
    return f"{getattr(code, 'co_qualname', code.co_name)} ({path.name}, line {frame.tb_lineno})"


def failure_from_exception(error, record, path, debug=False):
    """The verdict for student code that raised ``error`` while the checker ran it.

    With ``debug`` the traceback is printed on stderr first.
    """
    if debug:
        import traceback

        traceback.print_exception(error)
    place = record.place or ""
    place = f"{place}: " if place.startswith("while") else (f"at {place}: " if place else "")
    where = _where(error, path)
    if isinstance(error, NotImplementedError):
        return base.Verdict(False, f"not implemented yet: {where}",
                            hint="replace the TODO and the 'raise NotImplementedError' there with your code")
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    # Inside tf.function TensorFlow wraps the message: "in user code:", frames, then the error.
    message = (lines[-1] if lines[0] == "in user code:" else lines[0]) if lines else ""
    message = message.removeprefix(f"{type(error).__name__}: ")
    summary = f"{place}{where} raised {type(error).__name__}" + (f": {message}" if message else "")
    hint = _exception_hint(error) + ("" if debug else " (rerun with --debug for the traceback)")
    return base.Verdict(False, summary[:400], hint=hint)


def _exception_hint(error):
    """A hint for the common kinds of exception."""
    text = f"{type(error).__name__}: {error}".lower()
    if "shape" in text or "dimension" in text or "broadcast" in text or "incompatible" in text:
        return "a shape mismatch: print the shapes of the arrays on that line and compare them with the docstring's"
    if isinstance(error, TypeError) and ("argument" in text or "keyword" in text):
        return "check the signature: the arguments must have the names and order given in the skeleton's docstring"
    if "graph" in text or "symbolic" in text or "tf.function" in text:
        return ("inside tf.function (as in model.fit) a tensor has no Python value: compute with keras.ops, "
                "no if/float()/.numpy() on tensors")
    if isinstance(error, AttributeError):
        return "an attribute that does not exist: build() must create every variable update_step() uses"
    return "run the failing call yourself on small inputs to see why it raises"


def run_check(exercise, candidate, path=None, debug=False):
    """Check ``candidate`` (an object from the student's file ``path``) against ``exercise``;
    ``debug`` prints the traceback of an exception in the student's code."""
    expected = exercise.expected()
    got = base.Record()
    try:
        exercise.outputs(candidate, got)
    except base.InterfaceProblem as problem:
        return base.Verdict(False, problem.summary, hint=problem.hint)
    except Exception as error:  # the student's code raised: a failed check, not a crash
        difference, _ = base.compare(expected, got, exercise.tolerance, partial=True)
        if difference is None:  # nothing differed before it raised: the exception is the news
            return failure_from_exception(error, got, path, debug)
        return _failure_from_difference(exercise, difference, expected, got)
    difference, largest = base.compare(expected, got, exercise.tolerance)
    if difference is None:
        try:
            problem = exercise.final_checks(candidate)
        except Exception as error:
            return failure_from_exception(error, base.Record(), path, debug)
        if problem:
            return base.Verdict(False, problem[0], hint=problem[1])
        return base.Verdict(True, exercise.passed_summary(largest))
    return _failure_from_difference(exercise, difference, expected, got)


def _failure_from_difference(exercise, difference, expected, got):
    """FAILED at the first difference, with the hint of a matching known mistake or a pattern."""
    import numpy as np

    mistake = exercise.matching_mistake(got, difference)
    if mistake is not None:
        hint = f"your numbers match a known mistake, {mistake.label}: {mistake.hint}"
    else:
        with np.errstate(all="ignore"):
            hint = exercise.pattern_hint(difference, expected, got)
    return base.Verdict(False, difference.describe(), hint=hint)


def check_file(exercise, target, debug=False):
    """Check the object named by ``target`` (``FILE[:OBJECT]``); returns a :class:`Verdict`."""
    path, object_name = parse_target(target)
    read_source(path)
    module = import_file(path)
    candidate = find_object(module, path, object_name, exercise)
    return run_check(exercise, candidate, path, debug)
