from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from geokd.deploy.writers import (
    CLASS_NODATA,
    cell_areas_km2,
    class_colors,
    to_cog,
    working_profile,
)


def test_to_cog_builds_nearest_overviews_and_keeps_colours(tmp_path: Path) -> None:
    base = {'crs': 'EPSG:32631', 'transform': Affine(640, 0, 5e5, 0, -640, 4.6e6),
            'width': 300, 'height': 300}  # fmt: skip
    profile = working_profile(base, 1, 'uint8', CLASS_NODATA, 64)
    classes = (np.arange(300)[:, None] // 7 + np.arange(300)[None] // 5) % 10
    with rasterio.open(tmp_path / 'work.tif', 'w', **profile) as dst:
        dst.write(classes.astype('uint8'), 1)
        dst.write_colormap(1, class_colors(10))
    to_cog(tmp_path / 'work.tif', tmp_path / 'cog.tif', 'NEAREST')
    with rasterio.open(tmp_path / 'cog.tif') as src:
        assert src.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        assert src.overviews(1) == [2, 4]
        assert src.colormap(1)[3] == class_colors(10)[3]
        overview = src.read(1, out_shape=(150, 150))
        # Nearest-neighbour overviews only hold class values.
        assert set(np.unique(overview)) <= set(range(10))
        np.testing.assert_array_equal(src.read(1), classes)


def test_cell_areas() -> None:
    utm = cell_areas_km2(CRS.from_epsg(32631), Affine(640, 0, 0, 0, -640, 0), 0, 3)
    np.testing.assert_allclose(utm, 0.4096)
    # 0.1 degree cells: about 11.1 km x 11.1 km at the equator, half as wide at 60 N.
    geo = cell_areas_km2(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 60.05), 0, 1)
    assert geo[0] == pytest.approx(11.13 * 11.13 * 0.5, rel=0.01)
    assert cell_areas_km2(None, Affine.identity(), 0, 2) is None
