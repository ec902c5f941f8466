"""Resolving a recipe: the layered configuration checked against every registry.

:func:`load_config` reads a recipe (:mod:`dlzoo.config.recipes`), applies ``--set`` overrides and
the shortcuts, and checks every value: top-level keys and fixed sections by type, ``[data]``
against the dataset source's declared options (and its files on disk), the task's own section
through the task, ``[model]`` and ``[optimizer]`` against the chosen builder's and optimizer's
options (:func:`check_component_options`, which imports Keras, only when they are needed).
Nothing here imports TensorFlow: a wrong key is refused in a fraction of a second.
"""

import pathlib

from dlzoo.config.recipes import (CHOICES, MAXIMUMS, MINIMUMS, OPEN_SECTIONS, PLUGINS_KEY, SECTION_DEFAULTS,
                                  TOP_LEVEL)
from dlzoo.config import recipes
from dlzoo.core.errors import UsageError


def check_types(config):
    """Check that every fixed key of ``config`` has a value of the right type; raise UsageError."""
    for key, default in TOP_LEVEL.items():
        if not isinstance(config.get(key), str):
            raise UsageError(f"'{key}' must be a string, got {config.get(key)!r}")
    task = task_of(config)
    known_sections = set(SECTION_DEFAULTS) | set(OPEN_SECTIONS) | ({task.section} if task.section else set())
    for section, table in config.items():
        if section in TOP_LEVEL or section == PLUGINS_KEY:
            continue
        if section not in known_sections:
            valid = sorted(known_sections | set(TOP_LEVEL))
            raise UsageError(recipes.unknown_key_message(section, section, dict.fromkeys(valid)))
        if not isinstance(table, dict):
            raise UsageError(f"[{section}] must be a table, got {table!r}")
        if section == "data":
            check_data_section(table, task.uses_data)
        elif section in SECTION_DEFAULTS and section not in OPEN_SECTIONS:
            for key, value in table.items():
                recipes.check_value(section, key, value)
    recipes.check_name(config["name"])
    recipes.check_quick_model(config)
    for (section, key), minimum in MINIMUMS.items():
        if config[section][key] < minimum:
            raise UsageError(f"{section}.{key} must be at least {minimum}, got {config[section][key]}")
    for (section, key), maximum in MAXIMUMS.items():
        if config[section][key] > maximum:
            raise UsageError(f"{section}.{key} must be at most {maximum:,}, got {config[section][key]}")
    recipes.check_integer_sizes(config)
    recipes.check_learning_rate(config.get("optimizer", {}).get("learning_rate"))
    for (section, key), choices in CHOICES.items():
        if config[section][key] not in choices:
            raise UsageError(f"{section}.{key} must be one of {', '.join(map(str, choices))}, "
                             f"got {config[section][key]!r}")
    try:
        task.check_config(config)
    except UsageError:
        raise
    except ValueError as error:  # the task's checks raise ValueError (the Keras habit): the user's input
        raise UsageError(error_message(error)) from error


def task_of(config):
    """The task object named by ``config["task"]`` (an unknown name is a usage error)."""
    from dlzoo import tasks
    from dlzoo.core.registry import UnknownNameError

    try:
        return tasks.create(config.get("task"))
    except UnknownNameError as error:
        raise UsageError(str(error)) from None


def task_sections(config):
    """``{section: its declared defaults}`` for the task's own section (``--set transfer.scratch_epochs=5``
    is a key of the task even when the recipe does not write it); empty for a task without one,
    or an unknown task (refused later, by :func:`check_types`)."""
    from dlzoo import tasks

    if config.get("task") not in tasks.names():
        return {}
    task = task_of(config)
    return {task.section: task.section_defaults} if task.section else {}


