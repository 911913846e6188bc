"""What a statement imports, run by a new interpreter (for the light-import tests)."""

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import geokd

#: Marks where the statement's output ends.
_MARK = 'IMPORTED:'


def imports_of(statement: str, modules: Sequence[str]) -> tuple[str, list[str]]:
    """Run ``statement`` in a new interpreter that imports this geokd.

    Args:
        statement: One line of Python; a ``SystemExit`` it raises (``--help``) is
            caught.
        modules: The modules to look for in ``sys.modules`` afterwards.

    Returns:
        Its standard output, and which of ``modules`` it imported.
    """
    code = (
        'import sys\n'
        f'try:\n    {statement}\nexcept SystemExit:\n    pass\n'
        f'print({_MARK!r}, *[m for m in {tuple(modules)!r} if m in sys.modules])\n'
    )
    root = str(Path(geokd.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        check=True,
        env={'PYTHONPATH': root, 'PATH': ''},
    )
    out, mark, imported = result.stdout.rpartition(_MARK)
    assert mark, result.stdout
    return out, imported.split()
