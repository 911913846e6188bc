"""A run's lock on its output prefix, so two runs never write the same outputs.

The lock is an OS lock (``flock``) on a small file beside the outputs: the kernel
releases it when its process ends in any way, SIGKILL included, so a lock left by a
dead run never blocks the next one. The file holds the owner's pid, for the message
of a run that is refused. It is removed on release while still locked; a run that
locked a file some other run has just removed notices it (the path no longer names
the file it holds) and tries again, so two runs never both hold a lock.

Locks are per process and re-entrant: ``geokd predict`` locks every prefix of a call
before any work, and :func:`~geokd.predict.predict_scene` locks its prefix again. With
``--workers``, the command's process keeps holding every lock and its worker processes
*adopt* them (:func:`adopt_locks`): a worker writes under a lock only while the file
names that process as the owner.
"""

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from ...errors import PredictError

#: Locks this process holds: path -> (file descriptor, depth); -1 for adopted ones.
_HELD: dict[str, tuple[int, int]] = {}
#: Locks another process holds for this worker process: path -> the owner's pid.
_ADOPTED: dict[str, int] = {}


def adopt_locks(paths: Iterable[Path], owner: int) -> None:
    """Let this (worker) process write under locks that another process holds.

    Args:
        paths: The lock files the owner locked before starting this process.
        owner: The owner's process id.
    """
    _ADOPTED.update((os.path.abspath(p), owner) for p in paths)


class LockedError(PredictError):
    """Another run holds the lock of an output prefix."""


class PrefixLock:
    """The lock of one output prefix, held by this process while in a ``with``.

    Args:
        path: The lock file (see :attr:`~geokd.predict.OutputPaths.lock`).
        what: What it protects, for messages (e.g. the output prefix).
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._key = os.path.abspath(self.path)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock now, without waiting.

        Raises:
            LockedError: If another process holds it, naming that process.
            PredictError: If the lock file cannot be created, or is a symbolic link.
        """
        if self._key in _HELD:
            fd, depth = _HELD[self._key]
            _HELD[self._key] = (fd, depth + 1)
            return
        if self._key in _ADOPTED:
            self._check_owner(_ADOPTED[self._key])
            _HELD[self._key] = (-1, 1)
            return
        for _ in range(10):  # each retry means another run just released it
            fd = self._open()
            if self._lock(fd):
                _HELD[self._key] = (fd, 1)
                os.ftruncate(fd, 0)
                os.write(fd, f'{os.getpid()}\n'.encode())
                return
        msg = f'{self.path}: lock file keeps changing; is another run starting?'
        raise LockedError(msg)

    def release(self) -> None:
        """Release the lock (removing its file once the outermost holder releases)."""
        fd, depth = _HELD.pop(self._key)
        if depth > 1:
            _HELD[self._key] = (fd, depth - 1)
            return
        if fd == -1:  # the parent's lock: it releases it
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def _check_owner(self, owner: int) -> None:
        """Make sure an adopted lock is still held by the process that gave it.

        Raises:
            LockedError: If the lock file is gone or names another owner.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            found = ''
        else:
            found = _read_owner(fd)
            os.close(fd)
        if found != f' (pid {owner})':
            msg = f'{self.what}: the geokd predict that started this worker no longer holds its lock'
            raise LockedError(msg)

    def _open(self) -> int:
        """Open (or create) the lock file without following a symbolic link."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(self.path, flags, 0o644)
        except OSError as err:
            if os.path.islink(self.path):
                msg = f'{self.path}: is a symbolic link; geokd does not follow it'
            else:
                msg = f'{self.path}: cannot create the lock file ({err.strerror})'
            raise PredictError(msg) from err

    def _lock(self, fd: int) -> bool:
        """Lock ``fd``; False when its file was removed meanwhile (try again).

        Raises:
            LockedError: If another process holds the lock.
        """
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            owner = _read_owner(fd)
            os.close(fd)
            msg = (
                f'{self.what}: another geokd predict{owner} is writing these '
                'outputs; wait for it to finish or choose another --output'
            )
            raise LockedError(msg) from err
        try:
            current = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        held = os.fstat(fd)
        if (
            current is not None
            and stat.S_ISREG(current.st_mode)
            and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino)
        ):
            return True
        os.close(fd)
        return False


def _read_owner(fd: int) -> str:
    """`` (pid N)`` from a lock file's content, or nothing when unreadable."""
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ''
    return f' (pid {text})' if text.isdigit() else ''
