"""geokd's expected failures, and how the ``geokd`` command reports every failure.

An expected failure is one the user can fix: a bad argument or config value, a
missing, unreadable or hostile file, unusable data, an output that cannot be
written, a full disk, a device that is not there. geokd raises a
:class:`GeokdError` for these (or lets an :class:`OSError` through); the command line
prints them as one line::

    geokd <command>: error: <file>: <what is wrong> (<what to do>)

and exits with 1 (2 for bad arguments). Anything else is a bug: its traceback is
printed with a request to report it. ``--traceback`` or ``GEOKD_DEBUG=1`` show the
traceback of expected failures too.

Standard library only: :mod:`geokd.main` imports this before torch.
"""

import argparse
import errno
import re
from collections.abc import Callable
from typing import NoReturn

#: Where bug reports go.
ISSUES_URL = 'https://github.com/geokd/geokd/issues'

#: Exit status of a failure the user can fix, and of a bad argument or config value.
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: Exit status after Ctrl-C, as shells report SIGINT.
EXIT_INTERRUPTED = 130


class GeokdError(Exception):
    """A failure the user can fix; its message is one line naming the file.

    The message reads ``<file or option>: <what is wrong> (<what to do>)``, the hint
    left out where it is obvious.
    """

    #: Exit status of the command.
    exit_code = EXIT_FAILURE


class UsageError(GeokdError, ValueError):
    """A command-line argument or config value is invalid."""

    exit_code = EXIT_USAGE


class DataError(GeokdError, ValueError):
    """Training or evaluation data cannot be used as configured."""


class PredictError(GeokdError, ValueError):
    """A scene cannot be classified; the message names the file and the problem."""


class OptionError(PredictError, UsageError):
    """A prediction option is out of range; the message names the option and value."""


class Interrupted(GeokdError):
    """A run stopped by Ctrl-C or SIGTERM; the message says how to continue it."""

    exit_code = EXIT_INTERRUPTED


#: What to do about common operating-system errors.
_OS_HINTS = {
    errno.ENOSPC: 'free some space on that device and run again',
    errno.EDQUOT: 'free some space within your quota and run again',
    errno.EACCES: 'check its permissions, or choose another path',
    errno.EPERM: 'check its permissions, or choose another path',
    errno.EROFS: 'the file system is read-only; choose another path',
    errno.EISDIR: 'give a file',
    errno.ENOTDIR: 'a parent of it is a file, not a directory',
    errno.ENOENT: 'check the path',
    errno.EEXIST: 'remove it or choose another path',
    errno.ENAMETOOLONG: 'choose a shorter path',
    errno.ELOOP: 'it is a loop of symbolic links',
}


def os_error_message(err: OSError) -> str:
    """One line for an operating-system error: the file, the problem, what to do.

    Args:
        err: The error.

    Returns:
        ``<file>: <problem> (<what to do>)``; errors without a file name give
        ``<problem> (<what to do>)``.
    """
    what = err.strerror or one_line(str(err)) or type(err).__name__
    hint = _OS_HINTS.get(err.errno) if err.errno is not None else None
    text = f'{what} ({hint})' if hint else what
    if err.filename is not None:
        files = f'{err.filename} -> {err.filename2}' if err.filename2 else err.filename
        return f'{files}: {text}'
    return text


def output_error(path: object, err: OSError) -> GeokdError:
    """An expected failure for an output that cannot be written.

    Args:
        path: The output.
        err: Why writing it failed (``err.filename`` may be a temporary file, or
            missing, as for a full disk).

    Returns:
        A :class:`GeokdError` naming ``path``.
    """
    what = err.strerror or one_line(str(err))
    hint = _OS_HINTS.get(err.errno) if err.errno is not None else None
    return GeokdError(f'{path}: cannot write ({what}){f" ({hint})" if hint else ""}')


def one_line(text: str | BaseException) -> str:
    """The message of an error as one line.

    An exception raised in a DataLoader worker reaches the main process as a copy
    whose message holds the worker's traceback; its last line is the original
    message. Other multi-line messages are joined.

    Args:
        text: An exception, or ``str()`` of one; an exception without a message
            gives the name of its type.

    Returns:
        One line without a traceback.
    """
    if isinstance(text, BaseException):
        return one_line(str(text)) or type(text).__name__
    if 'Traceback (most recent call last)' in text:
        last = [line for line in text.strip().splitlines() if line.strip()][-1]
        # 'package.module.SomeError: message' -> 'message'
        text = re.sub(r'^[\w.]+: ', '', last.strip(), count=1)
    return ' '.join(text.split())


