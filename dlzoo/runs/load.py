"""Reading a trained run back: its configuration, its task, its Keras model and its data.

``dlzoo evaluate``, ``visualize``, ``export`` and ``predict`` all start from a run folder and
ask the task recorded in its ``config.toml`` what to do; this module is what they share.
"""

import dataclasses
import pathlib

from dlzoo.config import recipes
from dlzoo.config import resolve
from dlzoo.runs import folders
from dlzoo.core.errors import UsageError


@dataclasses.dataclass
class LoadedRun:
    """A finished run: its folder, resolved configuration, metrics record, task and Keras model."""

    folder: pathlib.Path
    config: dict
    record: dict
    task: object
    model: object

    def load_data(self, dataset=None):
        """The data the run was trained on (same spec, seed, classes), or ``dataset`` instead."""
        return self.task.load_data(config_with_safe_cache(self.config, self.folder), dataset)


def config_with_safe_cache(config, folder):
    """``config`` whose ``data.cache`` is dropped when it points outside the run folder and its runs root."""
    data = config.get("data")
    if not isinstance(data, dict) or not data.get("cache"):
        return config
    return {**config, "data": {**data, "cache": folders.safe_cache_folder(data["cache"], folder)}}


def load_keras_model(path):
    """Load a ``.keras`` file, registering dlzoo's custom objects (optimizers, losses, layers) first."""
    import keras

    import dlzoo.models.autoencoder  # noqa: F401  (registers the masking-noise and sampling layers)
    import dlzoo.models.losses  # noqa: F401  (registers the squared-error loss)
    import dlzoo.models.preprocessing  # noqa: F401  (registers the Resize layer)
    import dlzoo.models.transformer  # noqa: F401  (attention, positional encoding, transformer blocks)
    import dlzoo.models.transformer_translator  # noqa: F401  (the transformer encoder-decoder of seq2seq)
    import dlzoo.models.vocabulary  # noqa: F401  (the vocabulary layer of token models)
    import dlzoo.models.word2vec  # noqa: F401  (word2vec's masked mean)
    import dlzoo.models.rnn  # noqa: F401  (registers the hand-written recurrent cells)
    import dlzoo.models.seq2seq  # noqa: F401  (registers the encoder-decoder)
    import dlzoo.optimizers  # noqa: F401  (registers the hand-written optimizers)

    check_keras_file(path)
    try:
        # safe_mode (Keras's default, kept on purpose): a Lambda layer's code is not run.
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except ValueError as error:
        if "safe_mode" in str(error) or "unsafe" in str(error).lower():
            raise UsageError(f"{path} holds code (a Lambda layer or a custom function) that safe mode refuses to "
                             "load; dlzoo only loads models without code") from None
        raise


def check_keras_file(path):
    """A clear usage error when the ``.keras`` file at ``path`` is damaged (truncated, garbled,
    a folder): a ``.keras`` file is a zip archive with ``config.json`` in it, and every member
    must match its checksum. Keras's own messages here say "File not found" or ``BadZipFile``."""
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as archive:
            corrupt_member = archive.testzip()  # reads every member and checks its CRC
            names = archive.namelist()
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        reason = "not a zip archive: truncated or overwritten" if isinstance(error, zipfile.BadZipFile) else error
        raise folders.damaged(path, reason) from None
    if corrupt_member is not None:
        raise folders.damaged(path, f"its member {corrupt_member} fails its checksum")
    if "config.json" not in names:
        raise folders.damaged(path, "no config.json in it: not a Keras model file")


def read_run(argument, root=None):
    """Resolve ``argument`` (run folder or recipe name): ``(folder, config, record, task)``, no model yet.

    Cheap (no TensorFlow): commands call it first, so that a wrong argument is reported at once.
    """
    folder = folders.resolve_run(argument, root)
    config = recipes.read_toml(folder / folders.CONFIG_FILE)
    record = folders.read_json(folder / folders.METRICS_FILE)
    task = resolve.task_of(config)
    return folder, config, record, task


def load_run(argument, root=None):
    """Resolve ``argument`` and load the run's model and task.

    A run without ``model.keras`` (failed, or a task that trains no Keras model) is a usage
    error that says so.
    """
    folder, config, record, task = read_run(argument, root)
    from dlzoo.runs import plugins

    # The run's own copies of its plug-ins: their models, layers and datasets exist before loading.
    plugins.load([folder / path for path in config.get(recipes.PLUGINS_KEY, [])])
    model_path = folder / "model.keras"
    if not model_path.exists():
        status = record.get("status", "unknown")
        raise UsageError(f"{folder} has no model.keras (task '{task.name}', run status: {status}); nothing to load")
    return LoadedRun(folder=folder, config=config, record=record, task=task, model=load_keras_model(model_path))
