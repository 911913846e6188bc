from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling

from geokd.predict import PredictError
from geokd.predict.scene.opening import open_scene
from geokd.predict.scene.sources import SceneInput
from geokd.predict.scene.stacking import stack_vrt

from ..conftest import TRANSFORM, WriteScene


def _bands(paths: dict[str, Path]) -> SceneInput:
    return SceneInput('s', next(iter(paths.values())).parent, tuple(paths.items()))


def test_bands_at_10_and_20_m_stack_on_the_10_m_grid(write_scene: WriteScene) -> None:
    rng = np.random.default_rng(0)
    fine = rng.integers(1, 1000, (1, 32, 48)).astype('uint16')
    coarse = rng.integers(1, 1000, (1, 16, 24)).astype('uint16')
    coarse[0, 0, 0] = 0  # nodata
    paths = {
        'B2': write_scene(fine, 'b02.tif', nodata=None),
        'B5': write_scene(coarse, 'b05.tif', transform=TRANSFORM @ Affine.scale(2),
                          nodata=0),
    }  # fmt: skip
    with open_scene(_bands(paths), ['B5', 'B2'], 2) as scene:
        assert (scene.height, scene.width) == (32, 48)
        assert scene.transform == TRANSFORM
        assert scene.crs == 'EPSG:32631'
        assert scene.indexes == [2, 1]
        assert scene.describe_bands() == 'B5 <- b05.tif, B2 <- b02.tif'
        assert scene.dataset.descriptions == ('B2', 'B5')
        pixels = scene.read(scene.dataset.window(*scene.dataset.bounds))
    np.testing.assert_array_equal(pixels[1], fine[0])  # same grid: as stored
    with rasterio.open(paths['B5']) as src:
        expected = src.read(1, out_shape=(32, 48), resampling=Resampling.bilinear)
    valid = np.isfinite(pixels[0])
    assert not valid[0, 0]  # nodata stays nodata (NaN)
    assert valid.mean() > 0.95
    np.testing.assert_allclose(pixels[0][2:, 2:], expected[2:, 2:], rtol=1e-6)


def test_only_the_common_area_is_stacked(write_scene: WriteScene) -> None:
    a = write_scene(np.ones((1, 32, 32), 'float32'), 'a_VV.tif')
    shifted = TRANSFORM @ Affine.translation(8, 4)
    b = write_scene(np.ones((1, 32, 32), 'float32'), 'b_VH.tif', transform=shifted)
    with open_scene(_bands({'VV': a, 'VH': b}), ['VV', 'VH'], 2) as scene:
        assert (scene.height, scene.width) == (28, 24)
        assert scene.transform == shifted
        assert np.isfinite(
            scene.read(scene.dataset.window(*scene.dataset.bounds))
        ).all()


def test_files_that_cannot_be_stacked(tmp_path: Path, write_scene: WriteScene) -> None:
    one = np.ones((1, 16, 16), 'float32')
    a = write_scene(one, 'a.tif')
    two = write_scene(np.ones((2, 16, 16), 'float32'), 'two.tif')
    other_crs = write_scene(one, 'utm32.tif', crs='EPSG:32632')
    far = write_scene(one, 'far.tif', transform=TRANSFORM @ Affine.translation(100, 0))
    cases = {
        two: 'two.tif: has 2 bands; band files must hold one band',
        other_crs: r'utm32\.tif: its CRS \(EPSG:32632\) differs from',
        far: 'its band files do not overlap',
    }
    for path, message in cases.items():
        with (
            pytest.raises(PredictError, match=message),
            rasterio.open(a) as x,
            rasterio.open(path) as y,
        ):
            stack_vrt([('VV', x), ('VH', y)], 'scene')
    with pytest.raises(PredictError, match=r'missing\.tif: no such file'):
        open_scene(_bands({'VV': a, 'VH': tmp_path / 'missing.tif'}), ['VV', 'VH'], 2)
