"""Learning rates from a recipe: a number, or a table describing a Keras schedule.

In a recipe the learning rate is either a number::

    [optimizer]
    name = "sgd"
    learning_rate = 0.1

or a table naming a schedule and its settings::

    [optimizer.learning_rate]
    schedule = "step"          # 0.1 up to step 100, then 0.01 up to step 200, then 0.001
    initial = 0.1
    boundaries = [100, 200]
    factor = 0.1

The schedules (all Keras's own, from ``keras.optimizers.schedules``):

    step           initial, boundaries, factor=0.1      -> PiecewiseConstantDecay
                   lr = initial * factor ** (number of boundaries b with step > b)
    exponential    initial, decay_steps, decay_rate, staircase=false -> ExponentialDecay
                   lr = initial * decay_rate ** (step / decay_steps)
    cosine         initial, decay_steps, alpha=0.0, warmup_steps=0, warmup_start=0.0
                                                        -> CosineDecay
                   lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)
                   (step capped at decay_steps); with warmup_steps > 0 the learning rate first
                   rises linearly from warmup_start to initial over warmup_steps steps, and the
                   cosine decay then runs for decay_steps more steps.
    warmup_cosine  the same as cosine, with warmup_steps required (> 0).

The step is the optimizer's step counter, starting at 0 for the first update.
"""

import keras

from dlzoo.core import validation
from dlzoo.core.registry import Registry

SCHEDULES = Registry("learning-rate schedule")


def build_learning_rate(value):
    """Turn a recipe's ``learning_rate`` into what a Keras optimizer accepts.

    Args:
        value: a number >= 0, a dict with a ``schedule`` key (see the module docstring), or an
            existing ``keras.optimizers.schedules.LearningRateSchedule``.

    Returns:
        a float, or a ``keras.optimizers.schedules.LearningRateSchedule``.

    Raises:
        ValueError: for a bad number, an unknown schedule (with a did-you-mean hint) or a
            missing, unknown or bad key of the schedule table.
    """
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return value
    if isinstance(value, dict):
        return build_schedule(value)
    if not validation.is_number(value):
        raise ValueError(
            "learning_rate must be a non-negative number or a schedule table such as "
            f"{{schedule = \"cosine\", initial = 0.1, decay_steps = 1000}}, got {value!r}"
        )
    return validation.check_number("learning_rate", value, minimum=0.0)


def build_schedule(table):
    """Build the Keras schedule described by ``table`` (a dict with a ``schedule`` key)."""
    if "schedule" not in table:
        raise ValueError(
            "learning_rate table needs a 'schedule' key naming one of: "
            f"{', '.join(SCHEDULES.names())}, got keys {sorted(table)}"
        )
    settings = dict(table)
    schedule_name = settings.pop("schedule")
    builder = SCHEDULES.get(schedule_name)
    return builder(settings)


def schedule_names():
    """The names accepted as ``schedule`` in a learning-rate table."""
    return SCHEDULES.names()


def _check_keys(schedule_name, settings, required, optional):
    """Raise ValueError for a missing required key or a key the schedule does not know."""
    what = f"learning-rate schedule '{schedule_name}'"
    validation.check_known_options(what, settings, ["schedule", *required, *optional])
    validation.check_required_keys(what, settings, required)


def _check_step_number(name, value):
    """A step number of the optimizer's counter: a whole number >= 0."""
    return validation.check_integer(name, value, minimum=0)


def _check_initial(value):
    """Check the starting (or peak) learning rate of a schedule: a number > 0."""
    return validation.check_number("initial", value, minimum=0, exclusive_minimum=True)


@SCHEDULES.register("step")
def build_step_schedule(settings):
    """Step decay: multiply the learning rate by ``factor`` after each of the ``boundaries``."""
    _check_keys("step", settings, required=["initial", "boundaries"], optional=["factor"])
    initial = _check_initial(settings["initial"])
    factor = validation.check_number("factor", settings.get("factor", 0.1), minimum=0.0)
    boundaries = validation.check_list_of(
        "boundaries", settings["boundaries"], _check_step_number, "step numbers"
    )
    if any(later <= earlier for earlier, later in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must be strictly increasing, got {boundaries}")
    # One learning rate per interval: len(boundaries) + 1 of them.
    values = [initial * factor**index for index in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


@SCHEDULES.register("exponential")
def build_exponential_schedule(settings):
    """Exponential decay: the learning rate is multiplied by decay_rate every decay_steps."""
    _check_keys(
        "exponential",
        settings,
        required=["initial", "decay_steps", "decay_rate"],
        optional=["staircase"],
    )
    staircase = validation.check_boolean("staircase", settings.get("staircase", False))
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=_check_initial(settings["initial"]),
        decay_steps=validation.check_integer("decay_steps", settings["decay_steps"], minimum=1),
        decay_rate=validation.check_number("decay_rate", settings["decay_rate"], minimum=0.0),
        staircase=staircase,
    )


def _cosine_schedule(schedule_name, settings, warmup_required):
    """Cosine decay from ``initial`` to ``initial * alpha``, after an optional linear warmup."""
    required = ["initial", "decay_steps"] + (["warmup_steps"] if warmup_required else [])
    optional = ["alpha", "warmup_start"] + ([] if warmup_required else ["warmup_steps"])
    _check_keys(schedule_name, settings, required=required, optional=optional)
    initial = _check_initial(settings["initial"])
    decay_steps = validation.check_integer("decay_steps", settings["decay_steps"], minimum=1)
    alpha = validation.check_number("alpha", settings.get("alpha", 0.0), minimum=0.0, maximum=1.0)
    warmup_steps = validation.check_integer(
        "warmup_steps", settings.get("warmup_steps", 0), minimum=1 if warmup_required else 0
    )
    warmup_start = validation.check_number(
        "warmup_start", settings.get("warmup_start", 0.0), minimum=0.0
    )
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(initial, decay_steps, alpha=alpha)
    # Keras's CosineDecay warms up from initial_learning_rate to warmup_target, then decays
    # from warmup_target; our 'initial' is the peak, so it becomes the warmup target.
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=warmup_start,
        decay_steps=decay_steps,
        alpha=alpha,
        warmup_target=initial,
        warmup_steps=warmup_steps,
    )


@SCHEDULES.register("cosine")
def build_cosine_schedule(settings):
    """Cosine decay, with a linear warmup when ``warmup_steps`` > 0."""
    return _cosine_schedule("cosine", settings, warmup_required=False)


@SCHEDULES.register("warmup_cosine")
def build_warmup_cosine_schedule(settings):
    """Linear warmup over ``warmup_steps`` steps, then cosine decay over ``decay_steps``."""
    return _cosine_schedule("warmup_cosine", settings, warmup_required=True)


AUTO_STEPS = "auto"


def fill_auto_steps(optimizer_section, total_steps):
    """A copy of an ``[optimizer]`` table whose ``decay_steps = "auto"`` becomes ``total_steps``.

    A recipe cannot know how many optimizer steps a run takes (it depends on the dataset size,
    the batch size, the number of epochs and ``--quick``), so a schedule may say
    ``decay_steps = "auto"``: the trainer fills in the run's total number of training steps, and
    a cosine schedule then ends exactly at the last step.
    """
    section = dict(optimizer_section)
    learning_rate = section.get("learning_rate")
    if isinstance(learning_rate, dict) and learning_rate.get("decay_steps") == AUTO_STEPS:
        section["learning_rate"] = {**learning_rate, "decay_steps": max(1, int(total_steps))}
    return section
