"""dlzoo: a TensorFlow/Keras model zoo and training CLI for a Deep Learning course.

The Python API (the command line wraps the same functions)::

    import dlzoo
    dlzoo.recipes("cnn")                          # rows of `dlzoo list`
    run = dlzoo.train("mlp", quick=True)          # -> dlzoo.Run
    dlzoo.load(run.folder).evaluate()             # the task's metrics on the test split

Importing ``dlzoo`` is cheap: the names below are loaded on first use, and TensorFlow and Keras
only by the functions that need a model, so ``dlzoo --help`` and ``dlzoo list`` start fast.
"""

__version__ = "0.1.0"

# Public name -> the module that defines it (loaded on first access, PEP 562).
_PUBLIC = {
    "recipes": "dlzoo.api", "resolve": "dlzoo.api", "train": "dlzoo.api", "load": "dlzoo.api", "Run": "dlzoo.api",
    "UsageError": "dlzoo.core.errors", "RunFailed": "dlzoo.core.errors",
    "register_model": "dlzoo.runs.plugins", "register_optimizer": "dlzoo.runs.plugins", "register_dataset": "dlzoo.runs.plugins",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    """Load a public name of the API from its module the first time it is used."""
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'dlzoo' has no attribute {name!r}")
