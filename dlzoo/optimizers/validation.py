"""Up-front checks for optimizer arguments, shared by the Keras and the NumPy optimizers.

Every check raises ``ValueError`` naming the argument and the bad value, so that a typo in a
recipe (``momentum = 1.5``, ``learning_rate = "0.1"``) fails before training starts, with a
message that says what to fix. This module imports neither Keras nor NumPy.
"""

import math
import numbers

from dlzoo.registry import did_you_mean

# Gradient clipping and weight decay are implemented once, by keras.optimizers.Optimizer, for
# every optimizer; these are the options every optimizer accepts besides its own.
COMMON_OPTIONS = ("learning_rate", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay")


def is_number(value):
    """True for ints and floats (NumPy scalars included); False for bools, strings, None."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(argument, value, minimum=None, maximum=None, maximum_included=True):
    """Return ``value`` as a float after checking it is a finite number in the allowed range.

    Args:
        argument: the argument's name, used in the message.
        value: what the user passed.
        minimum: smallest allowed value (included), or None for no lower bound.
        maximum: largest allowed value, or None for no upper bound.
        maximum_included: whether ``maximum`` itself is allowed.
    """
    if not is_number(value) or not math.isfinite(value):
        raise ValueError(f"{argument} must be a finite number; got {value!r}")
    too_small = minimum is not None and value < minimum
    too_large = maximum is not None and (
        value > maximum or (value == maximum and not maximum_included)
    )
    if too_small or too_large:
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        closing = "]" if maximum_included and maximum is not None else ")"
        raise ValueError(f"{argument} must be in [{low}, {high}{closing}; got {value!r}")
    return float(value)


def check_fraction(argument, value):
    """Check a decay or momentum factor: a number in [0, 1). Returns it as a float."""
    return check_number(argument, value, minimum=0.0, maximum=1.0, maximum_included=False)


def check_learning_rate(value):
    """Check a learning rate: a non-negative number (returned as a float) or a schedule.

    A schedule is anything callable, such as a ``keras.optimizers.schedules.LearningRateSchedule``
    (called with the step number); it is returned unchanged.
    """
    if callable(value) and not is_number(value):
        return value
    if not is_number(value):
        raise ValueError(
            f"learning_rate must be a non-negative number or a schedule; got {value!r}"
        )
    return check_number("learning_rate", value, minimum=0.0)


def check_positive_or_none(argument, value):
    """Check an optional strictly positive number (clipnorm, clipvalue, global_clipnorm)."""
    if value is None:
        return None
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{argument} must be a number > 0 (or left out); got {value!r}")
    return float(value)


def check_common_options(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay):
    """Check the options every optimizer accepts; return them cleaned, in the same order."""
    learning_rate = check_learning_rate(learning_rate)
    clipnorm = check_positive_or_none("clipnorm", clipnorm)
    clipvalue = check_positive_or_none("clipvalue", clipvalue)
    global_clipnorm = check_positive_or_none("global_clipnorm", global_clipnorm)
    clip_options = {
        "clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm
    }
    chosen = [f"{name}={value}" for name, value in clip_options.items() if value is not None]
    if len(chosen) > 1:
        raise ValueError(
            f"choose one gradient clipping option, not several; got {', '.join(chosen)}"
        )
    if weight_decay is not None:
        weight_decay = check_number("weight_decay", weight_decay, minimum=0.0)
    return learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay


def check_known_keys(what, given_keys, valid_keys):
    """Raise ``ValueError`` if a key in ``given_keys`` is not in ``valid_keys``.

    The message names the bad key, the closest valid key and lists all valid keys, e.g.
    ``unknown option 'momentun' for optimizer 'sgd'; did you mean 'momentum'? valid: ...``.

    Args:
        what: what the keys belong to, in words ("optimizer 'sgd'", "schedule 'step'").
        given_keys: the keys the user wrote.
        valid_keys: the keys that are allowed.
    """
    valid_keys = list(valid_keys)
    for key in given_keys:
        if key not in valid_keys:
            hint = did_you_mean(key, valid_keys)
            hint = f"; {hint}" if hint else ""
            raise ValueError(
                f"unknown option '{key}' for {what}{hint} (valid options: {', '.join(valid_keys)})"
            )
