"""No import cycles in the package: its layers import downwards only.

The graph is read from the source (every ``import`` of a geokd module, those inside
functions included; those under ``if TYPE_CHECKING:`` never run and are left out),
so a cycle fails here even where function-local imports keep it from failing at run
time. Every module is also imported in a fresh interpreter.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'geokd'

#: Cycles known on this branch and fixed on another one, as sorted module lists.
KNOWN_CYCLES: list[list[str]] = []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, 'attr', '')
    return name == 'TYPE_CHECKING'


def _existing(name: str) -> str:
    """The module of the package that importing ``name`` runs last."""
    while name not in MODULES:
        name = name.rpartition('.')[0]
    return name


def _imported(node: ast.Import | ast.ImportFrom, package: str) -> set[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return {_existing(n) for n in names if n.split('.')[0] == 'geokd'}
    if node.level:
        parts = package.split('.')[: len(package.split('.')) - node.level + 1]
        base = '.'.join([*parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ''
    if base.split('.')[0] != 'geokd':
        return set()
    # ``from package import module`` imports the module; ``import name`` the package.
    return {
        f'{base}.{a.name}' if f'{base}.{a.name}' in MODULES else _existing(base)
        for a in node.names
    }


def imports(name: str, path: Path) -> set[str]:
    """The geokd modules a module imports, anywhere in it but type-checking blocks.

    Args:
        name: Its dotted name.
        path: Its file.

    Returns:
        Their dotted names.
    """
    return _imports_of_source(path.read_text(), name, path)


def _imports_of_source(source: str, name: str, path: Path) -> set[str]:
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(source)]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                pending.extend(child.orelse)
            elif isinstance(child, ast.Import | ast.ImportFrom):
                found |= _imported(child, package)
            else:
                pending.append(child)
    return found - {name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan).

    Args:
        graph: Each module's imports.

    Returns:
        Each cycle's modules, sorted.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_check_finds_a_cycle_through_a_function_local_import() -> None:
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert cycles(graph) == [['a', 'b', 'c']]
    source = (
        'from typing import TYPE_CHECKING\n'
        'if TYPE_CHECKING:\n    from . import main\n'
        'def f():\n    from ..loader import x\n'
    )
    path = PACKAGE / 'tasks' / 'x.py'
    assert _imports_of_source(source, 'geokd.tasks.x', path) == {'geokd.loader'}


def test_no_import_cycles() -> None:
    graph = {name: imports(name, path) for name, path in MODULES.items()}
    assert sorted(cycles(graph)) == sorted(KNOWN_CYCLES)


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    code = 'import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n'
    done = subprocess.run(
        [sys.executable, '-c', code, *MODULES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
