"""The layout of the code (README, "Architecture"): imports run one way and no product file grows past ~400 lines.

Read from the source with ast, function-level imports included, so a cycle
hidden inside a function counts as a cycle.
"""
import ast
import pathlib

import pytest

from conftest import ROOT

ROOT_PATH = pathlib.Path(ROOT)
PRODUCT = sorted([*ROOT_PATH.glob("wsserver/**/*.py"), *ROOT_PATH.glob("schemas/**/*.py")])
MAX_LINES = 400


def module_name(path):
    parts = path.relative_to(ROOT_PATH).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PRODUCT}


def imported_modules(name, path):
    """The product modules `name` imports (anywhere in the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            found.update(module for module in submodules if module in MODULES)
            if base in MODULES and not all(module in MODULES for module in submodules):
                found.add(base)
    found.discard(name)
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def test_the_graph_is_read():
    assert len(GRAPH) > 50
    assert "wsserver.services.listing" in GRAPH["wsserver.api.workspaces"]
    assert "wsserver.storage.db" in GRAPH["wsserver.services.listing"]


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target, trail + [target])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_no_import_cycle():
    assert find_cycle(GRAPH) is None


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize(
    "room, forbidden",
    [
        ("schemas", ("wsserver.services", "wsserver.api", "wsserver.http", "wsserver.storage", "wsserver.testing",
                     "wsserver.flavors")),
        ("wsserver.services", ("wsserver.api", "wsserver.http", "wsserver.ops", "wsserver.testing", "wsserver.flavors")),
        ("wsserver.storage", ("wsserver.services", "wsserver.api", "wsserver.http", "wsserver.ops", "wsserver.testing")),
        ("wsserver.images", ("wsserver.services", "wsserver.api", "wsserver.http", "wsserver.storage", "flask")),
    ],
)
def test_arrows_run_one_way(room, forbidden):
    wrong = {
        module: sorted(target for target in targets if target.startswith(forbidden))
        for module, targets in GRAPH.items()
        if module.startswith(room)
    }
    assert {module: targets for module, targets in wrong.items() if targets} == {}


def top_level_imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names


def test_images_are_pure():
    """Bytes in, bytes out: no Flask, no database, no files (no os, no open())."""
    for name, path in MODULES.items():
        if name.startswith("wsserver.images"):
            assert top_level_imports(path) <= {"io", "logging", "struct", "dataclasses", "PIL", "zlib"}, name
            calls = {node.func.id for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
            assert "open" not in calls, name


def test_no_product_file_is_over_the_limit():
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {name: count for name, count in lengths.items() if count > MAX_LINES} == {}


def test_every_module_opens_with_a_docstring():
    missing = [name for name, path in MODULES.items() if path.read_text().strip() and ast.get_docstring(ast.parse(path.read_text())) is None]
    assert missing == []
