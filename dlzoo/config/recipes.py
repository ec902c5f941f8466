"""Recipes and their configuration: loading, defaults, strict ``--set`` overrides, TOML output.

A recipe is a TOML file with top-level ``name topic task summary`` and the sections
``[data] [model] [optimizer] [train] [expect]`` (plus ``[sweep]`` for recipes that train several
variants). Configuration is layered: section defaults -> the recipe file -> ``--set`` overrides,
and every key is checked: an unknown key or a value of the wrong type is an error that names
the valid keys and the closest match, never silently ignored.

This module must stay importable without TensorFlow: ``dlzoo list`` and ``dlzoo show`` use it.
Keys of ``[model]`` and ``[optimizer]`` depend on the chosen builder / optimizer, so they are
checked by :func:`check_component_options`, which imports Keras, only when they are needed.
"""

import copy
import math
import pathlib
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import tomli_w

from dlzoo.core import validation
from dlzoo.core.errors import UsageError
from dlzoo.core.registry import did_you_mean

RECIPES_DIR = pathlib.Path(__file__).parents[1] / "recipes"

TOP_LEVEL = {"name": "", "topic": "", "task": "classify", "summary": ""}
# The optional top-level list of plug-in files (dlzoo.runs.plugins): ``plugins = ["my_models.py"]``.
PLUGINS_KEY = "plugins"

# Defaults of the sections whose keys are fixed. A default's type is the key's type;
# None means "any value of a type listed in OPTIONAL_TYPES".
SECTION_DEFAULTS = {
    "data": {
        "dataset": "digits",
        "batch_size": 32,
        "seed": 0,
        "normalize": True,
        "test_fraction": 0.2,
        "val_fraction": 0.1,
        "augment": {},
        "classes": [],
        "train_samples": 0,
        "stream": True,  # folder: and tfds: read from disk batch by batch (false: all in memory)
        "cache": "",  # a folder for tf.data cache files of streamed datasets ("" = no cache)
    },
    "model": {"name": "mlp"},
    "optimizer": {"name": "keras.adam", "learning_rate": 0.001},
    "train": {
        "epochs": 10,
        "seed": 0,
        "loss": "auto",
        "early_stopping_patience": 0,
        "restore_best": True,
        "monitor": "val_loss",
        # The .weights.h5 checkpoints are written at most this often (and at the end); the
        # resume state (last.state.npz) after every epoch. 0: every epoch.
        "checkpoint_seconds": 30.0,
        "quick_epochs": 1,
        "quick_train_samples": 512,
        # --quick builds the recipe's model with these [model] keys replaced (a smaller
        # transformer: its graphs trace in seconds); {}: the recipe's own model.
        "quick_model": {},
        "gradient_statistics": False,
        # Test images explained by Grad-CAM and integrated gradients in report.md (image classifiers; 0: none).
        "explain_samples": 0,
        "export": True,
        "baselines": True,  # fit scikit-learn baselines on the same split (classify / regress)
        "verbose": 1,
        "deterministic": False,  # seeds + TensorFlow's deterministic ops (--deterministic)
        "distribute": "none",  # "none", "mirrored" (all local GPUs or --devices N CPUs), "multiworker" (TF_CONFIG)
        "devices": 0,  # logical CPU devices to split the CPU into (0: one device)
        "precision": "float32",  # or "mixed": float16 on GPUs, bfloat16 on CPUs, float32 variables
        "jit_compile": None,  # XLA: true / false; unset: Keras's choice
    },
    # baseline: the measured best scikit-learn baseline on the recipe's data (README column; benchmarks/baselines.py)
    "expect": {"metric": "test_accuracy", "minimum": 0.0, "maximum": None, "budget": "", "source": "", "baseline": ""},
}
OPTIONAL_TYPES = {
    "maximum": (int, float),
    "jit_compile": (bool,),
}

# A recipe name becomes a folder name under the runs root: letters, digits, '.', '_', '-' only
# (no '/', no '..'), so that a run can never be written outside --runs.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")

# Keys whose values have bounds or a fixed set of choices: (section, key) -> check.
CHOICES = {
    ("train", "verbose"): (0, 1, 2),
    ("train", "distribute"): ("none", "mirrored", "multiworker"),
    ("train", "precision"): ("float32", "mixed"),
}
MINIMUMS = {
    ("data", "batch_size"): 1, ("train", "epochs"): 1, ("train", "quick_epochs"): 1,
    ("data", "train_samples"): 0, ("train", "quick_train_samples"): 1, ("train", "early_stopping_patience"): 0,
    ("train", "devices"): 0, ("train", "checkpoint_seconds"): 0,
    ("train", "explain_samples"): 0,
}
# Upper bounds stated before anything runs: a typo such as epochs = 99999999999999999999 would
# otherwise reach TensorFlow, which fails with a message that names no key.
MAXIMUMS = {("train", "epochs"): 1_000_000, ("train", "quick_epochs"): 1_000_000,
            ("train", "explain_samples"): 16}  # a picture holds at most 16 rows
