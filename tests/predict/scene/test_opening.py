from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.windows import Window

from geokd.predict import PredictError
from geokd.predict.scene.opening import open_scene, warn_if_not_georeferenced
from geokd.predict.scene.sources import scene_input

from ..conftest import WriteScene, sar_pixels


def test_read_pads_past_the_edge_with_nan_and_selects_bands(
    write_scene: WriteScene,
) -> None:
    pixels = sar_pixels(20, 24)
    path = write_scene(pixels, descriptions=('VV', 'VH'))
    with open_scene(scene_input(path), ['VH', 'VV'], 2) as scene:
        assert scene.indexes == [2, 1]
        assert (scene.height, scene.width, scene.block) == (20, 24, 16)
        out = scene.read(Window(16, -4, 16, 16))
    assert out.dtype == np.float32
    assert out.shape == (2, 16, 16)
    assert np.isnan(out[:, :4]).all()
    assert np.isnan(out[:, :, 8:]).all()
    np.testing.assert_array_equal(out[:, 4:, :8], pixels[::-1, :12, 16:])


def test_grid_errors_name_the_scene(write_scene: WriteScene) -> None:
    path = write_scene(sar_pixels(32, 32))
    with (
        open_scene(scene_input(path), [], 2) as scene,
        pytest.raises(PredictError, match=r'scene\.tif: stride 5 must divide'),
    ):
        scene.patch_grid(16, 5)


def test_not_georeferenced_warnings_point_at_the_caller(
    write_scene: WriteScene,
) -> None:
    path = write_scene(sar_pixels(16, 16), crs=None, transform=Affine.identity())
    with (
        open_scene(scene_input(path), [], 2) as scene,
        pytest.warns(UserWarning, match='no CRS|no geotransform') as record,
    ):
        warn_if_not_georeferenced(scene, stacklevel=1)
    assert [Path(w.filename).name for w in record] == [Path(__file__).name] * 2
    assert 'no CRS' in str(record[0].message)
    assert 'no geotransform' in str(record[1].message)
