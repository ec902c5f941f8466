"""The error raised when a visualization method does not apply to a model."""


class NotApplicableError(ValueError):
    """A visualization method cannot be used on this model (say, CAM without a pooling head).

    The message is one line that says why, so the CLI can print it as it is.
    """