# No integer anywhere in a recipe (sizes, counts, seeds) may be larger than this in magnitude:
# TensorFlow and NumPy take them as 32-bit integers in many places.
INTEGER_LIMIT = 2**31 - 1
# Tables and arrays nested deeper than this are refused (no recipe needs more than a few levels;
# thousands of levels would overflow Python's recursion limit in the parser and in copies).
NESTING_LIMIT = 32
# Sections whose keys depend on a component (model builder, optimizer); their extra keys are
# checked by check_component_options. A task's own section (``[transfer]``, ``[paths]``) is
# declared by the task class and checked by its ``check_config``.
OPEN_SECTIONS = ("model", "optimizer", "sweep")


# Topic folders in the order of the syllabus; `dlzoo list` follows it.
TOPIC_ORDER = ("neuron", "feedforward", "optimization", "backprop", "deep-training", "cnn", "methodology", "rnn", "seq2seq",
               "autoencoders", "gan", "embeddings", "transformers")


def recipe_files():
    """All packaged recipe files, by syllabus topic, then name."""
    def syllabus_position(path):
        topic = path.parent.name
        return (TOPIC_ORDER.index(topic) if topic in TOPIC_ORDER else len(TOPIC_ORDER), topic, path.stem)

    return sorted(RECIPES_DIR.glob("*/*.toml"), key=syllabus_position)


def recipe_names():
    """Names of the packaged recipes (file stems)."""
    return [path.stem for path in recipe_files()]


def find_recipe(name_or_path):
    """The path of a recipe given by name (``"lenet"``) or as a ``.toml`` file."""
    candidate = pathlib.Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise UsageError(f"recipe file {name_or_path} does not exist")
        return candidate
    for path in recipe_files():
        if path.stem == name_or_path:
            return path
    hint = did_you_mean(name_or_path, recipe_names())
    raise UsageError(f"unknown recipe '{name_or_path}'" + (f"; {hint}" if hint else "; run 'dlzoo list' to see them"))