def check_data_section(table, uses_data=True):
    """Check ``[data]``: the common keys by their defaults' types, the others against the keys
    that the chosen dataset source declares (``data.noise`` exists for ``moons``, not for ``digits``).

    A task that reads no dataset (``uses_data`` false) gets the common keys checked only.
    """
    from dlzoo import data
    from dlzoo.core.registry import UnknownNameError

    if not isinstance(table.get("dataset"), str):
        raise UsageError(f"data.dataset must be a string like 'digits', got {table.get('dataset')!r}")
    try:
        # "none": a recipe that reads no dataset (a study of cells, a descent on a 2-D function).
        extra = data.source_options(table["dataset"]) if uses_data and table["dataset"] != "none" else {}
    except UnknownNameError as error:
        raise UsageError(f"data.dataset {table['dataset']!r}: {error}") from None
    for key, value in table.items():
        if key in SECTION_DEFAULTS["data"]:
            recipes.check_value("data", key, value)
        elif key in extra:
            if not isinstance(value, extra[key]) or isinstance(value, bool):
                names = " or ".join(kind.__name__ for kind in extra[key])
                raise UsageError(f"data.{key} must be {names}, got {value!r} ({type(value).__name__})")
        else:
            valid = dict.fromkeys([*SECTION_DEFAULTS["data"], *extra])
            raise UsageError(recipes.unknown_key_message(f"data.{key}", key, valid)
                             + f"; {table['dataset']} reads {', '.join(extra) or 'no extra keys'}")
    if uses_data and table["dataset"] != "none":
        data.check_available(table["dataset"], table)  # files on disk: a missing dataset fails before TensorFlow


def load_config(recipe, overrides=(), **shortcuts):
    """Resolve a recipe: defaults, then the recipe file, then ``--set`` overrides, then shortcuts.

    Args:
        recipe: a recipe name or a path to a ``.toml`` file.
        overrides: ``"section.key=value"`` strings, applied in order.
        shortcuts: CLI options that are shorthands for overrides: ``dataset``, ``epochs``,
            ``seed`` (sets both train.seed and data.seed); ``None`` values are ignored.

    Returns:
        The resolved configuration as a nested dict.
    """
    path = recipes.find_recipe(recipe)
    raw = recipes.read_toml(path)
    config = recipes.merge(recipes.defaults(), raw)
    if not config["name"]:
        config["name"] = path.stem
    resolve_plugins(config, path, shortcuts.pop("plugins", ()))
    dataset = shortcuts.pop("dataset", None)
    if dataset is not None:  # before --set, which may then set the new source's keys
        switch_dataset(config, dataset)
    parsed = [recipes.parse_override(assignment) if isinstance(assignment, str) else recipes.parse_pair(*assignment)
              for assignment in overrides]
    # model.name first: another builder starts from its own defaults (the recipe's other [model]
    # keys were options of the recipe's builder), and the model.<key> overrides then apply to it.
    parsed.sort(key=lambda pair: pair[0] != ["model", "name"])
    for keys, value in parsed:
        if keys == ["model", "name"] and value != config["model"].get("name"):
            config["model"] = {"name": value}
            config["train"]["quick_model"] = {}  # the recipe's quick sizes were its own model's too
        recipes.apply_override(config, keys, value, task_sections(config))
        quick_model = config["train"].get("quick_model")
        if keys[0] == "model" and len(keys) == 2 and isinstance(quick_model, dict):
            quick_model.pop(keys[1], None)  # --set model.K=v is the user's K in --quick runs too
    recipes.apply_shortcuts(config, **shortcuts)
    check_types(config)
    task_of(config).check_expect(config)  # a target the task never reports: refused before training
    return config


def resolve_plugins(config, recipe_path, extra=()):
    """``config["plugins"]``: absolute paths of the recipe's plug-ins (relative to the recipe
    file, so a run's config.toml finds its own copies) and of ``extra`` (relative to the current
    folder); missing files are a usage error now. No plug-in is imported here."""
    from dlzoo.runs import plugins

    listed = config.get(PLUGINS_KEY, [])
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise UsageError(f"'{PLUGINS_KEY}' must be a list of file paths, got {listed!r}")
    paths = [pathlib.Path(recipe_path).parent / item for item in listed] + [pathlib.Path(item) for item in extra]
    resolved = [str(path) for path in plugins.check_files(paths)]
    config.pop(PLUGINS_KEY, None)
    if resolved:
        config[PLUGINS_KEY] = list(dict.fromkeys(resolved))


