"""Model builders: pure Keras 3 functions, one file per family, registered by name.

A builder has the signature ``builder(input_shape, num_classes, **options) -> keras.Model``
and ends with :func:`dlzoo.models.heads.classifier_head` when it classifies. Its keyword
options are exactly the keys a recipe may set in its ``[model]`` section, so
:func:`option_names` can check ``--set model.<key>`` against the signature.

This package imports ``keras`` and never ``tensorflow``, so every model also runs on the JAX
and PyTorch backends.
"""

import importlib
import inspect
import pkgutil

from dlzoo.core.registry import Registry

MODELS = Registry("model")
register = MODELS.register


def _load_families():
    """Import every module of this package, so that each family registers its builders.

    A new family is one new file with ``@register("name")`` builders: no list to edit. The
    import happens on first use, not when the package is imported, because the family modules
    import ``register`` from here.
    """
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get(name):
    """Return the builder registered as ``name`` (with a did-you-mean error when unknown)."""
    _load_families()
    return MODELS.get(name)


def names(pattern=None):
    """Names of all registered models, optionally filtered by ``pattern``."""
    _load_families()
    return MODELS.names(pattern)


def option_names(name):
    """The keyword options a recipe may set for model ``name`` (the builder's keyword arguments)."""
    signature = inspect.signature(get(name))
    positional = ("input_shape", "num_classes")
    return [parameter for parameter in signature.parameters if parameter not in positional]


def option_defaults(name):
    """``{option: default}`` for model ``name``, from the builder's signature."""
    signature = inspect.signature(get(name))
    return {parameter.name: parameter.default for parameter in signature.parameters.values()
            if parameter.name in option_names(name)}


def describe_type(default):
    """What a value must be, in words, for an option whose default is ``default``."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, (list, tuple)):
        return "a list"
    if isinstance(default, str):
        return "a string"
    return f"a {type(default).__name__}"


def fits_default(value, default):
    """True when ``value`` has the type of ``default``: a float option also takes an integer,
    a list option takes a list (or tuple), a ``None`` default takes anything."""
    if default is None or default is inspect.Parameter.empty:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)  # True is an int in Python: not here
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check_option_types(name, options):
    """Check the values of a ``[model]`` table against the types of the builder's defaults.

    Raises:
        ValueError: ``"model.dropout_rate must be a number, got 'abc'"`` for the first value
            whose type does not fit (unknown keys are left to the caller).
    """
    defaults = option_defaults(name)
    for key, value in options.items():
        if key in defaults and not fits_default(value, defaults[key]):
            raise ValueError(f"model.{key} must be {describe_type(defaults[key])}, got {value!r}")


def build(name, input_shape, num_classes, **options):
    """Build model ``name`` for inputs of ``input_shape`` (no batch axis) and ``num_classes``."""
    builder = get(name)
    return builder(tuple(input_shape), int(num_classes), **options)
