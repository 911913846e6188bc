"""Hostile probes of ``geokd predict`` (issue 19): resume sources."""

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine

from geokd.predict.output.working import WorkingRasters
from tests.predict.conftest import sar_pixels
from tests.predict.test_pipeline import _interrupt_after_first_window

from .predict_helpers import Run, assert_same_outputs, write_raster
from .round2 import BIG

pytestmark = pytest.mark.usefixtures('one_thread')

# 19.6: a resumed run reads the sources of a VRT, band folder or band file again ------


def _vrt(path: Path, source: Path) -> Path:
    rasterio.shutil.copy(source, path, driver='VRT')
    return path


def _band(path: Path, data: np.ndarray, name: str) -> Path:
    profile = {'driver': 'GTiff', 'count': 1, 'height': data.shape[0],
               'width': data.shape[1], 'dtype': 'float32', 'crs': 'EPSG:32631',
               'transform': Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_600_000.0),
               'nodata': float('nan'), 'tiled': True, 'blockxsize': 16,
               'blockysize': 16}  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data[None])
        dst.descriptions = (name,)
    return path


def _layout(tmp_path: Path, kind: str, seed: int) -> tuple[list[object], list[Path]]:
    """The scene arguments of ``kind``, and the source files they read."""
    src, scene = tmp_path / 'src', tmp_path / 'scene'
    src.mkdir(exist_ok=True)
    scene.mkdir(exist_ok=True)
    pixels = sar_pixels(272, 160, seed=seed)
    if kind in ('vrt', 'vrt of a vrt'):
        tif = write_raster(src / 'data.tif', pixels)
        inner = _vrt(src / 'inner.vrt', tif) if kind == 'vrt of a vrt' else tif
        return [_vrt(scene / 'big.vrt', inner)], [tif]
    vv = _band(src / 'a.tif', pixels[0], 'VV')
    vh = _band(src / 'b.tif', pixels[1], 'VH')
    if kind == 'band folder':
        _vrt(scene / 'big_VV.vrt', vv)
        _vrt(scene / 'big_VH.vrt', vh)
        return [scene], [vv, vh]
    return (
        ['--band-file', f'VV={_vrt(scene / "big_VV.vrt", vv)}',
         '--band-file', f'VH={_vrt(scene / "big_VH.vrt", vh)}'],
        [vv, vh],
    )  # fmt: skip


@pytest.mark.parametrize('kind', ['vrt', 'vrt of a vrt', 'band folder', 'band file'])
def test_resume_after_the_sources_changed(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    args, sources = _layout(tmp_path, kind, seed=2)
    prefix = tmp_path / 'out' / 'big'
    write_window = _interrupt_after_first_window(monkeypatch)
    assert run(*args, '-o', prefix, *BIG).code == 130
    monkeypatch.setattr(WorkingRasters, 'write_window', write_window)
    stats = [s.stat() for s in sources]
    new = tmp_path / 'new'
    new.mkdir()
    _, replacements = _layout(new, kind, seed=5)
    for source, replacement, stat in zip(sources, replacements, stats, strict=True):
        os.replace(replacement, source)
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = run(*args, '-o', prefix, *BIG, '--resume')
    assert result.code == 0, result.err
    fresh = tmp_path / 'fresh' / 'big'
    assert run(*args, '-o', fresh, *BIG).code == 0
    assert_same_outputs(fresh, prefix)  # nothing of the old sources mixed in
