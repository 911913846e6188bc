"""SIGTERM ends a geokd command as Ctrl-C does: one line, a resumable state, exit 143.

SIGTERM is what ``timeout``, SLURM preemption, ``docker stop`` and Kubernetes send.
:func:`terminations` installs a handler that raises :class:`Terminated` where the
signal arrives, unless Lightning's own SIGTERM handling is installed (a trainer is
running): Lightning's ``SignalConnector`` calls this handler after noting the
signal, and its loops stop at the end of the current batch with a
``SIGTERMException``. Whatever ends a command after a SIGTERM (that exception, a
DataLoader worker killed by the same signal) is reported as one line with the way
to go on, and exit status 143 (128 + SIGTERM), as shells report it.

Standard library only: :mod:`geokd.main` uses this before torch is imported.
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Exit status after SIGTERM, as shells report it.
EXIT_TERMINATED = 128 + signal.SIGTERM

#: Lightning's logger that notes a SIGTERM on its own line.
LIGHTNING_SIGNAL_LOGGER = 'lightning.pytorch.trainer.connectors.signal_connector'

#: How each command goes on after it was terminated.
RESUME_HINTS: dict[str, str] = {
    'fit': 'resume with the same command and --ckpt_path last',
    'predict': 'run the same command with --resume to continue',
    'benchmark': 'run the same command again to continue (finished runs are skipped)',
}


class Terminated(KeyboardInterrupt):
    """The command received SIGTERM.

    A :class:`KeyboardInterrupt`, so that every clean-up written for Ctrl-C
    (unfinished outputs left resumable, workers stopped) runs for it too.
    """

    #: Exit status of the command.
    exit_code = EXIT_TERMINATED


_received = threading.Event()


def received() -> bool:
    """Whether this process received SIGTERM since :func:`terminations` began.

    Returns:
        True after a SIGTERM.
    """
    return _received.is_set()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Note SIGTERM; raise :class:`Terminated` unless a trainer stops gracefully."""
    _received.set()
    # Lightning's SignalConnector wraps this handler while a trainer runs, and its
    # loops stop at the end of the batch: raising here would stop mid-step.
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        raise Terminated


def _drop_sigterm_notes(record: logging.LogRecord) -> bool:
    """Keep Lightning's signal notes but those about SIGTERM itself."""
    return 'SIGTERM' not in record.getMessage()


def ignore_termination(worker_id: int) -> None:
    """A DataLoader ``worker_init_fn``: the worker outlives a SIGTERM to its group.

    ``timeout`` and job schedulers signal the whole process group; a worker that
    died of it would make the training process fail mid-step with "DataLoader
    worker killed by signal" before Lightning stops at the end of the batch. The
    worker still ends with the training process (PyTorch's workers watch it).

    Args:
        worker_id: The worker's index (unused).
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def terminated_message(command: str) -> str:
    """The one-line message of a command ended by SIGTERM.

    Args:
        command: The subcommand ('' when unknown).

    Returns:
        ``terminated (SIGTERM)`` and how to go on, where the command can.
    """
    hint = RESUME_HINTS.get(command)
    return f'terminated (SIGTERM); {hint}' if hint else 'terminated (SIGTERM)'


@contextmanager
def terminations(command: str) -> Iterator[None]:
    """Turn SIGTERM, and whatever ends the block after it, into :class:`Terminated`.

    Args:
        command: The subcommand, for the message (see :func:`terminated_message`).

    Yields:
        Nothing; the block runs with the handler installed.

    Raises:
        Terminated: If the block ends in an exception (or a ``SystemExit`` other
            than success) after a SIGTERM.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return
    _received.clear()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # The command's own line says it; Lightning's note would be a second one. Its
    # other notes (SLURM requeueing) stay.
    notes = logging.getLogger(LIGHTNING_SIGNAL_LOGGER)
    notes.addFilter(_drop_sigterm_notes)
    try:
        yield
    except BaseException as err:
        if not received() or (isinstance(err, SystemExit) and err.code in (0, '')):
            raise
        raise Terminated(terminated_message(command)) from err
    finally:
        signal.signal(signal.SIGTERM, previous)
        notes.removeFilter(_drop_sigterm_notes)
