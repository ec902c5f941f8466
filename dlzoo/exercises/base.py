"""What every exercise shares: the record of compared arrays, the comparison, the verdict.

An exercise runs the student's object and an oracle (Keras, ``tf.GradientTape``, finite
differences) on the same fixed problem and writes what each produced into a :class:`Record`:
an ordered list of named arrays, each at a *place* (``"step 3"``, ``"case 'large logits'"``,
``"time step 2"``). :func:`compare` walks the two records in order and returns the first
:class:`Difference` beyond the tolerance, so the student is told where things first go wrong,
not where the error has grown largest.

Hints are data-driven where possible: an exercise lists known mistakes (:class:`Mistake`), each
a small deliberately wrong implementation of its own. When the student's record matches one of
them, the hint names that mistake; otherwise the exercise guesses from the pattern of the
difference (sign, ratio, first steps only, NaN...).

This module imports NumPy only: ``dlzoo exercise list`` must not import TensorFlow.
"""

import dataclasses

import numpy as np

# Error of an element relative to the larger of |expected| and this fraction of the largest
# |expected| of the same array: an element close to 0 is judged against the array's scale
# (its relative error alone would blow up on float32 rounding).
FLOOR_FRACTION = 1e-2


class Record:
    """The arrays one implementation produced, in the order they were produced.

    ``place`` is where the next arrays belong (``"step 3"``); an exercise sets it before it
    calls the student's code, so an exception can be reported at that place too.
    """

    def __init__(self):
        self.entries = []  # (place, variable, array)
        self.place = None

    def add(self, variable, value, place=None):
        """Keep ``value`` (converted to a float64 NumPy array) as ``variable`` at ``place``.

        Raises InterfaceProblem when the value is not numbers (None from a missing return, ...).
        """
        place = self.place if place is None else place
        try:
            array = None if value is None else as_array(value)
        except (TypeError, ValueError) as error:
            raise InterfaceProblem(f"{place}: '{variable}' is not an array of numbers ({type(value).__name__}: "
                                   f"{error})", "return NumPy arrays or tensors of the shapes in the docstring")
        if array is None:
            raise InterfaceProblem(f"{place}: your code gave None for '{variable}'",
                                   "a function that ends without 'return' gives None")
        self.entries.append((place, variable, array))

    def lookup(self):
        """``{(place, variable): array}``."""
        return {(place, variable): value for place, variable, value in self.entries}


