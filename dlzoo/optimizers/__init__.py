"""Hand-written optimizers (keras.ops only, backend-neutral) and the optimizer factory.

Six optimizers from the course, each a ``keras.optimizers.Optimizer`` in its own file and each
checked step for step against its Keras built-in counterpart in the tests:

    name        class       Keras counterpart
    sgd         SGD         keras.optimizers.SGD(momentum=0.0)
    momentum    Momentum    keras.optimizers.SGD(momentum=m)
    nesterov    Nesterov    keras.optimizers.SGD(momentum=m, nesterov=True)
    adagrad     AdaGrad     keras.optimizers.Adagrad
    rmsprop     RMSProp     keras.optimizers.RMSprop(momentum=0.0, centered=False)
    adam        Adam        keras.optimizers.Adam(amsgrad=False)

Any Keras built-in is available as ``keras.<lowercase class name>`` (``keras.adamw``,
``keras.nadam``, ...). A recipe's ``[optimizer]`` table goes through ``build_optimizer``::

    [optimizer]
    name = "momentum"
    learning_rate = 0.05          # or a schedule table, see dlzoo.optimizers.schedules
    momentum = 0.9
    clipnorm = 1.0                # or clipvalue, or global_clipnorm (one of the three)

NumPy versions of the same six updates live in ``dlzoo.optimizers.numpy_optimizers``.
"""

import importlib
import inspect
import pkgutil

import keras

from dlzoo.core import validation
from dlzoo.optimizers import base, shared_options
from dlzoo.optimizers.adagrad import AdaGrad
from dlzoo.optimizers.adam import Adam
from dlzoo.optimizers.momentum import Momentum
from dlzoo.optimizers.nesterov import Nesterov
from dlzoo.optimizers.rmsprop import RMSProp
from dlzoo.optimizers.schedules import build_learning_rate
from dlzoo.optimizers.sgd import SGD
from dlzoo.core.registry import UnknownNameError, unknown_name_message

# Each optimizer registers itself when its module is imported (``@base.register("sgd")``); import
# every module of the package, so that a new optimizer is one new file, with no list to edit.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module

OPTIMIZERS = base.OPTIMIZERS

KERAS_PREFIX = "keras."

# Value checks applied to these options of Keras built-ins too (ours check them themselves).
_KERAS_OPTION_CHECKS = {
    "momentum": validation.check_fraction,
    "rho": validation.check_fraction,
    "beta_1": validation.check_fraction,
    "beta_2": validation.check_fraction,
    "epsilon": lambda name, value: validation.check_number(name, value, minimum=0.0),
}

__all__ = [
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSProp",
    "Adam",
    "OPTIMIZERS",
    "get",
    "build_optimizer",
    "option_names",
    "names",
    "keras_names",
    "build_learning_rate",
]


def names(pattern=None):
    """Names of the hand-written optimizers, optionally filtered by a pattern (``"*prop"``)."""
    return OPTIMIZERS.names(pattern)


def _keras_optimizer_classes():
    """Map ``"keras.<lowercase class name>"`` to each public Keras optimizer class."""
    classes = {}
    for class_name, value in vars(keras.optimizers).items():
        is_optimizer = isinstance(value, type) and issubclass(value, keras.optimizers.Optimizer)
        if is_optimizer and value is not keras.optimizers.Optimizer:
            classes[KERAS_PREFIX + class_name.lower()] = value
    return classes


def keras_names():
    """Names under which Keras's built-in optimizers are available (``"keras.adam"``, ...)."""
    return sorted(_keras_optimizer_classes())


def _optimizer_class(name):
    """Return the class registered as ``name`` (ours, or ``keras.<name>``); did-you-mean if not."""
    validation.check_string("optimizer name", name)
    if name.lower().startswith(KERAS_PREFIX):
        keras_classes = _keras_optimizer_classes()
        if name.lower() in keras_classes:
            return keras_classes[name.lower()]
        raise UnknownNameError(unknown_name_message("Keras optimizer", name, keras_classes))
    try:
        return OPTIMIZERS.get(name)
    except UnknownNameError as error:
        if KERAS_PREFIX + name.lower() in _keras_optimizer_classes():
            raise UnknownNameError(
                f"{error} (Keras's built-in is available as '{KERAS_PREFIX}{name.lower()}')"
            ) from None
        raise


def option_names(name):
    """The keyword options valid for optimizer ``name`` (what its ``[optimizer]`` table may hold).

    For example ``option_names("momentum")`` is ``["learning_rate", "momentum", "clipnorm",
    "clipvalue", "global_clipnorm", "weight_decay"]``. ``name`` itself is not included.
    """
    optimizer_class = _optimizer_class(name)
    if issubclass(optimizer_class, base.ZooOptimizer):
        return optimizer_class.option_names()
    parameters = inspect.signature(optimizer_class.__init__).parameters.values()
    return [
        parameter.name
        for parameter in parameters
        if parameter.name not in ("self", "name")
        and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    ]


def _check_keras_options(options):
    """Check the options a Keras built-in shares with ours; return them cleaned (ints -> floats)."""
    options = dict(options)
    common = {key: options.get(key) for key in shared_options.COMMON_OPTIONS}
    if common["learning_rate"] is None:
        common["learning_rate"] = 0.001  # stands in for the class default while checking
    checked = shared_options.check_common_options(**common)
    for key, value in zip(shared_options.COMMON_OPTIONS, checked):
        if key in options:
            options[key] = value
    for key, check in _KERAS_OPTION_CHECKS.items():
        if key in options and not callable(options[key]):
            options[key] = check(key, options[key])
    return options


def get(name, **options):
    """Create optimizer ``name`` with keyword ``options``.

    Args:
        name: one of ``names()`` (``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
            ``"rmsprop"``, ``"adam"``) or ``"keras.<name>"`` for a Keras built-in
            (``"keras.adam"``, ``"keras.adamw"``, ...).
        **options: the optimizer's options (see ``option_names(name)``). ``learning_rate``
            may be a number, a schedule table (dict) or a Keras LearningRateSchedule.

    Returns:
        a ``keras.optimizers.Optimizer``.

    Raises:
        UnknownNameError: for an unknown name (a ValueError, with a did-you-mean hint).
        ValueError: for an unknown option or a bad value, naming it.
    """
    optimizer_class = _optimizer_class(name)
    # "name" is listed too: a recipe's [optimizer] table holds it, and a misspelt "nmae" should
    # be told "did you mean 'name'?".
    validation.check_known_options(f"optimizer '{name}'", options, ["name", *option_names(name)])
    if "learning_rate" in options:
        # A number or a schedule table; a ready-made schedule (callable) goes through as is.
        if not callable(options["learning_rate"]):
            options["learning_rate"] = build_learning_rate(options["learning_rate"])
    if name.lower().startswith(KERAS_PREFIX):
        options = _check_keras_options(options)
    return optimizer_class(**options)


def build_optimizer(section):
    """Create the optimizer described by a recipe's ``[optimizer]`` table.

    Args:
        section: a dict with ``name`` and the optimizer's options, e.g.
            ``{"name": "adam", "learning_rate": 1e-3, "beta_1": 0.9, "clipnorm": 1.0}``.

    Returns:
        a ``keras.optimizers.Optimizer``.
    """
    if not isinstance(section, dict):
        raise ValueError(f"the [optimizer] section must be a table, got {section!r}")
    if "name" not in section:
        raise ValueError(
            "the [optimizer] section needs a 'name' key, one of: "
            f"{', '.join(names())} (or keras.<name>), got keys {sorted(section)}"
        )
    options = dict(section)
    name = options.pop("name")
    return get(name, **options)