def read_toml(path):
    """Parse a TOML file; a syntax error, a binary file or absurd nesting becomes a one-line :class:`UsageError`."""
    try:
        with open(path, "rb") as file:
            parsed = tomllib.load(file)
    except UnicodeDecodeError:  # a binary file (a .npz, a picture) given as the recipe
        raise UsageError(f"{path} is not a TOML text file (it is not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from None
    except RecursionError:
        raise UsageError(f"{path} is not a usable recipe: tables or arrays nested more than {NESTING_LIMIT} "
                         "levels deep") from None
    except ValueError as error:  # an integer of thousands of digits, say
        raise UsageError(f"{path} is not valid TOML: {validation.shorten(str(error))}") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    check_nesting(parsed, str(path))
    return parsed


def check_nesting(value, where):
    """Refuse tables and arrays nested more than :data:`NESTING_LIMIT` levels deep.

    Walks with an explicit stack rather than recursion: the point is to survive thousands of levels.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > NESTING_LIMIT:
            raise UsageError(f"{where}: tables or arrays nested more than {NESTING_LIMIT} levels deep")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)


def defaults():
    """A fresh copy of the full default configuration."""
    config = dict(TOP_LEVEL)
    config.update(copy.deepcopy(SECTION_DEFAULTS))
    return config


def merge(base, update):
    """Recursively merge table ``update`` into a copy of ``base`` (update wins)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ("augment",):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_value(text):
    """Parse an override value as a TOML value; a bare word that is not TOML stays a string.

    ``"0.1"`` -> 0.1, ``"true"`` -> True, ``"[64, 32]"`` -> [64, 32], ``"rmsprop"`` -> "rmsprop".
    """
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        if any(character in text for character in "[]{}=\"'"):
            raise UsageError(f"cannot parse override value {validation.shorten(repr(text))} as TOML") from None
        return text
    except RecursionError:
        raise UsageError(f"override value nested more than {NESTING_LIMIT} levels deep") from None
    except ValueError as error:  # an integer of thousands of digits, say
        raise UsageError(f"cannot parse override value: {validation.shorten(str(error))}") from None
    check_nesting(value, "override value")
    return value


def parse_override(assignment):
    """Split ``"section.key=value"`` into ``(["section", "key"], value)``."""
    path, separator, text = assignment.partition("=")
    if not separator or not path.strip():
        raise UsageError(f"--set expects section.key=value, got {assignment!r}")
    return split_dotted_key(path, assignment), parse_value(text.strip())


def parse_pair(dotted, value):
    """An override given as ``("section.key", value)`` (the Python API's dict) -> ``(keys, value)``."""
    if not isinstance(dotted, str) or not dotted.strip():
        raise UsageError(f"override keys are 'section.key' strings, got {dotted!r}")
    return split_dotted_key(dotted, f"{dotted}={value!r}"), value


def split_dotted_key(path, assignment):
    """``"section.key"`` -> ``["section", "key"]``; a bare word must be a top-level key (``name``)."""
    keys = [key.strip() for key in path.strip().split(".")]
    if len(keys) < 2 and keys[0] not in TOP_LEVEL:
        raise UsageError(f"--set expects section.key=value, got {assignment!r}")
    return keys


def apply_override(config, keys, value, task_sections=None):
    """Set ``config[keys[0]][keys[1]]... = value``, refusing keys that do not exist.

    ``task_sections`` maps the task's own section (``"transfer"``) to its declared defaults: any
    key declared there may be set even when the recipe does not write it (the recipe's table
    holds only the keys it changes), and a key whose default is a table (``scorer_model = {}``)
    takes sub-keys, which the task and the component it configures check.
    """
    task_sections = task_sections or {}
    declared = task_sections.get(keys[0], {})
    table = config
    for depth, key in enumerate(keys[:-1]):
        if key not in table and is_declared_table(keys[: depth + 1], task_sections):
            table[key] = {}
        if key not in table or not isinstance(table[key], dict):
            valid = {**declared, **table} if depth == 1 else table
            raise UsageError(unknown_key_message(".".join(keys[: depth + 1]), key, valid))
        table = table[key]
    last = keys[-1]
    if last not in table and not may_add_key(keys, task_sections):
        raise UsageError(unknown_key_message(".".join(keys), last, {**declared, **table} if len(keys) == 2 else table))
    table[last] = value


def is_declared_table(prefix, task_sections):
    """True when ``prefix`` names the task's own section (``["transfer"]``) or a table-valued key
    declared in it (``["autoencode", "scorer_model"]``): a table the recipe may leave unwritten."""
    declared = task_sections.get(prefix[0])
    if declared is None:
        return False
    return len(prefix) == 1 or len(prefix) == 2 and isinstance(declared.get(prefix[1]), dict)


def may_add_key(keys, task_sections):
    """True when ``keys`` may name a key the recipe does not write: a key of [model], [optimizer]
    or [data] (those take the chosen component's keys, which check_types checks), a key the task
    declares, or a sub-key of a table-valued key it declares."""
    if keys[0] in (*OPEN_SECTIONS, "data") and len(keys) == 2:
        return True
    declared = task_sections.get(keys[0])
    if declared is None:
        return False
    return len(keys) == 2 and keys[1] in declared or len(keys) == 3 and isinstance(declared.get(keys[1]), dict)


def unknown_key_message(dotted, key, table):
    """The message for an unknown key, listing the valid keys and the closest one."""
    valid = sorted(table)
    hint = did_you_mean(key, valid)
    return (f"unknown key '{validation.shorten(dotted)}'" + (f"; {hint}" if hint else "")
            + f" (valid keys: {', '.join(valid)})")


def check_integer_sizes(config):
    """Refuse any integer of the recipe beyond :data:`INTEGER_LIMIT` in magnitude, naming its key."""
    stack = [(key, value) for key, value in config.items()]
    while stack:
        dotted, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{dotted}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{dotted}[{index}]", item) for index, item in enumerate(value))
        elif validation.is_whole_number(value) and abs(value) > INTEGER_LIMIT:
            raise UsageError(f"{validation.shorten(dotted)} must be between {-INTEGER_LIMIT:,} and {INTEGER_LIMIT:,}, "
                             f"got {validation.shorten(str(value))}")


def check_learning_rate(rate):
    """A number as ``optimizer.learning_rate`` must be finite (a table is a schedule, checked with Keras)."""
    if validation.is_number(rate) and not math.isfinite(rate):
        raise UsageError(f"optimizer.learning_rate must be a finite number, got {rate}")


def check_quick_model(config):
    """``train.quick_model`` may only resize the recipe's model: its keys are keys of ``[model]``
    (not ``name``); their values are checked with the model's other keys (:func:`check_component_options`)."""
    model_keys = {key: None for key in config["model"] if key != "name"}
    for key in config["train"]["quick_model"]:
        if key not in model_keys:
            raise UsageError(unknown_key_message(f"train.quick_model.{key}", key, model_keys)
                             + "; train.quick_model replaces keys of [model] in --quick runs")


def with_quick_model(config):
    """The configuration a ``--quick`` run trains: ``[model]`` with ``train.quick_model``'s keys
    replaced. The one place where the quick model is made; the run's ``config.toml`` keeps
    the recipe as given (``quick`` in ``metrics.json`` says which model was built)."""
    quick_model = config["train"].get("quick_model") or {}
    if not quick_model:
        return config
    resolved = copy.deepcopy(config)
    resolved["model"].update(copy.deepcopy(quick_model))
    return resolved


def check_name(name):
    """Refuse a recipe name that is not a plain folder name (``../x``, ``/abs``, empty)."""
    if not SAFE_NAME.match(name) or name in (".", ".."):
        raise UsageError(f"recipe name {name!r} must be a plain name (letters, digits, '.', '_', '-'; no '/' or "
                         "'..'): it becomes the run's folder name")


def check_value(section, key, value):
    """Check one key of a fixed section against its default's type."""
    defaults_of_section = SECTION_DEFAULTS[section]
    if key not in defaults_of_section:
        raise UsageError(unknown_key_message(f"{section}.{key}", key, defaults_of_section))
    default = defaults_of_section[key]
    if default is None and value is None:
        return  # an optional key left unset
    expected = OPTIONAL_TYPES.get(key) if default is None else expected_types(default)
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        names = " or ".join(kind.__name__ for kind in expected)
        raise UsageError(f"{section}.{key} must be {names}, got {value!r} ({type(value).__name__})")


def expected_types(default):
    """The accepted types for a key whose default is ``default``: a float key also takes an int."""
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, float):
        return (int, float)
    return (type(default),)


