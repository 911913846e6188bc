"""Hostile probes of ``geokd predict`` (issue 19.16, 19.17): band orders and band
files that contradict each other are refused, crops are announced."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.predict.conftest import sar_pixels

from .predict_helpers import Run, assert_error
from .round2 import out_of, summaries

pytestmark = pytest.mark.usefixtures('one_thread')


def _scene(path: Path, names: tuple[str, ...] | None) -> Path:
    profile = {'driver': 'GTiff', 'count': 2, 'height': 32, 'width': 32,
               'dtype': 'float32', 'crs': 'EPSG:32631',
               'transform': Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_600_000.0),
               'nodata': float('nan')}  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(sar_pixels(32, 32))
        if names:
            dst.descriptions = names
    return path


@pytest.mark.parametrize(
    ('names', 'refused'),
    [
        (('VH', 'VV'), True),
        (('VH', None), True),
        (('Sigma0_VH_db', 'Sigma0_VV_db'), True),
        (('VV', 'VH'), False),
        (None, False),
        (('Band 1', 'Band 2'), False),
    ],
    ids=[
        'swapped',
        'one named wrong',
        'codes in names',
        'right',
        'unnamed',
        'generic',
    ],
)
def test_file_order_against_the_band_names(
    tmp_path: Path, run: Run, names: tuple[str, ...] | None, refused: bool
) -> None:
    scene = _scene(tmp_path / 'scene.tif', names)
    result = run(scene, '-o', out_of(tmp_path), '--bands', 'file-order')
    if refused:
        assert_error(result, 1, 'scene.tif', 'file-order', 'VH')
        assert summaries(tmp_path) == []
    else:
        assert result.code == 0, result.err


def _band(path: Path, data: np.ndarray, left: float = 500_000.0) -> Path:
    profile = {'driver': 'GTiff', 'count': 1, 'height': data.shape[0],
               'width': data.shape[1], 'dtype': 'float32', 'crs': 'EPSG:32631',
               'transform': Affine(10.0, 0.0, left, 0.0, -10.0, 4_600_000.0),
               'nodata': float('nan')}  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data[None])
    return path


@pytest.mark.parametrize('how', ['same path', 'other spelling', 'hard link', 'symlink'])
def test_one_file_for_two_bands(tmp_path: Path, run: Run, how: str) -> None:
    vv = _band(tmp_path / 'vv.tif', sar_pixels(32, 32)[0])
    other = {
        'same path': lambda: vv,
        'other spelling': lambda: tmp_path / '.' / 'vv.tif',
        'hard link': lambda: (
            (tmp_path / 'vh.tif').hardlink_to(vv) or tmp_path / 'vh.tif'
        ),
        'symlink': lambda: (tmp_path / 'vh.tif').symlink_to(vv) or tmp_path / 'vh.tif',
    }[how]()
    result = run('--band-file', f'VV={vv}', '--band-file', f'VH={other}', '-o',
                 out_of(tmp_path))  # fmt: skip
    assert_error(result, 2 if result.code == 2 else 1, 'vv.tif', 'VV', 'VH')
    assert summaries(tmp_path) == []


def test_half_overlapping_band_files_say_what_they_lose(
    tmp_path: Path, run: Run
) -> None:
    pixels = sar_pixels(32, 64)
    vv = _band(tmp_path / 'x_vv.tif', pixels[0])
    vh = _band(tmp_path / 'x_vh.tif', pixels[1], left=500_000.0 + 320)
    result = run('--band-file', f'VV={vv}', '--band-file', f'VH={vh}', '-o',
                 out_of(tmp_path))  # fmt: skip
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if 'warning' in line]
    assert len(warnings) == 1, result.err
    assert 'overlap' in warnings[0]
    assert '50%' in warnings[0]


def test_band_files_of_the_same_area_say_nothing(tmp_path: Path, run: Run) -> None:
    pixels = sar_pixels(32, 32)
    vv = _band(tmp_path / 'x_vv.tif', pixels[0])
    vh = _band(tmp_path / 'x_vh.tif', pixels[1])
    result = run('--band-file', f'VV={vv}', '--band-file', f'VH={vh}', '-o',
                 out_of(tmp_path))  # fmt: skip
    assert result.code == 0, result.err
    assert result.err == ''


def test_a_folder_and_its_band_files_in_one_call(tmp_path: Path, run: Run) -> None:
    folder = tmp_path / 'scene'
    folder.mkdir()
    data = sar_pixels(32, 32)
    _band(folder / 'scene_VV.tif', data[0])
    _band(folder / 'scene_VH.tif', data[1])
    result = run(folder, '--band-file', f'VV={folder}/scene_VV.tif',
                 '--band-file', f'VH={folder}/scene_VH.tif', '-o', out_of(tmp_path))  # fmt: skip
    assert result.code == 0, result.err
    assert [p.relative_to(tmp_path) for p in summaries(tmp_path)] == [
        Path('out/scene_summary.json')
    ]
