"""Your own code inside the zoo: plug-in files that register models, optimizers and datasets.

A plug-in is a Python file named on the command line (``dlzoo train cnn --plugin my_models.py``),
in a recipe (``plugins = ["my_models.py"]`` at its top) or in the API (``plugins=[...]``). It
registers components with the zoo's own registries through the public decorators::

    import keras
    import dlzoo

    @dlzoo.register_model("my_cnn")
    def build(input_shape, num_classes, filters=16):     # like every builder of dlzoo.models
        inputs = keras.Input(input_shape)
        ...
        return keras.Model(inputs, outputs)

after which ``--set model.name=my_cnn --set model.filters=32`` is checked like any built-in.
Importing a plug-in runs its code: dlzoo imports only the files it is told to. A run keeps a
copy of each file (``plugins/`` in the run folder, with its sha256 in ``metrics.json``), and
every later command on the run imports that copy, so the run stays usable after the file changes.
"""

import contextlib
import functools
import hashlib
import importlib.util
import inspect
import pathlib
import sys
import traceback

from dlzoo.core.errors import UsageError

# Folder of a run that holds its copies of the plug-in files.
RUN_FOLDER = "plugins"

# sha256 of each plug-in file imported in this process -> its module (importing twice is a no-op).
_loaded = {}
# Inside registrations_undone(): one list per block of (registry, name, previous entry, was replaceable).
_undo = []


def sha256(path):
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def check_files(paths):
    """Each plug-in path as an absolute path; a missing or non-``.py`` file is a usage error."""
    checked = []
    for path in paths:
        path = pathlib.Path(path).expanduser()
        if not path.is_file():
            raise UsageError(f"plugin {path}: no such file")
        if path.suffix != ".py":
            raise UsageError(f"plugin {path}: a plug-in is a Python file ending in .py")
        checked.append(path.resolve())
    return checked


def load(paths):
    """Import each plug-in file once (by content); errors are one line naming the file and line."""
    for path in check_files(paths):
        digest = sha256(path)
        if digest in _loaded:
            continue
        _loaded[digest] = import_file(path, f"dlzoo_plugin_{path.stem}_{digest[:12]}")


def import_file(path, module_name):
    """Import ``path`` as module ``module_name``; its exceptions become a UsageError naming file and line."""
    specification = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(specification)
    try:
        specification.loader.exec_module(module)
    except SyntaxError as error:
        raise UsageError(f"plugin {path} line {error.lineno}: syntax error: {error.msg}") from error
    except UsageError as error:
        raise UsageError(f"plugin {path}: {error}") from error
    except Exception as error:
        raise UsageError(f"plugin {path} line {line_in(path, error)}: {type(error).__name__}: {error}") from error
    sys.modules[module_name] = module
    return module


def line_in(path, error):
    """The line of ``path`` where ``error`` was raised (its innermost frame in that file), or ``?``."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if pathlib.Path(frame.filename) == path]
    return lines[-1] if lines else "?"


def where(function):
    """``"file.py line N"`` of a function's definition, for messages about a plug-in's component."""
    try:
        return f"{inspect.getsourcefile(function)} line {inspect.getsourcelines(function)[1]}"
    except (OSError, TypeError):
        return getattr(function, "__module__", "a plug-in")


def copy_into_run(paths, folder):
    """Copy each plug-in file into ``folder/plugins/``; return ``(relative paths, records)``.

    The records (``file``, ``source``, ``sha256``) go to ``metrics.json``; the relative paths
    replace the originals in the run's ``config.toml``.
    """
    from dlzoo.runs import folders

    relative, records = [], []
    for path in check_files(paths):
        data = path.read_bytes()
        target = pathlib.Path(RUN_FOLDER) / path.name
        if str(target) in relative:  # two plug-ins of the same name from different folders
            target = pathlib.Path(RUN_FOLDER) / f"{path.stem}-{len(relative) + 1}{path.suffix}"
        folders.atomic_write_bytes(pathlib.Path(folder) / target, data)
        relative.append(str(target))
        records.append({"file": str(target), "source": str(path), "sha256": hashlib.sha256(data).hexdigest()})
    return relative, records


# 1. The public decorators ------------------------------------------------------------------------


@contextlib.contextmanager
def registrations_undone():
    """Inside the block plug-in registrations work as usual; after it each is undone, so that the
    registries are as before (``dlzoo exercise check`` runs a file, it does not install it)."""
    _undo.append([])
    try:
        yield
    finally:
        for registry, name, previous, was_replaceable in reversed(_undo.pop()):
            registry.remove(name)
            if previous is not None:
                registry.register(name)(previous)
            if was_replaceable:
                registry.replaceable.add(name)


def _register(registry, name, component):
    """Register a plug-in's ``component`` as ``name``, noting how to undo it inside :func:`registrations_undone`."""
    if name in registry and name not in registry.replaceable:
        raise UsageError(f"{registry.kind} '{name}' is a built-in of dlzoo; give your {registry.kind} another name")
    if _undo:
        _undo[-1].append((registry, name, registry.get(name) if name in registry else None,
                          name in registry.replaceable))
    registry.replaceable.add(name)
    registry.register(name, replace=True)(component)


