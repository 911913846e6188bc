"""Hostile probes of ``geokd predict`` (issue 19.21): FIFOs and devices given as
scenes or band files are refused at once, and a closed standard output (``geokd
predict a b c | head -1``) does not stop the remaining scenes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio

from tests.predict.conftest import sar_pixels

from .helpers import REPO
from .predict_helpers import assert_error, start_child, write_raster
from .round2 import out_of, summaries

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.mark.parametrize('where', ['scene', 'band file'])
@pytest.mark.parametrize('kind', ['fifo', 'device'])
def test_non_regular_file_as_input(
    tmp_path: Path, model: Path, where: str, kind: str
) -> None:
    folder = tmp_path / 'folder'
    folder.mkdir()
    name = 'pipe.tif'
    special = folder / name
    if kind == 'fifo':
        os.mkfifo(special)
    else:
        special.symlink_to('/dev/zero')
    vv = tmp_path / 'scene_VV.tif'
    profile = {'driver': 'GTiff', 'count': 1, 'height': 32, 'width': 32,
               'dtype': 'float32', 'crs': 'EPSG:32631',
               'transform': rasterio.Affine(10, 0, 500_000, 0, -10, 4_600_000)}  # fmt: skip
    with rasterio.open(vv, 'w', **profile) as dst:
        dst.write(sar_pixels(32, 32)[:1])
    if where == 'scene':
        args = [special]
    else:
        args = ['--band-file', f'VV={vv}', '--band-file', f'VH={special}']
    argv = [*args, '--model', model, '-o', out_of(tmp_path), '--quiet']
    child = start_child(argv, tmp_path / 'child.log')
    child.process.join(120)
    if child.process.exitcode is None:  # blocked opening the FIFO
        child.process.kill()
        child.process.join()
        pytest.fail(f'geokd predict hung on a {kind} given as a {where}')
    result = child.finish()
    assert_error(result, result.code, name, 'not a regular file')
    assert result.code in (1, 2)
    assert summaries(tmp_path) == []


@pytest.mark.parametrize('kind', ['fifo', 'device'])
def test_non_regular_band_file_in_a_folder(
    tmp_path: Path, model: Path, kind: str
) -> None:
    folder = tmp_path / 'scene'
    folder.mkdir()
    profile = {'driver': 'GTiff', 'count': 1, 'height': 32, 'width': 32,
               'dtype': 'float32', 'crs': 'EPSG:32631',
               'transform': rasterio.Affine(10, 0, 500_000, 0, -10, 4_600_000)}  # fmt: skip
    with rasterio.open(folder / 'scene_VV.tif', 'w', **profile) as dst:
        dst.write(sar_pixels(32, 32)[:1])
    special = folder / 'scene_VH.tif'
    if kind == 'fifo':
        os.mkfifo(special)
    else:
        special.symlink_to('/dev/zero')
    argv = [folder, '--model', model, '-o', out_of(tmp_path), '--quiet']
    child = start_child(argv, tmp_path / 'child.log')
    child.process.join(120)
    if child.process.exitcode is None:
        child.process.kill()
        child.process.join()
        pytest.fail(f'geokd predict hung on a {kind} in a band folder')
    result = child.finish()
    assert_error(result, result.code, 'scene_VH.tif', 'not a regular file')
    assert result.code in (1, 2)
    assert summaries(tmp_path) == []


def test_closed_stdout_does_not_stop_the_other_scenes(
    tmp_path: Path, model: Path
) -> None:
    scenes = [write_raster(tmp_path / f'{n}.tif', sar_pixels(32, 32, i))
              for i, n in enumerate('abc')]  # fmt: skip
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    env.pop('GEOKD_DEBUG', None)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: as `| head -0`
    done = subprocess.run(
        [sys.executable, '-m', 'geokd', 'predict', *map(str, scenes), '--model',
         str(model), '-o', out_of(tmp_path)],
        stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=300,
    )  # fmt: skip
    os.close(write)
    assert 'Traceback' not in done.stderr, done.stderr
    assert [p.name for p in summaries(tmp_path)] == [
        'a_summary.json',
        'b_summary.json',
        'c_summary.json',
    ], done.stderr
    assert done.returncode == 0, done.stderr
