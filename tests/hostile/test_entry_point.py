"""The real entry point: a new Python process prints one line and no traceback.

The other cases run :func:`geokd.main.main` in the test process; these run
``python -m geokd`` as a user does, one per command.
"""

import sys
from pathlib import Path

import pytest

from .conftest import TinyRun, write_config
from .helpers import Sandbox, assert_clean_error, run_subprocess


@pytest.mark.parametrize(
    ('command', 'make'),
    [
        ('fit', lambda box, run: ['--config', str(box.inputs / 'missing.yaml')]),
        (
            'fit',
            lambda box, run: [
                '--config', str(write_config(box.inputs / 'c.yaml', box.inputs / 'no')),
                '--trainer.default_root_dir', str(box.out),
            ],
        ),
        ('export', lambda box, run: [str(run.config), '-o', str(box.out)]),
        ('stats', lambda box, run: ['--config', str(run.config), '--output', str(box.out)]),
        ('benchmark', lambda box, run: ['--config', str(run.config)]),
    ],
    ids=['fit config', 'fit data', 'export', 'stats', 'benchmark'],
)  # fmt: skip
def test_entry_point(
    command: str, make: object, sandbox: Sandbox, tiny_run: TinyRun
) -> None:
    sandbox.out.mkdir()
    argv = make(sandbox, tiny_run)  # type: ignore[operator]
    sandbox.start()
    outcome = run_subprocess([command, *argv], sandbox.root)
    assert_clean_error(outcome, command, '')


def test_console_script(sandbox: Sandbox) -> None:
    script = Path(sys.executable).with_name('geokd')
    if not script.is_file():
        pytest.skip('the geokd console script is not installed')
    sandbox.start()
    outcome = run_subprocess(
        ['stats', '--config', 'nothing.yaml'], sandbox.root, [str(script)]
    )
    assert_clean_error(outcome, 'stats', 'nothing.yaml')
