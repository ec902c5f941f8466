"""The options every optimizer accepts besides its own, and their checks.

Gradient clipping and weight decay are implemented once, by ``keras.optimizers.Optimizer``, for
every optimizer; the learning rate is a number or a schedule. These checks serve dlzoo's
optimizers (through :class:`dlzoo.optimizers.base.ZooOptimizer`), the Keras built-ins made by
``dlzoo.optimizers.get`` and the NumPy optimizers. Like :mod:`dlzoo.core.validation`, on which they
are built, they raise ``ValueError`` naming the option and the bad value.
"""

from dlzoo.core import validation

COMMON_OPTIONS = ("learning_rate", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay")
CLIPPING_OPTIONS = ("clipnorm", "clipvalue", "global_clipnorm")


def check_learning_rate(value):
    """Check a learning rate: a non-negative number (returned as a float) or a schedule.

    A schedule is anything callable, such as a ``keras.optimizers.schedules.LearningRateSchedule``
    (called with the step number); it is returned unchanged.
    """
    if callable(value) and not validation.is_number(value):
        return value
    if not validation.is_number(value):
        raise ValueError(f"learning_rate must be a non-negative number or a schedule, got {value!r}")
    return validation.check_number("learning_rate", value, minimum=0.0)


def check_common_options(learning_rate, clipnorm, clipvalue, global_clipnorm, weight_decay):
    """Check the options every optimizer accepts; return them cleaned, in the same order.

    The clipping options are optional numbers > 0, and at most one of them may be set.
    """
    learning_rate = check_learning_rate(learning_rate)
    clipping = {
        name: None if value is None else validation.check_number(name, value, minimum=0, exclusive_minimum=True)
        for name, value in zip(CLIPPING_OPTIONS, (clipnorm, clipvalue, global_clipnorm))
    }
    chosen = [f"{name}={value}" for name, value in clipping.items() if value is not None]
    if len(chosen) > 1:
        raise ValueError(f"choose one gradient clipping option, not several; got {', '.join(chosen)}")
    if weight_decay is not None:
        weight_decay = validation.check_number("weight_decay", weight_decay, minimum=0.0)
    return (learning_rate, *clipping.values(), weight_decay)
