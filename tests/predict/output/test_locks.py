import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from geokd.predict import PredictError
from geokd.predict.output.locks import (
    LOCK_NAME,
    LockedError,
    PrefixLock,
    lock_offset,
)

HOLDER = (
    'import fcntl, os, sys\n'
    'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n'
    'fcntl.lockf(fd, fcntl.LOCK_EX, 1, int(sys.argv[2]))\n'
    'print("locked", flush=True)\n'
    'sys.stdin.read()\n'
)


def hold(path: Path, name: str) -> subprocess.Popen[bytes]:
    """Another process holding prefix ``name``'s byte of ``path`` until killed."""
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLDER, str(path), str(lock_offset(name))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == b'locked\n'
    return holder


def test_lock_is_reentrant_and_its_file_goes_away(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    with PrefixLock(tmp_path / 's', 'out/s'):
        assert path.exists()
        with PrefixLock(tmp_path / 's', 'out/s'):  # re-entrant in one process
            pass
        with PrefixLock(tmp_path / 't', 'out/t'):  # another prefix, same file
            pass
        assert path.exists()
    assert not path.exists()


def test_a_held_lock_refuses_at_once_naming_its_owner(tmp_path: Path) -> None:
    holder = hold(tmp_path / LOCK_NAME, 's')
    try:
        with pytest.raises(
            LockedError, match=f'out/s: another geokd predict \\(pid {holder.pid}\\)'
        ):
            PrefixLock(tmp_path / 's', 'out/s').acquire()
        with PrefixLock(tmp_path / 't', 'out/t'):  # another prefix is free
            pass
        assert (tmp_path / LOCK_NAME).exists()  # the holder still uses it
    finally:
        holder.kill()
        holder.wait()
    with PrefixLock(tmp_path / 's', 'out/s'):  # a killed holder does not block
        pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_leftover_lock_file_does_not_block(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text('999999999\n')
    with PrefixLock(tmp_path / 's', 'out/s'):
        pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_file_removed_meanwhile_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    lock = PrefixLock(tmp_path / 's', 'out/s')
    opened = lock._open
    removed: list[int] = []

    def open_then_swap() -> int:
        # Its last holder removed the file just after this run opened it, and
        # another run made a new one: locking the old file would let both go on.
        fd = opened()
        if not removed:
            removed.append(os.fstat(fd).st_ino)
            path.unlink()
            path.write_text('')
        return fd

    lock._open = open_then_swap  # type: ignore[method-assign]
    with lock:
        assert removed
        assert try_lock(path, 's') == 'held'  # the file the path names is locked


def test_many_prefixes_hold_one_open_file(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_now = len(os.listdir('/proc/self/fd'))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 16, hard))
    try:
        locks = [PrefixLock(tmp_path / f's{i}') for i in range(300)]
        for lock in locks:
            lock.acquire()
        assert len(os.listdir('/proc/self/fd')) <= open_now + 1
        for lock in locks:
            lock.release()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not (tmp_path / LOCK_NAME).exists()


def test_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / 'victim'
    victim.write_text('precious')
    (tmp_path / LOCK_NAME).symlink_to(victim)
    with pytest.raises(PredictError, match='is a symbolic link'):
        PrefixLock(tmp_path / 's', 'out/s').acquire()
    assert victim.read_text() == 'precious'


def try_lock(path: Path, name: str) -> str:
    """Whether another process can take prefix ``name``'s byte of ``path`` now."""
    child = subprocess.run(
        [
            sys.executable,
            '-c',
            'import fcntl, os, sys\n'
            'fd = os.open(sys.argv[1], os.O_RDWR)\n'
            'try:\n'
            '    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))\n'
            'except OSError:\n'
            '    print("held")\n'
            'else:\n'
            '    print("free")\n',
            str(path),
            str(lock_offset(name)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return child.stdout.strip()


def test_another_process_cannot_take_a_held_prefix(tmp_path: Path) -> None:
    with PrefixLock(tmp_path / 's'):
        assert try_lock(tmp_path / LOCK_NAME, 's') == 'held'
        assert try_lock(tmp_path / LOCK_NAME, 't') == 'free'
