import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from geokd.predict.output.tally import ClassTally, cell_areas_km2

UTM = CRS.from_epsg(32631)


def test_cell_areas() -> None:
    utm = cell_areas_km2(UTM, Affine(640, 0, 0, 0, -640, 0), 0, 3)
    np.testing.assert_allclose(utm, 0.4096)
    # 0.1 degree cells: about 11.1 km x 11.1 km at the equator, half as wide at 60 N.
    geo = cell_areas_km2(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 60.05), 0, 1)
    assert geo[0] == pytest.approx(11.13 * 11.13 * 0.5, rel=0.01)
    assert cell_areas_km2(None, Affine.identity(), 0, 2) is None


def test_tally_sums_windows_and_skips_invalid_cells() -> None:
    tally = ClassTally.zeros(3)
    transform = Affine(100, 0, 0, 0, -100, 0)  # cells of 0.01 km2
    classes = np.array([[0, 2], [2, 255]], np.uint8)
    valid = classes != 255
    tally.add(classes, valid, UTM, transform, 0)
    tally.add(classes[:1], valid[:1], UTM, transform, 2)
    assert tally.cells == [2, 0, 3]
    assert tally.km2 == pytest.approx([0.02, 0.0, 0.03])
    assert tally.per_class(['a', 'b', 'c'])['c'] == {
        'cells': 3,
        'area_km2': pytest.approx(0.03),
    }


def test_tally_area_unknown_once_a_window_has_no_crs() -> None:
    tally = ClassTally.zeros(2)
    classes = np.zeros((2, 2), np.uint8)
    valid = np.ones((2, 2), bool)
    tally.add(classes, valid, UTM, Affine(10, 0, 0, 0, -10, 0), 0)
    tally.add(classes, valid, None, Affine.identity(), 2)
    tally.add(classes, valid, UTM, Affine(10, 0, 0, 0, -10, 0), 4)
    assert tally.cells == [12, 0]
    assert tally.km2 is None
    assert tally.per_class(['a', 'b'])['a']['area_km2'] is None
