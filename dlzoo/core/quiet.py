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


class StdoutWhoseReaderMayLeave:
    """``sys.stdout`` for a training run: once the reader of a pipe has gone (``dlzoo train mlp |
    head -3``), later output is dropped instead of failing the run halfway.

    A run is hours of work whose results go to its folder; what it prints is a view of them. So
    the first ``BrokenPipeError`` sends file descriptor 1 to /dev/null (also for the
    interpreter's final flush) and every later write is accepted and discarded.
    """

    def __init__(self, stream):
        self.stream = stream
        self.reader_gone = False

    def write(self, text):
        """Write ``text``, or drop it once the reader has gone; the length, as files return."""
        if not self.reader_gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self.drop_further_output()
        return len(text)

    def flush(self):
        """Flush, unless the reader has gone."""
        if not self.reader_gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.drop_further_output()

    def drop_further_output(self):
        """Point file descriptor 1 at /dev/null: nothing buffered can fail again."""
        self.reader_gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file (a test's captured output)
            pass
        finally:
            os.close(devnull)

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def stdout_whose_reader_may_leave():
    """Inside the block, ``sys.stdout`` is a :class:`StdoutWhoseReaderMayLeave`."""
    saved = sys.stdout
    sys.stdout = StdoutWhoseReaderMayLeave(saved)
    try:
        yield sys.stdout
    finally:
        sys.stdout = saved
