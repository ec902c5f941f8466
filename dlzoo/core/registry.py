"""Named registries for models, optimizers, datasets and tasks.

Every pluggable piece of dlzoo is registered under a short name with a decorator, so that a
recipe can refer to it by that name::

    MODELS = Registry("model")

    @MODELS.register("lenet")
    def build_lenet(input_shape, num_classes, activation="relu"):
        ...

    MODELS.get("lenet")        # -> build_lenet
    MODELS.get("lenit")        # UnknownNameError: unknown model 'lenit'; did you mean 'lenet'?

Looking up an unknown name is the most common user mistake, so the error lists the closest
matches (or every name when there are few of them).
"""

import difflib
import fnmatch


class UnknownNameError(KeyError, ValueError):
    """Raised when a name is not in a registry; the message suggests the closest names."""

    def __str__(self):
        # KeyError quotes its message; we want the plain sentence.
        return str(self.args[0]) if self.args else ""


def did_you_mean(name, candidates, limit=3):
    """Return a short ``"did you mean 'x'?"`` hint for ``name`` among ``candidates``, or ``""``."""
    matches = difflib.get_close_matches(str(name), list(candidates), n=limit, cutoff=0.5)
    if not matches:
        return ""
    return "did you mean " + " or ".join(f"'{match}'" for match in matches) + "?"


def unknown_name_message(kind, name, candidates):
    """Build the one-line message for an unknown ``name`` of a given ``kind`` (model, key, ...)."""
    candidates = sorted(candidates)
    hint = did_you_mean(name, candidates)
    message = f"unknown {kind} '{name}'"
    if hint:
        return f"{message}; {hint}"
    if len(candidates) <= 30:
        return f"{message}; choose one of: {', '.join(candidates)}"
    return f"{message}; run 'dlzoo list' to see the {len(candidates)} choices"


class Registry:
    """A mapping from names to objects (functions or classes) filled by a decorator.

    Args:
        kind: what the registry holds, in words ("model", "optimizer"); used in messages.
    """

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}
        self.replaceable = set()  # names registered by plug-ins (dlzoo.runs.plugins), which may register again

    def register(self, name, replace=False):
        """Decorator registering the decorated object under ``name``; names must be unique unless
        ``replace`` (a plug-in registering its edited component again)."""

        def decorator(obj):
            if name in self._entries and self._entries[name] is not obj and not replace:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name):
        """Return the object registered as ``name``; raise ``UnknownNameError`` with a hint."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(unknown_name_message(self.kind, name, self._entries)) from None

    def remove(self, name):
        """Forget ``name`` (a plug-in's registration undone); nothing happens for an unknown name."""
        self._entries.pop(name, None)
        self.replaceable.discard(name)

    def names(self, pattern=None):
        """Sorted registered names, optionally filtered by a shell-style ``pattern`` (``"res*"``)."""
        names = sorted(self._entries)
        if pattern:
            names = [name for name in names if fnmatch.fnmatch(name, pattern) or pattern in name]
        return names

    def __contains__(self, name):
        return name in self._entries

    def __len__(self):
        return len(self._entries)


def keyword_defaults(function):
    """``{option: default}`` of ``function``'s keyword-only arguments: the keys a recipe may set
    for a builder registered under a name (``[model]`` of autoencoders and GANs)."""
    import inspect

    return {parameter.name: parameter.default for parameter in inspect.signature(function).parameters.values()
            if parameter.kind == parameter.KEYWORD_ONLY}