def as_array(value):
    """A NumPy float64 array from a NumPy array, a number, or a Keras/TensorFlow tensor."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    elif not isinstance(value, (np.ndarray, np.generic, float, int, list, tuple)):
        from keras import ops  # a tensor of another backend

        value = ops.convert_to_numpy(value)
    return np.array(value, dtype=np.float64)


@dataclasses.dataclass
class Difference:
    """The first place where two records disagree."""

    place: str
    variable: str
    message: str  # what differs, e.g. "element [0, 2]: expected 0.0123, got 0.0456 (relative error 2.7)"
    index: tuple = None
    expected: float = None
    got: float = None
    relative_error: float = None

    def describe(self):
        """``"step 1, variable 'kernel' element [0, 2]: expected ..., got ... (relative error ...)"``."""
        place = f"{self.place}, " if self.place else ""
        return f"{place}variable '{self.variable}' {self.message}"


def format_index(index):
    """``(0, 2)`` -> ``"[0, 2]"``."""
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def relative_errors(expected, got):
    """Element-wise ``|got - expected| / max(|expected|, floor)``; 0 where both are the same NaN/inf."""
    scale = np.max(np.abs(expected[np.isfinite(expected)]), initial=0.0)
    floor = max(FLOOR_FRACTION * scale, np.finfo(np.float64).tiny)
    with np.errstate(all="ignore"):
        errors = np.abs(got - expected) / np.maximum(np.abs(expected), floor)
    same_non_finite = ~np.isfinite(expected) & ((np.isnan(expected) & np.isnan(got)) | (expected == got))
    errors = np.where(same_non_finite, 0.0, errors)
    return np.where(np.isnan(errors), np.inf, errors)


def compare_arrays(expected, got, tolerance):
    """``(message or None, largest relative error)`` for two arrays of one variable at one place."""
    if got.shape != expected.shape:
        if got.size == expected.size == 1:  # a number vs a 0-d or (1,) array: the same thing
            got = got.reshape(expected.shape)
        else:
            return f"has shape {got.shape}, expected shape {expected.shape}", np.inf, None
    if expected.size == 0:
        return None, 0.0, None
    errors = relative_errors(expected, got)
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape)
    largest = float(errors[worst])
    if largest <= tolerance:
        return None, largest, None
    element = f"element {format_index(worst)}: " if expected.ndim else ""
    message = (f"{element}expected {expected[worst]:.6g}, got {got[worst]:.6g} "
               f"(relative error {largest:.2g})")
    return message, largest, worst


def compare(expected, got, tolerance, partial=False):
    """The first :class:`Difference` of ``got`` from ``expected`` (None if none), and the
    largest relative error seen over the entries that agree.

    With ``partial``, entries that ``got`` lacks are skipped instead of reported (a record cut
    short by an exception is compared as far as it goes).
    """
    produced = got.lookup()
    largest = 0.0
    for place, variable, expected_value in expected.entries:
        if (place, variable) not in produced:
            if partial:
                continue
            return Difference(place, variable, "is missing (your code did not produce it)"), largest
        got_value = produced[(place, variable)]
        message, error, index = compare_arrays(expected_value, got_value, tolerance)
        if message is not None:
            difference = Difference(place, variable, message, index=index, relative_error=error)
            if index is not None:
                difference.expected = float(expected_value[index])
                difference.got = float(got_value.reshape(expected_value.shape)[index])
            return difference, largest
        largest = max(largest, error)
    return None, largest


@dataclasses.dataclass
class Mistake:
    """A known mistake: a deliberately wrong implementation and what it tells the student.

    ``produce(record)`` fills a record the way the mistaken implementation would.
    """

    label: str
    hint: str
    produce: object


@dataclasses.dataclass
class Verdict:
    """The outcome of a check: one verdict line and, for a failure, a hint."""

    passed: bool
    summary: str
    hint: str = ""

    def lines(self):
        """``["passed: ..."]`` or ``["FAILED: ...", "hint: ..."]``."""
        lines = [("passed: " if self.passed else "FAILED: ") + self.summary]
        if self.hint:
            lines.append("hint: " + self.hint)
        return lines


class Exercise:
    """One exercise: what to write, a skeleton, the oracle, the student's run, known mistakes.

    Subclasses set the class attributes and implement :meth:`skeleton`, :meth:`expected`,
    :meth:`outputs` and, where they can, :meth:`mistakes` and :meth:`pattern_hint`.
    """

    name = ""  # the exercise's name on the command line: "adam"
    order = 100  # where it comes in the course (dlzoo exercise list sorts by it)
    topic = ""  # the course topic: "optimization"
    task = ""  # what to write, one line
    object_name = ""  # the class or function the skeleton defines, looked up by default
    kind = ""  # what the object must be, in words: "a class derived from keras.optimizers.Optimizer"
    tolerance = 1e-4  # largest relative error (see relative_errors) of a correct implementation
    match_tolerance = 1e-3  # how close the student's record must be to a known mistake's

    def skeleton(self):
        """The text of the file ``dlzoo exercise start`` writes."""
        raise NotImplementedError

    def kind_problem(self, candidate):
        """None if ``candidate`` is the right kind of object, else what is wrong with it."""
        raise NotImplementedError

    def expected(self):
        """The oracle's :class:`Record`."""
        raise NotImplementedError

    def outputs(self, candidate, record):
        """Run the student's ``candidate`` on the same problem, filling ``record``."""
        raise NotImplementedError

    def mistakes(self):
        """Known mistakes (:class:`Mistake`), most common first."""
        return []

    def pattern_hint(self, difference, expected, got):
        """A hint from the pattern of the difference, when no known mistake matches."""
        return ""

    def final_checks(self, candidate):
        """After the numbers agree: ``(summary, hint)`` of a failure if the object still cannot
        be used the way the course uses it (saved and reloaded, inside ``keras.layers.RNN``), else None."""
        return None

    def passed_summary(self, largest_error):
        """The text after ``passed:``."""
        return f"{self.name} (largest relative error {largest_error:.1g}, tolerance {self.tolerance:g})"

    def matching_mistake(self, got, difference):
        """The first known mistake whose record agrees with ``got`` wherever both have values,
        including where ``got`` first differs from the oracle (``difference``); or None."""
        with np.errstate(all="ignore"):
            for mistake in self.mistakes():
                variant = Record()
                try:
                    mistake.produce(variant)
                except Exception:  # a variant that stops early (a shape it cannot handle) is compared as far as it got
                    pass
                if (difference.place, difference.variable) not in variant.lookup():
                    continue
                disagreement, _ = compare(variant, got, self.match_tolerance, partial=True)
                if disagreement is None:
                    return mistake
        return None


class InterfaceProblem(Exception):
    """Raised by an exercise when the student's object lacks what the check needs (a weight
    with the wrong shape, a missing attribute): a FAILED verdict with this summary and hint."""

    def __init__(self, summary, hint=""):
        super().__init__(summary)
        self.summary = summary
        self.hint = hint


class FunctionExercise(Exercise):
    """An exercise whose answer is a plain function (softmax cross-entropy, conv2d, attention)."""

    def kind_problem(self, candidate):
        """None for a function; a class or a non-callable is the wrong kind of answer."""
        if isinstance(candidate, type) or not callable(candidate):
            return f"is of type {type(candidate).__name__}, not a function"
        return None
