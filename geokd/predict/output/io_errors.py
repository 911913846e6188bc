"""Read and write failures as one line naming the file: disk full, I/O errors.

GDAL reports a failed write in pieces: an exception saying little ("Write failed.
See previous exception", or rasterio's "Unknown GDAL Error") and, from libtiff,
the operating system's reason printed straight to the process's standard error
("_tiffWriteProc: No space left on device."). :func:`writing` captures that stream
while GDAL writes, so the reason ends up in one message naming the file instead of
on a line of its own.
"""

import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from ...errors import PredictError

#: What file writes raise: the OS's errors, rasterio's, GDAL's own (CPLE_*, which
#: derive from Exception only), and rasterio's SystemError for errors GDAL does not
#: classify.
FAILURES = (OSError, RasterioError, CPLE_BaseError, SystemError)

#: Below this much free space, a failed write is reported as the disk being full.
FULL = 16 * 2**20


class CapturedStderr:
    """A temporary in-memory file that holds what was printed to standard error."""

    def __init__(self) -> None:
        if hasattr(os, 'memfd_create'):  # in memory: works on a full disk too
            self.file: BinaryIO = os.fdopen(os.memfd_create('geokd-stderr'), 'w+b')
        else:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    def text(self) -> str:
        """What was written so far.

        Returns:
            The captured text.
        """
        self.file.seek(0)
        return self.file.read().decode(errors='replace')

    def close(self) -> None:
        """Release the file."""
        self.file.close()


@contextmanager
def captured_stderr() -> Iterator[CapturedStderr | None]:
    """Capture what C libraries print to standard error; print it again after.

    Yields:
        The capture (None when it cannot be made, e.g. out of file descriptors);
        what it holds is printed on exit, unless an exception leaves (its message
        then says what matters).
    """
    try:
        captured = CapturedStderr()
        saved = os.dup(2)
    except OSError:
        yield None
        return
    sys.stderr.flush()
    os.dup2(captured.file.fileno(), 2)
    failed = True
    try:
        yield captured
        failed = False
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        text = captured.text()
        captured.close()
        if text and not failed:
            sys.stderr.write(text)


def reason(err: BaseException, gdal_output: str = '', where: Path | None = None) -> str:
    """The most telling reason of a failure, in a few words.

    Args:
        err: The exception (its causes are searched too).
        gdal_output: What GDAL printed meanwhile.
        where: A path on the file system written to, to check for free space.

    Returns:
        The OS's reason when known (e.g. 'No space left on device'), else GDAL's
        last message, else the exception's.
    """
    chain = []
    e: BaseException | None = err
    while e is not None and len(chain) < 10:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, OSError) and e.errno is not None and e.strerror:
            return e.strerror
    lines = [line.strip() for line in gdal_output.splitlines() if line.strip()]
    if lines:
        text = lines[-1].rstrip('.')
        return text.split(': ', 1)[-1] if text.startswith('_tiff') else text
    if where is not None and _free_bytes(where) < FULL:
        return os.strerror(errno.ENOSPC)
    messages = [str(e).splitlines()[0] for e in chain if str(e).strip()]
    useful = [m for m in messages if 'previous exception' not in m]
    return (useful or messages or [type(err).__name__])[-1]


def _free_bytes(path: Path) -> float:
    """Free space on the file system of ``path`` (infinite when unknown)."""
    for p in (path, *path.parents):
        try:
            return shutil.disk_usage(p).free
        except OSError:
            continue
    return float('inf')


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Report a failure to write ``path`` as one line naming it.

    A write that raises, and one after which libtiff printed an error (it does not
    always make GDAL fail: a file whose directory could not be written may be left
    behind without an exception), both fail.

    Args:
        path: The file written.

    Yields:
        Nothing; write the file in the block.

    Raises:
        PredictError: If the block fails with an I/O error: the path, the reason
            and what to do.
    """
    with captured_stderr() as captured:
        try:
            yield
        except FAILURES as err:
            why = reason(err, captured.text() if captured else '', path.parent)
            raise PredictError(f'{path}: cannot write ({why}); {_advice(why)}') from err
        printed = captured.text() if captured else ''
        if any(_is_error(line) for line in printed.splitlines()):
            why = reason(OSError(), printed, path.parent)
            raise PredictError(f'{path}: cannot write ({why}); {_advice(why)}')


def _is_error(line: str) -> bool:
    """Whether a line libtiff printed is an error (its warnings say 'Warning')."""
    return bool(line.strip()) and 'warning' not in line.lower()


def _advice(why: str) -> str:
    """What to do after a failed write."""
    if why in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT)):
        return 'free some space, then run the same command with --resume'
    return 'fix the cause, then run the same command with --resume'


def reading[T](path: Path, read: Callable[..., T]) -> Callable[..., T]:
    """Wrap a reader of ``path`` so that its failures are one line naming it.

    Args:
        path: The file read.
        read: The function reading it.

    Returns:
        The same function, raising :class:`PredictError` on I/O errors.
    """

    def guarded(*args: object, **kwargs: object) -> T:
        try:
            return read(*args, **kwargs)
        except FAILURES as err:
            msg = f'{path}: cannot read ({reason(err)}); is the file complete?'
            raise PredictError(msg) from err

    return guarded
