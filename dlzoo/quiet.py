"""Import TensorFlow without its start-up log lines in the user's terminal.

TensorFlow's C++ core prints several lines when it loads (oneDNN notes, "could not find cuda
drivers", a failed ``cuInit`` on machines without a GPU) before ``TF_CPP_MIN_LOG_LEVEL`` is
read. They are noise for students, so the CLI silences the process's stderr while TensorFlow
loads and looks for devices. ``--debug`` (or ``DLZOO_DEBUG=1``) keeps them.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced_stderr():
    """Send file descriptor 2 to /dev/null inside the block (C++ writes there, not sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow(debug=False):
    """Import TensorFlow (and list its devices once) quietly; return the module."""
    if debug or "tensorflow" in sys.modules:
        import tensorflow

        return tensorflow
    with silenced_stderr():
        import tensorflow

        tensorflow.config.list_physical_devices("GPU")  # the cuInit message comes from here
    return tensorflow
