"""Hostile probes of ``geokd predict`` (issue 19.7, 19.8, 19.18): what a file says
about its pixels (masks, scale and offset) is honoured on every read path, and
values geokd cannot classify are refused."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.predict.conftest import sar_pixels

from .predict_helpers import Run, assert_error, assert_same_outputs
from .round2 import out_of, summaries

pytestmark = pytest.mark.usefixtures('one_thread')


def _write(path: Path, data: np.ndarray, pixel: float, **extra: object) -> Path:
    profile = {'driver': 'GTiff', 'count': data.shape[0], 'height': data.shape[1],
               'width': data.shape[2], 'dtype': data.dtype.name, 'crs': 'EPSG:32631',
               'transform': Affine(pixel, 0.0, 500_000.0, 0.0, -pixel, 4_600_000.0),
               **extra}  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
        dst.descriptions = ('VV', 'VH')[: data.shape[0]]
    return path


@pytest.mark.parametrize('pixel', [10.0, 20.0], ids=['10 m', '20 m (resampled)'])
@pytest.mark.parametrize('mask', ['internal', 'sidecar .msk'])
def test_gdal_mask_hides_pixels_on_every_path(
    tmp_path: Path, run: Run, pixel: float, mask: str
) -> None:
    pixels = sar_pixels(64, 64)
    hidden = pixels.copy()
    hidden[:, :, 32:] = 0.0  # data 0 where the mask hides it
    options = {'GDAL_TIFF_INTERNAL_MASK': mask == 'internal'}
    with rasterio.Env(**options):
        path = _write(tmp_path / 'masked.tif', hidden, pixel)
        with rasterio.open(path, 'r+') as dst:
            valid = np.full((64, 64), 255, 'uint8')
            valid[:, 32:] = 0
            dst.write_mask(valid)
    assert (tmp_path / 'masked.tif.msk').exists() == (mask != 'internal')
    reference = pixels.copy()
    reference[:, :, 32:] = np.nan
    _write(tmp_path / 'nan.tif', reference, pixel, nodata=float('nan'))
    out = tmp_path / 'out'
    # A sidecar mask is found by listing the folder: GDAL's default, which a test
    # of remote scenes (EMPTY_DIR) must not have changed.
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN='FALSE'):
        assert run(tmp_path / 'masked.tif', '-o', out / 'm' / 'x').code == 0
        assert run(tmp_path / 'nan.tif', '-o', out / 'n' / 'x').code == 0
    assert_same_outputs(out / 'm' / 'x', out / 'n' / 'x')


@pytest.mark.parametrize('pixel', [10.0, 20.0], ids=['10 m', '20 m (resampled)'])
@pytest.mark.parametrize(('scale', 'offset'), [(0.01, 0.0), (0.01, -30.0), (0.5, 0.0)])
def test_band_scale_and_offset_are_applied(
    tmp_path: Path, run: Run, pixel: float, scale: float, offset: float
) -> None:
    physical = np.round(sar_pixels(64, 64) / scale) * scale
    raw = np.round((physical - offset) / scale).astype('int16')
    path = _write(tmp_path / 'int.tif', raw, pixel, nodata=-32768)
    with rasterio.open(path, 'r+') as dst:
        dst.scales = (scale, scale)
        dst.offsets = (offset, offset)
    floats = (raw.astype('float64') * scale + offset).astype('float32')
    _write(tmp_path / 'float.tif', floats, pixel, nodata=float('nan'))
    out = tmp_path / 'out'
    assert run(path, '-o', out / 'i' / 'x').code == 0
    assert run(tmp_path / 'float.tif', '-o', out / 'f' / 'x').code == 0
    assert_same_outputs(out / 'i' / 'x', out / 'f' / 'x')


@pytest.mark.parametrize('dtype', ['complex64', 'complex128', 'complex_int16'])
def test_complex_scene_is_refused(tmp_path: Path, run: Run, dtype: str) -> None:
    pixels = sar_pixels(32, 32)
    if dtype == 'complex_int16':
        path = tmp_path / 'complex.tif'
        profile = {'driver': 'GTiff', 'count': 2, 'height': 32, 'width': 32,
                   'dtype': 'complex_int16', 'crs': 'EPSG:32631',
                   'transform': Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_600_000.0)}  # fmt: skip
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(pixels.astype('complex64'))
            dst.descriptions = ('VV', 'VH')
    else:
        path = _write(tmp_path / 'complex.tif', pixels.astype(dtype), 10.0)
    result = run(path, '-o', out_of(tmp_path))
    assert_error(result, 1, 'complex.tif', 'complex')
    assert 'Warning' not in result.err
    assert summaries(tmp_path) == []


@pytest.mark.parametrize('pixel', [10.0, 20.0], ids=['10 m', '20 m (resampled)'])
def test_band_files_masks_scale_and_offset_are_honoured(
    tmp_path: Path, run: Run, pixel: float
) -> None:
    # One file per polarisation, as Sentinel-1 GRD products come: int16 dB x 100
    # with a scale, an offset and a mask hiding the right half of VH.
    scale, offset = 0.01, -30.0
    physical = np.round(sar_pixels(64, 64) / scale) * scale
    raw = np.round((physical - offset) / scale).astype('int16')
    floats = (raw.astype('float64') * scale + offset).astype('float32')
    floats[1, :, 32:] = np.nan
    files = {}
    for i, band in enumerate(('VV', 'VH')):
        path = _write(tmp_path / f'{band}.tif', raw[i : i + 1], pixel, nodata=-32768)
        with rasterio.open(path, 'r+') as dst:
            dst.scales = (scale,)
            dst.offsets = (offset,)
            if band == 'VH':
                valid = np.full((64, 64), 255, 'uint8')
                valid[:, 32:] = 0
                dst.write_mask(valid)
        files[band] = path
    reference = _write(tmp_path / 'float.tif', floats, pixel, nodata=float('nan'))
    out = tmp_path / 'out'
    result = run('--band-file', f'VV={files["VV"]}', '--band-file',
                 f'VH={files["VH"]}', '-o', out / 'b' / 'x')  # fmt: skip
    assert result.code == 0, result.err
    assert run(reference, '-o', out / 'f' / 'x').code == 0
    assert_same_outputs(out / 'b' / 'x', out / 'f' / 'x')
