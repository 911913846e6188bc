from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine

from geokd.predict.output.writers import (
    CLASS_NODATA,
    class_colors,
    overview_count,
    to_cog,
    working_profile,
    write_categories,
)


def test_to_cog_builds_nearest_overviews_and_keeps_colours(tmp_path: Path) -> None:
    base = {
        'crs': 'EPSG:32631',
        'transform': Affine(640, 0, 5e5, 0, -640, 4.6e6),
        'width': 300,
        'height': 300,
    }
    profile = working_profile(base, 1, 'uint8', CLASS_NODATA, 64)
    classes = (np.arange(300)[:, None] // 7 + np.arange(300)[None] // 5) % 10
    with rasterio.open(tmp_path / 'work.tif', 'w', **profile) as dst:
        dst.write(classes.astype('uint8'), 1)
        dst.write_colormap(1, class_colors(10))
    to_cog(tmp_path / 'work.tif', tmp_path / 'cog.tif', 'NEAREST')
    with rasterio.open(tmp_path / 'cog.tif') as src:
        assert src.tags(ns='IMAGE_STRUCTURE')['LAYOUT'] == 'COG'
        assert len(src.overviews(1)) == 7  # down to about 4 cells across
        assert src.colormap(1)[3] == class_colors(10)[3]
        overview = src.read(1, out_shape=(150, 150))
        # Nearest-neighbour overviews only hold class values.
        assert set(np.unique(overview)) <= set(range(10))
        np.testing.assert_array_equal(src.read(1), classes)


def test_small_class_maps_get_mode_overviews(tmp_path: Path) -> None:
    # A scene's class map is often smaller than one 128-cell tile, where GDAL's COG
    # driver makes no overviews by default.
    base = {'crs': 'EPSG:32631', 'transform': Affine(640, 0, 5e5, 0, -640, 4.6e6),
            'width': 8, 'height': 8}  # fmt: skip
    profile = working_profile(base, 1, 'uint8', CLASS_NODATA, 16)
    classes = np.zeros((8, 8), 'uint8')
    classes[0::2, 0::2] = 2  # one cell in four: the mode of each 2 x 2 block is 0
    with rasterio.open(tmp_path / 'work.tif', 'w', **profile) as dst:
        dst.write(classes, 1)
    to_cog(tmp_path / 'work.tif', tmp_path / 'cog.tif', 'NEAREST', 'MODE')
    with rasterio.open(tmp_path / 'cog.tif') as src:
        assert src.overviews(1) == [2]
        assert (src.read(1, out_shape=(4, 4)) == 0).all()
    assert [overview_count(n, n) for n in (1, 2, 8, 32, 1000)] == [0, 1, 1, 3, 8]


def test_category_names_are_read_by_gdal(tmp_path: Path) -> None:
    base = {'crs': 'EPSG:32631', 'transform': Affine(640, 0, 5e5, 0, -640, 4.6e6),
            'width': 4, 'height': 4}  # fmt: skip
    profile = working_profile(base, 1, 'uint8', CLASS_NODATA, 16)
    with rasterio.open(tmp_path / 'm.tif', 'w', **profile) as dst:
        dst.write(np.zeros((4, 4), 'uint8'), 1)
    names = ['dry', 'partly flooded', 'R&D <water>']
    write_categories(tmp_path / 'm.tif.aux.xml', names)
    # GDAL reads the sidecar when it opens the raster: a VRT copy lists the names.
    rasterio.shutil.copy(tmp_path / 'm.tif', tmp_path / 'm.vrt', driver='VRT')
    vrt = (tmp_path / 'm.vrt').read_text()
    assert '<Category>partly flooded</Category>' in vrt
    assert '<Category>R&amp;D &lt;water&gt;</Category>' in vrt
