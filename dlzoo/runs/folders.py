"""Run folders: where a run writes, how files are written safely, how a name finds its run.

Layout of one run (``runs/<recipe>/<timestamp>/``)::

    config.toml      the resolved recipe (``dlzoo train config.toml`` repeats the run)
    history.csv      one row per epoch, numbered from 1 like the console (Keras CSVLogger)
    metrics.json     final metrics, parameters, wall time, samples/s, device, versions, status
    checkpoints/     best weights by the monitored metric
    model.keras      the trained model
    saved_model/     the verified TensorFlow SavedModel
    plots/*.png      learning curves, confusion matrix, saliency, ...
    report.md        everything above in one page
    tensorboard/     TensorBoard logs

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
so an interrupted run never leaves a half-written file, and an existing run folder is never
reused: two runs started in the same second get different folders.
"""

import datetime
import errno
import json
import os
import pathlib
import re
import socket
import tempfile

from dlzoo.core.errors import UsageError

DEFAULT_ROOT = pathlib.Path("runs")
# Errors of the disk rather than of the run: said as "cannot write <file>: <reason>".
WRITE_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG, errno.EIO)
# What the writability check writes (and removes): a run's first files are about this big.
PROBE_BYTES = 64 * 1024
CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.json"

# Run folder names: a timestamp, plus "-N" when several runs started in the same second.
RUN_NAME = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?$")


def current_umask():
    """The process's umask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` (UTF-8) through a temporary file and a rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes: a PNG, a CSV, ...) to ``path`` through a temporary file and a rename."""
    path = pathlib.Path(path)
    check_stays_inside_run(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        # mkstemp creates the file with mode 0600; give it the mode any other new file gets.
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, OSError) and error.errno is not None and error.filename is None:
            # A write on a full disk names no file: say which one could not be written.
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    return path


def enclosing_run_folder(path):
    """The run folder that ``path`` lies in (the nearest parent with a ``config.toml``), or None.

    Only the three nearest parents are looked at: dlzoo writes at most two folders deep into a
    run (``plots/x.png``, ``checkpoints/x``), and a project folder that holds a ``config.toml`` of
    its own above ``runs/`` is no run folder.
    """
    for folder in pathlib.Path(os.path.abspath(path)).parents[:3]:
        if is_run_folder(folder):
            return folder
    return None


def is_inside(path, folder):
    """True when ``path``, with every symbolic link followed, lies in ``folder`` (links followed too)."""
    return pathlib.Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def check_stays_inside_run(*paths):
    """Refuse to write a path that is in a run folder when a symbolic link inside that folder
    (``plots -> /elsewhere``) would take the write outside it: a run folder copied from someone
    else must not make dlzoo write anywhere else on the disk. Commands call it on every path they
    will write before writing the first (the atomic writer calls it again for each file)."""
    for path in paths:
        folder = enclosing_run_folder(path)
        if folder is not None and (os.path.islink(path) or not is_inside(pathlib.Path(path).parent, folder)):
            raise UsageError(f"refusing to write {path}: a symbolic link in the run folder {folder} points outside it")


def safe_cache_folder(cache, run_folder):
    """``data.cache`` of a run's ``config.toml`` if it lies in the run folder or its runs root, else ``""``.

    Commands that read a run (evaluate, visualize, predict, resume) take its config from the run
    folder, which anyone may have edited: they write tf.data caches only where dlzoo writes anyway.
    Without the cache the data are read from the files again, with the same values.
    """
    if not cache:
        return cache
    run_folder = pathlib.Path(run_folder)
    path = pathlib.Path(cache).expanduser()
    path = path if path.is_absolute() else pathlib.Path.cwd() / path
    if any(is_inside(path, allowed) for allowed in (run_folder, run_folder.parent.parent)):
        return cache
    return ""


def atomic_write_json(path, data):
    """Write ``data`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def overwrite_in_place(path, data):
    """Last resort on a full disk: write ``data`` as JSON over the bytes of the existing file.

    An atomic write needs room for a second copy; this needs none while the new text fits in
    the blocks the file already has (a ``metrics.json`` going from ``running`` to ``failed``
    grows by a few hundred bytes). Not atomic, so used only when the atomic write failed.
    Returns True when it worked.
    """
    try:
        with open(path, "r+b") as file:
            file.write((json.dumps(data, indent=2, default=_json_default) + "\n").encode("utf-8"))
            file.truncate()
        return True
    except OSError:
        return False


def write_failure(error):
    """``"cannot write <file>: <reason>"`` for an OSError of the disk (a full disk, a read-only
    folder, or any OSError naming a file), else None."""
    if isinstance(error, OSError) and (error.errno in WRITE_ERRORS or error.filename):
        where = error.filename or "a file of the run"
        return f"cannot write {where}: {error.strerror or error}"
    return None


def _json_default(value):
    """Make NumPy scalars and arrays JSON serializable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_json(path):
    """Read a JSON file (``{}`` when it does not exist).

    A run's ``metrics.json`` that says ``running`` while the process that wrote it is gone
    (``kill -9``, a crash, a power cut) is read as ``interrupted``: every command then shows
    the run as it really is.
    """
    path = pathlib.Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # a folder, unreadable, not UTF-8, not JSON (truncated)
        raise damaged(path, error) from None
    if path.name == METRICS_FILE and not isinstance(data, dict):
        raise damaged(path, f"a JSON {type(data).__name__}, not an object")
    if path.name == METRICS_FILE and isinstance(data, dict) and data.get("status") == "running" \
            and not process_alive(data.get("pid"), data.get("host")):
        data.update(status="interrupted", error=f"the process that ran it (pid {data.get('pid')} on "
                                                f"{data.get('host')}) is gone")
    return data


