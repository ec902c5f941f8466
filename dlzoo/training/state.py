"""A run's checkpoint state: the files ``--resume`` reads, and putting a model back as it was.

``checkpoints/last.state.npz`` holds the model's and optimizers' variables, the epoch and the
history (written by :class:`~dlzoo.training.callbacks.atomic_checkpoint.AtomicCheckpoint`);
:func:`restore_state` loads it into a freshly built model, :func:`skip_shuffles` replays the
shuffles of the epochs already done, so a resumed run sees the data in the same order.
"""

import contextlib
import math
import pathlib

from dlzoo.core.errors import UsageError


def checkpoint_paths(folder, stage=None):
    """``(best, last)`` weight files of a run (or of one stage)."""
    prefix = f"{stage}-" if stage else ""
    checkpoints = folder / "checkpoints"
    return checkpoints / f"{prefix}best.weights.h5", checkpoints / f"{prefix}last.weights.h5"


def state_path(folder, stage=None):
    """The ``.npz`` with everything ``--resume`` needs (model and optimizer variables, epoch, history)."""
    prefix = f"{stage}-" if stage else ""
    return folder / "checkpoints" / f"{prefix}last.state.npz"


def rewrites_own_output(path):
    """True when ``path`` lies in the run folder ``--resume`` continues.

    The earlier attempt of that run may have written it (``model.keras``, ``saved_model/``)
    before it stopped; this attempt writes it again. Anywhere else an existing file is never
    overwritten.
    """
    folder = RESUMING["folder"]
    return folder is not None and pathlib.Path(folder).resolve() in pathlib.Path(path).resolve().parents


# The run folder that ``dlzoo train --resume`` continues (set by :func:`resuming`): fit() then
# starts from the folder's last checkpoint instead of from the freshly built model.
RESUMING = {"folder": None}


@contextlib.contextmanager
def resuming(folder):
    """Within this block, :func:`fit` in ``folder`` continues from the folder's last checkpoint."""
    RESUMING["folder"] = folder
    try:
        yield
    finally:
        RESUMING["folder"] = None


def read_state(folder, stage=None):
    """The last checkpoint's state of a run as ``{name: array}``; a clear usage error when it is
    missing or corrupt."""
    import zipfile

    import numpy as np

    from dlzoo.runs import folders

    path = state_path(folder, stage)
    if not path.exists():
        raise UsageError(f"{folder} has no checkpoint to resume from ({path.name} is missing: the run stopped "
                         "before its first epoch ended, or was written by an older dlzoo)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path} is corrupt and cannot be resumed from ({folders.damage_reason(error)})") from None
    if "epoch" not in state or not any(name.startswith("model/") for name in state):
        raise UsageError(f"{path} is not a dlzoo checkpoint (no epoch or model variables in it)")
    return state


def check_checkpoints(folder):
    """Raise a usage error naming the first damaged checkpoint of a run (before ``--resume``
    writes anything): the main state, every stage's state and every ``.weights.h5`` file.

    Cheap and without TensorFlow (NumPy and h5py only): ``--resume`` calls it before the import.
    """
    read_state(folder)
    for path in sorted((pathlib.Path(folder) / "checkpoints").glob("*-last.state.npz")):
        read_state(folder, path.name[:-len("-last.state.npz")])
    for path in sorted((pathlib.Path(folder) / "checkpoints").glob("*.weights.h5")):
        if not path.name.startswith("."):  # a temporary file of a killed write: removed by the resume
            check_weights_file(path)


def check_weights_file(path):
    """A usage error when the HDF5 weights file at ``path`` cannot be read back whole."""
    import h5py

    from dlzoo.runs import folders

    def read_dataset(name, item):
        """Read every dataset: a file cut short after its header fails here, not at the open."""
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as file:
            file.visititems(read_dataset)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise folders.damaged(path, f"not a readable HDF5 file: {str(error).splitlines()[0][:100]}") from None


def numbered(state, prefix):
    """The arrays ``prefix/0, prefix/1, ...`` of a state, in order."""
    count = sum(1 for name in state if name.startswith(prefix + "/"))
    return [state[f"{prefix}/{index}"] for index in range(count)]


