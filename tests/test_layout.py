"""The layout: every import inside dlzoo points down its layers (so there is no import circle),
the model builders and optimizers stay backend-neutral (keras only, never tensorflow), and the
modules of ``core/`` import nothing of the rest of dlzoo. Read from the source with ``ast``:
nothing is imported. ARCHITECTURE.md explains the layers."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "dlzoo"
# The layers, lowest first: a module may import its own layer and the layers below, never above.
# A name ending in "." is a package prefix; other names are modules.
LAYERS = (
    # core: leaves every module may use (and the package root: its version, its lazy public names)
    ("dlzoo", "dlzoo.core."),
    # records: recipe files, run folders and the task registry; no TensorFlow, no model
    ("dlzoo.config.recipes", "dlzoo.runs.folders", "dlzoo.tasks"),
    # components: what a run is made of
    ("dlzoo.models", "dlzoo.models.", "dlzoo.optimizers", "dlzoo.optimizers.", "dlzoo.data", "dlzoo.data.",
     "dlzoo.scratch", "dlzoo.scratch.", "dlzoo.plots", "dlzoo.plots.", "dlzoo.visualize", "dlzoo.visualize.",
     "dlzoo.translation", "dlzoo.translation.", "dlzoo.runs.report", "dlzoo.runs.plugins"),
    # training and the services of a run: resolving a recipe, fitting, metrics, loading, exporting
    ("dlzoo.config.resolve", "dlzoo.training", "dlzoo.training.", "dlzoo.metrics", "dlzoo.metrics.",
     "dlzoo.runs.load", "dlzoo.runs.export"),
    # tasks: one module per kind of learning
    ("dlzoo.tasks.",),
    # commands: the work behind each verb
    ("dlzoo.commands", "dlzoo.commands.", "dlzoo.exercises", "dlzoo.exercises."),
    # entry points
    ("dlzoo.api", "dlzoo.cli", "dlzoo.__main__"),
)
# Packages that must run on any Keras 3 backend (JAX, PyTorch): keras and keras.ops only.
BACKEND_NEUTRAL = ("dlzoo.models", "dlzoo.optimizers")


def module_name(path):
    """``dlzoo/tasks/base.py`` -> ``dlzoo.tasks.base``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_names(path):
    """Every module name ``path`` imports, at its top or inside a function (absolute and relative)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x / from .. import y
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names)
    return names


def dlzoo_imports(path):
    """The dlzoo modules ``path`` imports (a name inside a module counts as that module)."""
    found = set()
    for name in imported_names(path):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module_name(path):
            found.add(name)
    return found


def import_circles(graph):
    """The groups of modules that import each other, directly or through others (Tarjan's algorithm)."""
    index, lowest, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in on_stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circles_inside_dlzoo():
    graph = {name: dlzoo_imports(path) for name, path in MODULES.items()}
    assert import_circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    # The test above can fail: a hand-made graph with one circle of three.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [["a", "b", "c"]]


def layer_of(module):
    """The index in :data:`LAYERS` of ``module``: an exact name first, else its longest package prefix."""
    for index, members in enumerate(LAYERS):
        if module in members:
            return index
    prefixes = [(len(member), index) for index, members in enumerate(LAYERS) for member in members
                if member.endswith(".") and module.startswith(member)]
    assert prefixes, f"{module} is in no layer of tests/test_layout.py: add it where it belongs"
    return max(prefixes)[1]


def upward_imports(graph):
    """``(importer, imported)`` pairs where a module imports one of a higher layer."""
    return sorted((module, imported) for module, imports in graph.items() for imported in imports
                  if layer_of(imported) > layer_of(module))


def test_every_import_points_down_the_layers():
    graph = {name: dlzoo_imports(path) for name, path in MODULES.items()}
    assert upward_imports(graph) == []


def test_an_upward_import_is_found():
    # A task importing a command (the kind of import the layers forbid) is reported.
    assert upward_imports({"dlzoo.tasks.base": {"dlzoo.commands.check"}, "dlzoo.cli": {"dlzoo.tasks.base"}}) == [
        ("dlzoo.tasks.base", "dlzoo.commands.check")]


def test_models_and_optimizers_never_import_tensorflow():
    offenders = sorted(name for name, path in MODULES.items() if name.startswith(BACKEND_NEUTRAL)
                       and any(imported.split(".")[0] == "tensorflow" for imported in imported_names(path)))
    assert offenders == []


def test_core_modules_import_nothing_but_each_other():
    core = {name for name in MODULES if name.startswith("dlzoo.core")}
    offenders = {name: sorted(dlzoo_imports(MODULES[name]) - core) for name in core}
    assert {name: found for name, found in offenders.items() if found} == {}