def argument_error_message(text: str) -> str:
    """One line from jsonargparse's nested report of an invalid config value.

    jsonargparse explains every alternative of a union type on its own indented
    line; the line that matters is the first one under the parser keys leading to
    the value, and the alternatives that merely say ``NoneType`` are dropped.

    Args:
        text: The message of jsonargparse's ``ArgumentError``.

    Returns:
        ``<dotted key>: <problem>[, got <value>]``, or ``text`` as one line.
    """
    if 'Parser key "' not in text:
        return one_line(text)
    keys: list[tuple[int, str]] = []
    detail = given = ''
    noise = (
        'Does not validate against any of',
        "Expected a <class 'NoneType'>",
        'Given value type:',
        'Subtypes:',
        'Errors:',
    )
    for raw in text.splitlines():
        line = raw.strip().removeprefix('- ').strip()
        depth = len(raw) - len(raw.lstrip())
        if line.startswith('Given value:') and not given:
            given = line.removeprefix('Given value:').strip()
        if detail or not line or line.startswith(noise):
            continue
        if line.startswith('Problem with given class_path'):
            keys = [(d, k) for d, k in keys if d < depth] + [(depth, 'init_args')]
            continue
        key = re.match(r'^Parser key "([^"]+)":\s*(.*)$', line)
        if key:
            keys = [(d, k) for d, k in keys if d < depth] + [(depth, key[1])]
            detail = key[2]
            continue
        detail = line
    if not detail:
        return one_line(text)
    detail = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r'\1', detail)
    detail = detail.replace('Expected a ', 'expected ').replace('. Got value:', ', got')
    nested = given.startswith(('NestedArg(', 'Namespace('))
    if given and not nested and 'got' not in detail.lower():
        detail += f', got {given}'
    path = '.'.join(k for _, k in keys)
    return one_line(f'{path}: {detail}' if path else detail)


def geokd_cause(err: BaseException) -> GeokdError | None:
    """The :class:`GeokdError` behind an exception that a library raised instead.

    jsonargparse reports a class whose ``__init__`` raised as a ``ValueError`` of
    its own, chained to the original.

    Args:
        err: What was raised.

    Returns:
        The first :class:`GeokdError` in its chain of causes, or None.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, GeokdError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _mro_names(err: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(err).__mro__}


def expected_failure(err: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit status of an expected failure.

    Expected are :class:`GeokdError` (geokd's own checks), :class:`OSError` (files,
    disks, permissions; torchgeo's ``DatasetNotFoundError`` is one), argument
    errors of argparse and jsonargparse, Lightning's and torchgeo's
    ``MisconfigurationException`` (an impossible trainer or DataModule setting, such
    as CUDA without a GPU), running out of memory, and Ctrl-C.

    Args:
        err: What was raised.

    Returns:
        The message and exit status, or None for an unexpected exception (a bug).
    """
    cause = geokd_cause(err)
    if cause is not None:
        err = cause
    names = _mro_names(err)
    if isinstance(err, GeokdError):
        return one_line(str(err)), err.exit_code
    if isinstance(err, KeyboardInterrupt):
        return 'interrupted', EXIT_INTERRUPTED
    if isinstance(err, argparse.ArgumentError):
        return argument_error_message(str(err)), EXIT_USAGE
    if 'MisconfigurationException' in names:
        return one_line(str(err)), EXIT_USAGE
    if 'OutOfMemoryError' in names or isinstance(err, MemoryError):
        detail = one_line(str(err)).split('. ')[0] or 'out of memory'
        return f'{detail} (reduce the batch size)', EXIT_FAILURE
    if isinstance(err, OSError):
        return os_error_message(err), EXIT_FAILURE
    return None


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError` (one line, exit 2).

    argparse prints the usage and exits on a bad argument; geokd's commands report
    it as every other failure, through :mod:`geokd.main`.
    """

    def error(self, message: str) -> NoReturn:  # noqa: D102
        msg = f'{message} (see {self.prog} --help)'
        raise UsageError(msg)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``.

    Args:
        minimum: The smallest value accepted.

    Returns:
        The conversion, raising ``argparse.ArgumentTypeError`` on other text.
    """

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            msg = f'must be an integer of at least {minimum}, got {text!r}'
            raise argparse.ArgumentTypeError(msg)
        return value

    convert.__name__ = f'integer >= {minimum}'
    return convert
