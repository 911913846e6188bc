"""Hostile probes of ``geokd predict`` (issue 19): antimeridian."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine

from tests.predict.conftest import sar_pixels

from .predict_helpers import Run
from .round2 import DEG, classified_cells, out_of

pytestmark = pytest.mark.usefixtures('one_thread')

# 19.5 and 19.19: scenes across the antimeridian, and in the 0-360 convention -------


def _geographic(path: Path, left: float, pixels: np.ndarray) -> Path:
    transform = Affine(DEG, 0, left, 0, -DEG, 0.5)
    profile = {'driver': 'GTiff', 'count': 2, 'height': pixels.shape[1],
               'width': pixels.shape[2], 'dtype': 'float32', 'crs': 'EPSG:4326',
               'transform': transform, 'nodata': float('nan')}  # fmt: skip
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(pixels)
        dst.descriptions = ('VV', 'VH')
    return path


@pytest.mark.parametrize(
    ('name', 'left', 'reference'),
    [
        ('across', 180 - 64 * DEG, 180 - 128 * DEG),
        ('east', 180 + 0.5 * DEG, 180 - 128 * DEG),
        ('lon350', 350.0, -10.0),
        ('lon-190', -190 - 64 * DEG, 170 - 64 * DEG),
    ],
)
def test_scene_across_the_antimeridian_keeps_its_area(
    tmp_path: Path, run: Run, name: str, left: float, reference: float
) -> None:
    pixels = sar_pixels(128, 128, seed=4)
    scene = _geographic(tmp_path / f'{name}.tif', left, pixels)
    same = _geographic(tmp_path / 'reference.tif', reference, pixels)
    result = run(scene, same, '-o', out_of(tmp_path))
    assert result.code == 0, result.err
    cells = classified_cells(tmp_path / 'out' / f'{name}_summary.json')
    expected = classified_cells(tmp_path / 'out' / 'reference_summary.json')
    assert expected >= 49
    assert cells >= expected * 0.9, (cells, expected)
