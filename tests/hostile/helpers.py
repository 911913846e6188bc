"""Running geokd as a hostile user would, and what every outcome must satisfy.

Every case of the suite ends in :func:`assert_clean_error`: exit status 1 or 2, no
traceback, one ``geokd <command>: error: ...`` line naming the culprit; the
:class:`Sandbox` checks that nothing outside the output directory changed.
"""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from geokd.main import main

#: The repository, put first on the path of subprocesses.
REPO = Path(__file__).resolve().parents[2]

#: 2.7 KB of YAML: nine levels of ten aliases each, 10^9 strings once expanded.
ALIAS_BOMB = (
    'l0: &l0 ['
    + ', '.join(['lol'] * 10)
    + ']\n'
    + ''.join(
        f'l{i}: &l{i} [' + ', '.join([f'*l{i - 1}'] * 10) + ']\n' for i in range(1, 10)
    )
)


@dataclass
class Outcome:
    """What a geokd command did.

    Attributes:
        code: Its exit status.
        out: Its standard output.
        err: Its standard error.
    """

    code: int
    out: str
    err: str


def run_in_process(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """Run ``geokd ARGV`` through :func:`geokd.main.main` in this process.

    Args:
        argv: The arguments after ``geokd``.
        capsys: pytest's capture of stdout and stderr.

    Returns:
        The outcome; an exception escaping ``main`` is a failure of the test.
    """
    capsys.readouterr()
    code: int | str | None = 0
    try:
        main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    err = captured.err
    if isinstance(code, str):  # sys.exit('message') prints it to stderr
        err, code = err + code + '\n', 1
    return Outcome(int(code or 0), captured.out, err)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail what runs inside if it takes longer than ``seconds`` (it would hang).

    Args:
        seconds: The time allowed.
    """

    def expire(signum: int, frame: object) -> None:
        msg = f'still running after {seconds} s'
        raise TimeoutError(msg)

    previous = signal.signal(signal.SIGALRM, expire)
    # Raised again every second: a library catching it once does not hide a hang.
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_subprocess(
    argv: Sequence[str],
    cwd: Path,
    program: Sequence[str] = (sys.executable, '-m', 'geokd'),
) -> Outcome:
    """Run ``geokd ARGV`` as a user does: a new Python process.

    Args:
        argv: The arguments after ``geokd``.
        cwd: Its working directory.
        program: The command (default ``python -m geokd``).

    Returns:
        The outcome.
    """
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    env.pop('GEOKD_DEBUG', None)
    done = subprocess.run(
        [*program, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def assert_clean_error(outcome: Outcome, command: str, names: str) -> None:
    """Check that a command failed as geokd promises.

    Args:
        outcome: What the command did.
        command: The subcommand, as it prefixes the error line.
        names: Text the error line must contain: the culprit file or option.
    """
    report = f'exit {outcome.code}\nstderr:\n{outcome.err}'
    assert outcome.code in (1, 2), report
    assert 'Traceback' not in outcome.err + outcome.out, report
    assert 'internal error' not in outcome.err, report
    errors = [
        line
        for line in outcome.err.splitlines()
        if line.startswith(f'geokd {command}:')
    ]
    assert len(errors) == 1, report
    assert errors[0].startswith(f'geokd {command}: error: '), report
    assert outcome.err.rstrip().splitlines()[-1] == errors[0], report
    assert names in errors[0], report
    if os.environ.get('GEOKD_SHOW_ERRORS'):
        print(f'\n  {errors[0]}', file=sys.__stdout__)


def _state(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob('*')
        if skip not in p.parents and p != skip
    }


class Sandbox:
    """A working directory with inputs and an output directory, watched for writes.

    Args:
        root: An empty directory of its own; it becomes the working directory.

    Attributes:
        root: The sandbox.
        inputs: Where a case puts its input files.
        out: The only directory geokd may write to.
    """

    def __init__(self, root: Path) -> None:
        """Initialize a new Sandbox instance."""
        self.root = root
        self.inputs = root / 'inputs'
        self.out = root / 'out'
        self.inputs.mkdir(parents=True)
        self._before: dict[str, tuple[int, int]] | None = None

    def start(self) -> None:
        """Record the state of everything outside :attr:`out`."""
        self._before = _state(self.root, self.out)

    def changed_outside(self) -> list[str]:
        """Files created, changed or removed outside :attr:`out` since :meth:`start`.

        Returns:
            Their paths.
        """
        assert self._before is not None, 'Sandbox.start() was not called'
        after = _state(self.root, self.out)
        return sorted(
            p
            for p in set(self._before) | set(after)
            if self._before.get(p) != after.get(p)
        )
