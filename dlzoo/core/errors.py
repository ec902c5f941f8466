"""The two kinds of failure the CLI distinguishes.

* :class:`UsageError` (exit code 2): the user asked for something that cannot work (unknown
  recipe, bad ``--set`` value, missing dataset file). Raised before any training starts.
* :class:`RunFailed` (exit code 1): a run started and then failed (NaN loss, export mismatch).
  The run folder is marked ``status: failed`` with the reason.

Many checks raise plain ``ValueError`` (the Keras habit); the CLI treats a ``ValueError`` raised
while a run is being *prepared* as a usage error too.
"""


class UsageError(ValueError):
    """Bad input from the user; the message is one line that says what to change."""


class RunFailed(RuntimeError):
    """A run that started and could not finish; the message says why."""


class RunInterrupted(RunFailed):
    """A run stopped by the user (Ctrl-C) or by SIGTERM; its folder says ``status: interrupted``.

    ``exit_code`` is what the shell convention gives a process ended by that signal:
    130 (128 + SIGINT) or 143 (128 + SIGTERM).
    """

    def __init__(self, message, exit_code=130):
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """Raised by dlzoo's SIGTERM handler, so that SIGTERM ends a run the way Ctrl-C does."""
