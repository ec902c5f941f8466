"""Reading a trained run back: its configuration, its Keras model and its data.

``dlzoo evaluate``, ``dlzoo visualize`` and ``dlzoo export`` all start from a run folder;
this module is what they share.
"""

import dataclasses
import pathlib

from dlzoo import config as config_module
from dlzoo import runs
from dlzoo.errors import UsageError


@dataclasses.dataclass
class LoadedRun:
    """A finished run: its folder, resolved configuration, metrics record and Keras model."""

    folder: pathlib.Path
    config: dict
    record: dict
    model: object


def load_keras_model(path):
    """Load a ``.keras`` file, registering dlzoo's custom objects (optimizers, losses) first."""
    import keras

    import dlzoo.optimizers  # noqa: F401  (registers the hand-written optimizers)
    import dlzoo.tasks.losses  # noqa: F401  (registers the squared-error loss)

    return keras.saving.load_model(str(path), compile=False)


def load_run(argument, root=None):
    """Resolve ``argument`` (run folder or recipe name) and load the run's model.

    A run without ``model.keras`` (failed, or a task that trains no Keras model) is a usage
    error that says so.
    """
    folder = runs.resolve_run(argument, root)
    config = config_module.read_toml(folder / runs.CONFIG_FILE)
    record = runs.read_json(folder / runs.METRICS_FILE)
    model_path = folder / "model.keras"
    if not model_path.exists():
        status = record.get("status", "unknown")
        raise UsageError(f"{folder} has no model.keras (run status: {status}); nothing to load")
    return LoadedRun(folder=folder, config=config, record=record, model=load_keras_model(model_path))


def load_run_data(config, dataset=None):
    """The data a run was trained on (same spec, seed and normalization), or ``dataset`` instead."""
    from dlzoo import data

    data_config = dict(config.get("data", {}))
    spec = dataset or data_config.get("dataset")
    return data.load(spec, seed=data_config.get("seed", 0), options=data_config,
                     normalize_inputs=data_config.get("normalize", True))
