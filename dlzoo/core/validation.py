"""Up-front checks of arguments and recipe values, shared by every part of dlzoo.

Each ``check_*`` function returns the value, cleaned (a float for a number, an int for a whole
number), or raises ``ValueError`` with one line that names the argument and the bad value, so
that a typo in a recipe (``momentum = 1.5``, ``hidden_units = "128"``) fails before any work
starts and says what to fix::

    dropout_rate = validation.check_fraction("dropout_rate", dropout_rate)
    # ValueError: dropout_rate must be in [0.0, 1.0), got 1.0

Library code raises ``ValueError`` (the Keras habit); the CLI turns it into a usage error.
This module is pure Python: it imports neither TensorFlow, Keras nor NumPy, so the CLI can use
it on its usage-error paths. NumPy scalars pass the number checks all the same.
"""

import math
import numbers

from dlzoo.core import registry


def is_number(value):
    """True for ints and floats (NumPy scalars included); False for bools, strings, None."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_whole_number(value):
    """True for Python and NumPy integers; False for bools (``True`` is not a count) and floats."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def shorten(text, limit=80):
    """``text`` cut to ``limit`` characters, saying how much was left out: error messages echo
    what the user typed, and a 200,000-character key must not become a 200,000-character line."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def _range_text(minimum, maximum, exclusive_minimum=False, exclusive_maximum=False):
    """The allowed range in words: ``">= 1"``, ``"> 0"``, ``"<= 10"`` or ``"in [0, 1)"``."""
    if minimum is not None and maximum is not None:
        opening = "(" if exclusive_minimum else "["
        closing = ")" if exclusive_maximum else "]"
        return f"in {opening}{minimum}, {maximum}{closing}"
    if minimum is not None:
        return f"{'>' if exclusive_minimum else '>='} {minimum}"
    if maximum is not None:
        return f"{'<' if exclusive_maximum else '<='} {maximum}"
    return ""


def _in_range(value, minimum, maximum, exclusive_minimum=False, exclusive_maximum=False):
    """True if ``value`` lies within the bounds (None: no bound on that side)."""
    if minimum is not None and (value < minimum or (exclusive_minimum and value == minimum)):
        return False
    if maximum is not None and (value > maximum or (exclusive_maximum and value == maximum)):
        return False
    return True


def check_integer(name, value, minimum=None, maximum=None):
    """Return ``value`` as an int after checking it is a whole number within the bounds.

    Args:
        name: the argument's name, used in the message (``"epochs"``, ``"paths.steps"``).
        value: what the user passed; bools and floats such as ``2.0`` are refused.
        minimum, maximum: the smallest and largest allowed values (included), or None.

    Example: ``check_integer("epochs", 0, minimum=1)`` raises
    ``ValueError: epochs must be a whole number >= 1, got 0``.
    """
    if not is_whole_number(value) or not _in_range(value, minimum, maximum):
        wanted = " ".join(part for part in ("a whole number", _range_text(minimum, maximum)) if part)
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return int(value)


def check_number(name, value, minimum=None, maximum=None, exclusive_minimum=False,
                 exclusive_maximum=False):
    """Return ``value`` as a float after checking it is a finite number within the bounds.

    Args:
        name: the argument's name, used in the message.
        value: what the user passed; bools, strings, NaN and infinities are refused.
        minimum, maximum: the bounds, or None for no bound on that side.
        exclusive_minimum, exclusive_maximum: whether the bound itself is refused
            (``minimum=0, exclusive_minimum=True`` means "> 0").

    Example: ``check_number("momentum", 1.0, 0.0, 1.0, exclusive_maximum=True)`` raises
    ``ValueError: momentum must be in [0.0, 1.0), got 1.0``.
    """
    if not is_number(value) or not math.isfinite(value) or not _in_range(
        value, minimum, maximum, exclusive_minimum, exclusive_maximum
    ):
        bounds = _range_text(minimum, maximum, exclusive_minimum, exclusive_maximum)
        if minimum is not None and maximum is not None:
            wanted = bounds  # "in [0, 1)" says it is a number already
        elif bounds:
            wanted = f"a number {bounds}"
        else:
            wanted = "a finite number"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return float(value)


def check_fraction(name, value):
    """Check a rate or decay factor in [0, 1) (dropout, momentum, beta_1); returns a float."""
    return check_number(name, value, minimum=0.0, maximum=1.0, exclusive_maximum=True)


def check_boolean(name, value):
    """Return ``value`` if it is a bool (``true``/``false`` in TOML); else raise ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def check_string(name, value, allow_empty=False):
    """Return ``value`` if it is a string (non-empty unless ``allow_empty``)."""
    if not isinstance(value, str) or (not value and not allow_empty):
        wanted = "a string" if allow_empty else "a non-empty string"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``; else raise ``ValueError`` with a hint.

    Example: ``check_choice("activation", "rleu", ["relu", "tanh"])`` raises
    ``ValueError: activation must be one of relu, tanh, got 'rleu' (did you mean 'relu'?)``.
    """
    choices = list(choices)
    if isinstance(value, str) and value in choices:
        return value
    hint = registry.did_you_mean(value, choices)
    hint = f" ({hint})" if hint else ""
    raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}{hint}")


def check_list_of(name, values, check_item, what, allow_empty=False, distinct=False):
    """Return ``values`` as a list after checking each item with ``check_item``.

    Args:
        name: the argument's name; item ``i`` is checked under the name ``name[i]``.
        values: what the user passed: a list or tuple.
        check_item: a function ``(item_name, item) -> cleaned item`` that raises ValueError,
            such as ``lambda item_name, item: check_integer(item_name, item, minimum=1)``.
        what: the items in words, for the message (``"integers like [32, 64]"``, ``"names"``).
        allow_empty: whether ``[]`` is allowed.
        distinct: whether an item may appear only once.

    Example: ``check_list_of("filters", [32, 0], positive_integer, "integers")`` raises
    ``ValueError: filters[1] must be a whole number >= 1, got 0``.
    """
    if not isinstance(values, (list, tuple)) or (not values and not allow_empty):
        wanted = "a list" if allow_empty else "a non-empty list"
        raise ValueError(f"{name} must be {wanted} of {what}, got {values!r}")
    checked = [check_item(f"{name}[{index}]", item) for index, item in enumerate(values)]
    if distinct:
        repeated = sorted({str(item) for item in checked if checked.count(item) > 1})
        if repeated:
            raise ValueError(f"{name} lists {', '.join(repeated)} more than once")
    return checked


def check_required_keys(what, table, required_keys):
    """Raise ``ValueError`` if a key of ``required_keys`` is missing from ``table``.

    Example: ``check_required_keys("learning-rate schedule 'cosine'", {"initial": 0.1},
    ["initial", "decay_steps"])`` raises ``ValueError: learning-rate schedule 'cosine' needs
    the key 'decay_steps', got keys ['initial']``.
    """
    missing = [key for key in required_keys if key not in table]
    if missing:
        keys = ", ".join(f"'{key}'" for key in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ValueError(f"{what} needs the key{plural} {keys}, got keys {sorted(table)}")


def unknown_key_message(dotted, key, valid_keys):
    """The message for an unknown key ``key`` (written as ``dotted``), with the closest valid one.

    ``unknown_key_message("train.epoch", "epoch", ["epochs", "seed"])`` is
    ``"unknown key 'train.epoch'; did you mean 'epochs'? (valid keys: epochs, seed)"``.
    """
    valid = sorted(valid_keys)
    hint = registry.did_you_mean(key, valid)
    return f"unknown key '{shorten(dotted)}'" + (f"; {hint}" if hint else "") + f" (valid keys: {', '.join(valid)})"


def check_known_keys(section, table, valid_keys):
    """Refuse keys of the recipe table ``[section]`` that are not in ``valid_keys``.

    Example: ``check_known_keys("paths", {"function": []}, ["functions", "steps"])`` raises
    ``ValueError: unknown key 'paths.function'; did you mean 'functions'? (valid keys: ...)``.
    """
    for key in table:
        if key not in valid_keys:
            raise ValueError(unknown_key_message(f"{section}.{key}", key, valid_keys))


def check_known_options(owner, options, valid_options):
    """Refuse keyword options of ``owner`` that are not in ``valid_options``.

    Like :func:`check_known_keys`, for the keyword arguments of a class or function:
    ``check_known_options("optimizer 'sgd'", {"momentun": 0.9}, ["learning_rate", "momentum"])``
    raises ``ValueError: unknown option 'momentun' for optimizer 'sgd'; did you mean
    'momentum'? (valid options: learning_rate, momentum)``.
    """
    valid_options = list(valid_options)
    for key in options:
        if key not in valid_options:
            hint = registry.did_you_mean(key, valid_options)
            hint = f"; {hint}" if hint else ""
            raise ValueError(
                f"unknown option '{key}' for {owner}{hint} (valid options: {', '.join(valid_options)})"
            )
