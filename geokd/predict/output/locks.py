"""A run's lock on its output prefix, so two runs never write the same outputs.

Every output directory has one lock file, ``.geokd-predict.lock``; a prefix's lock is
an OS record lock (``fcntl``) on one byte of it, at an offset hashed from the
prefix's name. The kernel releases record locks when their process ends in any way,
SIGKILL included, so a lock left by a dead run never blocks the next one, and a
command that locks many prefixes keeps one open file per output directory, not one
per scene (a run of thousands of scenes stays far below the open-file limit).

Record locks belong to a process, and closing *any* descriptor of the file drops all
of that process's locks on it: this module alone opens the file, once per directory,
and closes it only when its last prefix is released. The last run to leave removes
the file (while holding the whole file, so no other run holds a byte of it); a run
that locked a file some other run has just removed notices it (the path no longer
names the file it holds) and tries again, so two runs never both hold a prefix.

Locks are per process and re-entrant: ``geokd predict`` locks every prefix of a call
before any work, and :func:`~geokd.predict.predict_scene` locks its prefix again. With
``--workers``, the command's process keeps holding every lock and its worker processes
*adopt* them (:func:`adopt_locks`): a worker writes under a lock only while the
kernel says that process holds it.
"""

import errno
import fcntl
import hashlib
import os
import stat
import struct
import sys
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from ...errors import PredictError

#: The lock file of an output directory.
LOCK_NAME = '.geokd-predict.lock'

#: Prefixes this process holds: key -> (depth, whether adopted).
_HELD: dict[tuple[str, int], tuple[int, bool]] = {}
#: Lock files this process has open: directory's lock file -> (descriptor, prefixes).
_FILES: dict[str, tuple[int, int]] = {}
#: Prefixes another process holds for this worker process: key -> the owner's pid.
_ADOPTED: dict[tuple[str, int], int] = {}


def lock_file(prefix: Path) -> Path:
    """The lock file of the directory that holds ``prefix``'s outputs.

    Args:
        prefix: An output prefix.

    Returns:
        Its directory's ``.geokd-predict.lock``.
    """
    return Path(prefix).parent / LOCK_NAME


def lock_offset(name: str) -> int:
    """The byte of the lock file that stands for the prefix named ``name``.

    56 bits of a hash: two different names of one directory share a byte with a
    chance of 2^-56, and then one run would wait for the other, never both write.

    Args:
        name: A prefix's file name.

    Returns:
        An offset in ``[0, 2**56)``.
    """
    digest = hashlib.blake2b(name.encode('utf-8', 'surrogateescape'), digest_size=7)
    return int.from_bytes(digest.digest(), 'big')


def adopt_locks(prefixes: Iterable[Path], owner: int) -> None:
    """Let this (worker) process write under locks that another process holds.

    Args:
        prefixes: The prefixes the owner locked before starting this process.
        owner: The owner's process id.
    """
    _ADOPTED.update((_key(p), owner) for p in prefixes)


class LockedError(PredictError):
    """Another run holds the lock of an output prefix."""


class PrefixLock:
    """The lock of one output prefix, held by this process while in a ``with``.

    Args:
        prefix: The output prefix.
        what: What it protects, for messages (default: the prefix).
    """

    def __init__(self, prefix: Path, what: str | None = None) -> None:
        self.prefix = Path(prefix)
        self.path = lock_file(self.prefix)
        self.what = str(prefix) if what is None else what
        self._key = _key(self.prefix)

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
            depth, adopted = _HELD[self._key]
            _HELD[self._key] = (depth + 1, adopted)
            return
        if self._key in _ADOPTED:
            self._check_owner(_ADOPTED[self._key])
            _HELD[self._key] = (1, True)
            return
        fd = self._file()
        offset = self._key[1]
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            owner = _owner(fd, offset)
            self._forget_file()
            msg = (
                f'{self.what}: another geokd predict{owner} is writing these '
                'outputs; wait for it to finish or choose another --output'
            )
            raise LockedError(msg) from err
        _HELD[self._key] = (1, False)

    def release(self) -> None:
        """Release the lock (removing the lock file once no run holds any byte)."""
        depth, adopted = _HELD.pop(self._key)
        if depth > 1:
            _HELD[self._key] = (depth - 1, adopted)
            return
        if adopted:  # the parent's lock: it releases it
            return
        fd, count = _FILES[self._key[0]]
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, self._key[1])
        if count > 1:
            _FILES[self._key[0]] = (fd, count - 1)
            return
        del _FILES[self._key[0]]
        try:
            # Holding the whole file means no other process holds a byte of it.
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass
        else:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def _file(self) -> int:
        """This directory's lock file, open (once per process), counting this prefix."""
        directory = self._key[0]
        if directory in _FILES:
            fd, count = _FILES[directory]
            _FILES[directory] = (fd, count + 1)
            return fd
        for _ in range(10):  # each retry means another run just removed it
            fd = self._open()
            if _still_named(fd, self.path):
                _FILES[directory] = (fd, 1)
                return fd
            os.close(fd)
        msg = f'{self.path}: lock file keeps changing; is another run starting?'
        raise LockedError(msg)

    def _forget_file(self) -> None:
        """Undo :meth:`_file`'s count for a lock that was not taken."""
        directory = self._key[0]
        fd, count = _FILES.pop(directory)
        if count > 1:
            _FILES[directory] = (fd, count - 1)
        else:
            os.close(fd)

    def _check_owner(self, owner: int) -> None:
        """Make sure an adopted lock is still held by the process that gave it.

        Raises:
            LockedError: If nobody, or another process, holds it now.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            held = False
        else:
            try:
                held = _holder(fd, self._key[1]) in (owner, None) and _still_named(
                    fd, self.path
                )
            finally:
                os.close(fd)
        if not held:
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


def _key(prefix: Path) -> tuple[str, int]:
    """A prefix's lock: its directory's lock file and its byte there."""
    prefix = Path(prefix)
    return os.path.abspath(lock_file(prefix)), lock_offset(prefix.name)


def _still_named(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the regular file open as ``fd``."""
    try:
        current = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return stat.S_ISREG(current.st_mode) and (current.st_dev, current.st_ino) == (
        held.st_dev,
        held.st_ino,
    )


#: ``struct flock`` of Linux (l_type, l_whence, l_start, l_len, l_pid).
_FLOCK = struct.Struct('@hhqqi4x')


def _holder(fd: int, offset: int) -> int | None:
    """The process holding byte ``offset``: 0 when nobody, None when unknown."""
    if not sys.platform.startswith('linux'):
        return None
    query = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    except OSError:
        return None
    kind, _, _, _, pid = _FLOCK.unpack(answer)
    return 0 if kind == fcntl.F_UNLCK else pid


def _owner(fd: int, offset: int) -> str:
    """`` (pid N)`` of the process holding byte ``offset``, or nothing if unknown."""
    pid = _holder(fd, offset)
    return f' (pid {pid})' if pid else ''