def switch_dataset(config, dataset):
    """Train on ``dataset`` (``--data``) instead of the recipe's dataset.

    The recipe's keys for its own source (``num_samples`` of a generated corpus) mean nothing
    to another source, so they are dropped; the common ``[data]`` keys stay.
    """
    from dlzoo import data
    from dlzoo.core.registry import UnknownNameError

    config["data"]["dataset"] = dataset
    if config.get(PLUGINS_KEY) and data.parse_spec(dataset)[0] not in data.names():
        from dlzoo.runs import plugins

        plugins.load(config[PLUGINS_KEY])  # the dataset may be one of theirs (named explicitly: may run)
    try:
        kept = set(SECTION_DEFAULTS["data"]) | set(data.source_options(dataset))
    except UnknownNameError as error:
        raise UsageError(f"--data {dataset!r}: {error}") from None
    config["data"] = {key: value for key, value in config["data"].items() if key in kept}


def check_component_options(config):
    """Check ``[model]`` and ``[optimizer]`` keys against the chosen builder and optimizer.

    Imports Keras (the builders and optimizers live in Keras modules), so it runs only where a
    model is about to be built or the user overrode one of those keys.
    """
    from dlzoo.runs import plugins

    plugins.load(config.get(PLUGINS_KEY, []))  # their models, optimizers and datasets are names too
    try:
        check_model_and_optimizer(config)
        if config.get("train", {}).get("quick_model"):  # checked in full runs too: --quick must not fail later
            check_model_and_optimizer(recipes.with_quick_model(config))
    except UsageError:
        raise
    except ValueError as error:  # the builders and optimizers validate with ValueError (Keras habit)
        raise UsageError(error_message(error)) from error


def error_message(error):
    """The message of an exception as the user should read it.

    ``str(KeyError("x"))`` is ``"'x'"`` (KeyError shows its argument's repr); this returns the
    argument itself. Stripping quotes off ``str(error)`` instead would also eat the closing
    quote of a message that ends in one ("got 'fast'").
    """
    if isinstance(error, KeyError) and type(error).__str__ is KeyError.__str__ and len(error.args) == 1:
        return str(error.args[0])
    return str(error)


def check_model_and_optimizer(config):
    """The checks of :func:`check_component_options`, raising whatever the components raise."""
    from dlzoo import models, optimizers

    model = config.get("model", {})
    kind = task_of(config).model_kind
    if "name" in model and kind:
        models.check_options(model, kind=kind)
    optimizer = config.get("optimizer", {})
    if "name" in optimizer:
        from dlzoo.optimizers.schedules import fill_auto_steps

        # Validates names, keys and values; "auto" step counts are only known at training time.
        optimizers.build_optimizer(fill_auto_steps(optimizer, 1))


RESULT_NEUTRAL_KEYS = (("train", "verbose"), ("train", "export"))


def changed_settings(config):
    """The ``"section.key"`` settings of ``config`` that differ from its packaged recipe.

    ``config`` is compared with the packaged recipe of the same name resolved without
    overrides, so ``--set``, ``--epochs``, ``--seed``, ``--data`` and an edited copy of a recipe
    all show up. A recipe that has no packaged recipe of its name gives ``["<file>"]``
    (:data:`NOT_PACKAGED`): there is nothing to compare it with.

    Returns:
        A sorted list such as ``["optimizer.learning_rate", "train.epochs"]`` (empty when the
        run used the recipe as packaged).
    """
    packaged = {path.stem: path for path in recipes.recipe_files()}.get(config.get("name"))
    if packaged is None:
        return [recipes.NOT_PACKAGED]
    reference = recipes.drop_none(load_config(str(packaged)))
    current = recipes.drop_none(config)
    changed = []
    # How much is printed, and whether a SavedModel is written, do not change what is learned.
    for section, key in RESULT_NEUTRAL_KEYS:
        for table in (reference, current):
            table.get(section, {}).pop(key, None)
    for section in sorted(set(reference) | set(current)):
        mine, theirs = current.get(section), reference.get(section)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            changed += [f"{section}.{key}" for key in sorted(set(mine) | set(theirs)) if mine.get(key) != theirs.get(key)]
        elif mine != theirs:
            changed.append(section)
    return changed