def check_state_fits(model, folder, stage=None):
    """Raise a usage error unless the run's checkpoint holds exactly ``model``'s variables."""
    values = numbered(read_state(folder, stage), "model")
    variables = list(model.variables)
    shapes = [tuple(value.shape) for value in values]
    expected = [tuple(variable.shape) for variable in variables]
    if shapes != expected:
        raise UsageError(f"the checkpoint in {folder} belongs to another model ({len(shapes)} variables, "
                         f"this recipe's model has {len(expected)} of other shapes): it cannot be resumed here")


def restore_state(model, folder, stage=None):
    """Put the last checkpoint's model and optimizer variables into ``model``.

    Returns ``{"epoch", "best", "history", "finished"}`` of the part of the run that is already
    done; ``finished`` is true when training had ended (the run stopped after it).
    """
    import json

    from dlzoo.training.callbacks import atomic_checkpoint

    check_state_fits(model, folder, stage)
    state = read_state(folder, stage)
    for variable, value in zip(model.variables, numbered(state, "model")):
        variable.assign(value)
    named = atomic_checkpoint.checkpointed_optimizers(model)
    for prefix, (optimizer, variables) in named.items():
        optimizer_values = numbered(state, prefix)
        if not optimizer_values:
            if prefix != "optimizer":  # one of several optimizers: its state cannot be made up
                raise UsageError(f"the checkpoint in {folder} has no state for the {prefix[len('optimizer-'):]} "
                                 "optimizer (written by an older dlzoo): it cannot be resumed")
            continue
        if not optimizer.built:
            optimizer.build(variables)
        if [tuple(value.shape) for value in optimizer_values] != [tuple(v.shape) for v in optimizer.variables]:
            raise UsageError(f"the optimizer state in {folder} belongs to another optimizer: it cannot be resumed here")
        for variable, value in zip(optimizer.variables, optimizer_values):
            variable.assign(value)
    best = float(state["best"]) if "best" in state else math.nan
    history = json.loads(str(state["history"])) if "history" in state else {}
    return {"epoch": int(state["epoch"]), "best": None if math.isnan(best) else best, "history": history,
            "finished": bool(state["finished"]) if "finished" in state else False}


def build_optimizers(model):
    """Create the optimizers' variables (moments, step count) before ``fit`` traces its step.

    Left to ``fit``, the first trace of the training step creates them, and TensorFlow then
    traces the whole step a second time (a ``tf.function`` may create variables only in its
    first trace): for the transformer translator that is 12 s of tracing instead of 7 s before
    the first batch. Only done for a model whose layers are all built: an optimizer built on a
    partial variable list could not update the rest.
    """
    from dlzoo.training.callbacks import atomic_checkpoint

    if not getattr(model, "built", False) or not all(getattr(layer, "built", True) for layer in model.layers):
        return
    strategy = getattr(model, "distribute_strategy", None)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        for optimizer, variables in atomic_checkpoint.checkpointed_optimizers(model).values():
            if optimizer is not None and not getattr(optimizer, "built", True) and variables:
                optimizer.build(variables)


def resumed_progress(folder, stage=None):
    """``(epochs done, history so far)`` of the run ``--resume`` continues in ``folder``, or
    ``(0, {})`` when this is not a resumed run (for tasks that keep per-epoch things of their own)."""
    import json

    if RESUMING["folder"] != folder or not state_path(folder, stage).is_file():
        return 0, {}
    state = read_state(folder, stage)
    return int(state["epoch"]), json.loads(str(state["history"])) if "history" in state else {}


ITERATORS_PER_EPOCH = 2


def skip_shuffles(dataset, epochs):
    """Advance a shuffled ``tf.data`` pipeline by ``epochs`` epochs without reading it.

    A reshuffling ``shuffle`` draws a new order each time an iterator is created. Keras 3's
    epoch iterator creates :data:`ITERATORS_PER_EPOCH` iterators per epoch of a dataset whose
    length is known (one at the epoch's start, one at its end); creating and dropping as many
    makes epoch ``epochs`` of a resumed run see the order of an uninterrupted run
    (tests/test_resume.py checks the result is identical, so a Keras change shows up there).
    """
    for _ in range(ITERATORS_PER_EPOCH * int(epochs)):
        iter(dataset)