def damaged(path, reason):
    """The usage error for a file of a run that cannot be read: which file, and why."""
    if isinstance(reason, BaseException):
        reason = damage_reason(reason)
    return UsageError(f"{path} is damaged ({reason}); restore it, or remove the run folder if it cannot be recovered")


def damage_reason(error):
    """A few words on why a file could not be read (the exception's first line, without a traceback)."""
    if isinstance(error, IsADirectoryError):
        return "a folder where a file should be"
    if isinstance(error, UnicodeDecodeError):
        return "not text: unreadable bytes"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error.msg} at line {error.lineno}, probably truncated"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}{': ' + text[:120] if text else ''}"


def process_alive(pid, host):
    """False only when ``pid`` on this host is known to be gone (another host: assume alive)."""
    if pid is None:
        return False  # written before pids were recorded, or by a process that never said
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return not is_zombie(int(pid))


def is_zombie(pid):
    """True when ``pid`` has exited and only waits for its parent to collect it (Linux)."""
    try:
        status = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[:1] == ["Z"]


def remove_temporary_files(folder):
    """Delete the temporary files and staging folders an interrupted write left in ``folder``
    (``.<name>.*tmp*``)."""
    import shutil

    for path in sorted(pathlib.Path(folder).rglob(".*"), reverse=True):  # deepest first
        if ".tmp" not in path.name:
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.is_file():
                path.unlink()
        except OSError:
            pass


def check_writable(folder):
    """Raise :class:`UsageError` unless ``folder`` can be created and written to."""
    folder = pathlib.Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Real bytes: creating an empty file succeeds on a full disk, writing does not.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-", suffix=".tmp", delete=True) as probe:
            probe.write(bytes(PROBE_BYTES))
            probe.flush()
    except OSError as error:
        raise UsageError(f"cannot write to {folder}: {error.strerror or error}") from None
    return folder


def nearest_existing(path):
    """``path`` when it exists, else its closest ancestor that does (absolute): where a command
    will create its output folder, checked for room without creating anything."""
    path = pathlib.Path(path)
    if path.exists():
        return path
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def new_run_folder(recipe_name, root=None):
    """Create and return a fresh ``<root>/<recipe>/<timestamp>`` folder; never reuse one."""
    root = pathlib.Path(root) if root else DEFAULT_ROOT
    check_writable(root)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        name = stamp if attempt == 0 else f"{stamp}-{attempt}"
        folder = root / recipe_name / name
        try:
            folder.mkdir(parents=True, exist_ok=False)  # exist_ok=False: never reuse a run
            return folder
        except FileExistsError:
            continue
        except OSError as error:
            raise UsageError(f"cannot create run folder {folder}: {error.strerror or error}") from None
    raise UsageError(f"too many runs of {recipe_name} in the same second under {root}")


def is_run_folder(path):
    """True when ``path`` is a run folder (it has a ``config.toml``)."""
    return (pathlib.Path(path) / CONFIG_FILE).is_file()


def run_order(folder):
    """Sort key putting run folders in the order they were started.

    ``20240101-120000-2`` comes before ``20240101-120000-10`` (numbers, not text); a folder
    whose name is not a timestamp sorts before every timestamped one.
    """
    match = RUN_NAME.match(folder.name)
    if not match:
        return (0, "", 0, folder.name)
    return (1, match.group(1), int(match.group(2) or 0), folder.name)


def is_quick_run(folder):
    """True when the run in ``folder`` was a ``--quick`` smoke test."""
    return bool(read_json(pathlib.Path(folder) / METRICS_FILE).get("quick"))


def latest_run(recipe_name, root=None, finished_only=True, include_quick=False):
    """The newest run folder of ``recipe_name`` under ``root``, or None.

    By default only completed runs of the recipe's real budget count: a ``--quick`` smoke test
    is never "the latest run of lenet" unless ``include_quick`` is true.
    """
    root = pathlib.Path(root) if root else DEFAULT_ROOT
    if not (root / recipe_name).is_dir():
        return None
    folders = sorted((root / recipe_name).iterdir(), key=run_order, reverse=True)
    for folder in folders:
        if not is_run_folder(folder):
            continue
        record = read_json(folder / METRICS_FILE)
        if finished_only and record.get("status") != "completed":
            continue
        if record.get("quick") and not include_quick:
            continue
        return folder
    return None


def looks_like_path(argument):
    """True when a CLI argument is meant as a path (it has a slash or names something on disk)."""
    text = str(argument)
    return "/" in text or os.sep in text or pathlib.Path(text).exists()


def resolve_run(argument, root=None):
    """Turn a CLI argument (a run folder, or a recipe name) into a run folder.

    ``dlzoo evaluate lenet`` means "the latest completed run of lenet" (not a ``--quick`` one).
    Never imports TensorFlow: the CLI calls it before loading TensorFlow so that a wrong
    argument fails fast.
    """
    path = pathlib.Path(argument)
    if path.is_dir():
        if is_run_folder(path):
            return path
        raise UsageError(f"{argument} is not a run folder (no {CONFIG_FILE} in it)")
    if looks_like_path(argument):
        if path.exists():
            raise UsageError(f"{argument} is not a run folder")
        raise UsageError(f"{argument} does not exist (give a run folder, or a recipe name for its latest run)")
    folder = latest_run(argument, root)
    if folder is None:
        where = pathlib.Path(root) if root else DEFAULT_ROOT
        if latest_run(argument, root, include_quick=True) is not None:
            raise UsageError(f"'{argument}' has only --quick (smoke test) runs under {where}/: train it fully "
                             f"(dlzoo train {argument}) or give the run folder itself")
        raise UsageError(f"no completed run of '{argument}' under {where}/ (train it first: dlzoo train {argument})")
    return folder
