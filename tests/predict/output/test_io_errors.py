import errno
import os
from pathlib import Path

import pytest
import rasterio
from rasterio.errors import RasterioIOError

from geokd.predict import PredictError
from geokd.predict.output.io_errors import reading, writing
from geokd.predict.output.writers import write_atomic, write_text


def test_a_full_disk_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / 'out.tif'
    with pytest.raises(PredictError) as info, writing(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(info.value) == (
        f'{path}: cannot write (No space left on device); free some space, then run '
        'the same command with --resume'
    )


def test_what_libtiff_prints_is_the_reason(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / 'out.tif'

    def failed_write() -> None:
        with writing(path):
            os.write(2, b'_tiffWriteProc: File too large.\n')
            raise RasterioIOError('Write failed. See previous exception for details.')

    def silent_failure() -> None:
        with writing(path):
            os.write(2, b'TIFFWriteDirectoryTagData: IO error\n')

    with pytest.raises(PredictError, match=r'cannot write \(File too large\)'):
        failed_write()
    # Printed without an exception, an error still fails the write...
    message = r'out\.tif: cannot write \(TIFFWriteDirectoryTagData: IO error\)'
    with pytest.raises(PredictError, match=message):
        silent_failure()
    assert capfd.readouterr().err == ''  # ... and nothing else reaches the terminal
    with writing(path):  # while warnings are passed on
        os.write(2, b'TIFFReadDirectory: Warning, unknown field\n')
    assert capfd.readouterr().err == 'TIFFReadDirectory: Warning, unknown field\n'


def test_a_failed_read_names_the_file(tmp_path: Path) -> None:
    def read() -> None:
        raise RasterioIOError('Read failed. See previous exception for details.')

    with pytest.raises(PredictError, match=r'scene\.tif: cannot read \(Read failed'):
        reading(tmp_path / 'scene.tif', read)()


def test_atomic_writes_replace_links_never_follow_them(tmp_path: Path) -> None:
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    link = tmp_path / 'style.qml'
    link.symlink_to(victim)
    write_text(link, 'new')
    assert victim.read_text() == 'precious'
    assert not link.is_symlink()
    assert link.read_text() == 'new'

    def failing(tmp: Path) -> None:
        tmp.write_text('half')
        raise OSError(errno.ENOSPC, 'full')

    with pytest.raises(OSError, match='full'):
        write_atomic(tmp_path / 'x.json', failing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['style.qml', 'victim.txt']


def test_gdal_writes_through_write_atomic(tmp_path: Path) -> None:
    def write(tmp: Path) -> None:
        profile = {'driver': 'GTiff', 'width': 4, 'height': 4, 'count': 1,
                   'dtype': 'uint8', 'crs': 'EPSG:32631',
                   'transform': rasterio.Affine(10, 0, 0, 0, -10, 0)}  # fmt: skip
        with rasterio.open(tmp, 'w', **profile):
            pass

    write_atomic(tmp_path / 'a.tif', write)
    assert [p.name for p in tmp_path.iterdir()] == ['a.tif']
