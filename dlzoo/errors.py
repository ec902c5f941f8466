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
    """A run stopped by the user (Ctrl-C); its folder says ``status: interrupted``."""
