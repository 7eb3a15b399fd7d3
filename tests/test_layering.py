"""The layering of the project: no import cycle between modules and no upward import among
``ipqa < ingest < indexes < rag < (api, evals, sft)`` (entry-point ``cli.py`` modules excepted). What
counts as an import — function-level and ``TYPE_CHECKING`` ones included — is in
``tests/import_graph.py``; the checker itself is tested on planted packages below."""

from __future__ import annotations

from pathlib import Path

import pytest

from import_graph import LAYERS, cycles, describe_cycle, import_edges, layer_violations

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [package for layer in LAYERS for package in layer]


@pytest.fixture(scope="module")
def project_edges():
    return import_edges(REPO_ROOT, PACKAGES)


def test_the_project_has_no_import_cycle(project_edges):
    found = cycles(project_edges)
    assert not found, "\n".join(describe_cycle(c, project_edges) for c in found)


def test_no_module_imports_a_higher_layer(project_edges):
    problems = layer_violations(project_edges)
    assert not problems, "\n".join(problems)


def test_the_graph_sees_the_projects_imports(project_edges):
    # guards against a checker that finds nothing (wrong root, wrong package names)
    assert len(project_edges) > 300
    pairs = {(e.importer, e.imported) for e in project_edges}
    assert ("indexes.build", "indexes.snapshot") in pairs
    assert ("ingest.citation_resolve", "ingest.citation_parse") in pairs


# --- the checker, on planted packages ---------------------------------------------------------

def _package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


LOW_HIGH = (("low",), ("high",))


def test_a_cycle_hidden_inside_a_function_is_found(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "from low.b import thing\n",
        "low/b.py": "def thing():\n    from low import a\n    return a\n",
        "low/c.py": "import low.a\n",
    })
    edges = import_edges(root, ["low"])
    assert cycles(edges) == [["low.a", "low.b"]]
    message = describe_cycle(["low.a", "low.b"], edges)
    assert "low.b -> low.a (line 2) (inside a function)" in message


def test_a_relative_import_cycle_through_three_modules_is_found(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": "",
        "low/sub/__init__.py": "",
        "low/sub/a.py": "from . import b\n",
        "low/sub/b.py": "from .c import x\n",
        "low/sub/c.py": "from ..sub.a import y\nx = 1\n",
    })
    assert cycles(import_edges(root, ["low"])) == [["low.sub.a", "low.sub.b", "low.sub.c"]]


def test_a_package_importing_its_own_submodules_is_no_cycle(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": "def make():\n    from low.backend import Backend\n    return Backend()\n",
        "low/errors.py": "class Oops(Exception): ...\n",
        "low/backend.py": "from low.errors import Oops\nclass Backend: ...\n",
    })
    assert cycles(import_edges(root, ["low"])) == []


def test_a_package_init_and_a_backend_importing_it_back_is_a_cycle(tmp_path):
    # what rag/generators had: the error class in __init__, which imports the backends
    root = _package(tmp_path, {
        "low/__init__.py": "class Oops(Exception): ...\ndef make():\n    from low.backend import B\n",
        "low/backend.py": "from low import Oops\nclass B: ...\n",
    })
    assert cycles(import_edges(root, ["low"])) == [["low", "low.backend"]]


def test_upward_imports_are_found_at_module_level_in_functions_and_for_types(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "from high.x import X\n",
        "low/b.py": "def f():\n    import high.x\n",
        "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from high import x\n",
        "low/ok.py": "import json\nfrom low import a\n",
        "high/__init__.py": "",
        "high/x.py": "from low.ok import json\nX = 1\n",
    })
    problems = layer_violations(import_edges(root, ["low", "high"]), LOW_HIGH)
    assert problems == [
        "upward import: low.a -> high.x (line 1)",
        "upward import: low.b -> high.x (line 2) (inside a function)",
        "upward import: low.c -> high.x (line 3)",
    ]


def test_entry_points_may_import_any_layer_and_siblings_may_not_import_each_other(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": "",
        "low/cli.py": "from high import x\n",
        "low/train_cli.py": "from high import x\n",
        "high/__init__.py": "",
        "high/x.py": "",
        "side/__init__.py": "",
        "side/y.py": "from high import x\n",
    })
    layers = (("low",), ("high", "side"))
    assert layer_violations(import_edges(root, ["low", "high", "side"]), layers) == [
        "import between sibling layers: side.y -> high.x (line 1)"]
