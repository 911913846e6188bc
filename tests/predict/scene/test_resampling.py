import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling

from geokd.predict.scene.opening import open_scene
from geokd.predict.scene.resampling import (
    describe_cell,
    pixel_size_m,
    read_grid,
    utm_zone,
)
from geokd.predict.scene.sources import scene_input

from ..conftest import TRANSFORM, WriteScene, sar_pixels


@pytest.mark.parametrize(
    ('scale', 'gsd', 'resampled'),
    [(1, 10.0, False), (1.005, 10.0, False), (2, 10.0, True), (0.5, 10.0, True),
     (2, None, False), (1, 20.0, True)],
)  # fmt: skip
def test_scenes_off_the_model_gsd_are_resampled(
    write_scene: WriteScene, scale: float, gsd: float | None, resampled: bool
) -> None:
    path = write_scene(sar_pixels(64, 64), transform=TRANSFORM @ Affine.scale(scale))
    with rasterio.open(path) as src:
        grid = read_grid(src, gsd)
    assert (grid is not None) == resampled
    if grid is not None:
        assert gsd is not None
        assert grid.transform.a == gsd
        assert grid.width == round(64 * 10 * scale / gsd)
        assert (grid.transform.c, grid.transform.f) == (TRANSFORM.c, TRANSFORM.f)
        finer = 10 * scale < gsd
        assert grid.resampling == (Resampling.average if finer else Resampling.nearest)


def test_a_20_m_scene_is_read_at_10_m(write_scene: WriteScene) -> None:
    pixels = sar_pixels(16, 16)
    path = write_scene(pixels, transform=TRANSFORM @ Affine.scale(2))
    with open_scene(scene_input(path), ['VV', 'VH'], 2, gsd=10.0) as scene:
        assert (scene.height, scene.width) == (32, 32)
        assert scene.resolution == (10.0, 10.0)
        assert scene.native_resolution == (20.0, 20.0)
        assert scene.reading()['resampling'] == 'nearest'
        read = scene.read(scene.dataset.window(*scene.dataset.bounds))
    # Each 20 m pixel covers 2 x 2 pixels of 10 m, with its value.
    np.testing.assert_array_equal(read, pixels.repeat(2, 1).repeat(2, 2))


def test_geographic_scenes_go_to_their_utm_zone(write_scene: WriteScene) -> None:
    degree = 10 / 111_320
    north = Affine(degree, 0, 2.5, 0, -degree, 45.0)  # 45 N, 2.5 E: zone 31N
    path = write_scene(sar_pixels(64, 64), crs='EPSG:4326', transform=north)
    with rasterio.open(path) as src:
        size = pixel_size_m(src)
        assert size == pytest.approx((10 * np.cos(np.radians(45)), 10), rel=1e-3)
        grid = read_grid(src, 10.0)
    assert grid is not None
    assert grid.crs == 'EPSG:32631'
    assert grid.reprojected_from == 'EPSG:4326'
    assert grid.transform.a == pytest.approx(10.0)
    assert utm_zone(rasterio.crs.CRS.from_epsg(4326), (-70.1, -33.5, -70.0, -33.4)) == (
        'EPSG:32719'
    )


def test_crs_in_feet(write_scene: WriteScene) -> None:
    # New York Long Island State Plane is in US survey feet (1200 / 3937 m).
    foot = 1200 / 3937
    feet = Affine(10 / foot, 0, 1_000_000, 0, -10 / foot, 200_000)
    path = write_scene(sar_pixels(32, 32), crs='EPSG:2263', transform=feet)
    with rasterio.open(path) as src:
        assert pixel_size_m(src) == pytest.approx((10.0, 10.0), rel=1e-6)
        assert read_grid(src, 10.0) is None


def test_what_one_cell_is() -> None:
    assert describe_cell(64, 64, (10.0, 10.0)) == (
        'one class per 64 x 64 patch = 640 m at 10 m per pixel'
    )
    assert describe_cell(64, 32, (10.0, 10.0)) == (
        'one class per 32 x 32 cell = 320 m at 10 m per pixel: the mean of the 4 '
        'overlapping 64 x 64 patches = 640 m covering it'
    )
    assert describe_cell(128, 128, (10.0, 10.0)).startswith(
        'one class per 128 x 128 patch = 1.28 km'
    )
    assert describe_cell(16, 16, None) == (
        'one class per 16 x 16 patch (ground size unknown: no CRS)'
    )
