"""The project's internal import graph, read from the source with ``ast`` (nothing is imported), and
the two rules it must keep: no import cycle between modules, no import from a lower layer to a
higher one.

How imports count:

* **Every** ``import`` / ``from … import`` statement counts, wherever it stands: at module level,
  inside a function or method, or under ``if TYPE_CHECKING:``. An import inside a function still
  makes the module depend on the other one; it only defers the cost. Hiding a cycle inside a
  function is what this check exists to catch, and a type-only import across layers is still a
  layer violation. Imports inside functions remain right for heavy *third-party* libraries (torch,
  faiss, transformers), which are not in this graph.
* ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
  Importing ``a.b.c`` is an edge to ``a.b.c`` only (not to its parent packages), so a package's
  ``__init__`` may import its own submodules.
* Entry-point modules (``cli.py``, ``__main__.py``, ``*_cli.py``) wire every layer together: their
  own imports are not checked (imports *of* them are).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

# Lowest first; packages in one tuple are siblings that must not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (("ipqa",), ("ingest",), ("indexes",), ("rag",), ("api", "evals", "sft"))


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.importer} -> {self.imported} (line {self.line}){where}"


def is_entry_point(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last in ("cli", "__main__") or last.endswith("_cli")


def find_modules(root: Path, packages: Iterable[str]) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``) for every .py file of ``packages``."""
    modules: dict[str, tuple[Path, bool]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            modules[".".join(parts)] = (path, is_package)
    return modules


def import_edges(root: Path, packages: Iterable[str]) -> list[Edge]:
    """Every import between the modules of ``packages`` (see the module docstring for what counts)."""
    modules = find_modules(root, packages)
    edges: list[Edge] = []
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line, in_function in _imports(tree, package, modules):
            resolved = _known_module(target, modules)
            if resolved is not None and resolved != name:
                edges.append(Edge(name, resolved, line, in_function))
    return edges


def _imports(tree: ast.AST, package: str, modules: Mapping[str, object]):
    def visit(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, inside
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(child, package)
                for alias in child.names:
                    submodule = f"{base}.{alias.name}" if base else alias.name
                    yield (submodule if submodule in modules else base), child.lineno, inside
            yield from visit(child, inside)

    yield from visit(tree, False)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _known_module(dotted: str, modules: Mapping[str, object]) -> str | None:
    while dotted:
        if dotted in modules:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def layer_of(module: str, layers: Sequence[Sequence[str]] = LAYERS) -> tuple[int, str]:
    top = module.split(".", 1)[0]
    for rank, packages in enumerate(layers):
        if top in packages:
            return rank, top
    raise ValueError(f"module {module!r} is in no layer of {layers}")


def layer_violations(edges: Iterable[Edge], layers: Sequence[Sequence[str]] = LAYERS) -> list[str]:
    """Imports from a lower layer into a higher one, or between sibling packages of one layer."""
    problems = []
    for edge in edges:
        if is_entry_point(edge.importer):
            continue
        (rank_from, top_from), (rank_to, top_to) = layer_of(edge.importer, layers), layer_of(edge.imported, layers)
        if rank_to > rank_from:
            problems.append(f"upward import: {edge}")
        elif rank_to == rank_from and top_to != top_from:
            problems.append(f"import between sibling layers: {edge}")
    return problems


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The import cycles (strongly connected groups of two or more modules), each sorted; entry
    points' imports left out."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if not is_entry_point(edge.importer):
            graph.setdefault(edge.importer, set()).add(edge.imported)
            graph.setdefault(edge.imported, set())
    # Tarjan's algorithm, iterative (the graph has hundreds of modules; no recursion limit to meet)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def describe_cycle(component: Sequence[str], edges: Iterable[Edge]) -> str:
    """The edges inside one cycle, so that the message says which lines to move."""
    members = set(component)
    inside = sorted({str(e) for e in edges if e.importer in members and e.imported in members})
    return "import cycle between " + ", ".join(component) + ":\n    " + "\n    ".join(inside)
