"""Import TensorFlow without its start-up log lines in the user's terminal.

TensorFlow's C++ core prints several lines when it loads (oneDNN notes, "could not find cuda
drivers", a failed ``cuInit`` on machines without a GPU) before ``TF_CPP_MIN_LOG_LEVEL`` is
read. They are noise for students, so the CLI silences the process's stderr while TensorFlow
loads and looks for devices. Its Python logger is turned down to errors too, so that warnings
such as "5 out of the last 5 calls ... triggered tf.function retracing" do not interrupt
``dlzoo bench``'s table, and Keras's ``UserWarning`` notes are hidden. ``--debug`` (or
``DLZOO_DEBUG=1``) keeps all of them.
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
    if debug:
        import tensorflow

        return tensorflow
    if "tensorflow" not in sys.modules:
        with silenced_stderr():
            import tensorflow

            tensorflow.config.list_physical_devices("GPU")  # the cuInit message comes from here
    import tensorflow

    quiet_python_loggers(tensorflow)
    quiet_keras_warnings()
    return tensorflow


def quiet_keras_warnings():
    """Hide Keras's ``UserWarning`` notes (``The structure of `inputs` doesn't match the expected
    structure``): the models work as intended, and students read the notes as failures."""
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module=r"keras(\.|$)")


def quiet_python_loggers(tensorflow):
    """Show only errors from TensorFlow's Python logger and from absl (retracing warnings...)."""
    import logging

    tensorflow.get_logger().setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl comes with TensorFlow; be tolerant all the same
        pass
