"""The ``geokd`` command: Lightning's fit/validate/test and geokd's own subcommands.

Only the standard library is imported here: ``geokd --help`` and each subcommand's
``--help`` stay fast, and a subcommand imports what it needs when it runs.
"""

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

import geokd

from .cli import LIGHTNING_COMMANDS
from .errors import EXIT_FAILURE, bug_report_request, expected_failure, one_line
from .signals import terminations

#: geokd's own subcommands: name -> ('module:function', summary); the function takes
#: the arguments after the subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    'predict': (
        'geokd.predict.cli:predict',
        'classify whole GeoTIFF scenes with a single-sensor classifier',
    ),
    'export': (
        'geokd.export.cli:export',
        'export single-sensor classifiers from a training checkpoint',
    ),
    'evaluate': (
        'geokd.evaluate.cli:evaluate',
        'compare a class map with per-pixel reference data (F1, IoU, areas)',
    ),
    'stats': (
        'geokd.stats:main',
        'normalisation statistics of the training split of a config',
    ),
    'benchmark': (
        'geokd.benchmark:main',
        'compare methods over seeds (mean +- std tables)',
    ),
    'report': (
        'geokd.reports.report:main',
        'confusion matrices, embeddings and diagnostics of a run',
    ),
}


def usage() -> str:
    """The top-level help of ``geokd``.

    Returns:
        The help text.
    """
    width = max(map(len, [*LIGHTNING_COMMANDS, *COMMANDS])) + 2
    lines = [
        'usage: geokd [-h] [--version] SUBCOMMAND [options]',
        '',
        'Cross-modal knowledge distillation (DisCoM-KD) for multi-sensor',
        'Earth observation, on TorchGeo.',
        '',
        'Training (LightningCLI: geokd SUBCOMMAND --config CONFIG.yaml [--key value]):',
        *(f'  {n:<{width}}{s}' for n, s in LIGHTNING_COMMANDS.items()),
        '',
        'geokd subcommands:',
        *(f'  {n:<{width}}{s}' for n, (_, s) in COMMANDS.items()),
        '',
        'Run geokd SUBCOMMAND --help for its options. Errors are one line; add',
        '--traceback (or set GEOKD_DEBUG=1) to see where they were raised.',
    ]
    return '\n'.join(lines)


def debugging(argv: Sequence[str]) -> bool:
    """Whether to show tracebacks of expected failures too.

    Args:
        argv: The command's arguments.

    Returns:
        True with ``--traceback`` among the arguments or ``GEOKD_DEBUG`` set to
        anything but empty or 0.
    """
    return '--traceback' in argv or os.environ.get('GEOKD_DEBUG', '') not in ('', '0')


def report_failure(command: str, err: BaseException) -> NoReturn:
    """Print a failure of a geokd command and exit.

    Expected failures (:func:`geokd.errors.expected_failure`) are one line on
    stderr; anything else is a bug: its traceback, then a request to report it.

    Args:
        command: The subcommand, for the message's prefix.
        err: The exception.
    """
    prog = f'geokd {command}'.strip()
    expected = expected_failure(err)
    if expected is not None:
        message, code = expected
        print(f'{prog}: error: {message}', file=sys.stderr)
        sys.exit(code)
    traceback.print_exception(err)
    print(
        f'{prog}: internal error: {type(err).__name__}: {one_line(str(err))}\n'
        f'{bug_report_request(geokd.__version__)}',
        file=sys.stderr,
    )
    sys.exit(EXIT_FAILURE)


def main(args: Sequence[str] | None = None) -> None:
    """Run the geokd command line.

    Expected failures end in one line on stderr and exit status 1 (2 for bad
    arguments); ``--traceback`` (anywhere) or ``GEOKD_DEBUG=1`` re-raise them.

    Args:
        args: Arguments to parse instead of ``sys.argv``.
    """
    argv = list(sys.argv[1:] if args is None else args)
    debug = debugging(argv)
    argv = [a for a in argv if a != '--traceback']
    command = argv[0] if argv and argv[0] in {**COMMANDS, **LIGHTNING_COMMANDS} else ''
    try:
        with terminations(command):
            run(argv, argv == sys.argv[1:])
    except SystemExit:
        raise
    except BaseException as err:
        if debug:
            raise
        report_failure(command, err)


def run(argv: list[str], from_sys_argv: bool = False) -> None:
    """Dispatch to a subcommand, letting every exception through.

    Args:
        argv: The command's arguments, without ``--traceback``.
        from_sys_argv: ``argv`` is the process's own command line.
    """
    if not argv or argv[0] in ('-h', '--help'):
        print(usage())
        sys.exit(0 if argv else 2)
    if argv[0] == '--version':
        print(f'geokd {geokd.__version__}')
        sys.exit(0)
    if argv[0] in COMMANDS:
        module, function = COMMANDS[argv[0]][0].split(':')
        getattr(importlib.import_module(module), function)(argv[1:])
        return
    if argv[0] not in LIGHTNING_COMMANDS:
        sys.exit(f'{usage()}\n\ngeokd: error: unknown subcommand {argv[0]!r}')
    from .cli import build_cli
    from .config import check_config_files

    check_config_files(argv[1:])
    # Lightning warns when given arguments equal to sys.argv's: pass none then.
    build_cli(None if from_sys_argv else argv)