def apply_shortcuts(config, epochs=None, seed=None):
    """Apply the CLI shortcut options ``--epochs`` and ``--seed`` (``--data``: :func:`switch_dataset`)."""
    if epochs is not None:
        config["train"]["epochs"] = int(epochs)
    if seed is not None:
        config["train"]["seed"] = int(seed)
        config["data"]["seed"] = int(seed)


def to_toml(config):
    """The configuration as TOML text that :func:`load_config` accepts unchanged.

    ``None`` values (optional keys left unset) are dropped: TOML has no null.
    """
    return tomli_w.dumps(drop_none(config))


def drop_none(value):
    """A copy of ``value`` without dict entries whose value is None."""
    if isinstance(value, dict):
        return {key: drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_none(item) for item in value]
    return value


def target_bound(target):
    """``">= 0.98"`` or ``"<= 0.001"``: the bound of a target check or ``[expect]`` table."""
    if target.get("maximum") is not None:
        return f"<= {target['maximum']}"
    return f">= {target.get('minimum', 0.0)}"


def recipe_summary(path):
    """One row of ``dlzoo list``: name, topic, task, dataset, target, from a recipe file."""
    raw = read_toml(path)
    expect = raw.get("expect", {})
    target = f"{expect.get('metric', 'test_accuracy')} {target_bound(expect)}" if expect else ""
    return {
        "name": raw.get("name", path.stem),
        "topic": raw.get("topic", path.parent.name),
        "task": "sweep" if "sweep" in raw else raw.get("task", "classify"),
        "dataset": raw.get("data", {}).get("dataset", SECTION_DEFAULTS["data"]["dataset"]),
        "target": target,
        "summary": raw.get("summary", ""),
        "description": short_description(raw.get("summary", "")),
        "source": expect.get("source", ""),
        "baseline": expect.get("baseline", ""),
    }


def short_description(summary, width=60):
    """The one-line description ``dlzoo list`` shows: ``summary`` up to its first ``;`` (the
    rest are remarks), cut at a word boundary to at most ``width`` characters (``…`` marks a cut)."""
    text = " ".join(summary.split(";")[0].split())
    if len(text) <= width:
        return text
    cut = text[:width].rsplit(" ", 1)[0].rstrip(" ,:(-")
    return cut + "…"


def matching_recipes(rows, pattern):
    """The rows of ``dlzoo list`` in which ``pattern`` (any case) is part of a column shown."""
    pattern = pattern.lower()
    shown = ("name", "topic", "task", "dataset", "target", "description")
    return [row for row in rows if any(pattern in str(row[column]).lower() for column in shown)]


def recipes_of_topic(rows, topic):
    """The rows of topic ``topic`` (any case); an unknown topic is a UsageError with the closest one."""
    topics = sorted({row["topic"] for row in rows})
    chosen = [row for row in rows if row["topic"].lower() == topic.lower()]
    if not chosen:
        hint = did_you_mean(topic.lower(), topics)
        raise UsageError(f"no recipe of topic '{topic}'" + (f"; {hint}" if hint else "")
                         + f" (topics: {', '.join(topics)})")
    return chosen


# The entry of changed_settings() for a recipe file that has no packaged recipe of its name.
NOT_PACKAGED = "<file>"


def describe_changed_settings(changed):
    """``"with changed settings: optimizer.learning_rate, train.epochs"`` or ``""`` when none."""
    if not changed:
        return ""
    if NOT_PACKAGED in changed:
        return "with a recipe file that is not a packaged recipe"
    return "with changed settings: " + ", ".join(changed)
