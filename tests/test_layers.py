"""The package's structure, read from its `import` statements: imports run one way.

Layers, bottom to top (a module imports only from its own layer's package or lower layers):
  base      errors, checks, io, config, progress (and the package's __init__)
  data      datasets (2-D toy data), data (MNIST's IDX files), plots
  engine    nn (the NumPy networks), monitor (statistics and verdicts for any PyTorch model)
  jobs      studies, cnn — side by side: neither imports the other
  report    report
  top       cli, __main__, playground
No import cycle between modules, and no module imports a `_private` name of another.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from backproplab.cli import COMMANDS

PACKAGE = Path(__file__).resolve().parents[1] / "backproplab"

LAYERS = [
    {"backproplab", "errors", "checks", "io", "config", "progress", "backends"},
    {"datasets", "data", "plots"},
    {"nn", "monitor"},
    {"studies", "cnn"},
    {"report"},
    {"cli", "__main__", "playground"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported module, names imported from it) for every backproplab import in `path`."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("backproplab"):
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.startswith("backproplab"):
            yield node.module, [alias.name for alias in node.names]


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _unit(module: str) -> str:
    """The top-level part a module belongs to: 'studies' for backproplab.studies.runner."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "backproplab"


def _layer(module: str) -> int:
    unit = _unit(module)
    return next(i for i, units in enumerate(LAYERS) if unit in units)


def _resolve(module: str, names: list[str]) -> list[str]:
    """The backproplab modules an import statement loads: `from backproplab.nn import network`
    loads backproplab.nn.network too."""
    out = [module]
    out += [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
    return out


EDGES = {(m, target) for m, path in MODULES.items() for module, names in _imports(path)
         for target in _resolve(module, names) if target != m}


def test_every_module_belongs_to_a_layer():
    assert [m for m in MODULES if not any(_unit(m) in units for units in LAYERS)] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module):
    top = len(LAYERS) - 1

    def beside(t):  # the same layer, another package (the base and the top are one each)
        same = _layer(t) == _layer(module)
        return same and 0 < _layer(module) < top and _unit(t) != _unit(module)

    upward = [t for m, t in EDGES if m == module and (_layer(t) > _layer(m) or beside(t))]
    assert upward == [], f"{module} imports from a layer above or beside it: {upward}"


def test_no_import_cycles():
    graph: dict[str, set] = {}
    for m, t in EDGES:
        if t in MODULES:
            graph.setdefault(m, set()).add(t)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # A package's __init__ re-exporting its modules is not a cycle of code.
    cycles = [c for c in cycles if not any(MODULES[m].name == "__init__.py"
                                           and n.startswith(m + ".") for m, n in zip(c, c[1:]))]
    assert cycles == []


def test_no_private_name_is_imported_from_another_module():
    private = [(m, module, n) for m, path in MODULES.items() for module, names in _imports(path)
               for n in names if n.startswith("_") and n != "__version__"]
    assert private == []


HEAVY = {"numpy", "scipy", "sklearn", "matplotlib", "torch", "starlette", "uvicorn", "ray"}


@pytest.mark.parametrize("module", [module for module, _ in COMMANDS.values()])
def test_a_commands_options_load_without_the_heavy_libraries(module):
    """`backproplab CMD --help` builds CMD's parser only: it must not wait for NumPy, SciPy,
    scikit-learn, matplotlib, PyTorch or the web stack to import (the work imports them)."""
    code = (f"import sys, argparse; import {module} as m; "
            "m.add_arguments(argparse.ArgumentParser()); "
            "print(sorted({n.split('.')[0] for n in sys.modules} & " + repr(HEAVY) + "))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# Imports inside functions, each for a reason: a command's `run()` loads the work only when it
# runs (so that --help answers at once); three functions keep a heavy library off a path that
# does not need it (backproplab.monitor: `import backproplab.monitor` loads no PyTorch).
LAZY = {("backproplab.nn.network", "visualize_decision_boundary"): "matplotlib",
        ("backproplab.report.parts", "cnn_part"): "PyTorch",
        ("backproplab.monitor", "__getattr__"): "PyTorch"}


def test_backproplab_modules_are_imported_at_the_top_except_for_start_up():
    inside = []
    for m, path in MODULES.items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                module = (node.module if isinstance(node, ast.ImportFrom) and node.level == 0
                          else None)
                if module and module.startswith("backproplab") and not (
                        fn.name == "run" and m.endswith("command")) and (m, fn.name) not in LAZY:
                    inside.append((m, fn.name, module))
    assert inside == []
