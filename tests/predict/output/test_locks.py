import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geokd.predict import PredictError
from geokd.predict.output.locks import LockedError, PrefixLock


def test_lock_holds_the_pid_and_goes_away(tmp_path: Path) -> None:
    path = tmp_path / '.s.lock'
    with PrefixLock(path, 'out/s'):
        assert path.read_text() == f'{os.getpid()}\n'
        with PrefixLock(path, 'out/s'):  # re-entrant in one process
            pass
        assert path.exists()
    assert not path.exists()


def test_a_held_lock_refuses_at_once_naming_its_owner(tmp_path: Path) -> None:
    path = tmp_path / '.s.lock'
    fd = os.open(path, os.O_RDWR | os.O_CREAT)  # another holder (own description)
    os.write(fd, b'4242\n')
    fcntl.flock(fd, fcntl.LOCK_EX)
    with pytest.raises(LockedError, match=r'out/s: another geokd predict \(pid 4242\)'):
        PrefixLock(path, 'out/s').acquire()
    os.close(fd)
    with PrefixLock(path, 'out/s'):  # released: a leftover file does not block
        pass


def test_a_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / '.s.lock'
    code = (
        'import fcntl, os, sys, time\n'
        f'fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n'
        'fcntl.flock(fd, fcntl.LOCK_EX)\n'
        'os.write(fd, str(os.getpid()).encode())\n'
        'print("locked", flush=True)\n'
        'time.sleep(60)\n'
    )
    holder = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b'locked\n'
        with pytest.raises(LockedError, match=f'pid {holder.pid}'):
            PrefixLock(path, 'out/s').acquire()
    finally:
        holder.kill()
        holder.wait()
    with PrefixLock(path, 'out/s'):
        assert path.read_text() == f'{os.getpid()}\n'


def test_a_lock_file_removed_meanwhile_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / '.s.lock'
    lock = PrefixLock(path, 'out/s')
    fd = lock._open()
    # Its holder released it (removing the file) and another run made a new one:
    # locking the old file would let both runs go on.
    path.unlink()
    path.write_text('')
    assert not lock._lock(fd)


def test_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / 'victim'
    victim.write_text('precious')
    (tmp_path / '.s.lock').symlink_to(victim)
    with pytest.raises(PredictError, match='is a symbolic link'):
        PrefixLock(tmp_path / '.s.lock', 'out/s').acquire()
    assert victim.read_text() == 'precious'
