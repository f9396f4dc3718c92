"""The package's layers point one way: no import cycle between its subpackages (and top-level
modules), read from the source of every module, imports inside functions and under
``TYPE_CHECKING`` included."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def _unit(module: str) -> str:
    """The layer a module belongs to: its subpackage (``neurosim.models.krotov`` -> ``models``) or,
    for a top-level module, itself (``neurosim.runner`` -> ``runner``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph(package: Path) -> dict[str, dict[str, list[str]]]:
    """``{layer: {imported layer: ["module -> imported module", ...]}}`` for every absolute import
    of the package by one of its own modules."""
    edges: dict[str, dict[str, list[str]]] = {}
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.startswith(f"{package.name}."):
                    source, target = _unit(module), _unit(name)
                    if source != target:
                        edges.setdefault(source, {}).setdefault(target, []).append(f"{module} -> {name}")
    return edges


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one layer (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_that():
    edges = {"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}, "d": {"a": ["w"]}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b": ["x"]}, "b": {"c": ["y"]}}) == []


def test_no_import_cycle_between_the_packages_layers():
    edges = import_graph(REPO / "neurosim")
    assert {"models", "rules", "runner", "training", "results"} <= set(edges)  # the graph was read
    found = cycles(edges)
    explained = [
        f"{' <-> '.join(cycle)}: "
        + "; ".join(edge for a in cycle for b in cycle for edge in edges.get(a, {}).get(b, [])[:2])
        for cycle in found
    ]
    assert not found, "\n".join(explained)