def register_model(name, kind="classifier"):
    """Register a model builder ``build(input_shape, num_classes, **options) -> keras.Model`` as ``name``.

    Its keyword options become the ``[model]`` keys a recipe may set (``--set model.<key>=...``).
    The builder's result is checked: a non-model, or a model whose output does not fit the
    task's classes, is one line naming the plug-in file and line. ``kind`` registers another
    kind of builder instead (``"autoencoder"``, ``"gan"``, ``"segmentation"``, ``"translator"``:
    the signatures of :mod:`dlzoo.models`), used as it is.
    """
    from dlzoo import models

    models.names(kind=kind)  # the built-ins first, so that a plug-in cannot take one of their names

    def decorator(builder):
        _register(models.registry_of(kind), name, checked_builder(builder, name) if kind == "classifier" else builder)
        return builder

    return decorator


def register_optimizer(name):
    """Register a Keras 3 optimizer class (``build`` + ``update_step``) as ``optimizer.name = name``.

    Its constructor's keyword arguments are the ``[optimizer]`` keys a recipe may set.
    """
    import dlzoo.optimizers  # noqa: F401  (the built-ins first, so that a plug-in cannot take their names)
    from dlzoo.optimizers import base

    def decorator(optimizer_class):
        import keras

        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, keras.optimizers.Optimizer)):
            raise UsageError(f"register_optimizer('{name}') needs a keras.optimizers.Optimizer subclass, "
                             f"got {optimizer_class!r} ({where(optimizer_class)})")
        _register(base.OPTIMIZERS, name, optimizer_class)
        return optimizer_class

    return decorator


def register_dataset(name, kind="image"):
    """Register ``loader() -> (x, y, class_names)`` (or ``(x_train, y_train, x_test, y_test, class_names)``)
    as the dataset ``name``; ``data.dataset = name`` then trains on it with the usual seeded splits.

    ``kind``: ``"image"`` (``(n, height, width[, channels])``) or ``"features"`` (``(n, features)``).
    """
    from dlzoo import data

    data.names()  # the built-ins first, so that a plug-in cannot take their names
    if kind not in (data.IMAGE, data.FEATURES):
        raise UsageError(f"register_dataset('{name}'): kind must be '{data.IMAGE}' or '{data.FEATURES}', got {kind!r}")

    def decorator(loader):
        _register(data.DATASETS, name, dataset_source(loader, name, kind))
        return loader

    return decorator


# 2. How a plug-in's components are wrapped ------------------------------------------------------


def checked_builder(builder, name):
    """``builder`` with its result checked: a Keras model whose output fits the classes asked for."""

    @functools.wraps(builder)  # keeps the signature: its keyword options are the [model] keys
    def build(input_shape, num_classes, **options):
        import keras

        model = builder(input_shape, num_classes, **options)
        if not isinstance(model, keras.Model):
            raise UsageError(f"model '{name}' ({where(builder)}) returned {type(model).__name__}; "
                             "a builder must return a keras.Model")
        output_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else None
        if output_shape is None or output_shape[-1] != num_classes:
            raise UsageError(f"model '{name}' ({where(builder)}) outputs shape {model.output_shape}; the task "
                             f"expects (batch, {num_classes}): one value per class")
        return model

    return build


def dataset_source(loader, name, kind):
    """A dataset source (``source(argument, seed, options) -> Splits``) around a plug-in's loader."""
    from dlzoo import data

    def source(argument, seed, options):
        import numpy as np

        arrays = loader()
        if not isinstance(arrays, tuple) or len(arrays) not in (3, 5):
            raise UsageError(f"dataset '{name}' ({where(loader)}) must return (x, y, class_names) or "
                             f"(x_train, y_train, x_test, y_test, class_names), got {type(arrays).__name__}")
        *values, class_names = arrays
        values = [np.asarray(value) for value in values]
        if kind == data.IMAGE and values[0].ndim == 3:  # grey images: give them their channel axis
            values = [value[..., np.newaxis] if index % 2 == 0 else value for index, value in enumerate(values)]
        fractions = {key: float(options[key]) for key in ("test_fraction", "val_fraction") if key in options}
        return data.make_splits(name, kind, list(class_names), *values, seed=seed, **fractions)

    source.options = {}
    source.__doc__ = loader.__doc__
    return source
