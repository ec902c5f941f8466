"""Model builders: pure Keras 3 functions, one file per family, in ONE registry keyed by kind.

Every builder is registered with ``@register("name", kind=...)``; the kind says what the
builder takes and returns, and which tasks use it:

================  ===============================================================  ===========
kind              signature (after the inputs, keyword options with defaults)       tasks
================  ===============================================================  ===========
``classifier``    ``(input_shape, num_classes, **options) -> keras.Model``          classify,
                  (also regressors: one output; language models: the vocabulary)   regress, ...
``autoencoder``   ``(input_shape, mean_image, scale, **options) -> (model, enc, dec)``  autoencode
``gan``           ``(image_shape, num_classes, raw_range, **options) -> (gen, disc)``  generate
``segmentation``  ``(input_shape, num_classes, **options) -> keras.Model``          segment
``translator``    ``(source_vocabulary, target_vocabulary, max_source_length,``    seq2seq
                  ``max_target_length, **options) -> keras.Model``
================  ===============================================================  ===========

A builder's options are its parameters that have a default: exactly the keys a recipe may set
in its ``[model]`` section. :func:`check_options` is the one check of a ``[model]`` table for
every kind: unknown keys (with the closest valid one), values whose type does not fit the
default, and the builder's own value checks (``check=`` when registered: a function of the
full option dict that raises ``ValueError``). It runs when the recipe is resolved, before any
data is loaded.

This package imports ``keras`` and never ``tensorflow``, so every model also runs on the JAX
and PyTorch backends.
"""

import importlib
import inspect
import pkgutil

from dlzoo.config import recipes
from dlzoo.core.errors import UsageError
from dlzoo.core.registry import Registry

# What each kind's registry calls its entries in messages ("unknown segmentation model 'unte'").
KIND_NAMES = {"classifier": "model", "autoencoder": "autoencoder", "gan": "gan",
              "segmentation": "segmentation model", "translator": "translator"}
# The leading parameters of each kind's builders: the inputs the task passes, never [model] keys.
POSITIONAL = {"classifier": ("input_shape", "num_classes"), "autoencoder": ("input_shape", "mean_image", "scale"),
              "gan": ("image_shape", "num_classes", "raw_range"), "segmentation": ("input_shape", "num_classes"),
              "translator": ("source_vocabulary", "target_vocabulary", "max_source_length", "max_target_length")}
REGISTRIES = {kind: Registry(name) for kind, name in KIND_NAMES.items()}
MODELS = REGISTRIES["classifier"]  # the plain builders (plug-ins register here by default)
# (kind, name) -> the builder's own value check, a function of the full option dict
_CHECKS = {}


def register(name, kind="classifier", check=None, replace=False):
    """Decorator registering a builder as ``name`` among the builders of ``kind``.

    Args:
        name: what a recipe writes as ``model.name``.
        kind: one of :data:`KIND_NAMES` (what the builder takes and returns).
        check: optional ``check(options)`` raising ``ValueError`` for values that are of the
            right type but wrong (``cell = "lstmm"``, ``units`` odd with a bidirectional encoder).
        replace: a plug-in registering its edited builder again.
    """
    registry = registry_of(kind)

    def decorator(builder):
        registry.register(name, replace=replace)(builder)
        if check is not None:
            _CHECKS[(kind, name)] = check
        return builder

    return decorator


def registry_of(kind):
    """The registry of one kind of builder; a clear error for an unknown kind."""
    if kind not in REGISTRIES:
        raise ValueError(f"unknown kind of model {kind!r}; one of {', '.join(REGISTRIES)}")
    return REGISTRIES[kind]


def _load_families():
    """Import every module of this package, so that each family registers its builders.

    A new family is one new file with ``@register("name", kind=...)`` builders: no list to edit.
    The import happens on first use, not when the package is imported, because the family
    modules import ``register`` from here.
    """
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def get(name, kind="classifier"):
    """Return the builder of ``kind`` registered as ``name`` (with a did-you-mean error when unknown)."""
    _load_families()
    return registry_of(kind).get(name)


def names(pattern=None, kind="classifier"):
    """Names of the registered builders of ``kind``, optionally filtered by ``pattern``."""
    _load_families()
    return registry_of(kind).names(pattern)


def option_defaults(name, kind="classifier"):
    """``{option: default}`` for builder ``name``: its parameters that have a default (and
    keyword-only ones), in signature order, without the kind's input parameters."""
    signature = inspect.signature(get(name, kind))
    inputs = POSITIONAL[kind]
    return {parameter.name: parameter.default for parameter in signature.parameters.values()
            if parameter.name not in inputs and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)}


def option_names(name, kind="classifier"):
    """The keyword options a recipe may set for builder ``name`` (its ``[model]`` keys besides ``name``)."""
    return list(option_defaults(name, kind))


def check_options(model, kind="classifier"):
    """Check a recipe's ``[model]`` table (``name`` and options) for a builder of ``kind``.

    Returns:
        The builder's full options: the table's values over the builder's defaults, without ``name``.

    Raises:
        UsageError: one line for an unknown name (the valid names of the kind), an unknown key
            (the valid keys, the closest one first), a value of the wrong type, or a value the
            builder's own check refuses.
    """
    name = model.get("name")
    if name not in names(kind=kind):
        raise UsageError(wrong_kind_message(name, kind))
    defaults = option_defaults(name, kind)
    options = {key: value for key, value in model.items() if key != "name"}
    for key, value in options.items():
        if key not in defaults:
            raise UsageError(recipes.unknown_key_message(f"model.{key}", key, dict.fromkeys(["name", *defaults])))
        if not fits_default(value, defaults[key]):
            raise UsageError(f"model.{key} must be {describe_type(defaults[key])}, got {value!r}")
    full = {**{key: value for key, value in defaults.items() if value is not inspect.Parameter.empty}, **options}
    check = _CHECKS.get((kind, name))
    if check is not None:
        try:
            check(full)
        except ValueError as error:
            raise UsageError(str(error)) from None
    return full


def wrong_kind_message(name, kind):
    """``model 'resnet' is not an autoencoder (it is a classifier); choose one of: conv, dense, ...``,
    or the did-you-mean line of an unknown name."""
    from dlzoo.core.registry import unknown_name_message

    others = [other for other in REGISTRIES if other != kind and name in names(kind=other)]
    if not others:
        return unknown_name_message(KIND_NAMES[kind], name, names(kind=kind))

    def with_article(word):
        """``an autoencoder``, ``a gan``."""
        return ("an " if word[0] in "aeiou" else "a ") + word

    wanted = KIND_NAMES[kind] if kind != "classifier" else "classifier"
    return (f"model '{name}' is not {with_article(wanted)} (it is {with_article(others[0])}); "
            f"choose one of: {', '.join(names(kind=kind))}")


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


def build(name, input_shape, num_classes, **options):
    """Build model ``name`` for inputs of ``input_shape`` (no batch axis) and ``num_classes``."""
    builder = get(name)
    return builder(tuple(input_shape), int(num_classes), **options)
