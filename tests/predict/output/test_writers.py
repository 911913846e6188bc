from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from geokd.predict.output.writers import (
    CLASS_NODATA,
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
