"""Hostile probes of ``geokd predict`` (issue 19.19): messages that named the wrong
cause. Each case now gets the right result, or a line naming the real cause."""

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.predict.conftest import sar_pixels

from .predict_helpers import Result, Run, assert_error, predict, write_raster
from .round2 import out_of, summaries

pytestmark = pytest.mark.usefixtures('one_thread')


def _band(path: Path, data: np.ndarray, transform: Affine) -> Path:
    profile = {'driver': 'GTiff', 'count': 1, 'height': data.shape[0],
               'width': data.shape[1], 'dtype': 'float32', 'crs': 'EPSG:32631',
               'transform': transform, 'nodata': float('nan')}  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data[None])
    return path


NORTH_UP = Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_600_000.0)


def _band_folder(folder: Path, transform: Affine = NORTH_UP) -> Path:
    folder.mkdir(parents=True)
    pixels = sar_pixels(32, 48)
    _band(folder / 'scene_VV.tif', pixels[0], transform)
    _band(folder / 'scene_VH.tif', pixels[1], transform)
    return folder


@pytest.mark.parametrize('argument', ['.', './', '../here', '.././here/.'])
def test_band_folder_named_by_dots(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, argument: str
) -> None:
    monkeypatch.chdir(_band_folder(tmp_path / 'here'))
    result = run(argument, '-o', 'out/')
    assert result.code == 0, result.err
    assert [p.name for p in summaries(tmp_path)] == ['here_summary.json']


def test_south_up_band_files(tmp_path: Path, run: Run) -> None:
    south_up = Affine(10.0, 0.0, 500_000.0, 0.0, 10.0, 4_599_680.0)
    folder = _band_folder(tmp_path / 'scene', south_up)
    result = run(folder, '-o', out_of(tmp_path))
    line = assert_error(result, 1, 'scene_V', 'south-up')
    assert 'do not overlap' not in line


@pytest.mark.parametrize('parent', ['QI_DATA_x', 'MSK_stuff', 'QI_DATA'])
def test_band_folder_inside_a_folder_named_like_a_mask(
    tmp_path: Path, run: Run, parent: str
) -> None:
    folder = _band_folder(tmp_path / parent / 'scene')
    result = run(folder, '-o', out_of(tmp_path))
    assert result.code == 0, result.err
    assert [p.name for p in summaries(tmp_path)] == ['scene_summary.json']


def test_runs_directory_with_unreadable_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable = Path('/proc/1/map_files')
    try:
        os.listdir(unreadable)
    except PermissionError:
        pass
    except OSError:
        pytest.skip('no /proc/1/map_files here')
    else:
        pytest.skip('/proc/1/map_files is readable here')
    monkeypatch.setenv('GEOKD_RUNS', '/proc/1')
    scene = write_raster(tmp_path / 'scene.tif', sar_pixels(32, 32))
    result = predict([scene, '--modality', 'sar', '-o', out_of(tmp_path)], capsys)
    line = assert_error(result, 1, "no exported 'sar' model under /proc/1")
    assert 'Permission denied' not in line


@pytest.mark.parametrize('name', ['a\nb.tif', 'a\rb.tif', 'line\n\nend.tif'])
def test_control_characters_in_a_file_name(tmp_path: Path, run: Run, name: str) -> None:
    scene = tmp_path / name
    scene.write_bytes(b'not a raster')
    result = run(scene, '-o', out_of(tmp_path))
    line = assert_error(result, 1, 'not a readable raster')
    assert repr(name)[1:-1] in line or name.encode('unicode_escape').decode() in line


def test_control_characters_in_a_missing_file_name(tmp_path: Path, run: Run) -> None:
    result: Result = run(tmp_path / 'x\ny.tif', '-o', out_of(tmp_path))
    assert_error(result, 1, 'x\\ny.tif', 'no such file')
